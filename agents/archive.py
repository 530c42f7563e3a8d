"""Archive old conversations to compressed JSON Lines and bring them back.

One archive file is gzip-compressed JSON Lines: a header line, one line per conversation
(the conversation with its messages, checkpoints and feedback), and a trailer line with the
counts. Conversations are deleted only after the file has been written, flushed to disk, read
back in full and matched against what was exported; a conversation that changed meanwhile is
kept in the database.

Restoring is idempotent: a conversation already present is skipped. Rows keep their original
ids when those are free (so message ids seen in traces, logs and the ledger still match) and
get new ones otherwise. Tenants and users are found by slug and email, not by id, so an
archive can be restored into a rebuilt database.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.color import no_style
from django.db import connection, models, transaction
from django.utils import timezone

from accounts.errors import ValidationFailed
from accounts.models import Tenant, User
from agents.models import Checkpoint, Conversation, Feedback, Message

ARCHIVE_FORMAT = "finrag.conversations"
ARCHIVE_VERSION = 1
_BATCH = 200


@dataclass(frozen=True)
class ArchiveSummary:
    path: Path | None
    conversations: int
    messages: int
    checkpoints: int
    feedback: int
    deleted: int
    kept_changed: tuple[int, ...] = ()


@dataclass(frozen=True)
class RestoreSummary:
    restored: int
    already_present: int
    messages: int
    checkpoints: int
    feedback: int
    renumbered: int = 0
    skipped: tuple[str, ...] = ()


@dataclass
class _Counts:
    conversations: int = 0
    messages: int = 0
    checkpoints: int = 0
    feedback: int = 0
    stamps: dict[int, str] = field(default_factory=dict)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value


def _row(obj: models.Model) -> dict[str, Any]:
    return {f.attname: _encode(f.value_from_object(obj)) for f in obj._meta.concrete_fields}


def _instance(model: type[models.Model], row: dict[str, Any]) -> Any:
    values = {}
    for f in model._meta.concrete_fields:
        if f.attname in row:
            raw = row[f.attname]
            # JSON columns hold the decoded value already; to_python would not parse it anyway.
            values[f.attname] = raw if isinstance(f, models.JSONField) else f.to_python(raw)
    return model(**values)


def _conversation_record(conversation: Conversation) -> dict[str, Any]:
    messages = list(conversation.messages.all())
    checkpoints = list(conversation.checkpoints.all())
    feedback = list(
        Feedback.objects.filter(message__conversation=conversation).select_related("user")
    )
    record = _row(conversation)
    record["tenant_slug"] = conversation.tenant.slug
    record["user_email"] = conversation.user.email
    return {
        "type": "conversation",
        "conversation": record,
        "messages": [_row(m) for m in messages],
        "checkpoints": [_row(c) for c in checkpoints],
        "feedback": [{**_row(f), "user_email": f.user.email} for f in feedback],
    }


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValidationFailed(f"Line {number} of {path} is not JSON: {exc}") from exc


def _digest(record: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def archive_scan(path: Path) -> tuple[dict[str, Any], _Counts, list[str]]:
    """Read a whole archive once: its header, its counts and a digest per conversation record.

    Raises ValidationFailed for a file that is not a complete archive of this format (no
    header, another version, no trailer, counts that differ from the trailer, or bad gzip).
    """
    header: dict[str, Any] | None = None
    trailer: dict[str, Any] | None = None
    counts = _Counts()
    digests: list[str] = []
    try:
        for item in _lines(path):
            kind = item.get("type")
            if kind == "header":
                header = item
            elif kind == "conversation":
                _count(counts, item)
                digests.append(_digest(item))
            elif kind == "trailer":
                trailer = item
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ValidationFailed(f"{path} is not a readable gzip archive: {exc}") from exc
    if header is None or header.get("format") != ARCHIVE_FORMAT:
        raise ValidationFailed(f"{path} is not a conversation archive.")
    if header.get("version") != ARCHIVE_VERSION:
        raise ValidationFailed(f"{path} has archive version {header.get('version')}.")
    if trailer is None:
        raise ValidationFailed(f"{path} is incomplete: it has no trailer line.")
    expected = (
        trailer.get("conversations"),
        trailer.get("messages"),
        trailer.get("checkpoints"),
        trailer.get("feedback"),
    )
    found = (counts.conversations, counts.messages, counts.checkpoints, counts.feedback)
    if expected != found:
        raise ValidationFailed(f"{path} does not match its trailer: {found} != {expected}.")
    return header, counts, digests


def archive_records(path: Path) -> Iterator[dict[str, Any]]:
    """The conversation records of an archive, one at a time (scan it first)."""
    for item in _lines(path):
        if item.get("type") == "conversation":
            yield item


def _count(counts: _Counts, record: dict[str, Any]) -> None:
    counts.conversations += 1
    counts.messages += len(record["messages"])
    counts.checkpoints += len(record["checkpoints"])
    counts.feedback += len(record["feedback"])
    conversation = record["conversation"]
    counts.stamps[int(conversation["id"])] = conversation["updated_at"]


def conversations_archive(
    *,
    older_than: timedelta,
    path: Path,
    tenant: Tenant | None = None,
    now: datetime | None = None,
    delete: bool = True,
) -> ArchiveSummary:
    """Write conversations untouched for `older_than` to `path` and delete them from the database.

    Only one tenant's with `tenant`; nothing is deleted with delete=False. Writes nothing and
    returns path=None when no conversation qualifies. Raises ValidationFailed when `path`
    already exists or the written file does not read back as what was exported.
    """
    now = now or timezone.now()
    cutoff = now - older_than
    selected = Conversation.objects.filter(updated_at__lt=cutoff).select_related("tenant", "user")
    if tenant is not None:
        selected = selected.filter(tenant=tenant)
    ids = list(selected.order_by("id").values_list("id", flat=True))
    if not ids:
        return ArchiveSummary(
            path=None, conversations=0, messages=0, checkpoints=0, feedback=0, deleted=0
        )
    path = Path(path)
    if path.exists():
        raise ValidationFailed(f"{path} already exists; archives are never overwritten.")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    header = {
        "type": "header",
        "format": ARCHIVE_FORMAT,
        "version": ARCHIVE_VERSION,
        "created_at": now.isoformat(),
        "cutoff": cutoff.isoformat(),
        "tenant": tenant.slug if tenant else None,
    }
    counts, digests = _archive_write(partial, header=header, selected=selected, ids=ids)
    _, _, read_back = archive_scan(partial)
    if read_back != digests:
        partial.unlink()
        raise ValidationFailed(f"{partial} did not read back as written; nothing was deleted.")
    partial.rename(path)

    deleted, kept = 0, list[int]()
    if delete:
        deleted, kept = _delete_unchanged(counts.stamps)
    return ArchiveSummary(
        path=path,
        conversations=counts.conversations,
        messages=counts.messages,
        checkpoints=counts.checkpoints,
        feedback=counts.feedback,
        deleted=deleted,
        kept_changed=tuple(kept),
    )


def _archive_write(
    partial: Path,
    *,
    header: dict[str, Any],
    selected: models.QuerySet[Conversation],
    ids: list[int],
) -> tuple[_Counts, list[str]]:
    """Write the header, the conversations `ids` in batches and the trailer to `partial`, synced
    to disk; what was written and the digest of each conversation's line."""
    counts = _Counts()
    digests: list[str] = []
    with gzip.open(partial, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps(header) + "\n")
        for start in range(0, len(ids), _BATCH):
            batch = selected.filter(id__in=ids[start : start + _BATCH]).order_by("id")
            for conversation in batch:
                # Round-tripped through JSON so the digest is of exactly what a reader sees.
                record = json.loads(json.dumps(_conversation_record(conversation)))
                _count(counts, record)
                digests.append(_digest(record))
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        trailer = {
            "type": "trailer",
            "conversations": counts.conversations,
            "messages": counts.messages,
            "checkpoints": counts.checkpoints,
            "feedback": counts.feedback,
        }
        handle.write(json.dumps(trailer) + "\n")
    with open(partial, "rb") as raw:
        os.fsync(raw.fileno())
    return counts, digests


def _delete_unchanged(stamps: dict[int, str]) -> tuple[int, list[int]]:
    """Delete the archived conversations whose updated_at is still the archived one."""
    deleted: list[int] = []
    kept: list[int] = []
    with transaction.atomic():
        current = dict(
            Conversation.objects.select_for_update()
            .filter(id__in=list(stamps))
            .values_list("id", "updated_at")
        )
        for conversation_id, stamp in stamps.items():
            now_stamp = current.get(conversation_id)
            if now_stamp is None:
                continue  # deleted by someone else meanwhile
            if now_stamp.isoformat() == stamp:
                deleted.append(conversation_id)
            else:
                kept.append(conversation_id)
        # Messages, checkpoints and feedback go with their conversation (cascade).
        Conversation.objects.filter(id__in=deleted).delete()
    return len(deleted), kept


def conversations_restore(*, path: Path) -> RestoreSummary:
    """Put the conversations of an archive back; those already present are skipped.

    Raises ValidationFailed for a file that is not a complete archive. A conversation whose
    tenant or user no longer exists is skipped and named in the summary.
    """
    path = Path(path)
    archive_scan(path)
    restored = present = renumbered = 0
    messages = checkpoints = feedback = 0
    skipped: list[str] = []
    for record in archive_records(path):
        outcome = _restore_one(record)
        if isinstance(outcome, str):
            skipped.append(outcome)
        elif outcome is None:
            present += 1
        else:
            restored += 1
            renumbered += int(outcome[0])
            messages += outcome[1]
            checkpoints += outcome[2]
            feedback += outcome[3]
    if restored:
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(
                no_style(), [Conversation, Message, Checkpoint, Feedback]
            ):
                cursor.execute(statement)
    return RestoreSummary(
        restored=restored,
        already_present=present,
        messages=messages,
        checkpoints=checkpoints,
        feedback=feedback,
        renumbered=renumbered,
        skipped=tuple(skipped),
    )


def _restore_one(record: dict[str, Any]) -> str | tuple[bool, int, int, int] | None:
    """(renumbered, messages, checkpoints, feedback), None when present, or why it was skipped."""
    data = dict(record["conversation"])
    tenant_slug = data.pop("tenant_slug")
    user_email = data.pop("user_email")
    label = f"conversation {data['id']} ({tenant_slug})"
    tenant = Tenant.objects.filter(slug=tenant_slug).first()
    if tenant is None:
        return f"{label}: tenant {tenant_slug} does not exist"
    user = User.objects.filter(email__iexact=user_email).first()
    if user is None:
        return f"{label}: its user no longer exists"
    conversation = _instance(Conversation, data)
    if _already_present(record, tenant=tenant, conversation=conversation):
        return None
    message_rows = record["messages"]
    checkpoint_rows = record["checkpoints"]
    feedback_rows = record["feedback"]
    renumber = _ids_taken(record, conversation=conversation)
    emails = {f["user_email"].lower() for f in feedback_rows}
    raters = {u.email.lower(): u for u in User.objects.filter(email__in=emails)}
    with transaction.atomic():
        conversation.tenant_id = tenant.pk
        conversation.user_id = user.pk
        if renumber:
            conversation.pk = None
        # raw=True keeps the archived created_at/updated_at instead of stamping "now".
        conversation.save_base(raw=True, force_insert=True)
        message_ids: dict[int, int] = {}
        for row in message_rows:
            message = _instance(Message, row)
            message.conversation_id = conversation.pk
            _insert_raw(message, tenant=tenant, renumber=renumber)
            message_ids[int(row["id"])] = message.pk
        for row in checkpoint_rows:
            checkpoint = _instance(Checkpoint, row)
            checkpoint.conversation_id = conversation.pk
            checkpoint.message_id = message_ids[int(row["message_id"])]
            _insert_raw(checkpoint, tenant=tenant, renumber=renumber)
        restored_feedback = _feedback_restore(
            feedback_rows, tenant=tenant, raters=raters, message_ids=message_ids, renumber=renumber
        )
    return renumber, len(message_rows), len(checkpoint_rows), restored_feedback


def _already_present(record: dict[str, Any], *, tenant: Tenant, conversation: Any) -> bool:
    """Whether this conversation, or any of its answers (by query id), is already restored."""
    query_ids = [m["query_id"] for m in record["messages"]]
    same = Conversation.objects.filter(
        pk=conversation.pk, tenant=tenant, created_at=conversation.created_at
    ).exists()
    return same or (
        bool(query_ids) and Message.objects.filter(tenant=tenant, query_id__in=query_ids).exists()
    )


def _ids_taken(record: dict[str, Any], *, conversation: Any) -> bool:
    """Whether any archived id is in use by another row (then every row gets a new id)."""
    return (
        Conversation.objects.filter(pk=conversation.pk).exists()
        or Message.objects.filter(pk__in=[m["id"] for m in record["messages"]]).exists()
        or Checkpoint.objects.filter(pk__in=[c["id"] for c in record["checkpoints"]]).exists()
        or Feedback.objects.filter(pk__in=[f["id"] for f in record["feedback"]]).exists()
    )


def _insert_raw(row: Any, *, tenant: Tenant, renumber: bool) -> None:
    """Insert an archived row into `tenant` as it was (its timestamps kept), under a new id when
    renumbering."""
    row.tenant_id = tenant.pk
    if renumber:
        row.pk = None
    row.save_base(raw=True, force_insert=True)


def _feedback_restore(
    rows: list[dict[str, Any]],
    *,
    tenant: Tenant,
    raters: dict[str, User],
    message_ids: dict[int, int],
    renumber: bool,
) -> int:
    """Insert the feedback whose rater still exists; how many."""
    restored = 0
    for row in rows:
        rater = raters.get(row["user_email"].lower())
        if rater is None:
            continue  # the rater's account is gone; the answer itself is still restored
        item = _instance(Feedback, {k: v for k, v in row.items() if k != "user_email"})
        item.user_id = rater.pk
        item.message_id = message_ids[int(row["message_id"])]
        _insert_raw(item, tenant=tenant, renumber=renumber)
        restored += 1
    return restored
