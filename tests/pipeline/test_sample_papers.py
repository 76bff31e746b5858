"""The bundled sample papers, offline: the expected claims with page citations, and end-to-end runs in
the local sandbox ending with the right verdict (or, for the GPU paper, a typed error)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

from p2n import settings
from p2n.pipeline import extract, ingest, local

pytestmark = pytest.mark.pipeline

PAPERS = Path(__file__).resolve().parents[2] / "examples" / "papers"

# paper -> [(claim id, metric, value, page, model family word, protocol)]
EXPECTED_CLAIMS: dict[str, list[tuple[str, str, float, int, str, str | None]]] = {
    "iris-lda.md": [
        ("iris-accuracy-1", "accuracy", 0.98, 1, "LDA", "resubstitution"),
        (
            "iris-accuracy-2",
            "accuracy",
            0.98,
            1,
            "Linear Discriminant",
            "10-fold stratified cross-validation",
        ),
        ("iris-accuracy-3", "accuracy", 0.96, 1, "LDA", "resubstitution"),
    ],
    "wine-knn.pdf": [
        (
            "wine-accuracy-1",
            "accuracy",
            0.961,
            1,
            "nearest neighbours",
            "10-fold stratified cross-validation",
        ),
        ("wine-accuracy-2", "accuracy", 0.675, 2, "raw features", "10-fold stratified cross-validation"),
        ("wine-accuracy-3", "accuracy", 0.972, 2, "naive Bayes", "10-fold stratified cross-validation"),
    ],
    "breast-cancer-logreg.pdf": [
        ("breast-cancer-accuracy-1", "accuracy", 0.958, 1, "logistic", "hold-out, 25% test, stratified"),
        ("breast-cancer-auc-1", "auc", 0.995, 1, "logistic", "hold-out, 25% test, stratified"),
        ("breast-cancer-accuracy-2", "accuracy", 0.977, 2, "logistic", "10-fold stratified cross-validation"),
    ],
    "diabetes-ridge.md": [
        ("diabetes-r2-1", "r2", 0.518, 1, "least squares", "resubstitution"),
        ("diabetes-r2-2", "r2", 0.483, 1, "Ridge", "10-fold cross-validation"),
        ("diabetes-rmse-1", "rmse", 54.57, 1, "Ridge", "10-fold cross-validation"),
        ("diabetes-mae-1", "mae", 44.48, 1, "Ridge", "10-fold cross-validation"),
    ],
    "breast-cancer-inflated.md": [
        ("breast-cancer-accuracy-1", "accuracy", 0.997, 1, "Logistic", "10-fold stratified cross-validation"),
    ],
    "imagenet-resnet.md": [
        ("imagenet-top5-error-1", "top5_error", 0.0449, 1, "ResNet", None),
        ("imagenet-top1-error-1", "top1_error", 0.1938, 1, "ResNet", None),
    ],
}


@pytest.mark.parametrize("paper", sorted(EXPECTED_CLAIMS))
def test_expected_claims_with_page_citations(paper: str) -> None:
    data = (PAPERS / paper).read_bytes()
    document = ingest.parse(data, filename=paper)
    claims = extract.extract_claims(document, settings=settings.Settings(openai_api_key=None))
    got = [(c.id, c.metric, c.value, c.citation.page, c.protocol) for c in claims]
    assert got == [(i, m, v, p, proto) for i, m, v, p, _, proto in EXPECTED_CLAIMS[paper]]
    for claim, (_, _, _, page, model_word, _) in zip(claims, EXPECTED_CLAIMS[paper], strict=True):
        assert model_word.lower() in (claim.model or "").lower()
        squashed_page = " ".join(document.pages[page - 1].text.split())
        assert claim.citation.quote.split(". ")[-1][:30] in squashed_page


# (paper, claim, seeds, verdict, error code)
CASES = {
    "wine-knn-zscored": ("wine-knn.pdf", "wine-accuracy-1", (0,), "reproduced", None),
    "breast-cancer-auc-3-seeds": (
        "breast-cancer-logreg.pdf",
        "breast-cancer-auc-1",
        (0, 1, 2),
        "reproduced",
        None,
    ),
    "diabetes-ridge-cv": ("diabetes-ridge.md", "diabetes-r2-2", (0,), "reproduced", None),
    "inflated-claim": ("breast-cancer-inflated.md", None, (0,), "not_reproduced", None),
    "gpu-paper": ("imagenet-resnet.md", None, (0,), None, "E_GPU_REQUESTED"),
}


@pytest.fixture(scope="module")
def reproductions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[local.report.Report, Path]]:
    home = tmp_path_factory.mktemp("home")
    config = settings.Settings(home=home, openai_api_key=None)
    results = {}
    for name, (paper, claim, seeds, _, _) in CASES.items():
        out = tmp_path_factory.mktemp(name)
        options = local.Options(claim_id=claim, seeds=seeds, provider="offline", record_history=False)
        results[name] = (local.reproduce(str(PAPERS / paper), out, settings=config, options=options), out)
    return results


@pytest.mark.parametrize("case", sorted(CASES))
def test_reproduction_ends_with_the_right_verdict(case: str, reproductions: dict) -> None:
    result, out = reproductions[case]
    _, claim_id, seeds, verdict, error_code = CASES[case]
    assert result.verdict == verdict
    assert (result.error.code if result.error else None) == error_code
    if claim_id is not None:
        assert result.claim is not None
        assert result.claim.id == claim_id
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["verdict"] == verdict
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    if error_code is not None:
        assert result.runs == []
        assert result.observed is None
        assert on_disk["error"]["code"] == error_code
        return
    assert [r.seed for r in result.runs] == list(seeds)
    assert all(r.phase == "Succeeded" and r.observed is not None for r in result.runs)
    assert result.gap_percent is not None
    assert result.observed is not None
    for run in result.runs:
        lines = Path(run.artifacts["events.jsonl"]).read_text().splitlines()
        metric_events = [json.loads(line) for line in lines if '"metric_update"' in line]
        assert metric_events
        assert metric_events[-1]["data"]["value"] == pytest.approx(run.observed)
        assert json.loads(Path(run.artifacts["metrics.json"]).read_text())[result.metric] == run.observed


def test_observed_values_are_the_true_ones(reproductions: dict) -> None:
    wine, _ = reproductions["wine-knn-zscored"]
    assert wine.observed == pytest.approx(0.96078, abs=1e-4)
    auc, _ = reproductions["breast-cancer-auc-3-seeds"]
    assert [round(r.observed, 4) for r in auc.runs] == [0.9952, 0.9958, 0.9912]
    assert auc.assessment is not None
    assert auc.assessment.interval is not None
    inflated, _ = reproductions["inflated-claim"]
    assert inflated.observed == pytest.approx(0.9508, abs=1e-3)
    assert inflated.gap_percent == pytest.approx(-4.6, abs=0.2)


def test_report_html_is_self_contained(reproductions: dict) -> None:
    _, out = reproductions["breast-cancer-auc-3-seeds"]
    page = (out / "report.html").read_text()
    found = re.search(r"<svg.*?</svg>", page, re.DOTALL)
    assert found is not None
    svg = ElementTree.fromstring(found.group(0))  # noqa: S314 - our own report, a well-formedness check
    assert [
        c.findtext("{http://www.w3.org/2000/svg}title")
        for c in svg.iter("{http://www.w3.org/2000/svg}circle")
    ] == [
        "seed 0: 0.995178",
        "seed 1: 0.995807",
        "seed 2: 0.991195",
    ]
    assert "seed 2" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    assert "<script" not in page
    assert "events.jsonl" in page
