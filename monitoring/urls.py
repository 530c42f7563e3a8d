"""REST routes of monitoring."""

from django.urls import path

from monitoring import apis

urlpatterns = [
    path(
        "alerts/alertmanager",
        apis.AlertmanagerWebhookApi.as_view(),
        name="alertmanager-webhook",
    ),
]
