"""DRF authentication: `Authorization: Bearer <key>` API keys and browser sessions."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import authentication
from rest_framework.request import Request

from accounts.errors import NotAuthenticated
from accounts.models import ApiKey, User
from accounts.services import api_key_touch


class KeyRejected(NotAuthenticated):
    """A presented key that is unknown, revoked or expired."""


def api_key_authenticate(raw_key: str) -> ApiKey:
    """Resolve a raw key to a usable ApiKey; raises NotAuthenticated with the precise reason."""
    prefix, dot, _secret = raw_key.partition(".")
    if not dot or not prefix:
        raise KeyRejected("The API key is malformed.", details={"reason": "malformed"})
    api_key = (
        ApiKey.objects.select_related("tenant", "tenant__tier", "user")
        .filter(prefix=prefix)
        .first()
    )
    if api_key is None or not api_key.is_valid(raw_key):
        raise KeyRejected("The API key is not valid.", details={"reason": "invalid"})
    if api_key.revoked:
        raise KeyRejected("The API key has been revoked.", details={"reason": "revoked"})
    if api_key.has_expired:
        raise KeyRejected("The API key has expired.", details={"reason": "expired"})
    if not api_key.user.is_active:
        raise KeyRejected("The key's user is deactivated.", details={"reason": "user_inactive"})
    api_key_touch(api_key=api_key, resolution_seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)
    return api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[User, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        raw = raw.strip()
        if not raw:
            raise KeyRejected("The bearer token is empty.", details={"reason": "malformed"})
        api_key = api_key_authenticate(raw)
        return api_key.user, api_key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class SessionAuthentication(authentication.SessionAuthentication):
    """Session auth with CSRF for unsafe methods, as DRF does, but in the house error format."""

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        return super().authenticate(request)
