"""The budget warning: a period marked warned once its spend reaches BUDGET_WARNING_RATIO of the
limit, and the email to the workspace's owners and admins sent after the commit."""

from __future__ import annotations

import logging
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from accounts.models import Membership, Tenant
from billing.models import BudgetPeriod
from billing.services.budget_periods import PeriodRow
from billing.services.ledger import period_resets_at

logger = logging.getLogger(__name__)


def warning_ratio() -> Decimal:
    """BUDGET_WARNING_RATIO as a Decimal."""
    return Decimal(str(settings.BUDGET_WARNING_RATIO))


def budget_warning_if_due(
    *, tenant_id: int, period: date, row: PeriodRow | None, now: datetime
) -> bool:
    """Mark the period warned (once) when spend reached BUDGET_WARNING_RATIO of the limit; the
    email goes out after COMMIT. Returns whether this call is the one that warned."""
    if row is None or row.limit_usd is None or row.warning_sent_at is not None:
        return False
    if row.spent_usd < warning_ratio() * row.limit_usd:
        return False
    marked = BudgetPeriod.objects.filter(pk=row.id, warning_sent_at__isnull=True).update(
        warning_sent_at=now
    )
    if not marked:
        return False
    transaction.on_commit(
        lambda: budget_warning_send(tenant_id=tenant_id, period_start=period), robust=True
    )
    return True


def budget_warning_send(*, tenant_id: int, period_start: date) -> int:
    """Email the tenant's owners and admins that 90% of this month's budget is spent.
    Returns how many addresses it went to."""
    tenant = Tenant.objects.select_related("tier").filter(pk=tenant_id).first()
    if tenant is None:
        return 0
    row = BudgetPeriod.objects.filter(
        tenant_id=tenant_id, user__isnull=True, period_start=period_start
    ).first()
    if row is None or row.limit_usd is None:
        return 0
    recipients = sorted(
        Membership.objects.filter(
            tenant_id=tenant_id, role__in=(Membership.Role.OWNER, Membership.Role.ADMIN)
        ).values_list("user__email", flat=True)
    )
    if not recipients:
        return 0
    used = (row.spent_usd / row.limit_usd * 100) if row.limit_usd else Decimal(100)
    resets = period_resets_at(period_start)
    body = (
        f"{tenant.name} has spent ${row.spent_usd.quantize(Decimal('0.01'))} of its "
        f"${row.limit_usd.quantize(Decimal('0.01'))} budget for {period_start:%B %Y} "
        f"({used.quantize(Decimal('1'))}%).\n\n"
        f"At 100% new questions are refused until the budget resets on {resets:%Y-%m-%d} (UTC). "
        "An owner can raise the budget in the admin, or move the workspace to a larger tier.\n"
    )
    sent = send_mail(
        subject=f"[FinRAG] {tenant.name} has used {used.quantize(Decimal('1'))}% of its "
        "monthly budget",
        message=body,
        from_email=settings.BILLING_EMAIL_FROM or settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
        fail_silently=False,
    )
    logger.info("Budget warning for %s sent to %d address(es)", tenant.slug, len(recipients))
    return len(recipients) if sent else 0
