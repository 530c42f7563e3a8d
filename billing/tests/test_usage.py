"""The usage page's selectors: per-day and per-provider costs and window totals of one workspace,
against hand-computed figures, never counting another workspace's ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from billing.contracts import UsageLine
from billing.selectors import (
    DayCost,
    ProviderCallCost,
    UsageTotals,
    usage_cost_by_day,
    usage_cost_by_provider,
    usage_totals,
)
from billing.tests.conftest import model_line, record_query

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 14, 12, 0, tzinfo=UTC)
SINCE = datetime(2026, 6, 12, 0, 0, tzinfo=UTC)  # a three-day window: the 12th to the 14th
EMBEDDING = UsageLine(kind="embedding", provider="local", model="all-MiniLM-L6-v2", input_tokens=20)


@pytest.fixture
def ledger(make_member):
    """acme: alice ($0.0105 on the 12th, $0.033 on the 14th, one before the window) and bob
    ($0.09 on the 13th); globex: carol, larger on every day. Sonnet is $3/$15 per MTok,
    gpt-5.4-mini $0.75/$4.50, the local embedder free."""
    alice = make_member("acme", "owner", email="alice@acme.example")
    bob = make_member("acme", "analyst", email="bob@acme.example")
    carol = make_member("globex", "owner", email="carol@globex.example")
    record_query(  # $0.0105
        tenant=alice.tenant,
        user=alice.user,
        lines=[model_line("openai", "gpt-5.4-mini", input_tokens=8_000, output_tokens=1_000)],
        at=datetime(2026, 6, 12, 10, 0, tzinfo=UTC),
    )
    record_query(  # $0.033
        tenant=alice.tenant,
        user=alice.user,
        lines=[EMBEDDING, model_line(input_tokens=10_000, output_tokens=200)],
        at=NOW - timedelta(hours=1),
    )
    record_query(  # before the window
        tenant=alice.tenant,
        user=alice.user,
        lines=[model_line(input_tokens=1_000, output_tokens=100)],
        at=SINCE - timedelta(minutes=1),
    )
    record_query(  # $0.09
        tenant=bob.tenant,
        user=bob.user,
        lines=[model_line(input_tokens=20_000, output_tokens=2_000)],
        at=datetime(2026, 6, 13, 9, 0, tzinfo=UTC),
    )
    for day in (12, 13, 14):  # another workspace, same providers, same days: $0.39 each
        record_query(
            tenant=carol.tenant,
            user=carol.user,
            lines=[model_line(input_tokens=100_000, output_tokens=6_000)],
            at=datetime(2026, 6, day, 11, 0, tzinfo=UTC),
        )
    return {"alice": alice, "bob": bob, "carol": carol}


def test_cost_by_day_lists_every_day_of_the_window_with_only_this_workspaces_questions(ledger):
    assert usage_cost_by_day(tenant=ledger["alice"].tenant, since=SINCE, now=NOW) == [
        DayCost(day=date(2026, 6, 12), cost_usd=Decimal("0.0105"), query_count=1),
        DayCost(day=date(2026, 6, 13), cost_usd=Decimal("0.09"), query_count=1),
        DayCost(day=date(2026, 6, 14), cost_usd=Decimal("0.033"), query_count=1),
    ]
    carols = usage_cost_by_day(tenant=ledger["carol"].tenant, since=SINCE, now=NOW)
    assert [(d.cost_usd, d.query_count) for d in carols] == [(Decimal("0.39"), 1)] * 3


def test_cost_by_provider_counts_only_this_workspaces_calls(ledger):
    assert usage_cost_by_provider(tenant=ledger["alice"].tenant, since=SINCE, now=NOW) == [
        ProviderCallCost(provider="anthropic", cost_usd=Decimal("0.123"), calls=2),
        ProviderCallCost(provider="openai", cost_usd=Decimal("0.0105"), calls=1),
        ProviderCallCost(provider="local", cost_usd=Decimal(0), calls=1),
    ]
    assert usage_cost_by_provider(tenant=ledger["carol"].tenant, since=SINCE, now=NOW) == [
        ProviderCallCost(provider="anthropic", cost_usd=Decimal("1.17"), calls=3),
    ]


def test_totals_sum_only_this_workspaces_questions_in_the_window(ledger):
    assert usage_totals(tenant=ledger["alice"].tenant, since=SINCE, now=NOW) == UsageTotals(
        cost_usd=Decimal("0.1335"), query_count=3, total_tokens=9_000 + 20 + 10_200 + 22_000
    )
    assert usage_totals(tenant=ledger["carol"].tenant, since=SINCE, now=NOW) == UsageTotals(
        cost_usd=Decimal("1.17"), query_count=3, total_tokens=3 * 106_000
    )


def test_a_member_filter_keeps_to_that_members_own_rows(ledger):
    tenant, bob = ledger["bob"].tenant, ledger["bob"].user
    days = usage_cost_by_day(tenant=tenant, since=SINCE, user=bob, now=NOW)
    assert [(d.day.day, d.query_count) for d in days] == [(12, 0), (13, 1), (14, 0)]
    assert usage_cost_by_provider(tenant=tenant, since=SINCE, user=bob, now=NOW) == [
        ProviderCallCost(provider="anthropic", cost_usd=Decimal("0.09"), calls=1),
    ]
    totals = usage_totals(tenant=tenant, since=SINCE, user=bob, now=NOW)
    assert (totals.cost_usd, totals.query_count) == (Decimal("0.09"), 1)


def test_a_member_of_another_workspace_sees_nothing_through_this_one(ledger):
    """Asking for acme with globex's member finds no rows: the tenant bounds the member filter."""
    tenant, carol = ledger["alice"].tenant, ledger["carol"].user
    days = usage_cost_by_day(tenant=tenant, since=SINCE, user=carol, now=NOW)
    assert [d.query_count for d in days] == [0, 0, 0]
    assert usage_cost_by_provider(tenant=tenant, since=SINCE, user=carol, now=NOW) == []
    assert usage_totals(tenant=tenant, since=SINCE, user=carol, now=NOW) == UsageTotals(
        cost_usd=Decimal(0), query_count=0, total_tokens=0
    )
