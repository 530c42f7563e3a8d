"""Django admin: the tenant, tier, member and key console (raw keys are never shown)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework_api_key.admin import APIKeyModelAdmin

from accounts import services
from accounts.models import ApiKey, Membership, Tenant, Tier, User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "is_staff", "is_active", "last_login")
    search_fields = ("email", "first_name", "last_name")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(Tier)
class TierAdmin(admin.ModelAdmin):
    list_display = (
        "slug",
        "name",
        "monthly_budget_usd",
        "monthly_token_allowance",
        "requests_per_minute_user",
        "requests_per_minute_tenant",
        "concurrent_streams_user",
        "max_documents",
        "max_upload_bytes",
    )
    search_fields = ("slug", "name")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    can_delete = False
    fields = ("prefix", "name", "user", "created", "expiry_date", "last_used_at", "revoked")
    readonly_fields = ("prefix", "name", "user", "created", "last_used_at")
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "tier", "status", "pii_policy", "created_at")
    list_filter = ("status", "tier", "pii_policy")
    search_fields = ("slug", "name", "memberships__user__email")
    prepopulated_fields = {"slug": ("name",)}
    inlines = (MembershipInline, ApiKeyInline)
    actions = ("suspend", "reactivate")
    fieldsets = (
        (None, {"fields": ("name", "slug", "status", "tier", "pii_policy")}),
        (
            "Quota overrides (empty = the tier's value)",
            {
                "fields": (
                    "monthly_budget_usd_override",
                    "monthly_token_allowance_override",
                    "requests_per_minute_user_override",
                    "requests_per_minute_tenant_override",
                    "concurrent_streams_user_override",
                    "max_documents_override",
                    "max_upload_bytes_override",
                )
            },
        ),
    )

    @admin.action(description="Suspend selected tenants")
    def suspend(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            services.tenant_set_status(tenant=tenant, status=Tenant.Status.SUSPENDED)
        messages.success(request, f"Suspended {queryset.count()} tenant(s).")

    @admin.action(description="Reactivate selected tenants")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        for tenant in queryset:
            services.tenant_set_status(tenant=tenant, status=Tenant.Status.ACTIVE)
        messages.success(request, f"Reactivated {queryset.count()} tenant(s).")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "tenant", "role", "monthly_budget_usd_cap", "created_at")
    list_filter = ("role", "tenant")
    search_fields = ("user__email", "tenant__slug", "tenant__name")
    autocomplete_fields = ("user", "tenant")


@admin.register(ApiKey)
class ApiKeyAdmin(APIKeyModelAdmin):
    list_display = (  # type: ignore[assignment]
        "prefix",
        "name",
        "tenant",
        "user",
        "created",
        "expiry_date",
        "last_used_at",
        "revoked",
    )
    list_filter = ("revoked", "tenant")  # type: ignore[assignment]
    search_fields = ("prefix", "name", "tenant__slug", "user__email")  # type: ignore[assignment]
    autocomplete_fields = ("tenant", "user")
    readonly_fields = ("prefix", "created", "last_used_at", "revoked_at")
