"""Django admin for billing: editable prices, the read-only ledger with the cost reports, and
budget periods and reservations (read-only: they change only through billing.services)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from accounts.models import Tenant
from billing import selectors
from billing.models import BudgetPeriod, LedgerEntry, Price, Reservation
from billing.pricing import price_cache_clear


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    list_display = (
        "provider",
        "model",
        "kind",
        "input_per_mtok",
        "output_per_mtok",
        "cached_input_per_mtok",
        "cache_write_per_mtok",
        "valid_from",
    )
    list_filter = ("provider", "kind")
    search_fields = ("provider", "model", "notes")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # This process sees the new price at once; others within BILLING_PRICE_CACHE_SECONDS.
        price_cache_clear()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        price_cache_clear()


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "tenant",
        "kind",
        "provider",
        "model",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "cache_hit",
        "status",
        "query_id",
    )
    list_filter = ("kind", "status", "cache_hit", "provider")
    search_fields = ("=query_id", "model")
    date_hierarchy = "created_at"
    list_select_related = ("tenant",)
    show_full_result_count = False  # counting millions of rows for the pager is not worth it
    change_list_template = "admin/billing/ledgerentry/change_list.html"

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "reports/",
                self.admin_site.admin_view(self.reports_view),
                name="billing_ledgerentry_reports",
            ),
            *super().get_urls(),
        ]

    def has_reports_permission(self, request: HttpRequest) -> bool:
        """The reports show every tenant's costs and its members' emails: viewing the ledger
        and viewing users, as the ledger's and the users' admin pages require."""
        return self.has_view_permission(request) and request.user.has_perm("accounts.view_user")

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra = {**(extra_context or {}), "can_view_reports": self.has_reports_permission(request)}
        return super().changelist_view(request, extra_context=extra)

    def reports_view(self, request: HttpRequest) -> HttpResponse:
        """The cost reports for every tenant, or one (?tenant=slug), over ?days=N (default 7)."""
        if not self.has_reports_permission(request):
            raise PermissionDenied
        slug = request.GET.get("tenant", "")
        tenant = Tenant.objects.filter(slug=slug).first() if slug else None
        try:
            days = max(1, min(366, int(request.GET.get("days", "7"))))
        except ValueError:
            days = 7
        context = {
            **self.admin_site.each_context(request),
            "title": "Cost reports",
            "opts": self.model._meta,
            "tenants": Tenant.objects.order_by("slug"),
            "tenant": tenant,
            "days": days,
            "user_costs": selectors.user_costs_month(tenant=tenant),
            "provider_costs": selectors.provider_costs(tenant=tenant, days=days),
            "expensive": selectors.expensive_queries(tenant=tenant, hours=24),
            "optimisation": selectors.optimisation_report(tenant=tenant, days=days),
        }
        return TemplateResponse(request, "admin/billing/cost_reports.html", context)


@admin.register(BudgetPeriod)
class BudgetPeriodAdmin(ReadOnlyAdmin):
    list_display = (
        "tenant",
        "user",
        "period_start",
        "limit_usd",
        "spent_usd",
        "reserved_usd",
        "spent_tokens",
        "warning_sent_at",
    )
    list_filter = ("period_start",)
    list_select_related = ("tenant", "user")
    search_fields = ("tenant__slug", "user__email")


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "tenant",
        "user",
        "status",
        "amount_usd",
        "actual_usd",
        "expires_at",
        "query_id",
    )
    list_filter = ("status",)
    list_select_related = ("tenant", "user")
    search_fields = ("=query_id",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Reservation]:
        return super().get_queryset(request).order_by("-created_at")
