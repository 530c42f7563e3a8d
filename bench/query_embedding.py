"""What one question's vector costs: torch (sentence-transformers) and ONNX Runtime side by side.

Run: python -m bench.query_embedding [--rounds N]. Embeds the FinanceBench development split's 37
questions (real analyst wording, some with long instructions) one at a time, as the web workers
do, through both query runtimes of retrieval.embeddings in alternating rounds. Reports CPU ms per
question (this process's CPU time on one thread, so other load on the machine matters little) and
how far the two vectors are apart (lowest cosine, largest component difference). The cache of
question vectors is cleared before every round, so nothing is reused.
Writes bench/results/query_embedding.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

RESULT_PATH = Path(__file__).resolve().parent / "results" / "query_embedding.json"
QUESTIONS = (
    Path(os.environ.get("FINRAG_FINANCEBENCH_DIR", "/work/shared/data/financebench-dev"))
    / "financebench_open_source.jsonl"
)


def _questions(limit: int) -> list[str]:
    if not QUESTIONS.exists():
        raise SystemExit(f"{QUESTIONS} is missing: the shared data sets sit beside the project")
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    return [str(row["question"]) for row in rows][:limit]


def _round(runtime: str, questions: list[str]) -> tuple[list[float], np.ndarray]:
    from retrieval import embeddings

    embedder = embeddings.MiniLMEmbedder(precision="fp32", query_runtime=runtime)
    embeddings._query_vector.cache_clear()
    costs: list[float] = []
    vectors = []
    for question in questions:
        started = time.process_time()
        vectors.append(embedder.embed_query(question))
        costs.append((time.process_time() - started) * 1000)
    return costs, np.asarray(vectors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULT_PATH)
    args = parser.parse_args()
    from retrieval import embeddings

    questions = _questions(args.questions)
    embeddings.MiniLMEmbedder(query_runtime="onnx").embed_query("warm-up")  # load and export
    embeddings.MiniLMEmbedder(query_runtime="torch").embed_query("warm-up")
    costs: dict[str, list[float]] = {"torch": [], "onnx": []}
    vectors: dict[str, np.ndarray] = {}
    load_before = os.getloadavg()
    for _ in range(args.rounds):
        for runtime in ("torch", "onnx"):
            spent, vectors[runtime] = _round(runtime, questions)
            costs[runtime] += spent
    cosine = (vectors["torch"] * vectors["onnx"]).sum(axis=1)
    result: dict[str, Any] = {
        "questions": len(questions),
        "rounds": args.rounds,
        "cpu_ms_per_question": {
            runtime: {
                "mean": round(float(np.mean(values)), 2),
                "p50": round(float(np.percentile(values, 50)), 2),
                "p95": round(float(np.percentile(values, 95)), 2),
            }
            for runtime, values in costs.items()
        },
        "cosine_min": round(float(cosine.min()), 7),
        "max_abs_difference": float(np.abs(vectors["torch"] - vectors["onnx"]).max()),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    args.output.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
