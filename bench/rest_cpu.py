"""CPU per answered question through REST, two source trees side by side in one run (issue 14).

Each tree (e.g. today's main and this branch) serves the same database, Redis and fake provider
in turn with the production server (gunicorn + one uvicorn worker, production settings); the
rounds alternate (A, B, A, B, ...) so both see the same machine load. A round asks `--questions`
unique questions (no answer-cache hit) over the REST JSON endpoint from `--concurrency` client
threads and records the server's CPU seconds (master and worker), the backing services' CPU
(Postgres, Redis), the client-side latency and the load average.

    python -m bench.rest_cpu --tree main=/work/main --tree branch=. [--rounds 2]
    python -m bench.rest_cpu --tree branch=. --profile 40   # py-spy the worker for 40 s

The provider is bench/load's fake Anthropic server answering at once (first token 0 s, 2000
tokens/s), reached by the real SDK: what is measured is our code, not a model. With --profile the
worker is sampled by py-spy (`--nonblocking`) during an extra, untimed round, and the functions
with the largest share of samples are printed and saved (self and inclusive).
Results: bench/results/rest_cpu.json (or --output).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import secrets
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.load import run as load

RESULT_PATH = Path(__file__).resolve().parent / "results" / "rest_cpu.json"
SERVER_PORT = 8786
# Ports of its own, so another helper's load test on this machine does not collide.
load.REDIS_PORT = 6396
load.FAKE_PORT = 8796


def _post(url: str, key: str, body: dict[str, Any], timeout: float = 120) -> Any:
    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())


def _question(n: int) -> str:
    company = ("Apple", "3M", "Microsoft")[n % 3]
    metric = ("net sales", "operating income", "capital expenditures", "net income")[n % 4]
    return f"What were {company}'s {metric} in fiscal {2018 + n % 3}? Case {secrets.token_hex(4)}"


def _ask_many(url: str, keys: list[str], count: int, concurrency: int) -> list[dict[str, Any]]:
    """`count` unique questions from `concurrency` threads, each with its own key and
    conversation; one sample per question (latency, ok)."""
    samples: list[dict[str, Any]] = []
    lock = threading.Lock()
    numbers = iter(range(count))

    def worker(index: int) -> None:
        key = keys[index % len(keys)]
        conversation = _post(f"{url}/api/v1/conversations", key, {})["id"]
        while True:
            with lock:
                n = next(numbers, None)
            if n is None:
                return
            started = time.monotonic()
            try:
                _post(
                    f"{url}/api/v1/conversations/{conversation}/messages",
                    key,
                    {"question": _question(n)},
                )
                sample = {"ok": True, "seconds": time.monotonic() - started}
            except Exception as exc:
                sample = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:200]}
            with lock:
                samples.append(sample)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples


def _backing_cpu(services: load.Services) -> float:
    """CPU seconds of Redis and the embedded Postgres so far. Postgres runs a backend process
    per connection and connections close after each request (CONN_MAX_AGE 0), so the backends
    that exited count through the postmaster's reaped-children times."""
    import psutil

    total = load.cpu_seconds(services.pid_of("redis"))
    for process in psutil.process_iter(["name", "ppid"]):
        with contextlib.suppress(psutil.Error):
            if process.info["name"] != "postgres":
                continue
            parent = psutil.Process(process.info["ppid"])
            if parent.name() == "postgres":
                continue  # a backend: counted below with its postmaster
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
            for child in process.children():
                with contextlib.suppress(psutil.Error):
                    child_times = child.cpu_times()
                    total += child_times.user + child_times.system
    return total


class _Server:
    """gunicorn with one worker, run from `tree` (its own code, the shared venv)."""

    def __init__(self, tree: Path, env: dict[str, str]) -> None:
        self.tree = tree
        self.env = {**env, "WEB_CONCURRENCY": "1"}
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> _Server:
        command = [
            str(load.BIN / "gunicorn"),
            "-c",
            "config/gunicorn.py",
            "--bind",
            f"127.0.0.1:{SERVER_PORT}",
            "config.asgi:application",
        ]
        load.LOGS.mkdir(parents=True, exist_ok=True)
        out = (load.LOGS / f"rest_cpu_{self.tree.name}.log").open("ab")
        self.process = subprocess.Popen(
            command,
            cwd=self.tree,
            env={**self.env, "PYTHONPATH": str(self.tree)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        load.wait_until(
            lambda: load.http_ok(f"http://127.0.0.1:{SERVER_PORT}/health"), 120, "the server"
        )
        return self

    @property
    def worker_pid(self) -> int:
        assert self.process is not None
        return load.children(self.process.pid)[0]

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait(5)


def _round(
    name: str, tree: Path, env: dict[str, str], services: load.Services, args: argparse.Namespace
) -> dict[str, Any]:
    url = f"http://127.0.0.1:{SERVER_PORT}"
    keys = json.loads((load.DATA / "keys.json").read_text())["keys"]
    with _Server(tree, env) as server:
        _ask_many(url, keys, args.warmup, min(args.concurrency, args.warmup))
        assert server.process is not None
        load_before = os.getloadavg()
        cpu_before = load.cpu_seconds(server.process.pid)
        backing_before = _backing_cpu(services)
        machine_before = _machine_cpu()
        started = time.monotonic()
        samples = _ask_many(url, keys, args.questions, args.concurrency)
        wall = time.monotonic() - started
        server_cpu = load.cpu_seconds(server.process.pid) - cpu_before
        backing_cpu = _backing_cpu(services) - backing_before
        machine_cpu = _machine_cpu() - machine_before
        load_after = os.getloadavg()
    ok = [s["seconds"] for s in samples if s["ok"]]
    answered = len(ok) or 1
    result = {
        "tree": name,
        "answered": len(ok),
        "failed": len(samples) - len(ok),
        "errors": sorted({s["error"] for s in samples if not s["ok"]})[:3],
        "wall_s": round(wall, 2),
        "answers_per_s": round(len(ok) / wall, 2),
        "server_cpu_ms_per_answer": round(1000 * server_cpu / answered, 1),
        "backing_cpu_ms_per_answer": round(1000 * backing_cpu / answered, 1),
        "machine_cpu_ms_per_answer": round(1000 * machine_cpu / answered, 1),
        "latency_p50_ms": round(1000 * (load.percentile(ok, 50) or 0), 1),
        "latency_p95_ms": round(1000 * (load.percentile(ok, 95) or 0), 1),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
    }
    load.log(json.dumps(result))
    return result


def _machine_cpu() -> float:
    """CPU seconds the whole machine spent busy so far (every helper's work included)."""
    import psutil

    times = psutil.cpu_times()
    return times.user + times.nice + times.system + times.irq + times.softirq + times.steal


def _profile(
    name: str, tree: Path, env: dict[str, str], args: argparse.Namespace
) -> dict[str, Any]:
    """Sample the worker with py-spy while questions run; the top functions by share."""
    url = f"http://127.0.0.1:{SERVER_PORT}"
    keys = json.loads((load.DATA / "keys.json").read_text())["keys"]
    raw = load.LOGS / f"rest_cpu_profile_{name}.txt"
    with _Server(tree, env) as server:
        _ask_many(url, keys, args.warmup, min(args.concurrency, args.warmup))
        spy = subprocess.Popen(
            [
                *(str(load.BIN / "py-spy"), "record", "--pid", str(server.worker_pid)),
                *("--duration", str(args.profile), "--rate", "200", "--nonblocking"),
                *("--format", "raw", "--output", str(raw)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stop = threading.Event()

        def traffic() -> None:
            while not stop.is_set():
                _ask_many(url, keys, args.concurrency * 2, args.concurrency)

        runner = threading.Thread(target=traffic)
        runner.start()
        spy.wait()
        stop.set()
        runner.join()
    return _profile_summary(raw, top=args.top)


# Innermost frames of a thread that waits (the event loop's poll, a database or Redis reply, a
# lock): py-spy samples them as running.
_IDLE = (
    "Runner.run (asyncio", "Connection.wait (psycopg", "_read_from_socket (redis",
    "_read_response (redis", "_wait_for_tstate_lock", "wait (threading", "select (selectors",
)  # fmt: skip
_OURS = ("agents/", "retrieval/", "billing/", "monitoring/", "accounts/", "config/", "fintext/")
_LIBRARIES = ("torch/", "tiktoken/", "presidio_analyzer/", "psycopg/", "django/db/")


def _profile_summary(raw: Path, *, top: int) -> dict[str, Any]:
    """Shares of busy samples: the innermost frames (self) and the frames of our code and of the
    heavy libraries a sample passes through (inclusive)."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        frames = [_short(frame) for frame in stack.split(";")]
        count = int(count_text)
        if any(mark in frames[-1] for mark in _IDLE):
            idle += count
            continue
        total += count
        own[frames[-1]] += count
        for frame in dict.fromkeys(frames):
            if any(f"({part}" in frame for part in (*_OURS, *_LIBRARIES)):
                inclusive[frame] += count

    def share(count: int) -> float:
        return round(100 * count / total, 1) if total else 0.0

    return {
        "busy_samples": total,
        "idle_samples": idle,
        "self_pct": [(f, share(c)) for f, c in own.most_common(top)],
        "inclusive_pct": [(f, share(c)) for f, c in inclusive.most_common(top * 2)],
    }


def _short(frame: str) -> str:
    """ "function (/abs/path/site-packages/pkg/mod.py:12)" -> "function (pkg/mod.py:12)"."""
    for marker in ("/site-packages/", "/work/main/", "/work/wt-lean/", "/python3.11/"):
        if marker in frame:
            head, _, tail = frame.partition(marker)
            return f"{head.rsplit('(', 1)[0]}({tail}"
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", required=True, help="name=path")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--questions", type=int, default=80)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--profile", type=int, default=0, help="seconds of py-spy per tree")
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--output", type=Path, default=RESULT_PATH)
    args = parser.parse_args()
    trees = [(n, Path(p).resolve()) for n, p in (t.split("=", 1) for t in args.tree)]

    namespace = argparse.Namespace(workers=1, drain=5)
    services = load.Services()
    results: dict[str, Any] = {"rounds": [], "profiles": {}}
    try:
        env = load.base_env(namespace)
        load.start_backing_services(services, env)
        services.processes[-1][1].terminate()  # the fake provider: restarted instant below
        services.processes.pop()
        services.start(
            "fake_provider",
            [
                *(str(load.BIN / "python"), "-m", "bench.load.fake_provider"),
                *("--port", str(load.FAKE_PORT), "--first-token", "0", "0"),
                *("--tokens-per-second", "2000"),
            ],
            env,
        )
        load.wait_until(lambda: load.port_answers(load.FAKE_PORT), 10, "the fake provider")
        load.prepare_database(env, users=max(args.concurrency, 8))
        for _ in range(args.rounds):
            for name, tree in trees:
                results["rounds"].append(_round(name, tree, env, services, args))
        if args.profile:
            for name, tree in trees:
                results["profiles"][name] = _profile(name, tree, env, args)
    finally:
        services.stop_all()
    results["summary"] = {
        name: {
            key: round(
                sum(r[key] for r in results["rounds"] if r["tree"] == name)
                / max(1, sum(1 for r in results["rounds"] if r["tree"] == name)),
                1,
            )
            for key in (
                "server_cpu_ms_per_answer",
                "backing_cpu_ms_per_answer",
                "machine_cpu_ms_per_answer",
                "answers_per_s",
                "latency_p50_ms",
                "latency_p95_ms",
            )
        }
        for name, _ in trees
    }
    results["cpu_count"] = os.cpu_count()
    results["note"] = (
        "machine_cpu includes every other helper's work on the shared machine; compare the "
        "server_cpu of rounds that alternate"
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({"summary": results["summary"], "profiles": results["profiles"]}, indent=2))


if __name__ == "__main__":
    main()
