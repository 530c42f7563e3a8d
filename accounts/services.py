"""Writes for accounts: tenants, users and memberships, API keys, and the default tiers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import cast

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.errors import Conflict, NotFound, ValidationFailed
from accounts.models import ApiKey, Membership, Tenant, Tier, User

# Public defaults for the three plans; operators edit them in admin afterwards.
DEFAULT_TIERS: dict[str, dict[str, object]] = {
    "free": {
        "name": "Free",
        "monthly_budget_usd": Decimal("5.00"),
        "monthly_token_allowance": 500_000,
        "requests_per_minute_user": 10,
        "requests_per_minute_tenant": 30,
        "concurrent_streams_user": 1,
        "max_documents": 50,
        "max_upload_bytes": 20 * 1024 * 1024,
    },
    "pro": {
        "name": "Pro",
        "monthly_budget_usd": Decimal("200.00"),
        "monthly_token_allowance": 20_000_000,
        "requests_per_minute_user": 60,
        "requests_per_minute_tenant": 300,
        "concurrent_streams_user": 3,
        "max_documents": 2_000,
        "max_upload_bytes": 100 * 1024 * 1024,
    },
    "enterprise": {
        "name": "Enterprise",
        "monthly_budget_usd": Decimal("5000.00"),
        "monthly_token_allowance": 500_000_000,
        "requests_per_minute_user": 240,
        "requests_per_minute_tenant": 2_000,
        "concurrent_streams_user": 10,
        "max_documents": 100_000,
        "max_upload_bytes": 500 * 1024 * 1024,
    },
}


def tiers_ensure_defaults() -> list[Tier]:
    """Create the free, pro and enterprise tiers when missing; never overwrite admin edits."""
    tiers = []
    for slug, values in DEFAULT_TIERS.items():
        tier, _ = Tier.objects.get_or_create(slug=slug, defaults=values)
        tiers.append(tier)
    return tiers


@transaction.atomic
def tenant_create(
    *, slug: str, name: str | None = None, tier_slug: str = "free"
) -> tuple[Tenant, bool]:
    """Create a tenant, or return the existing one with that slug (idempotent).

    Raises ValidationFailed for a bad slug or unknown tier, Conflict when the existing tenant
    has another tier than the one asked for.
    """
    clean = slugify(slug)
    if not clean or clean != slug:
        raise ValidationFailed(
            f"'{slug}' is not a valid slug: use lower-case letters, digits and hyphens.",
            details={"slug": slug},
        )
    tiers_ensure_defaults()
    try:
        tier = Tier.objects.get(slug=tier_slug)
    except Tier.DoesNotExist as exc:
        known = ", ".join(Tier.objects.values_list("slug", flat=True))
        raise ValidationFailed(
            f"Unknown tier '{tier_slug}'. Known tiers: {known}.", details={"tier": tier_slug}
        ) from exc
    tenant, created = Tenant.objects.get_or_create(
        slug=slug, defaults={"name": name or slug.replace("-", " ").title(), "tier": tier}
    )
    if not created and tenant.tier_id != tier.pk:
        raise Conflict(
            f"Tenant '{slug}' exists on tier '{tenant.tier.slug}', not '{tier_slug}'.",
            details={"slug": slug},
        )
    return tenant, created


def tenant_set_status(*, tenant: Tenant, status: str) -> Tenant:
    if status not in Tenant.Status.values:
        raise ValidationFailed(f"Unknown status '{status}'.")
    Tenant.objects.filter(pk=tenant.pk).update(status=status)
    tenant.status = status
    return tenant


@transaction.atomic
def user_create_in_tenant(
    *, tenant: Tenant, email: str, role: str, password: str | None = None
) -> tuple[User, Membership, bool]:
    """Create (or find) a user with a role in the tenant; returns (user, membership, created).

    Raises ValidationFailed for an unknown role or a bad email; Conflict when the user already
    has a different role in the tenant.
    """
    if role not in Membership.Role.values:
        raise ValidationFailed(
            f"Unknown role '{role}'. Roles: {', '.join(Membership.Role.values)}.",
            details={"role": role},
        )
    email = email.strip().lower()
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        raise ValidationFailed(f"'{email}' is not an email address.", details={"email": email})
    user = User.objects.filter(email=email).first()
    created = user is None
    if user is None:
        user = User.objects.create_user(email=email, password=password)
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
    membership, made = Membership.objects.get_or_create(
        tenant=tenant, user=user, defaults={"role": role}
    )
    if not made and membership.role != role:
        raise Conflict(
            f"{email} is already a {membership.role} in '{tenant.slug}'.",
            details={"email": email, "role": membership.role},
        )
    return user, membership, created or made


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    raw_key: str


def api_key_issue(
    *, tenant: Tenant, user: User, name: str = "default", expires_at: datetime | None = None
) -> IssuedKey:
    """Issue a key for a member of the tenant; the raw key is returned once and never stored.

    Raises NotFound when the user is not a member, ValidationFailed for an expiry in the past.
    """
    if not Membership.objects.filter(tenant=tenant, user=user).exists():
        raise NotFound(f"{user.email} is not a member of '{tenant.slug}'.")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed("The expiry date must be in the future.")
    api_key, raw = ApiKey.objects.create_key(
        name=name[:50] or "default", tenant=tenant, user=user, expiry_date=expires_at
    )
    return IssuedKey(api_key=cast(ApiKey, api_key), raw_key=raw)


def api_key_revoke(*, tenant: Tenant, api_key: ApiKey) -> ApiKey:
    """Revoke a key of this tenant; revoking twice is a no-op."""
    if api_key.tenant_id != tenant.pk:
        raise NotFound("API key not found.")
    if not api_key.revoked:
        api_key.revoked = True
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked", "revoked_at"])
    return api_key


def api_key_touch(*, api_key: ApiKey, resolution_seconds: int) -> None:
    """Record last use, at most once per resolution window (no write on every request)."""
    now = timezone.now()
    last = api_key.last_used_at
    if last is None or (now - last).total_seconds() >= resolution_seconds:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
