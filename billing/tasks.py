"""Celery tasks of billing: housekeeping that keeps reports, gauges and limits fresh.

None is needed for correctness (reports build missing rollups themselves, a refused hold always
expires stale ones first, and acquiring a stream slot ignores expired ones); scheduled by beat
(CELERY_BEAT_SCHEDULE) they take that work off the request path. Each runs under its job lock.
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from accounts.models import Tenant
from billing.alerts import alert_tenant_admins_email
from billing.models import Reservation
from billing.ratelimit import stream_slots_expire
from billing.rollups import rollups_build
from billing.services import reservations_expire
from monitoring.jobs import scheduled_job

TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3, acks_late=True)
@scheduled_job("ledger-rollups")
def ledger_rollups_task(days: int = 35) -> int:
    """Roll up the closed days and hours of the last `days` days; returns the bucket count."""
    return rollups_build(days=days)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3, acks_late=True)
@scheduled_job("budget-holds-expire")
def reservations_expire_task() -> int:
    """Expire every tenant's stale budget holds; returns how many were expired."""
    stale_tenants = (
        Reservation.objects.filter(status=Reservation.Status.ACTIVE, expires_at__lt=timezone.now())
        .values_list("tenant_id", flat=True)
        .distinct()
    )
    return sum(
        reservations_expire(tenant=tenant)
        for tenant in Tenant.objects.filter(pk__in=list(stale_tenants))
    )


@shared_task(
    autoretry_for=(*TRANSIENT, RedisConnectionError, RedisTimeoutError),
    retry_backoff=True,
    max_retries=3,
    acks_late=True,
)
@scheduled_job("stream-slots-expire")
def stream_slots_expire_task() -> int:
    """Drop the concurrent-stream slots whose holders died; returns how many were dropped."""
    return stream_slots_expire()


@shared_task(autoretry_for=(*TRANSIENT, OSError), retry_backoff=True, max_retries=5, acks_late=True)
def alert_tenant_admins_email_task(notification_id: int) -> int:
    """E-mail a stored alert to its tenant's owners and admins; returns how many addresses."""
    return alert_tenant_admins_email(notification_id=notification_id)
