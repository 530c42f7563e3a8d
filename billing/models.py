"""Prices, the append-only cost ledger, monthly budget periods and budget reservations."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Tenant, User

# Money: prices per million tokens carry 4 decimals, so a per-token cost needs 4 + 6 = 10 to be
# exact; ledger amounts and budget counters keep all 10.
PRICE_MAX_DIGITS, PRICE_PLACES = 12, 4
MONEY_MAX_DIGITS, MONEY_PLACES = 20, 10
MONEY_DIGITS = {"max_digits": MONEY_MAX_DIGITS, "decimal_places": MONEY_PLACES}


class Price(models.Model):
    """USD per million tokens for one provider and model, valid from a moment on."""

    class Kind(models.TextChoices):
        CHAT = "chat", "Chat / completion model"
        EMBEDDING = "embedding", "Embedding model"

    provider = models.CharField(
        max_length=32, help_text="anthropic, openai, offline, local, ... as the providers name it."
    )
    model = models.CharField(
        max_length=100,
        help_text="The model id the provider reports, or * for every model of the provider.",
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CHAT)
    input_per_mtok = models.DecimalField(
        max_digits=PRICE_MAX_DIGITS,
        decimal_places=PRICE_PLACES,
        validators=[MinValueValidator(0)],
        help_text="Uncached input, USD/MTok.",
    )
    output_per_mtok = models.DecimalField(
        max_digits=PRICE_MAX_DIGITS,
        decimal_places=PRICE_PLACES,
        default=0,
        validators=[MinValueValidator(0)],
        help_text="USD/MTok.",
    )
    cached_input_per_mtok = models.DecimalField(
        max_digits=PRICE_MAX_DIGITS,
        decimal_places=PRICE_PLACES,
        default=0,
        validators=[MinValueValidator(0)],
        help_text="Input read from the provider's prompt cache, USD/MTok.",
    )
    cache_write_per_mtok = models.DecimalField(
        max_digits=PRICE_MAX_DIGITS,
        decimal_places=PRICE_PLACES,
        default=0,
        validators=[MinValueValidator(0)],
        help_text="Input written to the prompt cache (Anthropic), USD/MTok; 0: the input rate.",
    )
    valid_from = models.DateTimeField(default=timezone.now)
    notes = models.CharField(max_length=300, blank=True, help_text="Where the figure comes from.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("provider", "model", "-valid_from")
        constraints = [
            models.UniqueConstraint(
                fields=("provider", "model", "valid_from"), name="price_unique_provider_model_from"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}/{self.model} from {self.valid_from:%Y-%m-%d}"


class LedgerEntry(models.Model):
    """One model or embedding call, or one query's summary. Rows are never updated or deleted:
    a database trigger refuses both (migration 0002)."""

    class Kind(models.TextChoices):
        MODEL = "model", "Model call"
        EMBEDDING = "embedding", "Embedding call"
        QUERY = "query", "Query summary"

    class Status(models.TextChoices):
        OK = "ok", "OK"
        ERROR = "error", "Error"
        INTERRUPTED = "interrupted", "Interrupted"

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Money records outlive people: the user column is a plain reference, so deleting a user
    # never has to rewrite the ledger; a tenant with ledger rows cannot be deleted.
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey(
        User,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    conversation_id = models.BigIntegerField(null=True, blank=True)
    query_id = models.UUIDField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    provider = models.CharField(max_length=32, blank=True)
    model = models.CharField(max_length=100, blank=True)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cached_input_tokens = models.BigIntegerField(default=0)
    cache_write_input_tokens = models.BigIntegerField(default=0)
    cost_usd = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES, default=0
    )
    cost_saved_usd = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES, default=0
    )
    estimated_cost_usd = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES, null=True, blank=True
    )
    latency_ms = models.IntegerField(default=0)
    cache_hit = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OK)
    providers_tried = ArrayField(models.CharField(max_length=32), default=list, blank=True)

    class Meta:
        verbose_name = "ledger entry"
        verbose_name_plural = "ledger entries"
        indexes = [
            # Staff reports over a time window scan by block range: tiny, and the table is
            # written in time order.
            BrinIndex(fields=("created_at",), name="ledger_created_brin", pages_per_range=32),
            # A tenant's questions over a rolling window (the most expensive ones) and the
            # month's summaries when a member's cap first needs them. Other reports read the
            # rollups and only the last hour of rows, which the BRIN index finds.
            models.Index(
                fields=("tenant", "created_at"),
                name="ledger_query_tenant_time",
                condition=Q(kind="query"),
            ),
            models.Index(fields=("tenant", "query_id"), name="ledger_tenant_query"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(cost_usd__gte=0), name="ledger_cost_not_negative"),
            models.CheckConstraint(
                condition=Q(input_tokens__gte=0) & Q(output_tokens__gte=0),
                name="ledger_tokens_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.query_id} {self.provider}/{self.model} ${self.cost_usd}"


class BudgetPeriod(models.Model):
    """A tenant's (user NULL) or a member's spend and holds in one calendar month (UTC).

    A new month is a new row, so budgets reset without any job running.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    period_start = models.DateField(help_text="First day of the month (UTC).")
    limit_usd = models.DecimalField(
        max_digits=14, decimal_places=4, null=True, blank=True, help_text="NULL: no cap."
    )
    limit_tokens = models.BigIntegerField(null=True, blank=True, help_text="NULL: no cap.")
    spent_usd = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES, default=0
    )
    reserved_usd = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES, default=0
    )
    spent_tokens = models.BigIntegerField(default=0)
    reserved_tokens = models.BigIntegerField(default=0)
    warning_sent_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("tenant", "user", "period_start"),
                name="budget_period_unique",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=Q(reserved_usd__gte=0) & Q(reserved_tokens__gte=0),
                name="budget_period_holds_not_negative",
            ),
        ]

    def __str__(self) -> str:
        who = f" / {self.user_id}" if self.user_id else ""
        return f"{self.tenant_id}{who} {self.period_start:%Y-%m}"


class Reservation(models.Model):
    """A hold on the budget for one query: active until settled, or expired when stale."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SETTLED = "settled", "Settled"
        EXPIRED = "expired", "Expired"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    query_id = models.UUIDField(default=uuid.uuid4, unique=True)
    period_start = models.DateField()
    amount_usd = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES)
    tokens = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    actual_usd = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES, null=True, blank=True
    )
    actual_tokens = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=("tenant", "expires_at"),
                name="reservation_active_expiry",
                condition=Q(status="active"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_usd__gte=0) & Q(tokens__gte=0),
                name="reservation_amount_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.query_id} ${self.amount_usd} ({self.status})"


class UsageBucket(models.Model):
    """A closed stretch of time (a UTC day, or the closed hours so far of the day still open,
    from midnight) whose ledger rows are summed into the two rollups below.

    Built lazily by the reports (or the nightly task) once the stretch is over plus a grace
    period; the ledger is append-only and stamped with the time of writing, so a closed stretch
    never changes. `short_answer_tokens` is the BILLING_ROUTING_SHORT_ANSWER_TOKENS it was built
    with: a different setting rebuilds it.
    """

    start = models.DateTimeField()
    hours = models.SmallIntegerField(help_text="24 for a whole day, fewer for the day so far.")
    short_answer_tokens = models.IntegerField()
    built_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("start", "hours"), name="usage_bucket_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} +{self.hours}h"


class UsageUserBucket(models.Model):
    """Per tenant, member and bucket: the questions (summary rows) and what they cost."""

    start = models.DateTimeField()
    hours = models.SmallIntegerField()
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    user_id = models.BigIntegerField(null=True, blank=True)
    queries = models.BigIntegerField()
    tokens = models.BigIntegerField()
    cost_usd = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES)
    cost_saved_usd = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES)
    cache_hits = models.BigIntegerField()
    latency_ms_sum = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=("tenant", "hours", "start"), name="usage_user_tenant"),
            models.Index(fields=("hours", "start"), name="usage_user_start"),
        ]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} {self.tenant_id}/{self.user_id}"


class UsageModelBucket(models.Model):
    """Per tenant, kind, provider, model and bucket: the calls and their tokens and cost.
    `short` marks successful, uncached model calls with at most the short-answer tokens."""

    start = models.DateTimeField()
    hours = models.SmallIntegerField()
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16)
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=100)
    short = models.BooleanField()
    calls = models.BigIntegerField()
    served = models.BigIntegerField(help_text="Calls that answered: status ok, or cache hits.")
    cost_usd = models.DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES)
    input_tokens = models.BigIntegerField()
    cached_input_tokens = models.BigIntegerField()
    cache_write_input_tokens = models.BigIntegerField()
    output_tokens = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=("tenant", "hours", "start"), name="usage_model_tenant"),
            models.Index(fields=("hours", "start"), name="usage_model_start"),
        ]

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} {self.tenant_id} {self.provider}/{self.model}"
