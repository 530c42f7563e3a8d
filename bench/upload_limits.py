"""Memory of the web process while an oversized upload is refused.

Run: nice -n 5 python -m bench.upload_limits [--size-mb 1024] [--server daphne|gunicorn]
[--server-root PATH] [--output F]. Starts daphne as the browser tests do, or the production server
command (gunicorn with one uvicorn worker), on 127.0.0.1 with config.settings.local from
--server-root (default: this checkout; point it at a checkout of an older commit for the "before"
figure), samples the resident memory (VmRSS) of the server and its worker processes every
10 ms, and streams one multipart upload of --size-mb MiB to POST /api/v1/documents twice: once with
Content-Length (as browsers and curl send files) and once chunked (no length). The client streams
in 1 MiB blocks and stops when the server has answered or everything is sent. Reports idle RSS,
peak RSS, the peak above idle, the status, the bytes the client got to send and the time to the
answer. Traffic goes to 127.0.0.1 only; each upload stops by itself after the body or 120 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULT_PATH = REPO / "bench" / "results" / "upload_limits.json"
MIB = 1024 * 1024
BOUNDARY = b"finragbench0boundary"
UPLOAD_DEADLINE_SECONDS = 120.0


@dataclass
class Outcome:
    mode: str
    size_mib: int
    status: int | None
    error_code: str
    sent_mib: float
    seconds_to_answer: float
    idle_rss_mib: float
    peak_rss_mib: float
    above_idle_mib: float


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _descendants(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            children.extend(int(c) for c in task.read_text().split())
    return [pid] + [d for c in children for d in _descendants(c)]


def _tree_rss_mib(pid: int) -> float:
    """Resident memory of the server and its worker processes (gunicorn forks its workers)."""
    total = 0.0
    for member in _descendants(pid):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += _rss_mib(member)
    return total


class RssSampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = 0.0
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                self.peak = max(self.peak, _tree_rss_mib(self.pid))
            except (FileNotFoundError, ProcessLookupError):
                return
            time.sleep(0.01)


def _start_server(root: Path, port: int, log: Path, kind: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local", "WEB_CONCURRENCY": "1"}
    env.pop("REQUEST_BODY_MAX_BYTES", None)  # the default, as `make demo` runs it
    if kind == "gunicorn":  # the production server command, one worker
        command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py"]
        command += ["--bind", f"127.0.0.1:{port}"]
    else:
        command = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "config.asgi:application"],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{kind} exited; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return process
        except OSError:
            time.sleep(0.25)
    process.kill()
    raise RuntimeError(f"{kind} did not start; see {log}")


def _warm_up(port: int) -> None:
    """One small unauthenticated upload, so Django's request path is loaded before idle RSS."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/documents", data=b"x", method="POST"
    )
    with contextlib.suppress(urllib.error.HTTPError):
        urllib.request.urlopen(request, timeout=30)  # noqa: S310 - loopback


def _idle_rss(pid: int) -> float:
    samples = []
    for _ in range(20):
        samples.append(_tree_rss_mib(pid))
        time.sleep(0.05)
    return statistics.median(samples)


def _upload(port: int, size_mib: int, *, chunked: bool) -> tuple[int | None, str, int, float]:
    head_part = (
        b"--" + BOUNDARY + b"\r\n"
        b'Content-Disposition: form-data; name="files"; filename="big.pdf"\r\n'
        b"Content-Type: application/pdf\r\n\r\n"
    )
    tail_part = b"\r\n--" + BOUNDARY + b"--\r\n"
    block = b"%PDF" + b"0" * (MIB - 4)
    total = len(head_part) + size_mib * MIB + len(tail_part)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    head = (
        f"POST /api/v1/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY.decode()}\r\n{framing}\r\n\r\n"
    ).encode()

    def frame(data: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(data), data) if chunked else data

    started = time.monotonic()
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head)
        pieces = [head_part, *([block] * size_mib), tail_part]
        for piece in pieces:
            if select.select([sock], [], [], 0)[0]:
                break
            if time.monotonic() - started > UPLOAD_DEADLINE_SECONDS:
                break
            try:
                sock.sendall(frame(piece))
            except OSError:
                break
            sent += len(piece)
        else:
            if chunked:
                with contextlib.suppress(OSError):
                    sock.sendall(b"0\r\n\r\n")
        sock.settimeout(60)
        try:
            while not answer.endswith(b"}") and len(answer) < 65536:
                piece = sock.recv(65536)
                if not piece:
                    break
                answer += piece
        except OSError:
            pass
    elapsed = time.monotonic() - started
    head_bytes, _, body = answer.partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ", 2)[1]) if head_bytes.startswith(b"HTTP/") else None
    try:
        code = json.loads(body)["error"]["code"]
    except (ValueError, KeyError, TypeError):
        code = ""
    return status, code, sent, elapsed


def run(root: Path, size_mib: int, kind: str = "daphne") -> list[Outcome]:
    port = _free_port()
    log = REPO / "logs" / f"bench-upload-limits-{port}.log"
    log.parent.mkdir(exist_ok=True)
    server = _start_server(root, port, log, kind)
    outcomes = []
    try:
        _warm_up(port)
        for mode in ("content-length", "chunked"):
            time.sleep(1.0)
            idle = _idle_rss(server.pid)
            sampler = RssSampler(server.pid)
            sampler.peak = idle
            sampler.start()
            status, code, sent, elapsed = _upload(port, size_mib, chunked=mode == "chunked")
            time.sleep(2.0)  # whatever the server still does after answering counts too
            sampler.running = False
            sampler.join()
            outcomes.append(
                Outcome(
                    mode=mode,
                    size_mib=size_mib,
                    status=status,
                    error_code=code,
                    sent_mib=round(sent / MIB, 1),
                    seconds_to_answer=round(elapsed, 2),
                    idle_rss_mib=round(idle, 1),
                    peak_rss_mib=round(sampler.peak, 1),
                    above_idle_mib=round(sampler.peak - idle, 1),
                )
            )
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--server-root", type=Path, default=REPO)
    parser.add_argument("--server", choices=("daphne", "gunicorn"), default="daphne")
    parser.add_argument("--output", type=Path, default=RESULT_PATH)
    args = parser.parse_args()
    outcomes = run(args.server_root.resolve(), args.size_mb, args.server)
    load = os.getloadavg()
    report = {
        "server_root": str(args.server_root),
        "server": args.server,
        "load_average": [round(x, 2) for x in load],
        "outcomes": [asdict(o) for o in outcomes],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("mode            size MiB  status  code               sent MiB  s      idle  peak  +MiB")
    for o in outcomes:
        print(
            f"{o.mode:15} {o.size_mib:8} {o.status!s:7} {o.error_code:18} {o.sent_mib:8} "
            f"{o.seconds_to_answer:6} {o.idle_rss_mib:5.0f} {o.peak_rss_mib:5.0f} "
            f"{o.above_idle_mib:5.0f}"
        )


if __name__ == "__main__":
    main()
