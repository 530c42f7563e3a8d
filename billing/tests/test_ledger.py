"""The ledger: append-only in the database, one row per call plus one summary per query."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from billing.models import LedgerEntry
from billing.services import ledger_line_record, query_summary_record
from billing.tests.conftest import model_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(analyst):
    ledger_line_record(
        tenant=analyst.tenant,
        user=analyst.user,
        conversation_id=None,
        query_id=uuid.uuid4(),
        line=model_line(),
    )
    return LedgerEntry.objects.get()


def test_ledger_rows_cannot_be_updated_through_the_orm_or_sql(entry):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(cost_usd=0)
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE billing_ledgerentry SET cost_usd = 0")
    entry.refresh_from_db()
    assert entry.cost_usd > 0


def test_ledger_rows_cannot_be_deleted_through_the_orm_or_sql(entry):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.all().delete()
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM billing_ledgerentry")
    assert LedgerEntry.objects.count() == 1


def test_a_tenant_with_ledger_rows_cannot_be_deleted(entry):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        entry.tenant.delete()


def test_each_call_is_priced_and_the_summary_sums_every_call_including_failed_ones(analyst):
    query_id = uuid.uuid4()
    common = {
        "tenant": analyst.tenant,
        "user": analyst.user,
        "conversation_id": 7,
        "query_id": query_id,
    }
    failed = model_line(input_tokens=2000, output_tokens=40, status="interrupted")
    answered = model_line("openai", "gpt-5.4-mini", input_tokens=2000, output_tokens=200)
    costs = [ledger_line_record(**common, line=line) for line in (failed, answered)]
    assert costs == [Decimal("0.0066000000"), Decimal("0.0024000000")]
    totals = query_summary_record(
        **common,
        status="ok",
        latency_ms=900,
        providers_tried=["anthropic", "openai"],
        provider="openai",
        model="gpt-5.4-mini",
        estimated_cost_usd=Decimal("0.01"),
    )
    summary = LedgerEntry.objects.get(kind="query")
    assert totals.cost_usd == summary.cost_usd == Decimal("0.0090000000")
    assert summary.input_tokens == 4000
    assert summary.output_tokens == 240
    assert summary.providers_tried == ["anthropic", "openai"]
    assert summary.estimated_cost_usd == Decimal("0.01")
    assert LedgerEntry.objects.filter(query_id=query_id, kind="model").count() == 2
