"""The agents benchmarks' fake LLM server: first-token timing, in a thread or a child process.

Run as `python -m bench._agents_fake --text TEXT [--delay S]` it serves that answer to every
request, prints `{"port": N}` on one line and stops when its standard input closes; the in-process
benchmarks use it that way so the fake's own CPU work never competes with the code measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.fakes.llm_server import Api, Behaviour, FakeLLMServer, RecordedRequest, ok, slow

REPO_ROOT = Path(__file__).resolve().parent.parent


class _FirstTokenWriter:
    """A StreamWriter stand-in that notes when the first answer word is written."""

    def __init__(
        self, writer: asyncio.StreamWriter, record: RecordedRequest, marks: dict[int, float]
    ):
        self._writer = writer
        self._record = record
        self._marks = marks

    def write(self, data: bytes) -> None:
        # The fake counts a word just before writing its frame, so the first write after the
        # count reaches one carries the first token.
        if self._record.tokens_sent >= 1 and id(self._record) not in self._marks:
            self._marks[id(self._record)] = time.monotonic()
        self._writer.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)


class TimedFakeServer(FakeLLMServer):
    """FakeLLMServer that also records, per request, when its first token left the server."""

    def __init__(self, *, default: Behaviour | None = None):
        super().__init__(default=default)
        self._first_token_marks: dict[int, float] = {}

    def first_token_s(self, record: RecordedRequest) -> float | None:
        """Seconds from receiving the request to writing its first token (the fake's own TTFT)."""
        mark = self._first_token_marks.get(id(record))
        return None if mark is None else mark - record.received_at

    async def _answer(
        self,
        api: Api,
        behaviour: Behaviour,
        record: RecordedRequest,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        timed = _FirstTokenWriter(writer, record, self._first_token_marks)
        await super()._answer(api, behaviour, record, reader, timed)  # type: ignore[arg-type]


class FakeServerProcess:
    """The fake server in a child process, answering every request with one scripted text."""

    def __init__(self, *, text: str, delay: float = 0.0):
        self.text = text
        self.delay = delay
        self.port = 0
        self._process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FakeServerProcess:
        command = [sys.executable, "-m", "bench._agents_fake", "--text", self.text]
        command += ["--delay", str(self.delay)]
        self._process = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            self.__exit__()
            raise RuntimeError("the fake LLM server process did not start")
        self.port = int(json.loads(line)["port"])
        return self

    def __exit__(self, *exc_info: object) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--text", required=True)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each word")
    args = parser.parse_args(argv)
    behaviour = slow(args.text, delay=args.delay) if args.delay else ok(args.text)
    with FakeLLMServer(default=behaviour) as server:
        print(json.dumps({"port": server.port}), flush=True)
        sys.stdin.read()  # until the parent closes our stdin


if __name__ == "__main__":
    main()
