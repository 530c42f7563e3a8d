"""Feedback on answers: record a user's verdict, and report it by tenant and provider."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, Q

from accounts.errors import NotFound, ValidationFailed
from accounts.models import Membership, Tenant, User
from agents.models import Feedback, Message

MAX_COMMENT_CHARS = 2000
COST_EFFICIENCY_RANGE = (1, 5)


@dataclass(frozen=True)
class FeedbackReportRow:
    """Feedback on one provider's answers in one tenant."""

    tenant: str
    provider: str
    count: int
    accurate: int
    with_comment: int
    accuracy_rate: Decimal | None
    mean_cost_efficiency: Decimal | None


def answer_get(*, tenant: Tenant, user: User, message_id: int) -> Message:
    """An answer (assistant message) the user can read: their own conversation's, or any in the
    tenant for owners and admins. NotFound otherwise, the same as a missing one."""
    answers = Message.objects.select_related("conversation").filter(
        tenant=tenant, role=Message.Role.ASSISTANT, pk=message_id
    )
    manager = Membership.objects.filter(
        tenant=tenant, user=user, role__in=(Membership.Role.OWNER, Membership.Role.ADMIN)
    ).exists()
    if not manager:
        answers = answers.filter(conversation__user=user)
    answer = answers.first()
    if answer is None:
        raise NotFound("Answer not found.")
    return answer


def feedback_get(*, tenant: Tenant, user: User, message_id: int) -> Feedback:
    """The user's feedback on an answer they can read; NotFound when there is none."""
    answer = answer_get(tenant=tenant, user=user, message_id=message_id)
    feedback = Feedback.objects.filter(tenant=tenant, message=answer, user=user).first()
    if feedback is None:
        raise NotFound("No feedback on this answer yet.")
    return feedback


def feedback_record(
    *,
    tenant: Tenant,
    user: User,
    message_id: int,
    accuracy: bool,
    cost_efficiency: int,
    comment: str = "",
) -> tuple[Feedback, bool]:
    """Record or replace the user's feedback on an answer; returns (feedback, created).

    One feedback per user per answer: a second call updates the first. Raises NotFound for an
    answer the user cannot read (another tenant's included) and ValidationFailed for a
    cost_efficiency outside 1-5 or an overlong comment.
    """
    low, high = COST_EFFICIENCY_RANGE
    if not low <= cost_efficiency <= high:
        raise ValidationFailed(
            f"cost_efficiency must be between {low} and {high}.",
            details={"field": "cost_efficiency"},
        )
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise ValidationFailed(
            f"The comment is longer than {MAX_COMMENT_CHARS} characters.",
            details={"field": "comment", "max_chars": MAX_COMMENT_CHARS},
        )
    answer = answer_get(tenant=tenant, user=user, message_id=message_id)
    values = {"accuracy": accuracy, "cost_efficiency": cost_efficiency, "comment": comment}
    try:
        with transaction.atomic():
            return Feedback.objects.update_or_create(
                tenant=tenant, message=answer, user=user, defaults=values
            )
    except IntegrityError:
        # Two submissions raced to create it; the loser updates the winner's row.
        with transaction.atomic():
            updated = Feedback.objects.filter(tenant=tenant, message=answer, user=user)
            updated.update(**values)
            return updated.get(), False


def _ratio(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def feedback_report(
    *, tenant: Tenant | None, since: datetime | None = None
) -> list[FeedbackReportRow]:
    """Feedback counts, accuracy rate and mean cost efficiency per tenant and provider.

    `tenant=None` reports every tenant (for staff). Rows are ordered by tenant, then provider;
    answers with no provider recorded (failed before any model answered) appear as "none".
    """
    feedback = Feedback.objects.all()
    if tenant is not None:
        feedback = feedback.filter(tenant=tenant)
    if since is not None:
        feedback = feedback.filter(updated_at__gte=since)
    grouped = (
        feedback.values("tenant__slug", "message__provider")
        .annotate(
            count=Count("id"),
            accurate=Count("id", filter=Q(accuracy=True)),
            with_comment=Count("id", filter=~Q(comment="")),
            mean_cost=Avg("cost_efficiency"),
        )
        .order_by("tenant__slug", "message__provider")
    )
    return [
        FeedbackReportRow(
            tenant=row["tenant__slug"],
            provider=row["message__provider"] or "none",
            count=row["count"],
            accurate=row["accurate"],
            with_comment=row["with_comment"],
            accuracy_rate=_ratio(row["accurate"], row["count"]),
            mean_cost_efficiency=(
                Decimal(str(row["mean_cost"])).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
                if row["mean_cost"] is not None
                else None
            ),
        )
        for row in grouped
    ]
