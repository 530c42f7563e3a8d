"""Alert notifications from Alertmanager: store each alert once per firing episode, then hand it
to the notifiers named in ALERT_NOTIFIERS (billing's e-mails a tenant's admins)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from monitoring.contracts import AlertNotice
from monitoring.models import AlertNotification

logger = logging.getLogger(__name__)

Notifier = Callable[[Sequence[AlertNotice]], None]


def alert_fingerprint(labels: Mapping[str, str]) -> str:
    """A stable id of an alert's label set, for payloads that carry no fingerprint."""
    return hashlib.sha256(json.dumps(dict(labels), sort_keys=True).encode()).hexdigest()[:16]


def alert_notifications_record(
    *, receiver: str, alerts: Sequence[Mapping[str, Any]], now: datetime | None = None
) -> list[AlertNotice]:
    """Store the alerts of one Alertmanager delivery and notify ALERT_NOTIFIERS after commit.

    Each alert is a mapping with status, labels, annotations, starts_at, ends_at (or None),
    generator_url and fingerprint (or ""). All are stored or none (one transaction). Returns
    what the notifiers are given.
    """
    now = now or timezone.now()
    notices: list[AlertNotice] = []
    with transaction.atomic():
        for alert in alerts:
            labels = {str(k): str(v) for k, v in alert["labels"].items()}
            annotations = {str(k): str(v) for k, v in alert["annotations"].items()}
            fingerprint = alert["fingerprint"] or alert_fingerprint(labels)
            fields = {
                "status": alert["status"],
                "ends_at": alert["ends_at"] if alert["status"] == "resolved" else None,
                "alertname": labels.get("alertname", ""),
                "severity": labels.get("severity", ""),
                "tenant": labels.get("tenant", ""),
                "summary": annotations.get("summary", ""),
                "labels": labels,
                "annotations": annotations,
                "generator_url": alert["generator_url"],
                "receiver": receiver,
                "last_received_at": now,
            }
            row = (
                AlertNotification.objects.select_for_update()
                .filter(fingerprint=fingerprint, starts_at=alert["starts_at"])
                .first()
            )
            if row is None:
                row = AlertNotification.objects.create(
                    fingerprint=fingerprint, starts_at=alert["starts_at"], **fields
                )
                newly_firing = row.status == AlertNotification.Status.FIRING
            else:
                newly_firing = False
                fields["deliveries"] = row.deliveries + 1
                AlertNotification.objects.filter(pk=row.pk).update(**fields)
            notices.append(
                AlertNotice(
                    notification_id=row.pk,
                    alertname=fields["alertname"],
                    status=fields["status"],
                    severity=fields["severity"],
                    tenant=fields["tenant"],
                    summary=fields["summary"],
                    action=annotations.get("action", ""),
                    starts_at=alert["starts_at"],
                    newly_firing=newly_firing,
                )
            )
        transaction.on_commit(lambda: _notify(notices), robust=True)
    return notices


def _notify(notices: Sequence[AlertNotice]) -> None:
    for path in settings.ALERT_NOTIFIERS:
        notifier: Notifier = import_string(path)
        try:
            notifier(notices)
        except Exception:
            # One notifier failing must not keep the others from running; the rows are stored.
            logger.exception("Alert notifier %s failed", path)


def alert_notification_mark_emailed(*, notification_id: int) -> bool:
    """Claim the right to e-mail about a notification; False when it was already done."""
    return bool(
        AlertNotification.objects.filter(pk=notification_id, emailed_at__isnull=True).update(
            emailed_at=timezone.now()
        )
    )


def alert_notification_unmark_emailed(*, notification_id: int) -> None:
    """Give the claim back after the e-mail could not be sent, so a retry sends it."""
    AlertNotification.objects.filter(pk=notification_id).update(emailed_at=None)
