"""Browser harness: daphne and a Celery worker on the test database, Chromium via Playwright."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.db import connections

from tests.fakes.llm_server import FakeLLMServer
from tests.live_server import database_url as _database_url
from tests.live_server import free_port as _free_port
from tests.live_server import wait_until_up as _wait_until_up

BASE_DIR = Path(__file__).resolve().parents[2]
ARTIFACTS = BASE_DIR / "test-artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
WIDE = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
PASSWORD = "correct horse battery staple"


@dataclass
class LiveStack:
    url: str
    llm: FakeLLMServer
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)


@pytest.fixture(scope="session")
def live_stack(django_db_setup: Any) -> Iterator[LiveStack]:
    """daphne + a Celery worker on the test database, with the pro tier's providers pointing at
    a fake LLM server (the free tier answers offline)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make system-deps` (Debian package chromium).")
    logs = ARTIFACTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    llm = FakeLLMServer().start()
    port = _free_port()
    queue = f"browser-tests-{os.getpid()}-{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.browser.settings",
        "BROWSER_TEST_QUEUE": queue,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "ANTHROPIC_API_KEY": "sk-ant-browser-test",
        "ANTHROPIC_BASE_URL": llm.anthropic_base_url,
        "OPENAI_API_KEY": "sk-browser-test",
        "OPENAI_BASE_URL": llm.openai_base_url,
        # One attempt per provider, and breakers that never open, keep failover tests exact.
        "LLM_MAX_RETRIES": "0",
        "LLM_BREAKER_MIN_CALLS": "100000",
        "PYTHONUNBUFFERED": "1",
    }
    stack = LiveStack(url=f"http://127.0.0.1:{port}", llm=llm)
    commands = {
        "daphne": [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "config.asgi:application",
        ],
        "celery": [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "--loglevel=WARNING",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "-n",
            f"browser-tests-{port}@%h",
        ],
    }
    try:
        for name, command in commands.items():
            log = logs / f"{name}-{port}.log"
            with log.open("wb") as out:
                stack.processes.append(
                    subprocess.Popen(
                        command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
                    )
                )
        _wait_until_up(f"{stack.url}/health", stack.processes[0], logs / f"daphne-{port}.log")
        yield stack
    finally:
        for process in stack.processes:
            process.terminate()
        for process in stack.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        llm.stop()


@pytest.fixture(autouse=True)
def _fake_llm_reset(request: pytest.FixtureRequest) -> None:
    """Each test scripts the shared fake from a clean slate."""
    if "live_stack" not in request.fixturenames:
        return
    llm: FakeLLMServer = request.getfixturevalue("live_stack").llm
    with llm._lock:
        for queue in llm._queues.values():
            queue.clear()
        llm.requests.clear()


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Chromium for one test.

    Playwright's sync API runs an event loop in this thread, which makes Django refuse ORM
    calls as "async"; the test's own fixtures write through the ORM, so the check is lifted
    for this test only, and Playwright is stopped before the database is flushed.
    """
    from playwright.sync_api import expect, sync_playwright

    # Two cores run the servers, the worker and the browser at once: allow for slow moments.
    expect.set_options(timeout=15_000)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # ORM calls made while Playwright's loop ran opened a connection of their own; close it
        # before the loop ends so the test database can be dropped at the end of the session.
        connections.close_all()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


UNLABELLED_CONTROLS = """() => Array.from(
  document.querySelectorAll('input:not([type=hidden]), select, textarea, button, a[href]')
).filter((el) => el.offsetParent !== null).filter((el) => {
  const named = el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
    || (el.labels && el.labels.length) || el.textContent.trim() || el.getAttribute('title');
  return !named;
}).map((el) => el.outerHTML.slice(0, 120))"""


@dataclass
class Browser:
    """One browser context at one width, recording every request it makes."""

    page: Any
    base_url: str
    width: int
    name: str
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)

    def go(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def shot(self, step: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.name}-{step}-{self.width}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        return path

    def unlabelled_controls(self) -> list[str]:
        """Visible form controls and buttons with no accessible name (should be none)."""
        return list(self.page.evaluate(UNLABELLED_CONTROLS))

    def tab_to(self, selector: str, *, presses: int = 60) -> None:
        """Press Tab until the element matching `selector` has the focus (keyboard only)."""
        for _ in range(presses):
            if self.page.evaluate("(s) => document.activeElement?.matches(s) || false", selector):
                return
            self.page.keyboard.press("Tab")
        raise AssertionError(f"Tab never reached {selector}")

    def sign_in(self, email: str, password: str = PASSWORD) -> None:
        self.go("/login/")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_load_state()


@pytest.fixture
def viewport(request: pytest.FixtureRequest) -> dict[str, int]:
    return getattr(request, "param", WIDE)


@pytest.fixture
def browser(
    live_stack: LiveStack,
    chromium: Any,
    viewport: dict[str, int],
    transactional_db: None,
    request: pytest.FixtureRequest,
) -> Iterator[Browser]:
    """A fresh context per test; after the test, no request may have left 127.0.0.1."""
    context = chromium.new_context(viewport=viewport, base_url=live_stack.url)
    context.set_default_timeout(30_000)
    own_host = urlsplit(live_stack.url).netloc
    name = request.node.name.split("[")[0].removeprefix("test_")
    browser = Browser(
        page=context.new_page(), base_url=live_stack.url, width=viewport["width"], name=name
    )

    def route(route: Any) -> None:
        url = route.request.url
        browser.requests.append(url)
        scheme = urlsplit(url).scheme
        if scheme in ("http", "https", "ws", "wss") and urlsplit(url).netloc != own_host:
            browser.foreign.append(url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", route)
    browser.page.on("websocket", lambda ws: browser.requests.append(ws.url))
    yield browser
    if request.node.stash.get(_FAILED, False):
        browser.shot("failure")
    context.close()
    assert browser.foreign == [], f"pages requested other hosts: {browser.foreign}"
    for url in browser.requests:
        assert urlsplit(url).netloc in (own_host, ""), url


@pytest.fixture
def ingested(db: None) -> Callable[..., Any]:
    """Register and ingest a text filing for a tenant, synchronously, in the test process."""
    from retrieval.services import DocumentMetadata, document_ingest, document_register

    def ingest(tenant: Any, text: str, **metadata: Any) -> Any:
        filename = metadata.pop("filename", "filing.txt")
        document, _ = document_register(
            tenant=tenant,
            user=None,
            data=text.encode(),
            filename=filename,
            metadata=DocumentMetadata(**metadata),
            queue=False,
        )
        document_ingest(document_id=document.pk)
        document.refresh_from_db()
        return document

    return ingest
