"""Reads for accounts: effective quotas, memberships and API keys, always scoped by tenant."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.contracts import Quota, TenantRef
from accounts.errors import NotFound
from accounts.models import ApiKey, Membership, Tenant, User


def tenant_quota_get(*, tenant: Tenant) -> Quota:
    """The effective quota of a tenant: its overrides where set, else its tier's values."""
    tier = tenant.tier

    def pick(name: str) -> object:
        override = getattr(tenant, f"{name}_override")
        return override if override is not None else getattr(tier, name)

    return Quota(
        tenant_id=tenant.pk,
        tier=tier.slug,
        monthly_budget_usd=pick("monthly_budget_usd"),  # type: ignore[arg-type]
        monthly_token_allowance=pick("monthly_token_allowance"),  # type: ignore[arg-type]
        requests_per_minute_user=pick("requests_per_minute_user"),  # type: ignore[arg-type]
        requests_per_minute_tenant=pick("requests_per_minute_tenant"),  # type: ignore[arg-type]
        concurrent_streams_user=pick("concurrent_streams_user"),  # type: ignore[arg-type]
        max_documents=pick("max_documents"),  # type: ignore[arg-type]
        max_upload_bytes=pick("max_upload_bytes"),  # type: ignore[arg-type]
    )


def tenant_ref(*, tenant: Tenant) -> TenantRef:
    return TenantRef(
        id=tenant.pk,
        slug=tenant.slug,
        name=tenant.name,
        tier=tenant.tier.slug,
        pii_policy=tenant.pii_policy,
    )


def membership_get(*, tenant: Tenant, user: User) -> Membership:
    """The user's membership in the tenant; NotFound when there is none."""
    try:
        return Membership.objects.select_related("tenant", "tenant__tier").get(
            tenant=tenant, user=user
        )
    except Membership.DoesNotExist as exc:
        raise NotFound("You are not a member of this workspace.") from exc


def membership_list_for_user(*, user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user)
        .select_related("tenant", "tenant__tier")
        .order_by("tenant__name")
    )


def membership_list(*, tenant: Tenant) -> QuerySet[Membership]:
    return Membership.objects.filter(tenant=tenant).select_related("user").order_by("user__email")


def api_key_list(*, tenant: Tenant, user: User | None = None) -> QuerySet[ApiKey]:
    keys = ApiKey.objects.filter(tenant=tenant).select_related("user")
    if user is not None:
        keys = keys.filter(user=user)
    return keys.order_by("-created")


def api_key_get(*, tenant: Tenant, prefix: str) -> ApiKey:
    try:
        return ApiKey.objects.select_related("user").get(tenant=tenant, prefix=prefix)
    except ApiKey.DoesNotExist as exc:
        raise NotFound("API key not found.") from exc
