"""Data monitoring hands to other apps: an alert notification, as a frozen dataclass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AlertNotice:
    """An alert the webhook stored, as the notifiers of ALERT_NOTIFIERS receive it.

    `newly_firing` is True on the first delivery of a firing episode (later deliveries are
    Alertmanager's reminders), so a notifier can tell people once."""

    notification_id: int
    alertname: str
    status: str
    severity: str
    tenant: str
    summary: str
    action: str
    starts_at: datetime
    newly_firing: bool
