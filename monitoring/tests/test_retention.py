"""Ages such as 30d parse strictly, and prune_traces deletes only spans past the retention."""

from __future__ import annotations

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from monitoring.models import TraceSpan
from monitoring.retention import age_parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90m", timedelta(minutes=90)),
        ("4w", timedelta(weeks=4)),
        (" 7D ", timedelta(days=7)),
    ],
)
def test_ages_are_a_number_and_a_unit(text, expected):
    assert age_parse(text) == expected


@pytest.mark.parametrize("text", ["", "30", "d30", "30 days", "-3d", "0d", "1.5d"])
def test_anything_else_is_refused(text):
    with pytest.raises(ValueError, match=r"age|zero"):
        age_parse(text)


def span(*, age: timedelta) -> TraceSpan:
    started = timezone.now() - age
    return TraceSpan.objects.create(
        trace_id=uuid.uuid4().hex,
        span_id=uuid.uuid4().hex[:16],
        name="rag.query",
        start_time=started,
        end_time=started + timedelta(seconds=1),
        duration_ms=1000.0,
    )


@pytest.mark.django_db
def test_prune_traces_deletes_only_spans_older_than_the_retention():
    old = span(age=timedelta(days=40))
    recent = span(age=timedelta(days=2))
    out = StringIO()
    call_command("prune_traces", "--older-than", "30d", stdout=out)
    assert "Deleted 1 trace spans older than 30d" in out.getvalue()
    assert not TraceSpan.objects.filter(pk=old.pk).exists()
    assert TraceSpan.objects.filter(pk=recent.pk).exists()


@pytest.mark.django_db
def test_prune_traces_defaults_to_the_retention_setting(settings):
    settings.TRACE_RETENTION_DAYS = 1
    doomed = span(age=timedelta(days=2))
    call_command("prune_traces", stdout=StringIO())
    assert not TraceSpan.objects.filter(pk=doomed.pk).exists()
    with pytest.raises(CommandError, match="not an age"):
        call_command("prune_traces", "--older-than", "soon", stdout=StringIO())
