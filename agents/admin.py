"""Django admin: conversations with their messages, and feedback on answers (read-only).

Questions, answers, titles and comments are shown with personal data masked by the PII module
(as in logs and traces): operators see what happened, not the people and accounts named in it."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from agents.models import Conversation, Feedback, Message
from monitoring.pii import pii_scrub_for_logs


class ReadOnlyAdminMixin:
    """Conversations and feedback are records of what happened: viewable, never edited here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MaskedTextMixin:
    """Text people wrote, shown with personal data masked."""

    @admin.display(description="text")
    def masked_content(self, obj: Message) -> str:
        return pii_scrub_for_logs(obj.content)

    @admin.display(description="title")
    def masked_title(self, obj: Conversation) -> str:
        return pii_scrub_for_logs(obj.title)

    @admin.display(description="comment")
    def masked_comment(self, obj: Feedback) -> str:
        return pii_scrub_for_logs(obj.comment)


class MessageInline(MaskedTextMixin, ReadOnlyAdminMixin, admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    show_change_link = True
    fields = (
        "created_at",
        "role",
        "masked_content",
        "provider",
        "model",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "latency_ms",
        "status",
        "query_id",
    )
    readonly_fields = fields
    ordering = ("created_at", "id")


@admin.register(Conversation)
class ConversationAdmin(MaskedTextMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("masked_title", "tenant", "user", "created_at", "updated_at")
    list_filter = ("tenant",)
    search_fields = ("user__email", "tenant__slug")
    fields = ("masked_title", "tenant", "user", "scope", "created_at", "updated_at")
    readonly_fields = fields
    date_hierarchy = "updated_at"
    list_select_related = ("tenant", "user")
    inlines = [MessageInline]


class FeedbackInline(MaskedTextMixin, ReadOnlyAdminMixin, admin.TabularInline):
    model = Feedback
    extra = 0
    can_delete = False
    fields = ("user", "accuracy", "cost_efficiency", "masked_comment", "updated_at")
    readonly_fields = fields


@admin.register(Message)
class MessageAdmin(MaskedTextMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "tenant", "role", "provider", "model", "cost_usd", "status")
    list_filter = ("role", "status", "provider", "tenant")
    search_fields = ("=query_id",)
    list_select_related = ("tenant",)
    fields = (
        "created_at",
        "tenant",
        "conversation",
        "query_id",
        "role",
        "masked_content",
        "provider",
        "model",
        "input_tokens",
        "output_tokens",
        "cost_usd",
        "latency_ms",
        "status",
        "error_code",
    )
    readonly_fields = fields
    inlines = [FeedbackInline]


@admin.register(Feedback)
class FeedbackAdmin(MaskedTextMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "updated_at",
        "tenant",
        "user",
        "provider",
        "accuracy",
        "cost_efficiency",
        "masked_comment",
    )
    list_filter = ("accuracy", "cost_efficiency", "message__provider", "tenant")
    search_fields = ("user__email", "tenant__slug")
    list_select_related = ("tenant", "user", "message")
    fields = (
        "updated_at",
        "tenant",
        "user",
        "message",
        "accuracy",
        "cost_efficiency",
        "masked_comment",
    )
    readonly_fields = fields

    @admin.display(description="provider", ordering="message__provider")
    def provider(self, obj: Feedback) -> str:
        return obj.message.provider
