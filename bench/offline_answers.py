"""How often the offline provider's answer contains the gold figure, before and after a change.

    python -m bench.offline_answers [--sets financebench,tenq] [--k 6] [--before main]

Reads the scratch database that `python -m bench.retrieval --keep` leaves (`finrag_bench_retrieval`,
READ-ONLY: the session is read-only, nothing is ingested or migrated). Each question of the
FinanceBench dev set and of the docugami 10-Q set is searched with the product's chunk_search
(top k, as AGENT_TOP_K) and answered by two offline providers on the same passages, both offered
the calculator and run for both rounds as a turn runs them: this tree's, and the one at git ref
--before (default `main`), loaded from git into a throw-away package.

A question counts when its gold answer states a figure (an amount, a percentage, a per-share
value; years are not figures). Reported per set: the share of those questions whose offline answer
contains the gold answer's first figure, and any of its figures, "contains" meaning the same
number within the rounding either side shows, allowing for scale words ("$274.5 billion" is
"274,515" in millions): agents.verification's figure reading. Also the share of answers that
start with the plain "do not say" (an honest miss) and the wall time, next to the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("FINRAG_SHARED_DATA", str(ROOT.parent / "shared" / "data")))
FINANCEBENCH = DATA / "financebench-dev" / "financebench_open_source.jsonl"
TENQ = DATA / "filings" / "docugami-sec-10q" / "qna_data.csv"
RESULTS = ROOT / "bench" / "results" / "offline_answers.json"
SCRATCH = "finrag_bench_retrieval"
TENANTS = {"financebench": "financebench", "tenq": "bench"}  # as bench.retrieval creates them
BEFORE_PACKAGE = "_offline_before"


@dataclass(frozen=True)
class Question:
    text: str
    gold: str


def financebench_questions() -> list[Question]:
    with FINANCEBENCH.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return [Question(r["question"].strip(), r["answer"]) for r in rows]


def tenq_questions() -> list[Question]:
    with TENQ.open(encoding="utf-8-sig", newline="") as fh:
        return [Question(r["Question"].strip(), r["Answer"]) for r in csv.DictReader(fh)]


def offline_modules(commit: str) -> list[str]:
    """The offline provider's modules at `commit` (agents/providers/offline*.py), by name."""
    listed = subprocess.run(
        ["git", "ls-tree", "--name-only", commit, "agents/providers/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [Path(path).stem for path in listed if Path(path).name.startswith("offline")]


def load_before(ref: str) -> tuple[type, str]:
    """The OfflineProvider class at git `ref` (all its offline modules, however they were split
    then), and the commit it resolved to."""
    commit = subprocess.run(
        ["git", "rev-parse", ref], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    folder = Path(tempfile.mkdtemp(prefix="offline-before-"))
    package = folder / BEFORE_PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    modules = offline_modules(commit)
    for name in modules:
        source = subprocess.run(
            ["git", "show", f"{commit}:agents/providers/{name}.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for other in modules:
            source = source.replace(f"agents.providers.{other}", f"{BEFORE_PACKAGE}.{other}")
        (package / f"{name}.py").write_text(source)
    sys.path.insert(0, str(folder))
    module = importlib.import_module(f"{BEFORE_PACKAGE}.offline")
    return module.OfflineProvider, commit[:10]


async def offline_answer(provider: Any, question: str, passages: tuple[Any, ...]) -> str:
    """Both rounds, as a turn runs them: the calculator call if the provider makes one, the
    real calculator, then the answer."""
    from agents.contracts import ChatMessage, ModelRequest, ToolExchange, ToolRound
    from agents.tools import tool_call, tool_definitions

    def request(rounds: tuple[Any, ...] = ()) -> ModelRequest:
        return ModelRequest(
            system="",
            messages=(ChatMessage("user", question),),
            question=question,
            passages=passages,
            tools=tool_definitions(),
            tool_rounds=rounds,
            tool_choice="auto",
        )

    first = request()
    use = provider.tool_call_wanted(first)
    if use is None:
        return str(provider.answer(first))
    result = tool_call(use.name, use.arguments)
    exchange = ToolExchange(use.call_id, use.name, use.arguments, result.output, not result.ok)
    return str(provider.answer(request((ToolRound("", (exchange,)),))))


def gold_figures(gold: str) -> list[Any]:
    from agents.verification import answer_figures

    # "$1832.00" is a figure; "FY2022" and "10-Q" are not.
    return answer_figures(gold)


def contains(answer: str, figure: Any) -> bool:
    from agents.verification import figures_match, numbers_in

    return any(figures_match(figure, number) for number in numbers_in(answer))


@dataclass
class Tally:
    counted: int = 0
    first: int = 0
    any: int = 0
    not_said: int = 0
    seconds: float = 0.0

    def row(self) -> dict[str, Any]:
        n = self.counted or 1
        return {
            "questions_with_a_gold_figure": self.counted,
            "first_gold_figure": round(self.first / n, 3),
            "any_gold_figure": round(self.any / n, 3),
            "says_not_said": round(self.not_said / n, 3),
            "seconds": round(self.seconds, 1),
        }


def evaluate(
    name: str, questions: Sequence[Question], providers: dict[str, Any], k: int
) -> tuple[dict[str, Tally], list[dict[str, Any]]]:
    from accounts.models import Tenant
    from agents.contracts import ContextPassage
    from retrieval.selectors import chunk_search

    tenant = Tenant.objects.get(slug=TENANTS[name])
    tallies = {label: Tally() for label in providers}
    rows = []
    for question in questions:
        figures = gold_figures(question.gold)
        if not figures:
            continue
        hits = chunk_search(tenant=tenant, query=question.text, k=k).hits
        passages = tuple(
            ContextPassage(n, h.text, h.document_title, h.page, h.source, h.chunk_id, h.document_id)
            for n, h in enumerate(hits, start=1)
        )
        row: dict[str, Any] = {"question": question.text, "gold": question.gold[:200]}
        for label, provider in providers.items():
            started = time.perf_counter()
            answer = asyncio.run(offline_answer(provider, question.text, passages))
            tally = tallies[label]
            tally.seconds += time.perf_counter() - started
            tally.counted += 1
            first = contains(answer, figures[0])
            tally.first += first
            tally.any += any(contains(answer, f) for f in figures)
            tally.not_said += answer.startswith(NOT_SAID_PREFIXES)
            row[label] = {"answer": answer, "first": first}
        rows.append(row)
    return tallies, rows


NOT_SAID_PREFIXES = ("The filings in this workspace do not say", "The retrieved passages do not")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sets", default="financebench,tenq")
    parser.add_argument("--k", type=int, default=6, help="passages per question (AGENT_TOP_K)")
    parser.add_argument("--before", default="main", help="git ref of the 'before' provider")
    parser.add_argument("--show", type=int, default=0, help="print N answers per set")
    args = parser.parse_args(argv)
    if not FINANCEBENCH.exists() or not TENQ.exists():
        print(f"Skipping: the shared data sets are not at {DATA}.")
        return 0
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from django.conf import settings

    database = settings.DATABASES["default"]
    database["NAME"] = SCRATCH
    options = database.setdefault("OPTIONS", {})
    # Read-only: the scratch database is shared with other benchmarks.
    options["options"] = (
        options.get("options", "") + " -c default_transaction_read_only=on"
    ).strip()
    import django

    django.setup()
    from agents.providers.offline import OfflineProvider

    before, commit = load_before(args.before)
    providers = {
        f"before ({args.before} {commit})": before(),
        "after (this tree)": OfflineProvider(),
    }
    load = os.getloadavg()
    loaders = {"financebench": financebench_questions, "tenq": tenq_questions}
    report: dict[str, Any] = {"k": args.k, "before": commit, "load_average_start": load}
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2 cores)")
    print(
        "| set | provider | questions with a gold figure | first gold figure | any gold figure "
        "| says 'do not say' | seconds |"
    )
    print("|---|---|---|---|---|---|---|")
    for name in [s for s in args.sets.split(",") if s]:
        tallies, rows = evaluate(name, loaders[name](), providers, args.k)
        # Only the tallies are kept: the questions, gold answers and filing text are shared data,
        # never copied into the repository (--show prints answers to the terminal instead).
        report[name] = {label: tally.row() for label, tally in tallies.items()}
        for label, tally in tallies.items():
            r = tally.row()
            print(
                f"| {name} | {label} | {r['questions_with_a_gold_figure']} "
                f"| {r['first_gold_figure']:.1%} | {r['any_gold_figure']:.1%} "
                f"| {r['says_not_said']:.1%} | {r['seconds']} |"
            )
        for row in rows[: args.show]:
            print(f"\nQ: {row['question'][:160]}\nGOLD: {row['gold'][:160]}")
            for label in providers:
                print(f"{label}: {row[label]['answer'][:400]}")
    report["load_average_end"] = os.getloadavg()
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in report['load_average_end'])}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
