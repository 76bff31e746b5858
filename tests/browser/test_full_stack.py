"""The dashboard against the whole local stack: the API on uvicorn (loopback), the real operator in
process, the emulated cluster and kubelet, embedded PostgreSQL and moto S3. A user creates a paper
from an example file, plans and approves a claim, starts a run, watches it reach 100% with its
metric, opens the report and downloads the metric series as CSV."""

from __future__ import annotations

from pathlib import Path

import kopf
import pytest
from playwright.sync_api import expect
from tests.api.conftest import api, api_config, api_server, bucket_settings  # noqa: F401
from tests.browser.conftest import sign_in
from tests.harness import operators
from tests.harness.fixtures import _kubelet_session, access, kube, kubelet, namespace  # noqa: F401

from p2n_operator import service

pytestmark = pytest.mark.browser

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "papers" / "iris-lda.md"
CLAIM = "iris-accuracy-2"


@pytest.fixture
def operator(kube, kubelet, namespace, api_config):  # noqa: F811
    """The real operator (kopf, in a thread) on the test's namespace, with the API's bucket and database."""
    config = api_config.model_copy(
        update={"status_interval_seconds": 0.2, "sandbox_grace_seconds": 5, "max_concurrent_runs": 4}
    )
    with operators.running(
        kube, service.registry(), namespace=namespace, memo=kopf.Memo(settings=config)
    ) as op:
        yield op
    assert not op.errors, op.errors


def test_paper_to_report_in_the_browser(browser_page, api, operator, output_dir):  # noqa: F811
    page = browser_page.page
    sign_in(page, str(api.base_url), token=api.token, namespace=api.namespace)
    expect(page.get_by_role("heading", name="Papers", level=1)).to_be_visible()

    # A paper from an example file, uploaded through the form.
    page.get_by_label("Name", exact=True).fill("iris-lda")
    page.get_by_label("Source").select_option("file")
    page.get_by_label("File").set_input_files(str(EXAMPLE))
    page.get_by_role("button", name="Add paper").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Linear Discriminant Analysis on the Iris Flowers", timeout=90_000
    )
    claim_row = page.get_by_role("row").filter(has_text=CLAIM)
    expect(claim_row.get_by_role("figure")).to_contain_text("page 1", timeout=90_000)

    # A plan that waits for a human, approved from the dashboard.
    expect(page.get_by_label("Require approval before running")).to_be_checked()
    page.get_by_label("Planner").select_option("offline")
    claim_row.get_by_role("button", name="Plan this claim").click()
    plans = page.get_by_role("region", name="Plans")
    plans.get_by_role("button", name="Approve").click(timeout=90_000)
    run_button = plans.get_by_role("button", name="Run")
    expect(run_button).to_be_enabled(timeout=90_000)
    expect(plans).to_contain_text("approved by tester")
    page.screenshot(path=str(output_dir / "paper-page.png"), full_page=True)
    run_button.click()

    # The run page, live: progress to 100%, the metric on the chart, the log.
    expect(page.get_by_role("heading", level=1)).to_contain_text("Run iris-lda-", timeout=30_000)
    expect(page.locator("#run-percent")).to_have_text("100%", timeout=180_000)
    expect(page.locator("#run-stage")).to_have_text("complete", timeout=60_000)
    legend = page.locator(".legend li").filter(has_text="accuracy")
    expect(legend.first).to_be_visible()
    expect(page.locator("#run-observed")).not_to_have_text("—", timeout=60_000)
    assert page.locator(".log-lines li").count() > 0
    page.screenshot(path=str(output_dir / "run-page.png"), full_page=True)

    # The report: verdict, claimed-vs-observed chart, citation, artifacts, CSV download.
    page.locator("#run-report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Report: Linear Discriminant Analysis on the Iris Flowers"
    )
    expect(page.locator("#report-verdict")).to_have_text("reproduced")
    expect(page.get_by_role("img", name="Claimed versus observed")).to_be_visible()
    section = page.get_by_role("region", name=CLAIM)
    assert "X-Amz-Signature=" in (
        section.get_by_role("link", name="metrics", exact=True).get_attribute("href") or ""
    )
    with page.expect_download() as download:
        section.get_by_role("button", name="CSV").click()
    saved = output_dir / download.value.suggested_filename
    download.value.save_as(saved)
    lines = saved.read_text().splitlines()
    assert lines[0] == "seq,metric,split,step,value,ts"
    assert any(",accuracy," in line for line in lines[1:]), lines
    page.screenshot(path=str(output_dir / "report-page.png"), full_page=True)

    # The lists show the same objects, live.
    page.get_by_role("link", name="Runs", exact=True).click()
    expect(page.get_by_role("row").filter(has_text="Succeeded")).to_have_count(1)
    page.get_by_role("link", name="Plans", exact=True).click()
    expect(page.get_by_role("row").filter(has_text="approved by tester")).to_have_count(1)
    page.go_back()
    page.go_back()

    # Kid mode from the report: a picture book whose every image has alt text.
    section.get_by_role("link", name="Explain this claim to a child (storybook)").click()
    expect(page.locator("main img").first).to_be_visible(timeout=30_000)
    alts = page.locator("main img").evaluate_all("images => images.map(i => i.alt)")
    assert 5 <= len(alts) <= 7
    assert all(alt.strip() for alt in alts), alts
    page.screenshot(path=str(output_dir / "storybook.png"), full_page=True)
    browser_page.assert_no_console_errors()


def test_a_pdf_upload_shows_claims_with_their_page_citations(browser_page, api, operator):  # noqa: F811
    page = browser_page.page
    sign_in(page, str(api.base_url), token=api.token, namespace=api.namespace)
    page.get_by_label("Name", exact=True).fill("wine-knn")
    page.get_by_label("Source").select_option("file")
    page.get_by_label("File").set_input_files(str(EXAMPLE.with_name("wine-knn.pdf")))
    page.get_by_role("button", name="Add paper").click()

    expect(page.get_by_role("status")).to_contain_text("Paper wine-knn added")
    table_claim = page.get_by_role("row").filter(has_text="wine-accuracy-2")
    expect(table_claim.get_by_role("figure")).to_contain_text("page 2", timeout=90_000)
    expect(page.get_by_text("Ready", exact=True)).to_be_visible()
    expect(page.get_by_text("3 pages")).to_be_visible()
    page.get_by_role("link", name="All papers").click()
    expect(page.get_by_role("row").filter(has_text="wine-knn")).to_contain_text("Ready")
    browser_page.assert_no_console_errors()
