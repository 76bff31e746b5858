"""The dashboard used with the keyboard alone: sign in, move between pages, approve a plan, start a
run and download its metrics, without a mouse (API stubbed with ``page.route``)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from tests.browser import stubs
from tests.browser.conftest import TOKEN, sse

pytestmark = pytest.mark.browser

RUN = "iris-cv-s0-abc123"
FOCUSED_NAME = (
    "(() => { const e = document.activeElement;"
    " return (e.getAttribute('aria-label') || e.textContent || '').trim(); })()"
)


def tab_to(page: Page, name: str, key: str = "Tab", limit: int = 60) -> None:
    """Press ``key`` until the focused element's accessible text is ``name``."""
    seen = []
    for _ in range(limit):
        page.keyboard.press(key)
        current = page.evaluate(FOCUSED_NAME)
        if current == name:
            return
        seen.append(current)
    raise AssertionError(f"{name!r} never got the focus; focus went through {seen}")


def focused_heading(page: Page) -> str:
    return page.evaluate("document.activeElement.tagName === 'H1' ? document.activeElement.textContent : ''")


def test_keyboard_only_approve_run_and_download(browser_page, stub_api, dashboard_server):
    approved = {"done": False}

    def plans(route, _facts):
        state = stubs.plan("Ready", "alice") if approved["done"] else stubs.plan("AwaitingApproval")
        route.fulfill(json={"items": [state]})

    def approve(route, _facts):
        approved["done"] = True
        route.fulfill(json=stubs.plan("Ready", "alice"))

    events = [
        (0, "stage_update", {"stage": "run_start", "run_id": RUN}),
        (1, "progress", {"percent": 100.0, "msg": "done"}),
        (2, "metric_update", {"metric": "accuracy", "split": "test", "value": 0.98, "step": 0, "ts": 1.0}),
        (3, "stage_update", {"stage": "run_complete", "run_id": RUN}),
    ]
    stub_api.on("GET", "/plans", plans)
    stub_api.on("POST", "/plans/iris-cv/approve", approve)
    stub_api.on(
        "POST", "/plans/iris-cv/run", {"run_id": RUN, "run_ids": [RUN], "namespace": "default"}, status=201
    )
    stub_api.on("GET", "/plans/iris-cv", stubs.plan("Ready", "alice"))
    stub_api.on("GET", "/papers", {"items": [stubs.PAPER]})
    stub_api.on("GET", f"/runs/{RUN}", stubs.run("Succeeded", progress=100.0, observed=0.98))
    stub_api.on(
        "GET",
        f"/runs/{RUN}/events",
        lambda route, _: route.fulfill(status=200, body=sse(events), content_type="text/event-stream"),
    )
    stub_api.on(
        "GET",
        f"/runs/{RUN}/metrics.csv",
        lambda route, _: route.fulfill(
            status=200, body="seq,metric,split,step,value,ts\n", content_type="text/csv"
        ),
    )
    page = browser_page.page
    page.goto(f"{dashboard_server.url}/")

    # The sign-in dialog opens with the focus in the token field; Enter submits it.
    expect(page.get_by_label("API token")).to_be_focused()
    page.keyboard.type(TOKEN)
    page.keyboard.press("Tab")
    page.keyboard.type("team-a")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Papers", level=1)).to_be_focused()

    # Navigation links are reachable backwards from the page heading.
    tab_to(page, "Plans", key="Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Plans", level=1)).to_be_focused()

    tab_to(page, "Approve")
    page.keyboard.press("Enter")
    # Approving moves the focus to the plan's Run button once the plan is ready.
    expect(page.get_by_role("button", name="Run")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=f"Run {RUN}", level=1)).to_be_focused()
    expect(page.locator("#run-percent")).to_have_text("100%")
    assert stub_api.seen("POST", "/plans/iris-cv/approve")
    assert stub_api.seen("POST", "/plans/iris-cv/run")

    tab_to(page, "Download metrics (CSV)")
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename == f"{RUN}-metrics.csv"

    # The skip link leads back into the main content without leaving the page.
    tab_to(page, "Skip to content", key="Shift+Tab")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    expect(page).to_have_url(f"{dashboard_server.url}/#/runs/{RUN}")
    browser_page.assert_no_console_errors()
