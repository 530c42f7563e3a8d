"""Measure PII detection precision, recall and F1 on the labelled financial snippets.

Run: `python -m bench.pii_eval [--show-errors dev|heldout|all]`. Writes
bench/results/pii_eval.json and prints a table per split: `dev` (tuned against), `heldout`
(every fifth snippet, kept out of tuning) and `all`, with the mean detection time per snippet.

When the shared 10-K extracts are present (`$LAB_DATA/filings/neo4j-form10k`, read in place,
never copied), it also scans their text: real filings hold almost no personal data, so what it
finds there is mostly false positives, apart from the companies' own contact numbers and
addresses, which masking treats as PII on purpose.

The snippets, how they are labelled, the splits and the matching rule live in
monitoring.pii_eval, which the tests share.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from monitoring.pii import Detection, pii_detect
from monitoring.pii_eval import (
    DATA_PATH,
    HELDOUT_EVERY,
    MIN_OVERLAP,
    Snippet,
    snippets_evaluate,
    snippets_load,
    snippets_split,
)

RESULTS_PATH = Path(__file__).resolve().parent / "results" / "pii_eval.json"
FILINGS_DIR = Path(os.environ.get("LAB_DATA", "/work/shared/data")) / "filings" / "neo4j-form10k"
FILING_SECTIONS = ("item1", "item1a", "item7", "item7a")


def evaluate(*, snippets: Iterable[Snippet]) -> dict[str, object]:
    """Score the detector on `snippets` (overall, per type, every error) and time each call."""
    timings: list[float] = []

    def timed_detect(text: str) -> Sequence[Detection]:
        started = time.perf_counter()
        detections = pii_detect(text=text)
        timings.append(time.perf_counter() - started)
        return detections

    result = snippets_evaluate(snippets=snippets, detect=timed_detect)
    return {
        "snippets": result.snippets,
        "overall": result.overall.as_dict(),
        "per_type": {t: s.as_dict() for t, s in result.per_type.items()},
        "mean_ms_per_snippet": round(1000 * statistics.fmean(timings), 3) if timings else 0.0,
        "errors": result.errors,
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
