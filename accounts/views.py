"""Web pages of accounts: sign-in and out, the workspace picker, the workspace a page needs."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec

from django.contrib import admin, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from accounts import selectors
from accounts.api_base import SESSION_TENANT_KEY
from accounts.models import Membership, Tenant

P = ParamSpec("P")
WorkspaceView = Callable[Concatenate[HttpRequest, Membership, P], HttpResponse]


class SignInView(auth_views.LoginView):
    """Email and password; the workspace is chosen next when the user has several."""

    template_name = "accounts/sign_in.html"
    redirect_authenticated_user = True

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        # A new sign-in starts without a chosen workspace (the session was cycled).
        self.request.session.pop(SESSION_TENANT_KEY, None)
        return response


class SignOutView(auth_views.LogoutView):
    next_page = "sign-in"


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def workspace_resolve(request: HttpRequest) -> Membership | None:
    """The signed-in user's membership in the chosen workspace, or in their only one.

    None when the user must still pick (several workspaces, none chosen) or belongs to none.
    A stale choice (membership since removed) is forgotten.
    """
    memberships = selectors.membership_list_for_user(user=request.user)  # type: ignore[arg-type]
    chosen = request.session.get(SESSION_TENANT_KEY)
    if chosen is not None:
        membership = memberships.filter(tenant_id=chosen).first()
        if membership is not None:
            return membership
        request.session.pop(SESSION_TENANT_KEY, None)
    mine = list(memberships[:2])
    if len(mine) == 1:
        request.session[SESSION_TENANT_KEY] = mine[0].tenant_id
        return mine[0]
    return None


def workspace_required(view: WorkspaceView[P]) -> Callable[..., HttpResponse]:
    """Signed in, with a workspace chosen and active; the view gets the membership second."""

    @login_required
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
        membership = workspace_resolve(request)
        if membership is None:
            return redirect(f"{reverse('workspace-pick')}?next={request.get_full_path()}")
        if membership.tenant.status != Tenant.Status.ACTIVE:
            return render(
                request,
                "accounts/suspended.html",
                {"membership": membership, "workspaces": _workspace_count(request)},
                status=403,
            )
        return view(request, membership, *args, **kwargs)

    return wrapper


def _workspace_count(request: HttpRequest) -> int:
    return selectors.membership_list_for_user(user=request.user).count()  # type: ignore[arg-type]


def can_open_admin(request: HttpRequest) -> bool:
    """Whether Django admin lets this user in (active staff). Asked of the admin site itself so
    the navigation never offers a link the admin then refuses; a workspace role grants no
    admin access."""
    return admin.site.has_permission(request)


def page(
    request: HttpRequest,
    template: str,
    *,
    membership: Membership,
    section: str,
    status: int = 200,
    **context: Any,
) -> HttpResponse:
    """Render a workspace page with what the layout needs (workspace, role, navigation)."""
    context.update(
        membership=membership,
        tenant=membership.tenant,
        section=section,
        workspaces=_workspace_count(request),
        show_admin=can_open_admin(request),
    )
    return render(request, template, context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def workspace_pick(request: HttpRequest) -> HttpResponse:
    """List the user's workspaces; choosing one stores it in the session for pages, REST and
    websockets alike."""
    memberships = list(selectors.membership_list_for_user(user=request.user))  # type: ignore[arg-type]
    if request.method == "POST":
        chosen = next(
            (m for m in memberships if str(m.tenant_id) == request.POST.get("tenant", "")), None
        )
        if chosen is None:
            messages.error(request, "Choose one of your workspaces.")
        else:
            request.session[SESSION_TENANT_KEY] = chosen.tenant_id
            return HttpResponseRedirect(_safe_next(request, reverse("chat-home")))
    return render(
        request,
        "accounts/workspace_pick.html",
        {
            "memberships": memberships,
            "current": request.session.get(SESSION_TENANT_KEY),
            "next": _safe_next(request, ""),
        },
    )
