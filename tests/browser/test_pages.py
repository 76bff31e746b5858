"""Dashboard pages in headless Chromium against a stubbed API (``page.route``, the network edge):
sign-in and the bearer token, live run page with SSE resume, the report and storybook, and the
failure paths a full stack cannot produce on demand."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect
from tests.browser import stubs
from tests.browser.conftest import BIG_LOG_LINE, TOKEN, big_log_count, sign_in, sse

pytestmark = pytest.mark.browser

RUN = "iris-cv-s0-abc123"


def test_sign_in_keeps_the_token_out_of_urls_and_sends_it_as_bearer(browser_page, stub_api, dashboard_server):
    stubs.paper_api(stub_api)
    page = browser_page.page
    sign_in(page, dashboard_server.url, namespace="team-a")

    expect(page.get_by_role("heading", name="Papers", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="iris-lda")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('p2n.token')") == TOKEN
    listed = stub_api.seen("GET", "/papers")
    assert listed
    assert all(r["headers"]["authorization"] == f"Bearer {TOKEN}" for r in listed)
    assert all("namespace=team-a" in r["url"] for r in listed)
    assert not any(TOKEN in r["url"] for r in stub_api.requests)
    browser_page.assert_no_console_errors()


def test_a_rejected_token_asks_for_a_new_one(browser_page, stub_api, dashboard_server):
    stub_api.on("GET", "/papers", {"error": {"code": "E_UNAUTHORIZED", "message": "no"}}, status=401)
    page = browser_page.page
    sign_in(page, dashboard_server.url)

    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.get_by_role("alert").filter(has_text="E_UNAUTHORIZED")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('p2n.token')") is None


def test_create_paper_from_text_posts_the_source(browser_page, stub_api, dashboard_server):
    stubs.paper_api(stub_api)
    stub_api.on("POST", "/papers", stubs.PAPER, status=201)
    page = browser_page.page
    sign_in(page, dashboard_server.url)

    page.get_by_label("Name", exact=True).fill("iris-lda")
    page.get_by_label("Claim extraction").select_option("offline")
    page.get_by_label("Paper text").fill("LDA reaches 98.0% accuracy on Iris.")
    page.get_by_role("button", name="Add paper").click()

    expect(page).to_have_url(f"{dashboard_server.url}/#/papers/iris-lda")
    body = json.loads(stub_api.seen("POST", "/papers")[0]["body"])
    assert body == {
        "name": "iris-lda",
        "text": "LDA reaches 98.0% accuracy on Iris.",
        "extraction": {"provider": "offline"},
    }
    expect(page.get_by_text("Under 10-fold stratified cross-validation")).to_be_visible()
    browser_page.assert_no_console_errors()


def _run_events(run: str, count: int) -> list[tuple[int, str, dict[str, Any]]]:
    events: list[tuple[int, str, dict[str, Any]]] = [
        (0, "stage_update", {"stage": "run_start", "run_id": run})
    ]
    for i in range(1, count + 1):
        events.append((len(events), "progress", {"percent": 100.0 * i / count, "msg": f"cell {i}/{count}"}))
        events.append((len(events), "log_line", {"text": f"line {i}", "stream": "stdout", "level": "info"}))
    events.append(
        (
            len(events),
            "metric_update",
            {"metric": "accuracy", "split": "test", "value": 0.98, "step": 0, "ts": 1.0},
        )
    )
    events.append((len(events), "stage_update", {"stage": "run_complete", "run_id": run}))
    return events


def test_run_page_follows_the_stream_and_resumes_after_a_drop(
    browser_page, stub_api, dashboard_server, output_dir
):
    events = _run_events(RUN, 10)
    cut = 9  # The first connection drops after seq 8, before the terminal stage.
    connections: list[str | None] = []

    def stream(route, facts):
        resume = facts["headers"].get("last-event-id")
        connections.append(resume)
        after = int(resume) if resume is not None else -1
        chunk = [e for e in events if e[0] > after][: cut if resume is None else None]
        route.fulfill(status=200, body=sse(chunk, retry_ms=50), content_type="text/event-stream")

    finished = stubs.run("Succeeded", progress=100.0, observed=0.98, gap_percent=0.0, verdict="reproduced")
    runs = iter([stubs.run("Running")] * 1 + [finished] * 1000)
    stub_api.on("GET", f"/runs/{RUN}", lambda route, _: route.fulfill(json=next(runs)))
    stub_api.on("GET", f"/runs/{RUN}/events", stream)
    stub_api.on("GET", "/plans/iris-cv", stubs.plan("Ready"))
    page = browser_page.page
    sign_in(page, dashboard_server.url, hash_route=f"#/runs/{RUN}")

    expect(page.locator("#run-percent")).to_have_text("100%")
    expect(page.locator("#run-stage")).to_have_text("complete")
    expect(page.locator(".legend li")).to_have_text("accuracy (test): 0.98")
    expect(page.locator("#run-observed")).to_have_text("0.98")
    assert connections == [None, "8"]
    # Each line once: the resumed stream neither repeats nor skips.
    assert page.locator(".log-lines li").all_text_contents() == [f"line {i}" for i in range(1, 11)]
    expect(page.locator("#run-connection")).to_have_text("stream ended")
    page.screenshot(path=str(output_dir / "run-page-stubbed.png"), full_page=True)
    browser_page.assert_no_console_errors()


def test_a_fifty_megabyte_log_stays_bounded_and_the_page_interactive(
    browser_page, stub_api, dashboard_server
):
    count = big_log_count()
    stub_api.on("GET", f"/runs/{RUN}", stubs.run("Running"))
    stub_api.on("GET", "/plans/iris-cv", stubs.plan("Ready"))
    # The events request is answered by a real HTTP stream of 50 MB (1 MB chunks) from loopback.
    stub_api.on(
        "GET",
        f"/runs/{RUN}/events",
        lambda route, _: route.continue_(url=f"{dashboard_server.url}/test-feed/big-log"),
    )
    page = browser_page.page
    sign_in(page, dashboard_server.url, hash_route=f"#/runs/{RUN}")

    # While the log is still arriving, the page answers input and the DOM stays bounded.
    expect(page.locator(".log-lines li").first).to_be_visible()
    follow = page.get_by_label("Follow the end")
    follow.click()
    expect(follow).not_to_be_checked()
    page.get_by_role("link", name="Runs").focus()
    expect(page.get_by_role("link", name="Runs")).to_be_focused()
    assert page.locator(".log-lines li").count() <= 2000

    expect(page.locator(".log-counter")).to_have_text(
        f"{count:,} lines (showing the last 2,000)", timeout=120_000
    )
    assert page.locator(".log-lines li").count() == 2000
    assert page.locator(".log-lines li").last.text_content() == BIG_LOG_LINE
    follow.click()
    expect(follow).to_be_checked()
    browser_page.assert_no_console_errors()


def test_report_shows_verdict_chart_citation_and_downloads(
    browser_page, stub_api, dashboard_server, output_dir
):
    stubs.paper_api(stub_api)
    csv_text = "seq,metric,split,step,value,ts\n7,accuracy,test,0,0.98,1.0\n"
    stub_api.on(
        "GET",
        f"/runs/{RUN}/metrics.csv",
        lambda route, _: route.fulfill(status=200, body=csv_text, content_type="text/csv"),
    )
    page = browser_page.page
    sign_in(page, dashboard_server.url, hash_route="#/papers/iris-lda/report")

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Report: {stubs.PAPER['title']}")
    expect(page.locator("#report-verdict")).to_have_text("reproduced")
    chart = page.get_by_role("img", name="Claimed versus observed")
    expect(chart).to_have_attribute(
        "aria-label", "Claimed versus observed. iris-accuracy-2: claimed 0.98, observed 0.98"
    )
    expect(page.get_by_text("Under 10-fold stratified cross-validation").first).to_be_visible()
    artifact = page.get_by_role("link", name="metrics", exact=True)
    assert "X-Amz-Signature" in (artifact.get_attribute("href") or "")
    with page.expect_download() as csv_download:
        page.get_by_role("button", name="CSV").click()
    saved = output_dir / csv_download.value.suggested_filename
    csv_download.value.save_as(saved)
    assert saved.read_text() == csv_text
    with page.expect_download() as json_download:
        page.get_by_role("button", name="Download report (JSON)").click()
    report_file = output_dir / json_download.value.suggested_filename
    json_download.value.save_as(report_file)
    assert json.loads(report_file.read_text()) == stubs.REPORT
    page.screenshot(path=str(output_dir / "report-page-stubbed.png"), full_page=True)
    browser_page.assert_no_console_errors()


def test_storybook_pages_have_alt_text_on_every_image(browser_page, stub_api, dashboard_server, output_dir):
    stub_api.on("POST", "/explain/kid", stubs.STORYBOOK)
    page = browser_page.page
    sign_in(page, dashboard_server.url, hash_route="#/papers/iris-lda/story?claim=iris-accuracy-2")

    expect(page.get_by_role("heading", level=1)).to_have_text("The Flower Sorting Robot")
    images = page.locator("main img")
    expect(images).to_have_count(5)
    assert [images.nth(i).get_attribute("alt") for i in range(5)] == [
        p["alt_text"] for p in stubs.STORYBOOK["pages"]
    ]
    assert all(page.evaluate("[...document.images].map(i => i.complete && i.naturalWidth > 0)"))
    assert json.loads(stub_api.seen("POST", "/explain/kid")[0]["body"]) == {
        "paper": "iris-lda",
        "claim_id": "iris-accuracy-2",
    }
    page.screenshot(path=str(output_dir / "storybook-stubbed.png"), full_page=True)
    browser_page.assert_no_console_errors()


def test_cancel_asks_for_confirmation_then_patches_the_run(browser_page, stub_api, dashboard_server):
    stub_api.on("GET", f"/runs/{RUN}", stubs.run("Running", progress=40.0))
    stub_api.on("GET", "/plans/iris-cv", stubs.plan("Ready"))
    stub_api.on(
        "POST", f"/runs/{RUN}/cancel", {"name": RUN, "namespace": "default", "cancel": True}, status=202
    )
    stub_api.on(
        "GET",
        f"/runs/{RUN}/events",
        lambda route, _: route.fulfill(
            status=200,
            body=sse([(0, "stage_update", {"stage": "run_start", "run_id": RUN})], retry_ms=60_000),
            content_type="text/event-stream",
        ),
    )
    page = browser_page.page
    sign_in(page, dashboard_server.url, hash_route=f"#/runs/{RUN}")
    expect(page.locator("#run-percent")).to_have_text("40%")
    expect(page.locator("#run-stage")).to_have_text("running")

    questions: list[str] = []

    def answer(dialog, accept: bool) -> None:
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, accept=False))
    page.get_by_role("button", name="Cancel run").click()
    expect(page.get_by_role("button", name="Cancel run")).to_be_enabled()
    assert not stub_api.seen("POST", f"/runs/{RUN}/cancel")

    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    page.get_by_role("button", name="Cancel run").click()
    expect(page.get_by_role("status")).to_contain_text(f"Cancelling {RUN}")
    assert len(stub_api.seen("POST", f"/runs/{RUN}/cancel")) == 1
    assert questions == [f"Cancel run {RUN}? Partial artifacts are kept."] * 2
    browser_page.assert_no_console_errors()
