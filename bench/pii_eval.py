"""Measure PII detection precision, recall and F1 on the labelled financial snippets.

Run: `python -m bench.pii_eval [--show-errors dev|heldout|all]`. Writes
bench/results/pii_eval.json and prints a table per split: `dev` (tuned against), `heldout`
(every fifth snippet, kept out of tuning) and `all`.

When the shared 10-K extracts are present (`$LAB_DATA/filings/neo4j-form10k`, read in place,
never copied), it also scans their text: real filings hold almost no personal data, so what it
finds there is mostly false positives, apart from the companies' own contact numbers and
addresses, which masking treats as PII on purpose.

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

import argparse
import json
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from monitoring.pii import Detection, pii_detect

DATA_PATH = (
    Path(__file__).resolve().parent.parent / "monitoring" / "pii_data" / "labelled_snippets.jsonl"
)
RESULTS_PATH = Path(__file__).resolve().parent / "results" / "pii_eval.json"
FILINGS_DIR = Path(os.environ.get("LAB_DATA", "/work/shared/data")) / "filings" / "neo4j-form10k"
FILING_SECTIONS = ("item1", "item1a", "item7", "item7a")
HELDOUT_EVERY = 5
MIN_OVERLAP = 0.5


@dataclass(frozen=True)
class Snippet:
    id: str
    text: str
    entities: tuple[tuple[str, int, int], ...]


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


def snippets_load(*, path: Path = DATA_PATH) -> list[Snippet]:
    """Read the labelled snippets, checking every entity's offsets fall inside its text."""
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
) -> tuple[list[tuple[str, int, int]], list[Detection], list[tuple[str, int, int]]]:
    """Pair labelled entities with detections: (matched, false positives, missed)."""
    unused = list(detections)
    matched, missed = [], []
    for entity in snippet.entities:
        etype, start, end = entity
        best = None
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


def evaluate(*, snippets: Iterable[Snippet]) -> dict[str, object]:
    """Score the detector on `snippets`: overall and per-type counts, and every error."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    errors: list[dict[str, object]] = []
    timings: list[float] = []
    for snippet in snippets:
        started = time.perf_counter()
        detections = pii_detect(text=snippet.text)
        timings.append(time.perf_counter() - started)
        matched, false_pos, missed = snippet_match(snippet=snippet, detections=detections)
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
    return {
        "snippets": len(timings),
        "overall": overall.as_dict(),
        "per_type": {t: s.as_dict() for t, s in per_type.items()},
        "mean_ms_per_snippet": round(1000 * statistics.fmean(timings), 3) if timings else 0.0,
        "errors": errors,
    }


def filings_scan(*, directory: Path) -> tuple[dict[str, object], list[str]]:
    """Run the detector over real 10-K sections: counts per type, and each hit in context.

    The hits quote the shared filings, so they are printed on request and never written to the
    results file.
    """
    counts: dict[str, int] = defaultdict(int)
    hits: list[str] = []
    chars = 0
    started = time.perf_counter()
    for path in sorted(directory.glob("*.json")):
        filing = json.loads(path.read_text(encoding="utf-8"))
        for section in FILING_SECTIONS:
            text = filing.get(section) or ""
            chars += len(text)
            for detection in pii_detect(text=text):
                counts[detection.entity_type] += 1
                context = text[max(0, detection.start - 50) : detection.end + 20]
                hits.append(f"{path.name} {detection.entity_type}: {context!r}")
    seconds = time.perf_counter() - started
    summary = {
        "filings": len(list(directory.glob("*.json"))),
        "characters": chars,
        "detections": dict(sorted(counts.items())),
        "detections_per_million_chars": (
            round(1e6 * sum(counts.values()) / chars, 2) if chars else 0.0
        ),
        "chars_per_second": round(chars / seconds) if seconds else 0,
    }
    return summary, hits


def _table(name: str, result: dict[str, object]) -> str:
    rows = [f"{name} ({result['snippets']} snippets)"]
    rows.append(
        f"  {'entity type':<22}{'tp':>5}{'fp':>5}{'fn':>5}{'prec':>8}{'recall':>8}{'f1':>8}"
    )
    per_type = result["per_type"]
    assert isinstance(per_type, dict)
    for etype, s in [*per_type.items(), ("OVERALL", result["overall"])]:
        rows.append(
            f"  {etype:<22}{s['tp']:>5}{s['fp']:>5}{s['fn']:>5}"
            f"{s['precision']:>8.3f}{s['recall']:>8.3f}{s['f1']:>8.3f}"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA_PATH)
    parser.add_argument("--out", type=Path, default=RESULTS_PATH)
    parser.add_argument("--show-errors", choices=("dev", "heldout", "all"))
    parser.add_argument("--filings", type=Path, default=FILINGS_DIR)
    parser.add_argument("--show-filing-hits", action="store_true")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    pii_detect(text="warm-up")
    build_seconds = time.perf_counter() - started

    splits = snippets_split(snippets=snippets_load(path=args.data))
    results = {name: evaluate(snippets=items) for name, items in splits.items()}
    for name, result in results.items():
        print(_table(name, result))
        print(f"  mean {result['mean_ms_per_snippet']} ms per snippet\n")
    print(f"analyzer build (first call): {build_seconds:.2f} s")
    if args.show_errors:
        errors = results[args.show_errors]["errors"]
        assert isinstance(errors, list)
        for error in errors:
            print(error)

    filings = None
    if args.filings.is_dir():
        filings, hits = filings_scan(directory=args.filings)
        print(
            f"\n10-K scan: {filings['filings']} filings, {filings['characters']:,} chars, "
            f"detections {filings['detections']} "
            f"({filings['detections_per_million_chars']} per million chars, "
            f"{filings['chars_per_second']:,} chars/s)"
        )
        if args.show_filing_hits:
            print("\n".join(hits))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "data": str(args.data.name),
        "min_overlap": MIN_OVERLAP,
        "heldout": f"every {HELDOUT_EVERY}th snippet",
        "analyzer_build_seconds": round(build_seconds, 2),
        "splits": results,
        "filings_scan": filings,
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
