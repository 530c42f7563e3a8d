"""Cost reports against hand-computed totals on a small ledger, and the cost_report command."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from billing.contracts import UsageLine
from billing.selectors import (
    expensive_queries,
    optimisation_report,
    provider_costs,
    routing_target_price,
    user_costs_month,
)
from billing.tests.conftest import model_line, record_query

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 14, 12, 0, tzinfo=UTC)
EMBEDDING = UsageLine(kind="embedding", provider="local", model="all-MiniLM-L6-v2", input_tokens=20)


@pytest.fixture
def ledger(make_member):
    """acme: alice (3 questions, one a cache hit) and bob (one older, one last month);
    globex: carol. Sonnet is $3/$15 per MTok, gpt-5.4-mini $0.75/$4.50."""
    alice = make_member("acme", "owner", email="alice@acme.example")
    bob = make_member("acme", "analyst", email="bob@acme.example")
    carol = make_member("globex", "owner", email="carol@globex.example")
    q1 = record_query(  # $0.033
        tenant=alice.tenant,
        user=alice.user,
        lines=[EMBEDDING, model_line(input_tokens=10_000, output_tokens=200)],
        at=NOW - timedelta(hours=1),
        latency_ms=2000,
    )
    q2 = record_query(  # a failed Sonnet call, then gpt-5.4-mini: $0.0105
        tenant=alice.tenant,
        user=alice.user,
        lines=[
            model_line(input_tokens=0, output_tokens=0, status="error"),
            model_line("openai", "gpt-5.4-mini", input_tokens=8_000, output_tokens=1_000),
        ],
        at=NOW - timedelta(hours=2),
        latency_ms=4000,
    )
    q3 = record_query(  # answered from the cache, saving q1's $0.033
        tenant=alice.tenant,
        user=alice.user,
        lines=[model_line(input_tokens=0, output_tokens=0, cache_hit=True, saved=Decimal("0.033"))],
        at=NOW - timedelta(hours=3),
        latency_ms=10,
    )
    q4 = record_query(  # $0.09, 30 hours ago
        tenant=bob.tenant,
        user=bob.user,
        lines=[model_line(input_tokens=20_000, output_tokens=2_000)],
        at=NOW - timedelta(hours=30),
        latency_ms=6000,
    )
    record_query(  # last month: in no report below
        tenant=bob.tenant,
        user=bob.user,
        lines=[model_line(input_tokens=1_000, output_tokens=100)],
        at=NOW - timedelta(days=20),
    )
    record_query(  # another tenant
        tenant=carol.tenant,
        user=carol.user,
        lines=[model_line(input_tokens=5_000, output_tokens=100)],
        at=NOW - timedelta(hours=1),
    )
    return {"alice": alice, "bob": bob, "carol": carol, "queries": [q1, q2, q3, q4]}


def test_user_costs_this_month_match_hand_computed_totals(ledger):
    rows = user_costs_month(tenant=ledger["alice"].tenant, now=NOW)
    assert [r.email for r in rows] == ["bob@acme.example", "alice@acme.example"]
    bob, alice = rows
    assert (bob.query_count, bob.total_tokens, bob.total_cost_usd) == (1, 22_000, Decimal("0.09"))
    assert bob.cache_hit_rate == 0
    assert alice.query_count == 3
    assert alice.total_tokens == 20 + 10_200 + 9_000
    assert alice.total_cost_usd == Decimal("0.0435")
    assert alice.avg_latency_ms == pytest.approx((2000 + 4000 + 10) / 3)
    assert alice.cache_hit_rate == pytest.approx(1 / 3)


def test_costs_by_provider_over_seven_days_match_hand_computed_totals(ledger):
    rows = {r.provider: r for r in provider_costs(tenant=ledger["alice"].tenant, days=7, now=NOW)}
    assert list(rows) == ["anthropic", "openai", "local"]
    anthropic = rows["anthropic"]
    assert anthropic.total_cost_usd == Decimal("0.123")
    assert anthropic.total_tokens == 10_200 + 22_000
    # q2's failed Sonnet call is a call but served nothing; q3's cache hit served a question.
    assert (anthropic.calls, anthropic.query_count) == (4, 3)
    assert anthropic.avg_cost_per_query_usd == Decimal("0.041")
    assert rows["openai"].total_cost_usd == Decimal("0.0105")
    assert (rows["local"].total_cost_usd, rows["local"].total_tokens) == (0, 20)


def test_the_most_expensive_questions_of_24_hours_come_first_and_stop_at_the_limit(ledger):
    q1, q2, q3, _q4 = ledger["queries"]
    rows = expensive_queries(tenant=ledger["alice"].tenant, hours=24, now=NOW)
    assert [r.query_id for r in rows] == [q1, q2, q3]
    assert rows[0].cost_usd == Decimal("0.033")
    assert rows[1].providers == ("anthropic", "openai")
    assert rows[0].email == "alice@acme.example"
    assert len(expensive_queries(tenant=ledger["alice"].tenant, limit=2, now=NOW)) == 2


def test_the_optimisation_report_measures_cache_and_routing_savings(ledger):
    report = optimisation_report(tenant=ledger["alice"].tenant, days=7, now=NOW)
    assert (report.queries, report.cache_hits) == (4, 1)
    assert report.cache_hit_rate == 0.25
    assert report.cache_savings_usd == Decimal("0.033")
    assert report.total_cost_usd == Decimal("0.1335")
    assert report.routing_target == "openai/gpt-5.4-mini"
    # Only q1 was a short Sonnet answer (200 <= 300 output tokens); on gpt-5.4-mini its tokens
    # cost 10,000 x $0.75 + 200 x $4.50 per MTok = $0.0084 instead of $0.033.
    (line,) = report.routing_lines
    assert (line.provider, line.queries) == ("anthropic", 1)
    assert line.target_cost_usd == Decimal("0.0084")
    assert report.routing_savings_usd == Decimal("0.0246")
    assert report.routing_savings_ratio == pytest.approx(0.0246 / 0.1335)


def test_the_routing_target_can_be_configured(ledger, settings):
    settings.BILLING_ROUTING_TARGET = "anthropic/claude-sonnet-5-5"
    assert routing_target_price().model == "claude-sonnet-5-5"
    report = optimisation_report(tenant=ledger["alice"].tenant, days=7, now=NOW)
    assert report.routing_lines == ()  # gpt-5.4-mini's only answer was long


def test_one_tenants_reports_never_include_another_and_staff_see_all(ledger):
    acme = {r.email for r in user_costs_month(tenant=ledger["alice"].tenant, now=NOW)}
    assert "carol@globex.example" not in acme
    everyone = user_costs_month(tenant=None, now=NOW)
    assert {r.tenant for r in everyone} == {"acme", "globex"}
    assert len(expensive_queries(tenant=None, now=NOW)) == 4


def test_cost_report_command_prints_every_report_as_text(ledger, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    out = io.StringIO()
    call_command("cost_report", "--tenant", "acme", stdout=out)
    text = out.getvalue()
    for title in (
        "Per member, this month",
        "By provider, last 7 days",
        "Most expensive questions, last 24 hours",
        "Optimisation, last 7 days",
    ):
        assert title in text
    assert "bob@acme.example" in text
    assert "carol@globex.example" not in text
    assert "routing_savings_usd" in text


def test_cost_report_command_writes_csv(ledger, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)
    out = io.StringIO()
    call_command("cost_report", "--days", "7", "--csv", "--report", "providers", stdout=out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["# By provider, last 7 days"]
    assert rows[1][:2] == ["provider", "cost_usd"]
    by_provider = {row[0]: row for row in rows[2:]}
    assert Decimal(by_provider["anthropic"][1]) == Decimal("0.1395")  # acme 0.123 + globex
    with pytest.raises(CommandError):
        call_command("cost_report", "--tenant", "nope", stdout=io.StringIO())


def test_closed_days_and_hours_are_rolled_up_once_and_rebuilt_when_the_setting_changes(
    ledger, settings
):
    from billing.models import UsageBucket, UsageModelBucket, UsageUserBucket
    from billing.rollups import bucket_build, day_start

    yesterday = day_start((NOW - timedelta(days=1)).date())
    optimisation_report(tenant=None, days=7, now=NOW)
    assert UsageBucket.objects.filter(start=yesterday, hours=24).exists()
    assert UsageBucket.objects.filter(start=day_start(NOW.date()), hours=12).exists()
    bob = UsageUserBucket.objects.get(start=yesterday, hours=24, user_id=ledger["bob"].user.pk)
    assert (bob.queries, bob.cost_usd) == (1, Decimal("0.09"))
    assert bucket_build(start=yesterday, hours=24) is False  # already built
    assert not UsageModelBucket.objects.filter(start=yesterday, short=True).exists()
    settings.BILLING_ROUTING_SHORT_ANSWER_TOKENS = 5_000
    report = optimisation_report(tenant=ledger["alice"].tenant, days=7, now=NOW)
    assert UsageModelBucket.objects.filter(start=yesterday, short=True).exists()  # q4 is short
    assert {line.provider for line in report.routing_lines} == {"anthropic"}
    assert report.routing_lines[0].queries == 2  # q1 (today so far) and q4 (yesterday)


def test_rolling_up_a_day_replaces_the_buckets_of_its_hours(ledger):
    from billing.models import UsageBucket, UsageUserBucket
    from billing.rollups import bucket_build, day_start

    day = day_start(NOW.date())
    for hours in (10, 11, 12):
        bucket_build(start=day, hours=hours)
    # The newest partial bucket and the one before it stay (a report may be reading it).
    assert set(UsageBucket.objects.values_list("hours", flat=True)) == {11, 12}
    alice = UsageUserBucket.objects.get(start=day, hours=12, user_id=ledger["alice"].user.pk)
    assert alice.queries == 3
    bucket_build(start=day, hours=24)
    assert set(UsageBucket.objects.values_list("hours", flat=True)) == {24}
    assert UsageUserBucket.objects.get(start=day, user_id=ledger["alice"].user.pk).queries == 3


def test_a_stretch_that_is_not_over_cannot_be_rolled_up():
    from django.utils import timezone

    from billing.rollups import bucket_build

    with pytest.raises(ValueError, match="not closed"):
        bucket_build(
            start=timezone.now().replace(hour=0, minute=0, second=0, microsecond=0), hours=24
        )
