"""Alerts that name a tenant (its budget running out) reach the tenant's owners and admins by
e-mail: once per firing episode, queued off the webhook's request."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.conf import settings
from django.core.mail import send_mail

from accounts.models import Membership, Tenant
from monitoring.alerts import alert_notification_mark_emailed, alert_notification_unmark_emailed
from monitoring.contracts import AlertNotice
from monitoring.models import AlertNotification

logger = logging.getLogger(__name__)


def tenant_alert_notify(notices: Sequence[AlertNotice]) -> None:
    """The ALERT_NOTIFIERS entry: queue one e-mail per newly firing alert that names a tenant."""
    from billing.tasks import alert_tenant_admins_email_task

    for notice in notices:
        if notice.newly_firing and notice.tenant:
            alert_tenant_admins_email_task.delay(notification_id=notice.notification_id)


def alert_tenant_admins_email(*, notification_id: int) -> int:
    """E-mail a stored alert to the owners and admins of the tenant it names, unless that was
    done already. Returns how many addresses it went to (0 for an unknown tenant or nobody to
    tell). Raises what sending raises, leaving the alert unmarked so a retry sends it."""
    notification = AlertNotification.objects.filter(pk=notification_id).first()
    if notification is None or not notification.tenant or notification.emailed_at is not None:
        return 0
    tenant = Tenant.objects.filter(slug=notification.tenant).first()
    if tenant is None:
        logger.warning(
            "Alert %s names unknown tenant %r", notification.alertname, notification.tenant
        )
        return 0
    recipients = sorted(
        Membership.objects.filter(
            tenant=tenant, role__in=(Membership.Role.OWNER, Membership.Role.ADMIN)
        ).values_list("user__email", flat=True)
    )
    if not recipients or not alert_notification_mark_emailed(notification_id=notification_id):
        return 0
    action = notification.annotations.get("action", "")
    body = (
        f"{notification.summary or notification.alertname}\n\n"
        + (f"What to do: {action}\n\n" if action else "")
        + f"Workspace: {tenant.name}. Alert {notification.alertname}, "
        f"since {notification.starts_at:%Y-%m-%d %H:%M} UTC.\n"
    )
    try:
        send_mail(
            subject=f"[FinRAG] {tenant.name}: {notification.summary or notification.alertname}",
            message=body,
            from_email=settings.BILLING_EMAIL_FROM or settings.DEFAULT_FROM_EMAIL,
            recipient_list=recipients,
            fail_silently=False,
        )
    except Exception:
        alert_notification_unmark_emailed(notification_id=notification_id)
        raise
    logger.info(
        "Alert %s sent to %d admin(s) of %s", notification.alertname, len(recipients), tenant.slug
    )
    return len(recipients)
