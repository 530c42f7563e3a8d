"""Budgets: atomic holds, 402 at exactly 100%, one warning at 90%, settlement on every path,
stale holds expiring without a cron, monthly periods, member caps, and no overspend under load."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection

from accounts.errors import BudgetExhausted
from accounts.models import Membership, Tenant
from accounts.services import user_create_in_tenant
from billing.models import BudgetPeriod, LedgerEntry, Price, Reservation
from billing.pricing import price_cache_clear
from billing.selectors import budget_status_get
from billing.services import (
    budget_reserve,
    ledger_line_record,
    period_resets_at,
    period_start_for,
    query_summary_record,
    reservation_settle,
    reservation_shrink,
    reservations_expire,
)
from billing.tests.conftest import model_line

NOW = datetime(2026, 6, 14, 12, 0, tzinfo=UTC)


def set_budget(tenant: Tenant, usd: str, tokens: int = 10**9) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(
        monthly_budget_usd_override=Decimal(usd), monthly_token_allowance_override=tokens
    )
    tenant.refresh_from_db()


@pytest.fixture(autouse=True)
def cent_model(db):
    """A test model whose output costs exactly one cent per token, so spend is exact."""
    Price.objects.create(
        provider="test",
        model="cent",
        input_per_mtok=0,
        output_per_mtok=Decimal(10_000),
        valid_from=datetime(2020, 1, 1, tzinfo=UTC),
    )
    price_cache_clear()


def spend(member, usd: str, *, now: datetime = NOW) -> None:
    """Run one whole query (hold, ledger rows, summary, settle) that costs exactly `usd`."""
    cents = int(Decimal(usd) * 100)
    reservation = budget_reserve(
        tenant=member.tenant,
        user=member.user,
        query_id=uuid.uuid4(),
        amount_usd=Decimal(usd),
        tokens=0,
        now=now,
    )
    ledger_line_record(
        tenant=member.tenant,
        user=member.user,
        conversation_id=None,
        query_id=reservation.query_id,
        line=model_line("test", "cent", input_tokens=0, output_tokens=cents),
        at=now,
    )
    query_summary_record(
        tenant=member.tenant,
        user=member.user,
        conversation_id=None,
        query_id=reservation.query_id,
        status="ok",
        latency_ms=10,
        providers_tried=["test"],
        at=now,
    )
    reservation_settle(reservation=reservation, now=now)


def tenant_period(tenant: Tenant) -> BudgetPeriod:
    return BudgetPeriod.objects.get(tenant=tenant, user__isnull=True)


@pytest.mark.django_db
def test_budget_blocks_query_at_exactly_100_percent_naming_the_limit_and_reset_date(analyst):
    set_budget(analyst.tenant, "3.00")
    spend(analyst, "1.50")
    spend(analyst, "1.50")  # exactly 100% now
    with pytest.raises(BudgetExhausted) as refused:
        budget_reserve(
            tenant=analyst.tenant,
            user=analyst.user,
            query_id=uuid.uuid4(),
            amount_usd=Decimal(0),  # even a free question is refused at 100%
            tokens=0,
            now=NOW,
        )
    error = refused.value
    assert error.status_code == 402
    assert error.code == "budget_exhausted"
    assert "$3.00" in error.message
    assert "2026-07-01" in error.message
    assert error.details["limit"] == "monthly_budget_usd"
    assert error.details["resets_at"] == "2026-07-01T00:00:00+00:00"
    assert not Reservation.objects.filter(status="active").exists()


@pytest.mark.django_db
def test_a_hold_that_exactly_fits_is_allowed_and_one_cent_more_is_refused(analyst):
    set_budget(analyst.tenant, "3.00")
    spend(analyst, "2.00")
    fits = budget_reserve(
        tenant=analyst.tenant,
        user=analyst.user,
        query_id=uuid.uuid4(),
        amount_usd=Decimal("0.99"),
        tokens=0,
        now=NOW,
    )
    with pytest.raises(BudgetExhausted) as refused:
        budget_reserve(
            tenant=analyst.tenant,
            user=analyst.user,
            query_id=uuid.uuid4(),
            amount_usd=Decimal("0.02"),
            tokens=0,
            now=NOW,
        )
    assert "could cost more than what is left" in refused.value.message
    assert refused.value.details["reserved_usd"] == str(fits.amount_usd.quantize(Decimal("1e-10")))
    exact = budget_reserve(
        tenant=analyst.tenant,
        user=analyst.user,
        query_id=uuid.uuid4(),
        amount_usd=Decimal("0.01"),
        tokens=0,
        now=NOW,
    )
    assert exact.amount_usd == Decimal("0.01")


@pytest.mark.django_db
def test_budget_warns_owners_and_admins_once_at_90_percent(
    make_member, analyst, django_capture_on_commit_callbacks
):
    owner = make_member("acme", "owner")
    admin = make_member("acme", "admin")
    set_budget(analyst.tenant, "10.00")
    with django_capture_on_commit_callbacks(execute=True):
        spend(analyst, "8.99")
    assert mail.outbox == []
    with django_capture_on_commit_callbacks(execute=True):
        spend(analyst, "0.01")  # 90.0%
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == sorted([owner.user.email, admin.user.email])
    assert analyst.user.email not in message.to
    assert "90%" in message.subject
    assert "2026-07-01" in message.body
    with django_capture_on_commit_callbacks(execute=True):
        spend(analyst, "0.50")
    assert len(mail.outbox) == 1  # once per period
    status = budget_status_get(tenant=analyst.tenant, now=NOW)
    assert status.warning
    assert status.remaining_usd == Decimal("0.5")
    assert tenant_period(analyst.tenant).warning_sent_at is not None
    reservation = budget_reserve(
        tenant=analyst.tenant,
        user=analyst.user,
        query_id=uuid.uuid4(),
        amount_usd=Decimal("0.01"),
        tokens=0,
        now=NOW,
    )
    assert reservation.budget_warning


@pytest.mark.django_db
def test_settling_releases_the_hold_and_counts_what_the_ledger_says(analyst):
    set_budget(analyst.tenant, "100")
    reservation = budget_reserve(
        tenant=analyst.tenant,
        user=analyst.user,
        query_id=uuid.uuid4(),
        amount_usd=Decimal("0.25"),
        tokens=20_000,
        now=NOW,
    )
    assert tenant_period(analyst.tenant).reserved_usd == Decimal("0.25")
    for line in (model_line(status="error", input_tokens=0, output_tokens=0), model_line()):
        ledger_line_record(
            tenant=analyst.tenant,
            user=analyst.user,
            conversation_id=None,
            query_id=reservation.query_id,
            line=line,
        )
    settled = reservation_settle(reservation=reservation, now=NOW)
    assert settled.actual_usd == Decimal("0.0045")  # 1000 x $3 + 100 x $15 per MTok
    assert settled.actual_tokens == 1100
    assert settled.released_usd == Decimal("0.2455")
    period = tenant_period(analyst.tenant)
    assert (period.reserved_usd, period.spent_usd) == (0, Decimal("0.0045"))
    assert (period.reserved_tokens, period.spent_tokens) == (0, 1100)
    member_period = BudgetPeriod.objects.get(tenant=analyst.tenant, user=analyst.user)
    assert member_period.spent_usd == Decimal("0.0045")
    assert Reservation.objects.get().status == "settled"
    again = reservation_settle(reservation=reservation, now=NOW)
    assert again.released_usd == 0
    assert tenant_period(analyst.tenant).spent_usd == Decimal("0.0045")


@pytest.mark.django_db
def test_a_stale_hold_expires_at_the_next_reservation_and_counts_its_ledger_spend(analyst):
    set_budget(analyst.tenant, "1.00")
    stale = budget_reserve(
        tenant=analyst.tenant,
        user=analyst.user,
        query_id=uuid.uuid4(),
        amount_usd=Decimal("0.90"),
        tokens=0,
        now=NOW,
    )
    # The process answering it died after one call; nothing settled it.
    ledger_line_record(
        tenant=analyst.tenant,
        user=analyst.user,
        conversation_id=None,
        query_id=stale.query_id,
        line=model_line(input_tokens=0, output_tokens=10_000),  # $0.15
        at=NOW,
    )
    with pytest.raises(BudgetExhausted):
        budget_reserve(
            tenant=analyst.tenant,
            user=analyst.user,
            query_id=uuid.uuid4(),
            amount_usd=Decimal("0.50"),
            tokens=0,
            now=NOW + timedelta(minutes=5),
        )
    later = NOW + timedelta(minutes=16)  # past BUDGET_RESERVATION_TTL_SECONDS (15 min)
    budget_reserve(
        tenant=analyst.tenant,
        user=analyst.user,
        query_id=uuid.uuid4(),
        amount_usd=Decimal("0.50"),
        tokens=0,
        now=later,
    )
    expired = Reservation.objects.get(query_id=stale.query_id)
    assert expired.status == "expired"
    assert expired.actual_usd == Decimal("0.15")
    period = tenant_period(analyst.tenant)
    assert period.spent_usd == Decimal("0.15")
    assert period.reserved_usd == Decimal("0.50")


@pytest.mark.django_db
def test_a_late_settlement_of_an_expired_hold_corrects_spend_to_the_ledger(analyst):
    set_budget(analyst.tenant, "10")
    slow = budget_reserve(
        tenant=analyst.tenant,
        user=analyst.user,
        query_id=uuid.uuid4(),
        amount_usd=Decimal("1"),
        tokens=0,
        now=NOW,
    )
    assert reservations_expire(tenant=analyst.tenant, now=NOW + timedelta(hours=1)) == 1
    assert tenant_period(analyst.tenant).reserved_usd == 0
    ledger_line_record(
        tenant=analyst.tenant,
        user=analyst.user,
        conversation_id=None,
        query_id=slow.query_id,
        line=model_line(input_tokens=0, output_tokens=20_000),  # $0.30
    )
    reservation_settle(reservation=slow, now=NOW + timedelta(hours=1))
    period = tenant_period(analyst.tenant)
    assert (period.spent_usd, period.reserved_usd) == (Decimal("0.3"), 0)


@pytest.mark.django_db
def test_a_hold_can_shrink_once_the_prompt_is_known_but_never_grow(analyst):
    set_budget(analyst.tenant, "10")
    held = budget_reserve(
        tenant=analyst.tenant,
        user=analyst.user,
        query_id=uuid.uuid4(),
        amount_usd=Decimal("0.30"),
        tokens=20_000,
        now=NOW,
    )
    smaller = reservation_shrink(reservation=held, amount_usd=Decimal("0.05"), tokens=5_000)
    assert (smaller.amount_usd, smaller.tokens) == (Decimal("0.05"), 5_000)
    same = reservation_shrink(reservation=smaller, amount_usd=Decimal("0.40"), tokens=50_000)
    assert (same.amount_usd, same.tokens) == (Decimal("0.05"), 5_000)
    period = tenant_period(analyst.tenant)
    assert (period.reserved_usd, period.reserved_tokens) == (Decimal("0.05"), 5_000)
    member = BudgetPeriod.objects.get(tenant=analyst.tenant, user=analyst.user)
    assert member.reserved_usd == Decimal("0.05")


@pytest.mark.django_db
def test_a_member_cap_refuses_that_member_and_not_the_others(analyst, make_member):
    colleague = make_member("acme", "analyst")
    set_budget(analyst.tenant, "100")
    Membership.objects.filter(pk=analyst.membership.pk).update(
        monthly_budget_usd_cap=Decimal("1.00")
    )
    spend(analyst, "1.00")
    with pytest.raises(BudgetExhausted) as refused:
        budget_reserve(
            tenant=analyst.tenant,
            user=analyst.user,
            query_id=uuid.uuid4(),
            amount_usd=Decimal("0.01"),
            tokens=0,
            user_cap_usd=Decimal("1.00"),
            now=NOW,
        )
    assert refused.value.details["scope"] == "user"
    assert refused.value.details["limit"] == "monthly_budget_usd_cap"
    assert "personal monthly cap" in refused.value.message
    budget_reserve(
        tenant=colleague.tenant,
        user=colleague.user,
        query_id=uuid.uuid4(),
        amount_usd=Decimal("0.01"),
        tokens=0,
        now=NOW,
    )


@pytest.mark.django_db
def test_a_cap_set_mid_month_counts_the_spend_already_in_the_ledger(analyst):
    set_budget(analyst.tenant, "100")
    spend(analyst, "0.60")
    BudgetPeriod.objects.filter(user=analyst.user).delete()  # as if never tracked
    with pytest.raises(BudgetExhausted):
        budget_reserve(
            tenant=analyst.tenant,
            user=analyst.user,
            query_id=uuid.uuid4(),
            amount_usd=Decimal("0.50"),
            tokens=0,
            user_cap_usd=Decimal("1.00"),
            now=NOW,
        )


@pytest.mark.django_db
def test_the_monthly_token_allowance_is_enforced_too(analyst):
    set_budget(analyst.tenant, "100", tokens=30_000)
    budget_reserve(
        tenant=analyst.tenant,
        user=analyst.user,
        query_id=uuid.uuid4(),
        amount_usd=Decimal(0),
        tokens=20_000,
        now=NOW,
    )
    with pytest.raises(BudgetExhausted) as refused:
        budget_reserve(
            tenant=analyst.tenant,
            user=analyst.user,
            query_id=uuid.uuid4(),
            amount_usd=Decimal(0),
            tokens=20_000,
            now=NOW,
        )
    assert refused.value.details["limit"] == "monthly_token_allowance"
    assert "30,000 tokens" in refused.value.message


@pytest.mark.django_db
def test_budgets_reset_with_the_calendar_month_without_any_job(analyst):
    set_budget(analyst.tenant, "1.00")
    spend(analyst, "1.00")
    with pytest.raises(BudgetExhausted):
        budget_reserve(
            tenant=analyst.tenant,
            user=analyst.user,
            query_id=uuid.uuid4(),
            amount_usd=Decimal(0),
            tokens=0,
            now=NOW,
        )
    july = datetime(2026, 7, 1, 0, 0, 1, tzinfo=UTC)
    budget_reserve(
        tenant=analyst.tenant,
        user=analyst.user,
        query_id=uuid.uuid4(),
        amount_usd=Decimal("0.50"),
        tokens=0,
        now=july,
    )
    assert budget_status_get(tenant=analyst.tenant, now=july).spent_usd == 0
    assert period_start_for(july).isoformat() == "2026-07-01"
    assert period_resets_at(period_start_for(NOW)) == datetime(2026, 7, 1, tzinfo=UTC)
    assert period_resets_at(period_start_for(datetime(2026, 12, 31, 23, tzinfo=UTC))).year == 2027


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_against_postgres_never_overspend(make_member):
    """16 threads, each with its own Postgres connection, race for a $1.00 budget with holds of
    $0.07 and settle to $0.05 of real ledger cost; the budget must end at or under $1.00 and the
    ledger must equal the settled spend."""
    member = make_member("race", "owner")
    others = [
        user_create_in_tenant(tenant=member.tenant, email=f"r{i}@race.example", role="analyst")[0]
        for i in range(3)
    ]
    users = [member.user, *others]
    set_budget(member.tenant, "1.00")
    start = threading.Barrier(16)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        user = users[index % len(users)]
        start.wait()
        try:
            for _ in range(6):
                try:
                    reservation = budget_reserve(
                        tenant=member.tenant,
                        user=user,
                        query_id=uuid.uuid4(),
                        amount_usd=Decimal("0.07"),
                        tokens=0,
                    )
                except BudgetExhausted:
                    with lock:
                        outcomes.append("refused")
                    continue
                ledger_line_record(
                    tenant=member.tenant,
                    user=user,
                    conversation_id=None,
                    query_id=reservation.query_id,
                    line=model_line(input_tokens=0, output_tokens=3_334),  # $0.05001
                )
                reservation_settle(reservation=reservation)
                with lock:
                    outcomes.append("settled")
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    period = tenant_period(member.tenant)
    ledger_total = sum(
        LedgerEntry.objects.filter(tenant=member.tenant).values_list("cost_usd", flat=True),
        Decimal(0),
    )
    assert outcomes.count("refused") > 0  # the race really reached the limit
    assert period.spent_usd <= Decimal("1.00")
    assert period.reserved_usd == 0
    assert period.spent_usd == ledger_total
    assert outcomes.count("settled") == ledger_total / Decimal("0.05001")
    assert not Reservation.objects.filter(status="active").exists()
    members = BudgetPeriod.objects.filter(tenant=member.tenant, user__isnull=False)
    assert sum(p.spent_usd for p in members) == period.spent_usd


@pytest.mark.django_db
def test_the_housekeeping_task_expires_stale_holds_of_every_tenant(analyst, other_tenant_analyst):
    from billing.tasks import reservations_expire_task

    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    for member in (analyst, other_tenant_analyst):
        set_budget(member.tenant, "10")
        budget_reserve(
            tenant=member.tenant,
            user=member.user,
            query_id=uuid.uuid4(),
            amount_usd=Decimal("1"),
            tokens=0,
            now=long_ago,
        )
    assert reservations_expire_task()["result"] == 2
    assert not Reservation.objects.filter(status="active").exists()
    assert BudgetPeriod.objects.filter(user__isnull=True, reserved_usd__gt=0).count() == 0
