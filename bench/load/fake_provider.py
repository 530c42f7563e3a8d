"""The fake LLM server (tests/fakes/llm_server.py) as a process, with a real model's timing.

Every streamed answer waits 0.5-1.0 s for its first word, then sends about 40 words a second
(`--tokens-per-second`); the words are a short cited answer. The Anthropic and OpenAI wire
formats are both served, so the app's real SDKs run against it (ANTHROPIC_BASE_URL and
OPENAI_BASE_URL). SIGUSR1 makes the Anthropic API fail (529 overloaded) until SIGUSR2, for the
provider failover drill.

    python -m bench.load.fake_provider --port 8790
"""

from __future__ import annotations

import argparse
import random
import signal
import threading

from tests.fakes.llm_server import Api, Behaviour, FakeLLMServer, overloaded

ANSWER = (
    "Net sales grew in the year, driven by higher volumes and pricing [1]. Operating margin "
    "improved as costs rose more slowly than revenue, and cash from operations covered capital "
    "expenditures with room to spare [2]. Management points to demand in its largest segment "
    "and to the cost programme begun two years earlier; it also notes exposure to currency "
    "moves and to raw material prices, which it hedges in part [1]. The balance sheet carries "
    "modest debt, and the company returned cash through dividends and buybacks [2]."
)


class TimedFakeServer(FakeLLMServer):
    """Answers every request with ANSWER at a model's pace; Anthropic fails while `failing`."""

    def __init__(self, *, first_token: tuple[float, float], tokens_per_second: float):
        super().__init__()
        self.first_token = first_token
        self.delay = 1.0 / tokens_per_second
        self.failing = threading.Event()
        self.served = 0

    def _next_behaviour(self, api: Api) -> Behaviour:
        self.served += 1
        self.requests.clear()  # a long run would otherwise keep every request in memory
        if api == "anthropic" and self.failing.is_set():
            return overloaded()
        return Behaviour(
            "ok",
            text=ANSWER,
            delay_per_token=self.delay,
            first_token_delay=max(0.0, random.uniform(*self.first_token) - self.delay),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--first-token", type=float, nargs=2, default=(0.5, 1.0))
    parser.add_argument("--tokens-per-second", type=float, default=40.0)
    args = parser.parse_args()
    server = TimedFakeServer(
        first_token=tuple(args.first_token), tokens_per_second=args.tokens_per_second
    )
    signal.signal(signal.SIGUSR1, lambda *_: server.failing.set())
    signal.signal(signal.SIGUSR2, lambda *_: server.failing.clear())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.port = args.port
    server.start()
    print(f"fake LLM provider on {server.url}", flush=True)
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
