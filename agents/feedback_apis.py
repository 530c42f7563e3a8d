"""REST endpoints for feedback on answers and the feedback report by tenant and provider."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_base import TenantApiView
from accounts.errors import PermissionDenied, ValidationFailed
from accounts.schema import int_query_parameter
from agents import feedback as feedback_services

MAX_REPORT_DAYS = 366


class FeedbackOutputSerializer(serializers.Serializer):
    message_id = serializers.IntegerField()
    accuracy = serializers.BooleanField()
    cost_efficiency = serializers.IntegerField()
    comment = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class MessageFeedbackApi(TenantApiView):
    """Rate an answer: `accuracy` (yes/no), `cost_efficiency` (1-5) and an optional comment.

    One feedback per user per answer; posting again replaces it (200 instead of 201).
    """

    class FeedbackInputSerializer(serializers.Serializer):
        accuracy = serializers.BooleanField()
        cost_efficiency = serializers.IntegerField(
            min_value=feedback_services.COST_EFFICIENCY_RANGE[0],
            max_value=feedback_services.COST_EFFICIENCY_RANGE[1],
        )
        comment = serializers.CharField(
            required=False,
            allow_blank=True,
            default="",
            max_length=feedback_services.MAX_COMMENT_CHARS,
        )

    @extend_schema(responses=FeedbackOutputSerializer)
    def get(self, request: Request, message_id: int) -> Response:
        feedback = feedback_services.feedback_get(
            tenant=self.tenant, user=self.membership.user, message_id=message_id
        )
        return Response(FeedbackOutputSerializer(feedback).data)

    @extend_schema(
        request=FeedbackInputSerializer,
        responses={201: FeedbackOutputSerializer, 200: FeedbackOutputSerializer},
    )
    def post(self, request: Request, message_id: int) -> Response:
        data = self.FeedbackInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        feedback, created = feedback_services.feedback_record(
            tenant=self.tenant,
            user=self.membership.user,
            message_id=message_id,
            **data.validated_data,
        )
        return Response(
            FeedbackOutputSerializer(feedback).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class FeedbackReportRowSerializer(serializers.Serializer):
    tenant = serializers.CharField()
    provider = serializers.CharField()
    count = serializers.IntegerField()
    accurate = serializers.IntegerField()
    with_comment = serializers.IntegerField()
    accuracy_rate = serializers.DecimalField(max_digits=5, decimal_places=4, allow_null=True)
    mean_cost_efficiency = serializers.DecimalField(max_digits=3, decimal_places=2, allow_null=True)


class FeedbackReportOutputSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=["tenant", "all"])
    since = serializers.DateTimeField()
    days = serializers.IntegerField()
    rows = FeedbackReportRowSerializer(many=True)


class FeedbackReportApi(TenantApiView):
    """Feedback by provider for the workspace (owners and admins), or for every workspace
    (staff, with `?scope=all`), over the last `days` days (default 30)."""

    @extend_schema(
        parameters=[
            int_query_parameter(
                "days", low=1, high=MAX_REPORT_DAYS, default=30, description="Look-back in days."
            ),
            OpenApiParameter("scope", str, enum=["tenant", "all"], description="all: staff only"),
        ],
        responses=FeedbackReportOutputSerializer,
    )
    def get(self, request: Request) -> Response:
        scope = request.query_params.get("scope", "tenant")
        if scope not in ("tenant", "all"):
            raise ValidationFailed("scope must be tenant or all.", details={"field": "scope"})
        if scope == "all" and not request.user.is_staff:
            raise PermissionDenied("Only staff can see every workspace's feedback.")
        if scope == "tenant" and not (self.membership.is_manager or request.user.is_staff):
            raise PermissionDenied("Only owners and admins can see the feedback report.")
        try:
            days = int(request.query_params.get("days", 30))
        except ValueError:
            days = 0
        if not 1 <= days <= MAX_REPORT_DAYS:
            raise ValidationFailed(
                f"days must be a whole number from 1 to {MAX_REPORT_DAYS}.",
                details={"field": "days"},
            )
        since = timezone.now() - timedelta(days=days)
        rows = feedback_services.feedback_report(
            tenant=self.tenant if scope == "tenant" else None, since=since
        )
        body = {"scope": scope, "since": since, "days": days, "rows": rows}
        return Response(FeedbackReportOutputSerializer(body).data)
