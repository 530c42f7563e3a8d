"""Base class of tenant API views: resolves the tenant once, enforces roles, fails closed."""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.errors import NotAuthenticated, NotFound, PermissionDenied, TenantSuspended
from accounts.models import ApiKey, Membership, Tenant

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SESSION_TENANT_KEY = "tenant_id"


def tenant_resolve(request: Request) -> Membership:
    """The caller's membership: from the API key's tenant, else the session's chosen tenant,
    else the user's only tenant. Raises NotAuthenticated, NotFound or TenantSuspended."""
    user = request.user
    if not user or not user.is_authenticated:
        raise NotAuthenticated()
    memberships = Membership.objects.select_related("tenant", "tenant__tier", "user")
    auth = request.auth
    if isinstance(auth, ApiKey):
        membership = memberships.filter(tenant_id=auth.tenant_id, user=user).first()
    else:
        chosen = request.session.get(SESSION_TENANT_KEY) if hasattr(request, "session") else None
        header_slug = request.headers.get("X-Tenant")
        if header_slug:
            membership = memberships.filter(tenant__slug=header_slug, user=user).first()
        elif chosen:
            membership = memberships.filter(tenant_id=chosen, user=user).first()
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


class TenantApiView(APIView):
    """Every tenant endpoint derives from this; `self.tenant` and `self.membership` are set."""

    #: roles allowed for unsafe methods (viewers only read)
    write_roles: ClassVar[tuple[str, ...]] = (
        Membership.Role.OWNER,
        Membership.Role.ADMIN,
        Membership.Role.ANALYST,
    )
    #: roles allowed at all (None: every role)
    read_roles: ClassVar[tuple[str, ...] | None] = None

    tenant: Tenant
    membership: Membership

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self.membership = tenant_resolve(request)
        self.tenant = self.membership.tenant
        role = self.membership.role
        if self.read_roles is not None and role not in self.read_roles:
            raise PermissionDenied(f"The {role} role cannot use this endpoint.")
        if request.method not in SAFE_METHODS and role not in self.write_roles:
            raise PermissionDenied(
                f"The {role} role can read but not change anything.", details={"role": role}
            )
