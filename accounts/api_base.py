"""Base class of tenant API views: resolves the tenant once, enforces roles, fails closed.

The same two functions authorise every websocket frame (accounts.ws_auth), so a socket loses
access exactly when a REST request would: `membership_resolve` finds the caller's membership
and checks the workspace is active, `role_authorize` checks the role may do what is asked.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.errors import NotAuthenticated, NotFound, PermissionDenied, TenantSuspended
from accounts.models import ApiKey, Membership, Tenant, User

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SESSION_TENANT_KEY = "tenant_id"
#: roles allowed to change anything or to ask (viewers only read)
WRITE_ROLES: tuple[str, ...] = (
    Membership.Role.OWNER,
    Membership.Role.ADMIN,
    Membership.Role.ANALYST,
)


def membership_resolve(
    *,
    user: User | Any,
    api_key: ApiKey | None,
    tenant_slug: str | None = None,
    chosen_tenant_id: int | None = None,
) -> Membership:
    """The caller's membership: the API key's tenant, else the workspace named by slug, else the
    session's chosen one, else the user's only one.

    Raises NotAuthenticated (no active user), PermissionDenied (several workspaces, none
    chosen), NotFound (no such membership) or TenantSuspended.
    """
    if not user or not user.is_authenticated or not user.is_active:
        raise NotAuthenticated()
    memberships = Membership.objects.select_related("tenant", "tenant__tier", "user")
    if api_key is not None:
        membership = memberships.filter(tenant_id=api_key.tenant_id, user=user).first()
    elif tenant_slug:
        membership = memberships.filter(tenant__slug=tenant_slug, user=user).first()
    elif chosen_tenant_id:
        membership = memberships.filter(tenant_id=chosen_tenant_id, user=user).first()
    else:
        mine = list(memberships.filter(user=user)[:2])
        if len(mine) > 1:
            raise PermissionDenied(
                "You belong to several workspaces: choose one first.",
                details={"reason": "tenant_not_chosen"},
            )
        membership = mine[0] if mine else None
    if membership is None:
        raise NotFound("Workspace not found.")
    if membership.tenant.status != Tenant.Status.ACTIVE:
        raise TenantSuspended()
    return membership


def role_authorize(
    membership: Membership,
    *,
    writes: bool,
    read_roles: tuple[str, ...] | None = None,
    write_roles: tuple[str, ...] = WRITE_ROLES,
) -> None:
    """Raises PermissionDenied unless the member's role may use this (read_roles, None: every
    role) and, for a change or a question (`writes`), is one of write_roles."""
    role = membership.role
    if read_roles is not None and role not in read_roles:
        raise PermissionDenied(f"The {role} role cannot use this endpoint.")
    if writes and role not in write_roles:
        raise PermissionDenied(
            f"The {role} role can read but not change anything.", details={"role": role}
        )


def tenant_resolve(request: Request) -> Membership:
    """The membership of a REST request (see membership_resolve)."""
    auth = request.auth
    session = getattr(request, "session", None)
    return membership_resolve(
        user=request.user,
        api_key=auth if isinstance(auth, ApiKey) else None,
        tenant_slug=None if isinstance(auth, ApiKey) else request.headers.get("X-Tenant"),
        chosen_tenant_id=session.get(SESSION_TENANT_KEY) if session is not None else None,
    )


class TenantApiView(APIView):
    """Every tenant endpoint derives from this; `self.tenant` and `self.membership` are set
    before throttles run (they count against the tenant's quota)."""

    #: roles allowed for unsafe methods (viewers only read)
    write_roles: ClassVar[tuple[str, ...]] = WRITE_ROLES
    #: roles allowed at all (None: every role)
    read_roles: ClassVar[tuple[str, ...] | None] = None

    tenant: Tenant
    membership: Membership

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)
        self.membership = tenant_resolve(request)
        self.tenant = self.membership.tenant
        role_authorize(
            self.membership,
            writes=request.method not in SAFE_METHODS,
            read_roles=self.read_roles,
            write_roles=self.write_roles,
        )

    def usage_record(self, *, operation: str, input_tokens: int) -> None:
        """Bill an operation that is not a question (a search embeds its query) through
        settings.API_USAGE_RECORDER, which billing provides."""
        record = import_string(settings.API_USAGE_RECORDER)
        record(
            tenant=self.tenant,
            user=self.membership.user,
            operation=operation,
            input_tokens=input_tokens,
        )
