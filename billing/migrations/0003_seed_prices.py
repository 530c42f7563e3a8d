"""Seed list prices for the default models (USD per million tokens); edit them in admin."""

from datetime import UTC, datetime
from decimal import Decimal

from django.db import migrations

# Valid for the whole history of an installation; a change is a new row with a later valid_from.
SEED_FROM = datetime(2020, 1, 1, tzinfo=UTC)

PRICES = [
    {
        "provider": "anthropic",
        "model": "claude-sonnet-5-5",
        "kind": "chat",
        "input_per_mtok": Decimal("3.00"),
        "output_per_mtok": Decimal("15.00"),
        "cached_input_per_mtok": Decimal("0.30"),
        "cache_write_per_mtok": Decimal("3.75"),
        "notes": "Anthropic's published Claude Sonnet tier: $3 input, $15 output, $0.30 cache "
        "read, $3.75 five-minute cache write per MTok.",
    },
    {
        "provider": "openai",
        "model": "gpt-5.4-mini",
        "kind": "chat",
        "input_per_mtok": Decimal("0.75"),
        "output_per_mtok": Decimal("4.50"),
        "cached_input_per_mtok": Decimal("0.075"),
        "cache_write_per_mtok": Decimal("0"),
        "notes": "OpenAI list price for gpt-5.4-mini (March 2026): $0.75 input, $4.50 output, "
        "$0.075 cached input per MTok; no cache-write surcharge.",
    },
    {
        "provider": "openai",
        "model": "text-embedding-3-small",
        "kind": "embedding",
        "input_per_mtok": Decimal("0.02"),
        "notes": "OpenAI list price for text-embedding-3-small: $0.02 per MTok.",
    },
    {
        "provider": "offline",
        "model": "*",
        "kind": "chat",
        "input_per_mtok": Decimal("0"),
        "notes": "The offline extractive provider runs in-process: free.",
    },
    {
        "provider": "local",
        "model": "all-MiniLM-L6-v2",
        "kind": "embedding",
        "input_per_mtok": Decimal("0"),
        "notes": "The MiniLM embedder runs in-process on CPU: free.",
    },
]


def seed(apps, schema_editor):
    Price = apps.get_model("billing", "Price")
    for row in PRICES:
        Price.objects.get_or_create(
            provider=row["provider"],
            model=row["model"],
            valid_from=SEED_FROM,
            defaults={k: v for k, v in row.items() if k not in ("provider", "model")},
        )


def unseed(apps, schema_editor):
    Price = apps.get_model("billing", "Price")
    for row in PRICES:
        Price.objects.filter(
            provider=row["provider"], model=row["model"], valid_from=SEED_FROM
        ).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_ledger_append_only")]

    operations = [migrations.RunPython(seed, unseed)]
