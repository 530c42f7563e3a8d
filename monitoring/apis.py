"""REST endpoint of monitoring: Alertmanager's webhook, authenticated by ALERT_WEBHOOK_TOKEN."""

from __future__ import annotations

import hmac

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.errors import NotAuthenticated, PermissionDenied
from monitoring.alerts import alert_notifications_record


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class AlertmanagerAlertSerializer(serializers.Serializer):
    """One alert of a webhook delivery, in Alertmanager's own field names."""

    status = serializers.ChoiceField(choices=("firing", "resolved"))
    labels = serializers.DictField(child=serializers.CharField(allow_blank=True))
    annotations = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False, default=dict
    )
    startsAt = serializers.DateTimeField()
    endsAt = serializers.DateTimeField(required=False, allow_null=True)
    generatorURL = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=1000
    )
    fingerprint = serializers.CharField(required=False, allow_blank=True, default="", max_length=64)

    def validate_labels(self, value: dict[str, str]) -> dict[str, str]:
        if not value.get("alertname"):
            raise serializers.ValidationError("An alert needs an alertname label.")
        return value


class AlertmanagerWebhookApi(APIView):
    """Receives Alertmanager's webhook deliveries (payload version 4) and stores each alert for
    staff (admin: Monitoring > Alert notifications); alerts naming a tenant are e-mailed to its
    owners and admins. Alertmanager sends `Authorization: Bearer <ALERT_WEBHOOK_TOKEN>`."""

    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    class InputSerializer(serializers.Serializer):
        version = serializers.CharField()
        receiver = serializers.CharField(max_length=200)
        status = serializers.ChoiceField(choices=("firing", "resolved"))
        alerts = AlertmanagerAlertSerializer(many=True, allow_empty=False, max_length=1000)  # type: ignore[call-arg]

        def validate_version(self, value: str) -> str:
            if value != "4":
                raise serializers.ValidationError("Only webhook payload version 4 is understood.")
            return value

    class OutputSerializer(serializers.Serializer):
        stored = serializers.IntegerField()

    @extend_schema(
        request=InputSerializer,
        responses={200: OutputSerializer},
        tags=["monitoring"],
        summary="Alertmanager webhook (bearer ALERT_WEBHOOK_TOKEN)",
    )
    def post(self, request: Request) -> Response:
        expected = settings.ALERT_WEBHOOK_TOKEN
        presented = _bearer(request)
        if not expected:
            raise PermissionDenied("The alert webhook is off: ALERT_WEBHOOK_TOKEN is not set.")
        if not presented or not hmac.compare_digest(presented.encode(), expected.encode()):
            raise NotAuthenticated("The alert webhook needs its bearer token.")
        payload = self.InputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        alerts = [
            {
                "status": alert["status"],
                "labels": alert["labels"],
                "annotations": alert["annotations"],
                "starts_at": alert["startsAt"],
                # Alertmanager sends year 1 for "not ended yet".
                "ends_at": alert.get("endsAt") if alert["status"] == "resolved" else None,
                "generator_url": alert["generatorURL"],
                "fingerprint": alert["fingerprint"],
            }
            for alert in payload.validated_data["alerts"]
        ]
        notices = alert_notifications_record(
            receiver=payload.validated_data["receiver"], alerts=alerts
        )
        return Response(self.OutputSerializer({"stored": len(notices)}).data)
