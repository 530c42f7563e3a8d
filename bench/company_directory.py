"""Cost of reading the companies a question names, as the directory grows.

Run: python -m bench.company_directory [--code-root PATH]. Builds a directory of 200 companies plus
one company carrying 5,000 aliases (what one JSON filing's `names` could add before uploads were
capped) and times `retrieval.scoping.scope_from_question` over ten questions, median of 5 rounds.
`--code-root` imports retrieval.scoping from another checkout (the "before" figure). Pure Python,
no database. Writes bench/results/company_directory.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = (
    "What was total revenue in fiscal 2019?",
    "How did Apple's net sales change from 2018 to 2019?",
    "Compare Microsoft and NVIDIA operating income in FY2020.",
    "what were 3m's capital expenditures in 2018?",
    "Which risks did Company 17 Holdings list in its latest 10-K?",
    "Summarise the liquidity section of the most recent quarterly report.",
    "How much did Zeta412 Labs spend on research and development?",
    "Did Company 150 Holdings raise its dividend in Q3 2021?",
    "What is the gross margin trend for Apple Inc. over three years?",
    "List the segments of Microsoft Corporation and their revenue in fiscal 2020.",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code-root", type=Path, default=REPO)
    parser.add_argument(
        "--output", type=Path, default=REPO / "bench/results/company_directory.json"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(args.code_root.resolve()))
    scoping = importlib.import_module("retrieval.scoping")
    entry = scoping.CompanyEntry
    directory = [
        entry(id=1, name="Apple Inc.", ticker="AAPL"),
        entry(id=2, name="Microsoft Corporation", ticker="MSFT"),
        entry(id=3, name="NVIDIA Corporation", ticker="NVDA"),
        entry(id=4, name="3M Company", ticker="MMM", aliases=("3M",)),
        *(entry(id=10 + n, name=f"Company {n} Holdings", ticker=f"C{n:03d}") for n in range(200)),
        entry(id=999, name="Zeta Labs Inc.", aliases=tuple(f"Zeta{n} Labs" for n in range(5000))),
    ]
    rounds = []
    for _ in range(5):
        started = time.perf_counter()
        for question in QUESTIONS:
            scoping.scope_from_question(question, directory)
        rounds.append((time.perf_counter() - started) * 1000 / len(QUESTIONS))
    report = {
        "code_root": str(args.code_root),
        "companies": len(directory),
        "aliases": sum(len(c.aliases) for c in directory),
        "ms_per_question_median": round(statistics.median(rounds), 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
