"""REST operations other than questions, metered like questions: each counts against the
tenant's per-minute limits (a DRF throttle over billing.ratelimit), and a search puts its
query's embedding on the ledger at the embedding price.

Views opt in by naming a `throttle_scope` (retrieval's search and upload do); retrieval never
imports billing, so the throttle and the recorder are named in settings (REST_FRAMEWORK's
DEFAULT_THROTTLE_CLASSES and API_USAGE_RECORDER), the way AGENT_HOOKS names the pipeline's.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts.models import Tenant, User
from accounts.selectors import tenant_quota_get
from billing.contracts import UsageLine
from billing.pricing import embedding_model
from billing.ratelimit import request_count
from billing.services import budget_reserve, ledger_line_record, reservation_settle

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Scopes whose operations are billed (api_usage_record): refused once the month is used up.
BILLED_SCOPES = ("search",)


class TenantQuotaThrottle(BaseThrottle):
    """A change or search made through a view with a `throttle_scope` is one request against
    the member's and the workspace's requests-per-minute (the same GCRA buckets as questions).

    Raises RateLimitExceeded (429 with Retry-After) itself, so the answer carries the limit's
    headers; RateLimiterUnavailable (503) when Redis is down and the limiter fails closed; for a
    billed scope (search), BudgetExhausted (402) once the month's budget is used up.
    """

    def allow_request(self, request: Request, view: Any) -> bool:
        if getattr(view, "throttle_scope", None) is None or request.method in SAFE_METHODS:
            return True
        membership = getattr(view, "membership", None)
        if membership is None:  # not a tenant view: nothing to count against
            return True
        tenant = membership.tenant
        quota = tenant_quota_get(tenant=tenant)
        request_count(tenant=tenant, user=membership.user, quota=quota)
        if view.throttle_scope in BILLED_SCOPES:
            budget_left_check(membership=membership, quota=quota)
        return True


def budget_left_check(*, membership: Any, quota: Any = None) -> None:
    """Refuse a billed operation once the workspace's month (or the member's cap) is used up,
    with the 402 budget_exhausted a question gets: a zero hold through budget_reserve (the same
    refusal, limits and reset date), released at once. A search costs a fraction of a cent, so
    nothing is held for it while it runs; its ledger line follows it."""
    hold = budget_reserve(
        tenant=membership.tenant,
        user=membership.user,
        query_id=uuid.uuid4(),
        amount_usd=Decimal(0),
        tokens=0,
        quota=quota,
        user_cap_usd=getattr(membership, "monthly_budget_usd_cap", None),
    )
    reservation_settle(reservation=hold, tenant=membership.tenant)


def api_usage_record(*, tenant: Tenant, user: User, operation: str, input_tokens: int) -> Decimal:
    """Put what a REST operation cost on the ledger (a search: its query's embedding); returns
    the cost in USD."""
    if operation != "search":
        raise ValueError(f"No usage is recorded for {operation!r}.")
    provider, model = embedding_model()
    return ledger_line_record(
        tenant=tenant,
        user=user,
        conversation_id=None,
        query_id=uuid.uuid4(),
        line=UsageLine(kind="embedding", provider=provider, model=model, input_tokens=input_tokens),
    )
