"""Old conversations go to compressed JSON Lines and leave the database; restoring brings the
same rows back (ids, timestamps, checkpoints, feedback), and a second restore changes nothing."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

import agents.archive as archive
from agents.models import Checkpoint, Conversation, Feedback, Message

pytestmark = pytest.mark.django_db


def conversation_with_history(member, *, title: str, age_days: int, rated: bool = True):
    conversation = Conversation.objects.create(
        tenant=member.tenant, user=member.user, title=title, scope={"tickers": ["GLUE"]}
    )
    question = Message.objects.create(
        tenant=member.tenant, conversation=conversation, role="user", content=f"{title}?"
    )
    answer = Message.objects.create(
        tenant=member.tenant,
        conversation=conversation,
        query_id=question.query_id,
        role="assistant",
        content=f"{title}: $1,577 million [1].",
        citations=[{"number": 1, "page": 2, "document": "Glueworks 2018 10-K"}],
        provider="openai",
        model="gpt",
        input_tokens=812,
        output_tokens=44,
        cost_usd="0.00123400",
        latency_ms=1534,
    )
    Checkpoint.objects.create(
        tenant=member.tenant,
        conversation=conversation,
        message=answer,
        state={"question": question.content, "retrieved_chunk_ids": [3, 9]},
    )
    if rated:
        Feedback.objects.create(
            tenant=member.tenant,
            message=answer,
            user=member.user,
            accuracy=True,
            cost_efficiency=4,
            comment="useful",
        )
    stamp = timezone.now() - timedelta(days=age_days)
    Message.objects.filter(conversation=conversation).update(created_at=stamp)
    Conversation.objects.filter(pk=conversation.pk).update(created_at=stamp, updated_at=stamp)
    return Conversation.objects.get(pk=conversation.pk)


def snapshot(conversation_ids):
    """Every stored value of the conversations and what hangs off them."""
    return {
        "conversations": list(
            Conversation.objects.filter(pk__in=conversation_ids).order_by("pk").values()
        ),
        "messages": list(
            Message.objects.filter(conversation__in=conversation_ids).order_by("pk").values()
        ),
        "checkpoints": list(
            Checkpoint.objects.filter(conversation__in=conversation_ids).order_by("pk").values()
        ),
        "feedback": list(
            Feedback.objects.filter(message__conversation__in=conversation_ids)
            .order_by("pk")
            .values()
        ),
    }


def run(command, *args):
    out = StringIO()
    call_command(command, *args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.fixture
def history(analyst, other_tenant_analyst):
    old = [
        conversation_with_history(analyst, title="Capex 2018", age_days=45),
        conversation_with_history(other_tenant_analyst, title="Sales 2017", age_days=90),
    ]
    recent = conversation_with_history(analyst, title="Capex 2019", age_days=3)
    return old, recent


def test_archive_writes_old_conversations_to_gzip_json_lines_then_deletes_them(history, tmp_path):
    old, recent = history
    path = tmp_path / "archive.jsonl.gz"
    output = run("archive_conversations", "--older-than", "30d", "--to", str(path))
    assert "Archived 2 conversations (4 messages, 2 checkpoints, 2 feedback)" in output
    assert "deleted 2" in output

    with gzip.open(path, "rt") as handle:
        lines = [json.loads(line) for line in handle]
    assert lines[0]["type"] == "header"
    assert lines[0]["format"] == "finrag.conversations"
    assert [line["type"] for line in lines[1:]] == ["conversation", "conversation", "trailer"]
    first = lines[1]
    assert first["conversation"]["title"] == "Capex 2018"
    assert first["conversation"]["tenant_slug"] == "acme"
    assert [m["role"] for m in first["messages"]] == ["user", "assistant"]
    assert first["checkpoints"][0]["state"]["retrieved_chunk_ids"] == [3, 9]
    assert first["feedback"][0]["cost_efficiency"] == 4
    assert lines[-1] == {
        "type": "trailer",
        "conversations": 2,
        "messages": 4,
        "checkpoints": 2,
        "feedback": 2,
    }

    remaining = set(Conversation.objects.values_list("pk", flat=True))
    assert remaining == {recent.pk}
    assert not Message.objects.filter(conversation__in=[c.pk for c in old]).exists()
    assert not Checkpoint.objects.filter(conversation__in=[c.pk for c in old]).exists()
    assert Feedback.objects.count() == 1


def test_restore_brings_back_the_same_rows_and_running_it_again_changes_nothing(history, tmp_path):
    old, _recent = history
    ids = [c.pk for c in old]
    before = snapshot(ids)
    path = tmp_path / "archive.jsonl.gz"
    run("archive_conversations", "--older-than", "30d", "--to", str(path))
    assert snapshot(ids)["conversations"] == []

    output = run("restore_conversations", str(path))
    assert "Restored 2 conversations (4 messages, 2 checkpoints, 2 feedback)" in output
    assert snapshot(ids) == before
    again = run("restore_conversations", str(path))
    assert "Restored 0 conversations" in again
    assert "2 already present" in again
    assert snapshot(ids) == before
    # Sequences were moved past the restored ids, so new rows do not collide with them.
    newer = Conversation.objects.create(tenant=old[0].tenant, user=old[0].user)
    assert newer.pk > max(ids)


def test_restore_gives_new_ids_when_the_old_ones_are_taken(analyst, tmp_path):
    old = conversation_with_history(analyst, title="Capex 2018", age_days=45)
    answer_text = Message.objects.get(conversation=old, role="assistant").content
    path = tmp_path / "archive.jsonl.gz"
    run("archive_conversations", "--older-than", "30d", "--to", str(path))
    squatter = Conversation.objects.create(pk=old.pk, tenant=analyst.tenant, user=analyst.user)

    output = run("restore_conversations", str(path))
    assert "Restored 1 conversations" in output
    assert "1 given new ids" in output
    restored = Conversation.objects.exclude(pk=squatter.pk).get(title="Capex 2018")
    answer = Message.objects.get(conversation=restored, role="assistant")
    assert answer.content == answer_text
    assert Checkpoint.objects.get(conversation=restored).message == answer
    assert Feedback.objects.get(message=answer).user == analyst.user


def test_a_conversation_that_changes_while_it_is_archived_stays(analyst, tmp_path, monkeypatch):
    old = conversation_with_history(analyst, title="Capex 2018", age_days=45)
    scan = archive.archive_scan

    def scan_while_a_message_arrives(path):
        Message.objects.create(
            tenant=analyst.tenant, conversation=old, role="user", content="And 2019?"
        )
        Conversation.objects.filter(pk=old.pk).update(updated_at=timezone.now())
        return scan(path)

    monkeypatch.setattr(archive, "archive_scan", scan_while_a_message_arrives)
    path = tmp_path / "archive.jsonl.gz"
    summary = archive.conversations_archive(older_than=timedelta(days=30), path=path)
    assert summary.deleted == 0
    assert summary.kept_changed == (old.pk,)
    assert Message.objects.filter(conversation=old).count() == 3


def test_a_damaged_archive_is_refused_and_restores_nothing(history, tmp_path):
    path = tmp_path / "archive.jsonl.gz"
    run("archive_conversations", "--older-than", "30d", "--to", str(path))
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    truncated = tmp_path / "truncated.jsonl.gz"
    with gzip.open(truncated, "wt") as handle:
        handle.write("\n".join(lines[:-2]) + "\n")
    with pytest.raises(CommandError, match="no trailer"):
        run("restore_conversations", str(truncated))
    garbage = tmp_path / "garbage.jsonl.gz"
    garbage.write_bytes(b"not gzip at all")
    with pytest.raises(CommandError, match="not a readable gzip archive"):
        run("restore_conversations", str(garbage))
    assert Conversation.objects.count() == 1


def test_archive_refuses_bad_ages_existing_files_and_reports_when_nothing_is_old(history, tmp_path):
    with pytest.raises(CommandError, match="not an age"):
        run("archive_conversations", "--older-than", "thirty", "--to", str(tmp_path / "a.gz"))
    existing = tmp_path / "existing.jsonl.gz"
    existing.write_bytes(b"")
    with pytest.raises(CommandError, match="already exists"):
        run("archive_conversations", "--older-than", "30d", "--to", str(existing))
    assert Conversation.objects.count() == 3
    output = run("archive_conversations", "--older-than", "365d", "--to", str(tmp_path))
    assert "nothing written" in output
    assert list(tmp_path.iterdir()) == [existing]


def test_archive_can_be_limited_to_one_tenant_and_named_by_directory(history, tmp_path):
    old, _recent = history
    output = run(
        "archive_conversations", "--older-than", "30d", "--to", str(tmp_path), "--tenant", "acme"
    )
    assert "Archived 1 conversations" in output
    [written] = list(tmp_path.glob("conversations-*.jsonl.gz"))
    assert written.stat().st_size > 0
    assert not Conversation.objects.filter(pk=old[0].pk).exists()
    assert Conversation.objects.filter(pk=old[1].pk).exists()
