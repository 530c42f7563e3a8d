"""Score PII detection against the labelled financial snippets: loading, splitting, matching.

Shared by the precision/recall floor in monitoring/tests/test_pii.py and by the benchmark
`python -m bench.pii_eval`, which adds timings and the 10-K scan on top.

A labelled entity counts as found when a detection of the same type covers at least half of its
characters; each detection can match one entity only.

How monitoring/pii_data/labelled_snippets.jsonl is labelled (texts written for this project;
identifier values are made up, with valid check digits where the type has one):
- Every phone number and email is PII, a company's switchboard or investor-relations address
  included (masking them costs nothing); a phone span includes its extension.
- US_BANK_NUMBER is an account the text calls a bank, checking, savings, deposit or wire/ACH
  beneficiary account; any other account identifier (brokerage, IRA, custody, loan, or an
  unqualified "account number") is FIN_ACCOUNT_NUMBER. Partial numbers ("ending 4421") are not
  labelled.
- A CUSIP or ISIN is PII (HOLDING_CUSIP, HOLDING_ISIN) only where the text ties it to a person's
  or a client's holdings; on cover pages, in offering documents and in 13D/13G schedules it
  describes the issuer and is not labelled.
- PERSON is neither detected nor labelled (see monitoring.pii).
- fin-261 onwards is a second batch written after the recognisers were tuned on the first.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitoring.pii import Detection, pii_detect

DATA_PATH = Path(__file__).resolve().parent / "pii_data" / "labelled_snippets.jsonl"
HELDOUT_EVERY = 5
MIN_OVERLAP = 0.5

Entity = tuple[str, int, int]  # (type, start, end) in the snippet's text
Detector = Callable[[str], Sequence[Detection]]


@dataclass(frozen=True)
class Snippet:
    id: str
    text: str
    entities: tuple[Entity, ...]


@dataclass(frozen=True)
class Scores:
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
        }


@dataclass(frozen=True)
class Evaluation:
    """How a detector did on some snippets: overall and per-type scores, and every error (a
    false positive with its score, or a missed entity) with the snippet id and the value."""

    snippets: int
    overall: Scores
    per_type: dict[str, Scores]
    errors: list[dict[str, object]]


def snippets_load(*, path: Path = DATA_PATH) -> list[Snippet]:
    """Read the labelled snippets, checking every entity's offsets fall inside its text.

    Raises ValueError naming the snippet when an entity's offsets do not.
    """
    snippets = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        entities = tuple((e["type"], e["start"], e["end"]) for e in row["entities"])
        for _, start, end in entities:
            if not 0 <= start < end <= len(row["text"]):
                raise ValueError(f"{row['id']}: entity offsets {start}-{end} outside the text")
        snippets.append(Snippet(id=row["id"], text=row["text"], entities=entities))
    return snippets


def snippets_split(*, snippets: Sequence[Snippet]) -> dict[str, list[Snippet]]:
    """Dev, held-out (every fifth snippet in file order) and all snippets."""
    heldout = [s for i, s in enumerate(snippets) if i % HELDOUT_EVERY == HELDOUT_EVERY - 1]
    held_ids = {s.id for s in heldout}
    return {
        "dev": [s for s in snippets if s.id not in held_ids],
        "heldout": heldout,
        "all": list(snippets),
    }


def _overlap(a_start: int, a_end: int, b_start: int, b_end: int) -> int:
    return max(0, min(a_end, b_end) - max(a_start, b_start))


def snippet_match(
    *, snippet: Snippet, detections: Sequence[Detection]
) -> tuple[list[Entity], list[Detection], list[Entity]]:
    """Pair labelled entities with detections: (matched, false positives, missed)."""
    unused = list(detections)
    matched: list[Entity] = []
    missed: list[Entity] = []
    for entity in snippet.entities:
        etype, start, end = entity
        best: tuple[int, Detection] | None = None
        for detection in unused:
            if detection.entity_type != etype:
                continue
            covered = _overlap(start, end, detection.start, detection.end)
            if covered >= MIN_OVERLAP * (end - start) and (best is None or covered > best[0]):
                best = (covered, detection)
        if best is None:
            missed.append(entity)
        else:
            matched.append(entity)
            unused.remove(best[1])
    return matched, unused, missed


def _detect(text: str) -> Sequence[Detection]:
    return pii_detect(text=text)


def snippets_evaluate(*, snippets: Iterable[Snippet], detect: Detector = _detect) -> Evaluation:
    """Score `detect` (the PII detector unless given another) on `snippets`."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    errors: list[dict[str, object]] = []
    seen = 0
    for snippet in snippets:
        seen += 1
        matched, false_pos, missed = snippet_match(snippet=snippet, detections=detect(snippet.text))
        for etype, _, _ in matched:
            counts[etype][0] += 1
        for detection in false_pos:
            counts[detection.entity_type][1] += 1
            errors.append(
                {
                    "id": snippet.id,
                    "kind": "false_positive",
                    "type": detection.entity_type,
                    "value": snippet.text[detection.start : detection.end],
                    "score": round(detection.score, 3),
                }
            )
        for etype, start, end in missed:
            counts[etype][2] += 1
            errors.append(
                {
                    "id": snippet.id,
                    "kind": "missed",
                    "type": etype,
                    "value": snippet.text[start:end],
                }
            )
    per_type = {t: Scores(*c) for t, c in sorted(counts.items())}
    overall = Scores(
        tp=sum(s.tp for s in per_type.values()),
        fp=sum(s.fp for s in per_type.values()),
        fn=sum(s.fn for s in per_type.values()),
    )
    return Evaluation(snippets=seen, overall=overall, per_type=per_type, errors=errors)
