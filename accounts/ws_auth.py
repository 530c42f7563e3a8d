"""Channels middleware: authenticate websockets by session or by API key and resolve the tenant."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware

from accounts.errors import ApplicationError
from accounts.models import Membership, Tenant

SESSION_TENANT_KEY = "tenant_id"


def _key_from_scope(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, raw = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and raw.strip():
                return raw.strip()
    query = parse_qs(scope.get("query_string", b"").decode())
    keys = query.get("api_key")
    return keys[0] if keys else None


@database_sync_to_async
def _resolve(scope: dict[str, Any]) -> dict[str, Any]:
    from accounts.authentication import api_key_authenticate

    raw_key = _key_from_scope(scope)
    memberships = Membership.objects.select_related("tenant", "tenant__tier", "user")
    if raw_key:
        try:
            api_key = api_key_authenticate(raw_key)
        except ApplicationError as exc:
            return {"auth_error": exc}
        membership = memberships.filter(tenant_id=api_key.tenant_id, user=api_key.user).first()
    else:
        user = scope.get("user")
        if user is None or not user.is_authenticated:
            return {}
        session = scope.get("session")
        chosen = session.get(SESSION_TENANT_KEY) if session is not None else None
        mine = memberships.filter(user=user)
        membership = mine.filter(tenant_id=chosen).first() if chosen else None
        if membership is None:
            candidates = list(mine[:2])
            membership = candidates[0] if len(candidates) == 1 else None
    if membership is None:
        return {}
    resolved: dict[str, Any] = {"user": membership.user, "membership": membership}
    if membership.tenant.status == Tenant.Status.ACTIVE:
        resolved["tenant"] = membership.tenant
    else:
        resolved["tenant_suspended"] = True
    return resolved


class TenantAuthMiddleware(BaseMiddleware):
    """Sets scope["user"], scope["membership"] and scope["tenant"] (absent when not allowed)."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        scope.update(await _resolve(scope))
        return await super().__call__(scope, receive, send)


def TenantAuthMiddlewareStack(inner: Any) -> Any:
    return AuthMiddlewareStack(TenantAuthMiddleware(inner))
