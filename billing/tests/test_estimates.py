"""What a question may cost before it is answered: the worst case and the refined hold, priced
by billing on the chain's models the agents pass in."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.pricing import price_cache_clear
from billing.services.estimates import chain_prices, request_plan, worst_case_plan

pytestmark = pytest.mark.django_db

SONNET = ("anthropic", "claude-sonnet-5-5")
MINI = ("openai", "gpt-5.4-mini")
OFFLINE = ("offline", "offline-extractive-2")


@pytest.fixture(autouse=True)
def _fresh_prices():
    price_cache_clear()
    yield
    price_cache_clear()


def test_the_worst_case_is_priced_on_the_dearest_model_of_the_chain(settings):
    settings.LLM_MAX_TOKENS = 1_000
    settings.LLM_CONTEXT_TOKENS = 9_000
    settings.BUDGET_TOKEN_MARGIN = Decimal("1.25")
    plan = worst_case_plan(models=[OFFLINE, MINI, SONNET], embedding_tokens=0, tool_rounds=0)
    # (9,000 - 1,000) x 1.25 = 10,000 prompt tokens and 1,000 out, on Sonnet at $3 / $15.
    assert plan.amount_usd == Decimal("0.045")
    assert plan.tokens == 11_000
    assert plan.estimate_usd == plan.amount_usd


def test_a_follow_up_holds_its_condensing_call_too(settings):
    settings.LLM_MAX_TOKENS = 1_000
    settings.LLM_CONTEXT_TOKENS = 9_000
    settings.BUDGET_TOKEN_MARGIN = Decimal("1.25")
    plain = worst_case_plan(models=[MINI], embedding_tokens=0, tool_rounds=0)
    follow_up = worst_case_plan(
        models=[MINI], embedding_tokens=0, tool_rounds=0, condense_output_tokens=200
    )
    assert follow_up.tokens == plain.tokens + 4_000 + 200
    assert follow_up.amount_usd > plain.amount_usd


def test_the_refined_hold_estimates_on_the_first_model_and_holds_the_dearest(settings):
    settings.BUDGET_TOKEN_MARGIN = Decimal("1.25")
    models = [MINI, SONNET]
    plan = request_plan(
        prompt_tokens={MINI: 4_000, SONNET: 4_400},
        prices=chain_prices(models),
        max_tokens=1_000,
        tool_rounds=0,
        embedding_tokens=0,
        spent_usd=Decimal("0.001"),
    )
    # Estimate: gpt-5.4-mini answering once, 4,000 in x $0.75 + 1,000 out x $4.50 per MTok.
    assert plan.estimate_usd == Decimal("0.0075") + Decimal("0.001")
    # Hold: Sonnet with the margin, 5,500 in x $3 + 1,000 out x $15 per MTok, plus what was spent.
    assert plan.amount_usd == Decimal("0.0315") + Decimal("0.001")
    assert plan.tokens == 6_500
