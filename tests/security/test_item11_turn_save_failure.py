"""Item 11: when saving the turn fails, the turn is still settled: the answered model calls
reach the ledger, the budget hold is settled and the stream slot is given back."""

from __future__ import annotations

import pytest
from django.db import connection

from agents.models import Checkpoint, Message
from billing.models import BudgetPeriod, LedgerEntry, Reservation
from billing.pricing import price_cache_clear
from billing.ratelimit import stream_slots_held
from retrieval.services import DocumentMetadata, document_ingest, document_register
from tests.fakes.llm_server import ok

pytestmark = pytest.mark.django_db

FILING = (
    "Glueworks Corp annual report for fiscal 2018.\n\nItem 7. Management's Discussion\n\n"
    "Capital expenditures were $1,577 million in fiscal 2018.\n"
)


@pytest.fixture(autouse=True)
def _fresh_prices():
    price_cache_clear()
    yield
    price_cache_clear()


@pytest.fixture
def checkpoints_cannot_be_saved():
    """The database refuses to store a checkpoint, as a full disk or a broken replica would:
    the turn's save fails inside its transaction, after the model has answered."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE FUNCTION test_refuse_checkpoint() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END
            $$ LANGUAGE plpgsql;
            CREATE TRIGGER test_refuse_checkpoint BEFORE INSERT ON agents_checkpoint
               FOR EACH ROW EXECUTE FUNCTION test_refuse_checkpoint();
            """
        )
    yield
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TRIGGER IF EXISTS test_refuse_checkpoint ON agents_checkpoint;"
            " DROP FUNCTION IF EXISTS test_refuse_checkpoint();"
        )


def test_a_turn_whose_save_fails_still_bills_its_answer_and_frees_its_hold_and_slot(
    analyst, llm_env, checkpoints_cannot_be_saved
):
    document, _ = document_register(
        tenant=analyst.tenant,
        user=None,
        data=FILING.encode(),
        filename="glue-2018.txt",
        metadata=DocumentMetadata(company="Glueworks Corp", ticker="GLUE", fiscal_year=2018),
        queue=False,
    )
    document_ingest(document_id=document.pk)
    llm_env.script(
        ok("Capital expenditures were $1,577 million [1].", input_tokens=2_000, output_tokens=12),
        api="anthropic",
    )
    client = analyst.client()
    client.raise_request_exception = False
    conversation = client.post("/api/v1/conversations", {}, format="json").json()["id"]

    response = client.post(
        f"/api/v1/conversations/{conversation}/messages",
        {"question": "What were Glueworks' capital expenditures in 2018?"},
        format="json",
    )

    assert not Checkpoint.objects.filter(tenant=analyst.tenant).exists()
    assert not Message.objects.filter(tenant=analyst.tenant, role="assistant").exists()
    rows = LedgerEntry.objects.filter(tenant=analyst.tenant).order_by("id")
    answered = [r for r in rows if r.kind == "model" and r.provider == "anthropic"]
    assert len(answered) == 1
    assert answered[0].status == "ok"
    assert answered[0].output_tokens == 12
    assert answered[0].cost_usd > 0
    summary = rows.get(kind="query")
    assert summary.cost_usd == sum(r.cost_usd for r in rows if r.kind != "query")
    reservation = Reservation.objects.get(query_id=summary.query_id)
    assert reservation.status == "settled"
    period = BudgetPeriod.objects.get(tenant=analyst.tenant, user__isnull=True)
    assert period.reserved_usd == 0
    assert period.spent_usd == summary.cost_usd
    assert stream_slots_held(tenant=analyst.tenant, user=analyst.user) == 0
    # The asker is told the answer was not kept, in the house error format.
    body = response.json()
    assert body["error"]["code"] == "turn_not_saved"
