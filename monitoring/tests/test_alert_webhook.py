"""Alertmanager's webhook: only its bearer token gets in, each alert is stored once per firing
episode for staff, and an alert naming a tenant e-mails that tenant's owners and admins once."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from monitoring.models import AlertNotification

URL = "/api/v1/alerts/alertmanager"
TOKEN = "alert-webhook-test-token-0123456789"
STARTED = "2026-12-03T10:00:00.000Z"


def alert(
    name: str = "ErrorRateSpike",
    *,
    status: str = "firing",
    severity: str = "critical",
    fingerprint: str = "a1b2c3d4e5f60718",
    **labels: str,
) -> dict:
    return {
        "status": status,
        "labels": {"alertname": name, "severity": severity, "service": "financial-rag", **labels},
        "annotations": {
            "summary": f"{name} summary",
            "action": "Page on-call; break the errors down by provider",
        },
        "startsAt": STARTED,
        "endsAt": "2026-12-03T10:20:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": fingerprint,
    }


def delivery(*alerts: dict, receiver: str = "finrag-critical") -> dict:
    """A webhook body as Alertmanager 0.25 sends it (payload version 4)."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="ErrorRateSpike"}',
        "truncatedAlerts": 0,
        "status": "firing" if any(a["status"] == "firing" for a in alerts) else "resolved",
        "receiver": receiver,
        "groupLabels": {"alertname": alerts[0]["labels"]["alertname"]},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


def post(body: dict, *, token: str | None = TOKEN):
    client = APIClient()
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.post(URL, data=body, format="json")


@pytest.fixture
def webhook_on(settings):
    settings.ALERT_WEBHOOK_TOKEN = TOKEN
    return settings


@pytest.mark.django_db
def test_the_webhook_is_off_until_its_token_is_set(settings):
    settings.ALERT_WEBHOOK_TOKEN = ""
    response = post(delivery(alert()), token="")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not AlertNotification.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("token", [None, "wrong-token", TOKEN[:-1]])
def test_a_missing_or_wrong_token_is_refused_and_stores_nothing(webhook_on, token):
    response = post(delivery(alert()), token=token)
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert not AlertNotification.objects.exists()


@pytest.mark.django_db
def test_a_delivery_is_stored_for_staff_and_repeats_update_the_same_row(
    webhook_on, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(delivery(alert(), alert("HighQueryLatency", severity="warning",
                                                fingerprint="0f0f0f0f0f0f0f0f")))  # fmt: skip
    assert response.status_code == 200, response.content
    assert response.json() == {"stored": 2}
    spike = AlertNotification.objects.get(alertname="ErrorRateSpike")
    assert (spike.status, spike.severity, spike.tenant) == ("firing", "critical", "")
    assert spike.summary == "ErrorRateSpike summary"
    assert spike.ends_at is None
    assert spike.receiver == "finrag-critical"

    with django_capture_on_commit_callbacks(execute=True):
        post(delivery(alert()))  # Alertmanager's reminder after repeat_interval
        post(delivery(alert(status="resolved")))
    spike.refresh_from_db()
    assert AlertNotification.objects.count() == 2
    assert (spike.status, spike.deliveries) == ("resolved", 3)
    assert spike.ends_at.isoformat() == "2026-12-03T10:20:00+00:00"


@pytest.mark.django_db
def test_a_malformed_delivery_is_refused_whole(webhook_on):
    nameless = alert()
    del nameless["labels"]["alertname"]
    response = post(delivery(alert(fingerprint="1111111111111111"), nameless))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_input"
    assert not AlertNotification.objects.exists()
    assert post({**delivery(alert()), "version": "3"}).status_code == 400


@pytest.mark.django_db
def test_a_budget_alert_emails_the_tenants_owners_and_admins_once(
    webhook_on, make_member, django_capture_on_commit_callbacks
):
    owner = make_member("acme", "owner")
    admin = make_member("acme", "admin")
    make_member("acme", "analyst")
    make_member("globex", "owner")
    budget = alert(
        "TenantBudgetAlmostExhausted", severity="info", tenant="acme", budget="dollar",
        fingerprint="b0b0b0b0b0b0b0b0",
    )  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        assert post(delivery(budget, receiver="finrag-tenants")).status_code == 200
    (message,) = mail.outbox
    assert sorted(message.to) == sorted([owner.user.email, admin.user.email])
    assert "TenantBudgetAlmostExhausted summary" in message.subject
    assert "What to do:" in message.body
    assert AlertNotification.objects.get().emailed_at is not None

    with django_capture_on_commit_callbacks(execute=True):
        post(delivery(budget, receiver="finrag-tenants"))  # a reminder: no second e-mail
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_service_wide_alerts_and_unknown_tenants_email_nobody(
    webhook_on, make_member, django_capture_on_commit_callbacks
):
    make_member("acme", "owner")
    stray = alert("TenantBudgetAlmostExhausted", severity="info", tenant="no-such-tenant")
    with django_capture_on_commit_callbacks(execute=True):
        post(delivery(alert(fingerprint="2222222222222222"), stray))
    assert mail.outbox == []
    assert AlertNotification.objects.count() == 2


@pytest.mark.django_db
def test_staff_read_alert_notifications_in_admin(webhook_on):
    post(delivery(alert()))
    staff = get_user_model().objects.create_superuser(
        email="ops@example.com", password="correct horse battery staple"
    )
    client = Client()
    client.force_login(staff)
    page = client.get("/admin/monitoring/alertnotification/")
    assert page.status_code == 200
    assert "ErrorRateSpike summary" in page.content.decode()
    row = AlertNotification.objects.get()
    assert client.get(f"/admin/monitoring/alertnotification/{row.pk}/change/").status_code == 200
    assert client.get("/admin/monitoring/alertnotification/add/").status_code == 403
