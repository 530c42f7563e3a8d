"""Celery tasks of billing: housekeeping that keeps reports and gauges fresh.

Neither is needed for correctness (reports build missing rollups themselves, and a refused hold
always expires stale ones first); scheduled nightly and every few minutes they take that work off
the request path.
"""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from accounts.models import Tenant
from billing.models import Reservation
from billing.rollups import rollups_build
from billing.services import reservations_expire

TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3, acks_late=True)
def ledger_rollups_task(days: int = 35) -> int:
    """Roll up the closed days and hours of the last `days` days; returns the bucket count."""
    return rollups_build(days=days)


@shared_task(autoretry_for=TRANSIENT, retry_backoff=True, max_retries=3, acks_late=True)
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
