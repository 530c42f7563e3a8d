"""Websocket authorisation: the socket's credentials (API key or session) re-read on demand.

`socket_authorize` resolves the membership behind a socket the way a REST request is resolved
(accounts.api_base), from the credentials the socket opened with, read afresh from the database
each time: a revoked key, a signed-out session, a deactivated user, a removed membership, a
suspended workspace or a lowered role stops the next frame, not only the next socket.
"""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.contrib.auth import get_user

from accounts.api_base import SESSION_TENANT_KEY, membership_resolve, role_authorize
from accounts.errors import ApplicationError, NotAuthenticated
from accounts.models import Membership


def _key_from_scope(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, raw = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and raw.strip():
                return raw.strip()
    query = parse_qs(scope.get("query_string", b"").decode())
    keys = query.get("api_key")
    return keys[0] if keys else None


def _fresh_session(scope: dict[str, Any]) -> Any:
    """The socket's session as stored now (signed out: empty), not the copy read at connect."""
    session = scope.get("session")
    key = getattr(session, "session_key", None)
    if not key:
        return None
    engine = import_module(settings.SESSION_ENGINE)
    return engine.SessionStore(key)


def socket_authorize(scope: dict[str, Any], *, writes: bool) -> Membership:
    """The membership a socket acts as, checked now; `writes` for a question (viewers may not).

    Raises NotAuthenticated, PermissionDenied, NotFound or TenantSuspended, as REST would.
    """
    from accounts.authentication import api_key_authenticate

    raw_key = _key_from_scope(scope)
    if raw_key:
        api_key = api_key_authenticate(raw_key)
        membership = membership_resolve(user=api_key.user, api_key=api_key)
    else:
        session = _fresh_session(scope)
        if session is None:
            raise NotAuthenticated("Sign in or send an API key.")
        user = get_user(SimpleNamespace(session=session))  # type: ignore[arg-type]
        membership = membership_resolve(
            user=user, api_key=None, chosen_tenant_id=session.get(SESSION_TENANT_KEY)
        )
    role_authorize(membership, writes=writes)
    return membership


socket_authorize_async = database_sync_to_async(socket_authorize)


class TenantAuthMiddleware(BaseMiddleware):
    """Sets scope["user"], scope["membership"] and scope["tenant"] when the socket may read,
    else scope["auth_error"] (the consumer sends it and closes)."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        scope = dict(scope)
        try:
            membership = await socket_authorize_async(scope, writes=False)
        except ApplicationError as exc:
            scope["auth_error"] = exc
        else:
            scope.update(user=membership.user, membership=membership, tenant=membership.tenant)
        return await super().__call__(scope, receive, send)


def TenantAuthMiddlewareStack(inner: Any) -> Any:
    return AuthMiddlewareStack(TenantAuthMiddleware(inner))
