"""Users, tiers with quotas, tenants, memberships with roles, and hashed API keys."""

from __future__ import annotations

import hashlib
import hmac
from decimal import Decimal
from typing import Any, ClassVar

from django.contrib.auth.base_user import BaseUserManager
from django.contrib.auth.models import AbstractUser
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.crypto import constant_time_compare, get_random_string
from rest_framework_api_key.crypto import KeyGenerator
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required.")
        email = self.normalize_email(email).lower()
        user = self.model(email=email, username=email, **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create(email, password, **extra)


class User(AbstractUser):
    """A person; signs in with an email address."""

    email = models.EmailField(unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects = UserManager()  # type: ignore[misc,assignment]

    def __str__(self) -> str:
        return self.email


class Tier(models.Model):
    """A plan with its quotas; editable in admin."""

    slug = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=64)
    monthly_budget_usd = models.DecimalField(
        max_digits=14, decimal_places=4, validators=[MinValueValidator(Decimal(0))]
    )
    monthly_token_allowance = models.BigIntegerField(validators=[MinValueValidator(0)])
    requests_per_minute_user = models.PositiveIntegerField()
    requests_per_minute_tenant = models.PositiveIntegerField()
    concurrent_streams_user = models.PositiveIntegerField()
    max_documents = models.PositiveIntegerField()
    max_upload_bytes = models.BigIntegerField(validators=[MinValueValidator(1)])

    class Meta:
        ordering = ("monthly_budget_usd",)

    def __str__(self) -> str:
        return self.name


class Tenant(models.Model):
    """A customer workspace: every tenant-owned row points here."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    class PiiPolicy(models.TextChoices):
        MASK = "mask", "Mask before it reaches a provider"
        BLOCK = "block", "Refuse questions that contain personal data"
        OFF = "off", "Off"

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="tenants")
    pii_policy = models.CharField(max_length=8, choices=PiiPolicy.choices, default=PiiPolicy.MASK)
    # Quota overrides: null means "use the tier's value".
    monthly_budget_usd_override = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
    )
    monthly_token_allowance_override = models.BigIntegerField(
        null=True, blank=True, validators=[MinValueValidator(0)]
    )
    requests_per_minute_user_override = models.PositiveIntegerField(null=True, blank=True)
    requests_per_minute_tenant_override = models.PositiveIntegerField(null=True, blank=True)
    concurrent_streams_user_override = models.PositiveIntegerField(null=True, blank=True)
    max_documents_override = models.PositiveIntegerField(null=True, blank=True)
    max_upload_bytes_override = models.BigIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Membership(models.Model):
    """A user's role in a tenant."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        ANALYST = "analyst", "Analyst"
        VIEWER = "viewer", "Viewer"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANALYST)
    monthly_budget_usd_cap = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="Optional per-user monthly spend cap inside the tenant's budget.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("tenant", "user"), name="membership_unique_tenant_user"
            ),
        ]
        indexes = [models.Index(fields=("tenant", "role"), name="membership_tenant_role")]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} ({self.role})"

    @property
    def can_write(self) -> bool:
        return self.role != self.Role.VIEWER

    @property
    def is_manager(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.ADMIN)


class SaltedSha256Hasher:
    """Salted SHA-256 for high-entropy random API keys (a slow password hash buys nothing here)."""

    algorithm = "salted_sha256"

    def encode(self, key: str, salt: str | None = None) -> str:
        salt = salt or get_random_string(16)
        digest = hmac.new(salt.encode(), key.encode(), hashlib.sha256).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def verify(self, key: str, encoded: str) -> bool:
        algorithm, _, rest = encoded.partition("$")
        salt, _, _digest = rest.partition("$")
        if algorithm != self.algorithm or not salt:
            return False
        return constant_time_compare(self.encode(key, salt), encoded)


class SaltedKeyGenerator(KeyGenerator):
    preferred_hasher = SaltedSha256Hasher()  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__(prefix_length=8, secret_key_length=40)

    def hash(self, value: str) -> str:
        return self.preferred_hasher.encode(value)

    def verify(self, key: str, hashed_key: str) -> bool:
        return self.preferred_hasher.verify(key, hashed_key)

    def using_preferred_hasher(self, hashed_key: str) -> bool:
        return hashed_key.startswith(f"{self.preferred_hasher.algorithm}$")


class ApiKeyManager(BaseAPIKeyManager):
    key_generator = SaltedKeyGenerator()


class ApiKey(AbstractAPIKey):
    """An integrator's key for one tenant and user: a public prefix and a salted hash, never raw."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[ApiKeyManager] = ApiKeyManager()  # type: ignore[assignment]

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"
        indexes = [models.Index(fields=("tenant", "user"), name="apikey_tenant_user")]
