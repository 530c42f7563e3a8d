"""Conversations, their messages (answers with citations and cost), and a checkpoint per turn."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from accounts.models import Tenant
from billing.models import MONEY_MAX_DIGITS, MONEY_PLACES


class Conversation(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="conversations")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=200, blank=True)
    scope = models.JSONField(
        default=dict, blank=True, help_text="Search filters chosen by the user"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-updated_at",)
        indexes = [models.Index(fields=("tenant", "user", "-updated_at"), name="conv_tenant_user")]

    def __str__(self) -> str:
        # Never the title: it is the first question, and admin pages, logs and error messages
        # print this (the admin shows the title masked).
        return f"Conversation {self.pk}"


class Message(models.Model):
    class Role(models.TextChoices):
        USER = "user", "User"
        ASSISTANT = "assistant", "Assistant"

    class Status(models.TextChoices):
        COMPLETE = "complete", "Complete"
        INTERRUPTED = "interrupted", "Interrupted"
        ERROR = "error", "Error"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    query_id = models.UUIDField(default=uuid.uuid4, db_index=True)
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField()
    standalone_question = models.TextField(blank=True)
    citations = models.JSONField(default=list, blank=True)
    scope = models.JSONField(default=dict, blank=True)
    provider = models.CharField(max_length=50, blank=True)
    model = models.CharField(max_length=100, blank=True)
    input_tokens = models.PositiveIntegerField(default=0)
    output_tokens = models.PositiveIntegerField(default=0)
    # The ledger's totals for this answer, at the ledger's precision.
    cost_usd = models.DecimalField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES, default=0
    )
    latency_ms = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETE)
    error_code = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")
        indexes = [models.Index(fields=("tenant", "conversation", "created_at"), name="msg_conv")]

    def __str__(self) -> str:
        return f"{self.role} message {self.pk}"  # never the text (see Conversation.__str__)


class Checkpoint(models.Model):
    """The agent state after a turn, so a conversation resumes after a restart."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="checkpoints"
    )
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="checkpoint")
    state = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at", "id")
        indexes = [models.Index(fields=("tenant", "conversation"), name="checkpoint_conv")]

    def __str__(self) -> str:
        return f"checkpoint of {self.conversation_id} after {self.message_id}"


class Feedback(models.Model):
    """A user's verdict on one answer: accurate or not, and how cost-efficient it felt (1-5)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="answer_feedback"
    )
    accuracy = models.BooleanField(help_text="Was the analysis accurate?")
    cost_efficiency = models.PositiveSmallIntegerField(
        help_text="Was the answer worth its cost? 1 (not at all) to 5 (very)."
    )
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-updated_at", "id")
        constraints = [
            models.UniqueConstraint(fields=("message", "user"), name="feedback_one_per_user"),
            models.CheckConstraint(
                condition=models.Q(cost_efficiency__gte=1, cost_efficiency__lte=5),
                name="feedback_cost_efficiency_1_to_5",
            ),
        ]
        indexes = [models.Index(fields=("tenant", "created_at"), name="feedback_tenant_created")]

    def __str__(self) -> str:
        verdict = "accurate" if self.accuracy else "inaccurate"
        return f"{verdict}, cost {self.cost_efficiency}/5 on message {self.message_id}"
