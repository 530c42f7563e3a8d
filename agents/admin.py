"""Django admin: conversations with their messages, and feedback on answers (read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from agents.models import Conversation, Feedback, Message


class ReadOnlyAdminMixin:
    """Conversations and feedback are records of what happened: viewable, never edited here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class MessageInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Message
    extra = 0
    can_delete = False
    show_change_link = True
    fields = (
        "created_at",
        "role",
        "content",
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
class ConversationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("title", "tenant", "user", "created_at", "updated_at")
    list_filter = ("tenant",)
    search_fields = ("title", "user__email", "tenant__slug")
    date_hierarchy = "updated_at"
    list_select_related = ("tenant", "user")
    inlines = [MessageInline]


class FeedbackInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Feedback
    extra = 0
    can_delete = False
    fields = ("user", "accuracy", "cost_efficiency", "comment", "updated_at")
    readonly_fields = fields


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "tenant", "role", "provider", "model", "cost_usd", "status")
    list_filter = ("role", "status", "provider", "tenant")
    search_fields = ("=query_id", "conversation__title")
    list_select_related = ("tenant",)
    raw_id_fields = ("conversation",)
    inlines = [FeedbackInline]


@admin.register(Feedback)
class FeedbackAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "updated_at",
        "tenant",
        "user",
        "provider",
        "accuracy",
        "cost_efficiency",
        "comment",
    )
    list_filter = ("accuracy", "cost_efficiency", "message__provider", "tenant")
    search_fields = ("comment", "user__email", "tenant__slug")
    list_select_related = ("tenant", "user", "message")
    raw_id_fields = ("message",)

    @admin.display(description="provider", ordering="message__provider")
    def provider(self, obj: Feedback) -> str:
        return obj.message.provider
