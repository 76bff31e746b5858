"""Every data set, model family, protocol and metric the offline planner offers materializes to code
that runs. The code cells are executed in this process (no kernel start per case, so the whole
catalog stays cheap to cover); the sandboxed kernel path is proven by the sample-paper tests."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from tests.unit.pipeline_claims import make_claim

from p2n.pipeline import catalog, materialize, planning

pytestmark = pytest.mark.pipeline

# (data set, model as a paper names it, protocol, metric, unit, higher is better)
CASES = [
    ("iris", "LDA", "resubstitution", "accuracy", "fraction", True),
    ("iris", "linear SVM", "leave-one-out", "f1", "fraction", True),
    ("iris", "MLP with 20 hidden units", "resubstitution", "accuracy", "fraction", True),
    ("wine", "QDA", "resubstitution", "error_rate", "fraction", False),
    ("wine", "RBF SVM (C = 10)", "3-fold cross-validation", "balanced_accuracy", "fraction", True),
    ("wine", "k-NN (k = 5)", "leave-one-out", "accuracy", "fraction", True),
    ("digits", "naive Bayes", "hold-out 25% test, stratified", "precision", "fraction", True),
    ("digits", "random forest of 20 trees", "3-fold cross-validation", "accuracy", "fraction", True),
    ("breast_cancer", "logistic regression", "5-fold cross-validation", "auc", "", True),
    (
        "breast_cancer",
        "decision tree (max depth 4)",
        "repeated 3-fold cross-validation (2 repeats)",
        "recall",
        "",
        True,
    ),
    ("breast_cancer", "gradient boosting with 20 trees", "hold-out 20% test", "f1", "", True),
    ("breast_cancer", "naive Bayes", "5-fold cross-validation", "log_loss", "", False),
    ("diabetes", "ordinary least squares", "resubstitution", "r2", "", True),
    ("diabetes", "lasso (alpha = 0.1)", "5-fold cross-validation", "rmse", "", False),
    ("diabetes", "k-NN regression (k = 7)", "hold-out 25% test", "mse", "", False),
    ("diabetes", "random forest of 20 trees", "3-fold cross-validation", "mae", "", False),
    ("linnerud", "ridge", "leave-one-out", "r2", "", True),
    ("linnerud", "decision tree", "resubstitution", "mae", "", False),
]


def test_the_cases_cover_the_catalog() -> None:
    plans = [_plan(*case) for case in CASES]
    assert {p.dataset.name for p in plans} == set(catalog.BUNDLED_DATASETS)
    assert {p.model.family for p in plans} == set(catalog.MODEL_FAMILIES)
    assert {p.protocol.kind for p in plans} == {"resubstitution", "holdout", "kfold", "repeated_kfold", "loo"}
    assert {p.metric for p in plans} == catalog.CLASSIFICATION_METRICS | catalog.REGRESSION_METRICS


def _plan(
    dataset: str, model: str, protocol: str, metric: str, unit: str, higher: bool
) -> planning.ReproductionPlan:
    claim = make_claim(
        f"{model} on {dataset}", dataset=dataset, model=model, protocol=protocol, metric=metric, unit=unit,
        value=0.5, higher_is_better=higher,
    )  # fmt: skip
    return planning.build(claim, planning.draft_offline(claim), provider="offline")


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[3]}".replace(" ", "_"))
def test_materialized_code_runs(
    case: tuple[str, str, str, str, str, bool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _plan(*case)
    monkeypatch.setenv("P2N_EVENTS_PATH", str(tmp_path / "events.jsonl"))
    monkeypatch.setenv("P2N_METRICS_PATH", str(tmp_path / "metrics.json"))
    monkeypatch.setenv("P2N_SEED", "3")
    notebook = nbformat.reads(materialize.notebook_bytes(plan).decode(), as_version=4)
    namespace: dict[str, object] = {}
    for cell in notebook.cells:
        if cell.cell_type == "code":
            exec(compile(cell.source, f"<{cell.id}>", "exec"), namespace)  # noqa: S102 - our own generated code
    assert namespace["seed"] == 3
    value = json.loads((tmp_path / "metrics.json").read_text())[plan.metric]
    assert value == namespace["observed"]
    if plan.metric in catalog.CLASSIFICATION_METRICS - {"log_loss"}:
        assert 0.0 <= value <= 1.0
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert events[-1]["event"] == "metric_update"
    assert events[-1]["data"]["value"] == value
