"""The scoring rule behind the PII precision/recall floor: what counts as a found entity, and
labelled data that cannot be right is refused."""

from __future__ import annotations

import json

import pytest

from monitoring.pii import Detection
from monitoring.pii_eval import Snippet, snippet_match, snippets_evaluate, snippets_load

# "Call 212 555 0147 or mail ana@x.example" with the phone at 5-17 and the email at 26-39.
SNIPPET = Snippet(
    id="t-1",
    text="Call 212 555 0147 or mail ana@x.example",
    entities=(("PHONE_NUMBER", 5, 17), ("EMAIL_ADDRESS", 26, 39)),
)


def test_a_detection_covering_half_of_an_entity_finds_it_and_less_misses_it():
    half = Detection("PHONE_NUMBER", 11, 17, 0.9)  # 6 of 12 characters
    matched, false_pos, missed = snippet_match(snippet=SNIPPET, detections=[half])
    assert matched == [("PHONE_NUMBER", 5, 17)]
    assert false_pos == []
    assert missed == [("EMAIL_ADDRESS", 26, 39)]

    short = Detection("PHONE_NUMBER", 12, 17, 0.9)  # 5 of 12
    matched, false_pos, missed = snippet_match(snippet=SNIPPET, detections=[short])
    assert matched == []
    assert false_pos == [short]
    assert len(missed) == 2


def test_a_detection_of_another_type_or_reused_for_a_second_entity_does_not_count():
    twins = Snippet(
        id="t-2", text="212 555 0147", entities=(("PHONE_NUMBER", 0, 12), ("PHONE_NUMBER", 0, 12))
    )
    phone = Detection("PHONE_NUMBER", 0, 12, 0.9)
    assert snippet_match(snippet=twins, detections=[phone]) == (
        [("PHONE_NUMBER", 0, 12)],
        [],
        [("PHONE_NUMBER", 0, 12)],
    )
    wrong_type = Detection("US_SSN", 0, 12, 0.9)
    assert snippet_match(snippet=twins, detections=[wrong_type])[1] == [wrong_type]


def test_scores_add_up_per_type_and_list_every_error():
    def detect(text: str) -> list[Detection]:
        return [Detection("PHONE_NUMBER", 5, 17, 0.9), Detection("US_SSN", 0, 4, 0.4)]

    result = snippets_evaluate(snippets=[SNIPPET], detect=detect)
    assert result.snippets == 1
    assert (result.overall.tp, result.overall.fp, result.overall.fn) == (1, 1, 1)
    assert result.overall.precision == result.overall.recall == 0.5
    assert result.per_type["PHONE_NUMBER"].f1 == 1.0
    assert [(e["kind"], e["type"], e["value"]) for e in result.errors] == [
        ("false_positive", "US_SSN", "Call"),
        ("missed", "EMAIL_ADDRESS", "ana@x.example"),
    ]


def test_labelled_data_with_an_entity_outside_its_text_is_refused(tmp_path):
    path = tmp_path / "snippets.jsonl"
    row = {"id": "bad-1", "text": "short", "entities": [{"type": "US_SSN", "start": 2, "end": 9}]}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad-1"):
        snippets_load(path=path)
