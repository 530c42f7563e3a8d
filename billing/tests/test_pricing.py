"""Prices: seeded list prices, cached and cache-write rates, valid-from dates, unknown models."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management.sql import emit_post_migrate_signal
from django.utils import timezone

from billing.contracts import UsageLine
from billing.models import Price
from billing.pricing import line_cost, price_cache_clear, price_get, tokens_cost

pytestmark = pytest.mark.django_db


def test_seeded_prices_cover_the_default_models_and_the_offline_ones_are_free():
    sonnet = price_get(provider="anthropic", model="claude-sonnet-5-5")
    mini = price_get(provider="openai", model="gpt-5.4-mini")
    embedding = price_get(provider="openai", model="text-embedding-3-small")
    assert (sonnet.input_per_mtok, sonnet.output_per_mtok) == (Decimal("3.00"), Decimal("15.00"))
    assert sonnet.cached_input_per_mtok == Decimal("0.30")
    assert (mini.input_per_mtok, mini.output_per_mtok) == (Decimal("0.75"), Decimal("4.50"))
    assert embedding.input_per_mtok == Decimal("0.02")
    assert price_get(provider="offline", model="offline-extractive-1").is_free
    assert price_get(provider="local", model="all-MiniLM-L6-v2").is_free


def test_cached_input_is_charged_at_the_cached_rate_and_only_the_rest_at_the_base_rate():
    sonnet = price_get(provider="anthropic", model="claude-sonnet-5-5")
    line = UsageLine(
        kind="model",
        provider="anthropic",
        model="claude-sonnet-5-5",
        input_tokens=10_000,  # the whole prompt: 6,000 read from cache, 1,000 written to it
        cached_input_tokens=6_000,
        cache_write_input_tokens=1_000,
        output_tokens=500,
    )
    # 3,000 x $3 + 6,000 x $0.30 + 1,000 x $3.75 + 500 x $15, per million tokens
    assert line_cost(line=line, price=sonnet) == Decimal("0.0220500000")


def test_money_is_exact_decimal_to_ten_places():
    mini = price_get(provider="openai", model="gpt-5.4-mini")
    cost = tokens_cost(price=mini, input_tokens=1, output_tokens=0, cached_input_tokens=1)
    assert cost == Decimal("0.0000000750")  # one cached token at $0.075/MTok
    assert isinstance(cost, Decimal)


def test_a_newer_price_applies_from_its_valid_from_date_and_not_before():
    now = timezone.now()
    Price.objects.create(
        provider="openai",
        model="gpt-5.4-mini",
        input_per_mtok=Decimal("0.50"),
        output_per_mtok=Decimal("3.00"),
        valid_from=now + timedelta(days=1),
    )
    price_cache_clear()
    assert price_get(provider="openai", model="gpt-5.4-mini").input_per_mtok == Decimal("0.75")
    later = price_get(provider="openai", model="gpt-5.4-mini", at=now + timedelta(days=2))
    assert later.input_per_mtok == Decimal("0.50")


def test_an_unpriced_model_is_charged_the_dearest_chat_price_rather_than_nothing():
    quote = price_get(provider="anthropic", model="claude-opus-9")
    assert quote.known is False
    assert quote.output_per_mtok == Decimal("15.00")


def test_a_default_model_without_any_price_gets_its_list_price_back_after_migrate():
    Price.objects.filter(provider="anthropic").delete()
    price_cache_clear()
    # A read never writes: the model is charged conservatively until the prices are seeded.
    assert not price_get(provider="anthropic", model="claude-sonnet-5-5").known
    assert not Price.objects.filter(provider="anthropic").exists()
    # migrate and flush (a fresh or emptied database) send post_migrate, which seeds them.
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    price_cache_clear()
    assert price_get(provider="anthropic", model="claude-sonnet-5-5").known
    assert Price.objects.filter(provider="anthropic").count() == 1
