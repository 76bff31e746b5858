"""Fixtures of the browser tier: the dashboard in headless Debian Chromium, driven by Playwright.

- ``dashboard_server`` (module): the dashboard router alone on uvicorn (loopback), for page tests
  whose API is stubbed at the network layer with ``page.route`` (:class:`StubApi`).
- ``browser_page``: a fresh Chromium (new empty profile) and page; console errors and uncaught page
  errors are collected in ``browser_page.errors``.
- ``output_dir``: ``test-output/browser/<test>/`` for screenshots and downloads (git-ignored).

Chromium comes from Debian (``scripts/ensure-chromium.sh``), never from ``playwright install``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from playwright.sync_api import Page, Playwright, Route, expect, sync_playwright
from tests.api import support

from p2n_api.routes import dashboard

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
# Generous waits: the suite shares two cores with other tiers; nothing here asserts on timing.
expect.set_options(timeout=20_000)
TOKEN = "browser-test-token"


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    """Playwright's sync driver, per module: while it is open it keeps an event loop running in the
    main thread, which would break ``asyncio.run`` in every test collected after the browser tier."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed: run scripts/ensure-chromium.sh")
    with sync_playwright() as driver:
        yield driver


@dataclasses.dataclass
class BrowserPage:
    page: Page
    errors: list[str]

    def assert_no_console_errors(self) -> None:
        assert not self.errors, f"console errors: {self.errors}"


@pytest.fixture
def browser_page(playwright_driver: Playwright, tmp_path: Path) -> Iterator[BrowserPage]:
    context = playwright_driver.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"),
        executable_path=str(CHROMIUM),
        headless=True,
        args=LAUNCH_ARGS,
        accept_downloads=True,
        viewport={"width": 1280, "height": 900},
    )
    page = context.pages[0] if context.pages else context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    try:
        yield BrowserPage(page, errors)
    finally:
        context.close()


@pytest.fixture
def output_dir(request: pytest.FixtureRequest) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    path = REPO / "test-output" / "browser" / safe
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


BIG_LOG_LINE = "x" * 110
BIG_LOG_BYTES = 50 * 1024 * 1024


def big_log_frames() -> Iterator[bytes]:
    """At least 50 MB of ``log_line`` frames in 1 MB chunks, then the terminal stage."""
    frame = f'event: log_line\ndata: {{"text": "{BIG_LOG_LINE}", "stream": "stdout", "level": "info"}}\n\n'
    seq, sent, chunk = 0, 0, []
    while sent < BIG_LOG_BYTES:
        part = f"id: {seq}\n{frame}"
        chunk.append(part)
        sent += len(part)
        seq += 1
        if len(chunk) == 8000:
            yield "".join(chunk).encode()
            chunk = []
    chunk.append(f'id: {seq}\nevent: stage_update\ndata: {{"stage": "run_complete", "run_id": "r"}}\n\n')
    yield "".join(chunk).encode()


def big_log_count() -> int:
    """How many log lines :func:`big_log_frames` sends."""
    return sum(chunk.count(b"event: log_line") for chunk in big_log_frames())


@pytest.fixture(scope="module")
def dashboard_server() -> Iterator[support.ServerThread]:
    """The dashboard router; ``/test-feed/big-log`` streams :func:`big_log_frames` over real HTTP."""
    app = FastAPI()
    app.include_router(dashboard.router)

    @app.get("/test-feed/big-log")
    def big_log() -> StreamingResponse:
        return StreamingResponse(big_log_frames(), media_type="text/event-stream")

    server = support.ServerThread(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()


Handler = Callable[[Route, dict[str, Any]], None]


class StubApi:
    """Canned ``/api/v1`` answers, served to the page by ``page.route`` (the network edge).

    ``on(method, path, body_or_handler)`` registers an answer; a handler receives the route and the
    request's facts. Every request is recorded in ``requests`` (method, path, headers, body).
    """

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], Any] = {}
        self.requests: list[dict[str, Any]] = []

    def on(self, method: str, path: str, answer: Any, status: int = 200) -> None:
        self.answers[(method, path)] = (answer, status)

    def install(self, page: Page) -> None:
        page.route(re.compile(r".*/api/v1/.*"), self._handle)

    def seen(self, method: str, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method and r["path"] == path]

    def _handle(self, route: Route) -> None:
        request = route.request
        path = re.sub(r"^https?://[^/]+/api/v1", "", request.url.split("?")[0])
        facts = {
            "method": request.method,
            "path": path,
            "url": request.url,
            "headers": request.headers,
            "body": request.post_data,
        }
        self.requests.append(facts)
        found = self.answers.get((request.method, path))
        if found is None:
            route.fulfill(
                status=404, json={"error": {"code": "E_NOT_FOUND", "message": f"no stub for {path}"}}
            )
            return
        answer, status = found
        if callable(answer):
            answer(route, facts)
        elif isinstance(answer, (bytes, str)):
            route.fulfill(status=status, body=answer, content_type="text/plain")
        else:
            route.fulfill(status=status, body=json.dumps(answer), content_type="application/json")


@pytest.fixture
def stub_api(browser_page: BrowserPage) -> StubApi:
    stub = StubApi()
    stub.install(browser_page.page)
    return stub


def sign_in(
    page: Page, base_url: str, token: str = TOKEN, namespace: str = "", hash_route: str = "#/papers"
) -> None:
    """Open the dashboard and sign in through its dialog."""
    page.goto(f"{base_url}/{hash_route}")
    page.get_by_label("API token").fill(token)
    if namespace:
        page.get_by_label("Namespace").fill(namespace)
    page.locator("#login-submit").click()


def sse(events: list[tuple[int, str, dict[str, Any]]], retry_ms: int | None = None) -> str:
    """An SSE body (``id`` / ``event`` / ``data`` frames) as the API writes it."""
    head = f"retry: {retry_ms}\n\n" if retry_ms is not None else ""
    return head + "".join(
        f"id: {seq}\nevent: {name}\ndata: {json.dumps(data)}\n\n" for seq, name, data in events
    )
