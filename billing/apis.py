"""REST endpoints of billing: budget status, one question's costs, and the cost reports
(tenant owners and admins see their tenant; staff may ask for one tenant or all)."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api_base import TenantApiView, tenant_resolve
from accounts.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationFailed
from accounts.models import Membership, Tenant
from accounts.schema import int_query_parameter
from billing import selectors
from billing.contracts import BudgetStatus

MANAGER_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)
ALL_TENANTS = "all"


def _budget_data(status: BudgetStatus) -> dict[str, Any]:
    return {
        "scope": status.scope,
        "period_start": status.period_start,
        "resets_at": status.resets_at,
        "limit_usd": status.limit_usd,
        "spent_usd": status.spent_usd,
        "reserved_usd": status.reserved_usd,
        "remaining_usd": status.remaining_usd,
        "limit_tokens": status.limit_tokens,
        "spent_tokens": status.spent_tokens,
        "reserved_tokens": status.reserved_tokens,
        "used_ratio": status.used_ratio,
        "warning": status.warning,
        "exhausted": status.exhausted,
    }


class BudgetOutputSerializer(serializers.Serializer):
    scope = serializers.CharField()
    period_start = serializers.DateField()
    resets_at = serializers.DateTimeField()
    limit_usd = serializers.DecimalField(max_digits=20, decimal_places=4, allow_null=True)
    spent_usd = serializers.DecimalField(max_digits=24, decimal_places=10)
    reserved_usd = serializers.DecimalField(max_digits=24, decimal_places=10)
    remaining_usd = serializers.DecimalField(max_digits=24, decimal_places=10, allow_null=True)
    limit_tokens = serializers.IntegerField(allow_null=True)
    spent_tokens = serializers.IntegerField()
    reserved_tokens = serializers.IntegerField()
    used_ratio = serializers.DecimalField(max_digits=12, decimal_places=4)
    warning = serializers.BooleanField()
    exhausted = serializers.BooleanField()


class BudgetApi(TenantApiView):
    """This month's budget of the workspace (with the 90% warning) and the caller's own cap."""

    class BudgetStatusOutputSerializer(serializers.Serializer):
        tenant = BudgetOutputSerializer()
        user = BudgetOutputSerializer(allow_null=True)

    @extend_schema(responses=BudgetStatusOutputSerializer)
    def get(self, request: Request) -> Response:
        tenant_status = selectors.budget_status_get(tenant=self.tenant)
        user_status = (
            selectors.budget_status_get(tenant=self.tenant, user=self.membership.user)
            if self.membership.monthly_budget_usd_cap is not None
            else None
        )
        body = {
            "tenant": _budget_data(tenant_status),
            "user": _budget_data(user_status) if user_status else None,
        }
        return Response(self.BudgetStatusOutputSerializer(body).data)


class QueryCostApi(TenantApiView):
    """Every ledger row of one question: each model attempt, the embedding, and the summary.
    Owners and admins see any question of the workspace, others only their own."""

    class QueryCostLineSerializer(serializers.Serializer):
        kind = serializers.CharField()
        provider = serializers.CharField()
        model = serializers.CharField()
        status = serializers.CharField()
        input_tokens = serializers.IntegerField()
        output_tokens = serializers.IntegerField()
        cached_input_tokens = serializers.IntegerField()
        cache_write_input_tokens = serializers.IntegerField()
        cost_usd = serializers.DecimalField(max_digits=20, decimal_places=10)
        cost_saved_usd = serializers.DecimalField(max_digits=20, decimal_places=10)
        estimated_cost_usd = serializers.DecimalField(
            max_digits=20, decimal_places=10, allow_null=True
        )
        latency_ms = serializers.IntegerField()
        cache_hit = serializers.BooleanField()
        providers_tried = serializers.ListField(child=serializers.CharField())
        created_at = serializers.DateTimeField()

    class QueryCostOutputSerializer(serializers.Serializer):
        query_id = serializers.UUIDField()
        cost_usd = serializers.DecimalField(max_digits=20, decimal_places=10)
        estimated_cost_usd = serializers.DecimalField(
            max_digits=20, decimal_places=10, allow_null=True
        )
        lines = serializers.ListField(child=serializers.DictField())

    @extend_schema(responses=QueryCostOutputSerializer)
    def get(self, request: Request, query_id: uuid.UUID) -> Response:
        user = None if self.membership.is_manager else self.membership.user
        rows = selectors.query_cost_lines(tenant=self.tenant, query_id=query_id, user=user)
        summary = next((r for r in rows if r.kind == "query"), None)
        calls = [r for r in rows if r.kind != "query"]
        total = summary.cost_usd if summary else sum((r.cost_usd for r in calls), start=0)
        body = {
            "query_id": query_id,
            "cost_usd": total,
            "estimated_cost_usd": summary.estimated_cost_usd if summary else None,
            "lines": self.QueryCostLineSerializer(rows, many=True).data,
        }
        return Response(self.QueryCostOutputSerializer(body).data)


class ReportApiView(APIView):
    """Base of the report endpoints: a tenant's owners and admins get their tenant; staff may
    pass ?tenant=<slug> for one tenant or ?tenant=all for every tenant."""

    tenant_filter: Tenant | None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        user = request.user
        if not user or not user.is_authenticated:
            raise NotAuthenticated()
        wanted = request.query_params.get("tenant", "")
        if wanted and getattr(user, "is_staff", False):
            if wanted == ALL_TENANTS:
                self.tenant_filter = None
                return
            tenant = Tenant.objects.filter(slug=wanted).first()
            if tenant is None:
                raise NotFound("Workspace not found.")
            self.tenant_filter = tenant
            return
        membership = tenant_resolve(request)
        if membership.role not in MANAGER_ROLES and not getattr(user, "is_staff", False):
            raise PermissionDenied(
                "Only owners and admins of the workspace can read its cost reports."
            )
        self.tenant_filter = membership.tenant

    def _int_param(self, name: str, default: int, *, low: int, high: int) -> int:
        raw = self.request.query_params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError as exc:
            raise ValidationFailed(f"{name} must be a whole number.", details={name: raw}) from exc
        if not low <= value <= high:
            raise ValidationFailed(
                f"{name} must be between {low} and {high}.", details={name: value}
            )
        return value


TENANT_PARAM = OpenApiParameter("tenant", str, description="Staff only: a tenant slug, or `all`.")


def _jsonable(value: Any) -> Any:
    """Money as strings (never floats), ids as strings, containers walked."""
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def _rows(rows: list[Any]) -> list[dict[str, Any]]:
    return [_jsonable(asdict(row)) for row in rows]


class UserCostReportApi(ReportApiView):
    """Per member this calendar month: questions, tokens, cost, mean latency, cache hit rate."""

    @extend_schema(parameters=[TENANT_PARAM], responses=dict)
    def get(self, request: Request) -> Response:
        rows = selectors.user_costs_month(tenant=self.tenant_filter)
        return Response({"results": _rows(rows)})


class ProviderCostReportApi(ReportApiView):
    """Per provider over the last `days` (default 7): cost, tokens, calls, questions."""

    @extend_schema(
        parameters=[TENANT_PARAM, int_query_parameter("days", low=1, high=366, default=7)],
        responses=dict,
    )
    def get(self, request: Request) -> Response:
        days = self._int_param("days", 7, low=1, high=366)
        rows = selectors.provider_costs(tenant=self.tenant_filter, days=days)
        return Response({"days": days, "results": _rows(rows)})


class ExpensiveQueryReportApi(ReportApiView):
    """The 20 most expensive questions of the last `hours` (default 24)."""

    @extend_schema(
        parameters=[TENANT_PARAM, int_query_parameter("hours", low=1, high=24 * 31, default=24)],
        responses=dict,
    )
    def get(self, request: Request) -> Response:
        hours = self._int_param("hours", 24, low=1, high=24 * 31)
        rows = selectors.expensive_queries(tenant=self.tenant_filter, hours=hours)
        return Response({"hours": hours, "results": _rows(rows)})


class OptimisationReportApi(ReportApiView):
    """Cache hit rate and savings, and the measured savings of routing short answers to the
    cheapest model, over the last `days` (default 7)."""

    @extend_schema(
        parameters=[TENANT_PARAM, int_query_parameter("days", low=1, high=366, default=7)],
        responses=dict,
    )
    def get(self, request: Request) -> Response:
        days = self._int_param("days", 7, low=1, high=366)
        report = selectors.optimisation_report(tenant=self.tenant_filter, days=days)
        body = asdict(report)
        body.update(
            cache_hit_rate=report.cache_hit_rate,
            routing_savings_usd=report.routing_savings_usd,
            routing_savings_ratio=report.routing_savings_ratio,
        )
        for line, data in zip(report.routing_lines, body["routing_lines"], strict=True):
            data["savings_usd"] = line.savings_usd
        return Response(_jsonable(body))
