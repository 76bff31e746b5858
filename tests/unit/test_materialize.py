"""Plan -> notebook: valid nbformat v4, papermill parameters, runner-stack imports only, same bytes."""

from __future__ import annotations

import ast
import json

import nbformat
import pytest
from tests.unit.pipeline_claims import make_claim

from p2n.pipeline import materialize, planning

ALLOWED_MODULES = {"numpy", "pandas", "scipy", "sklearn", "matplotlib"} | {
    "os", "random", "json", "time", "base64", "gzip", "hashlib", "io",
}  # fmt: skip


def make_plan(**claim_fields: object) -> planning.ReproductionPlan:
    fields: dict[str, object] = {"protocol": "10-fold cross-validation", **claim_fields}
    c = make_claim("LDA reaches 98.0% (10-fold cross-validation).", **fields)
    return planning.build(c, planning.draft_offline(c), provider="offline")


PLANS = {
    "kfold": {},
    "resubstitution": {"protocol": "resubstitution"},
    "holdout": {"protocol": "hold-out, 25% test, stratified", "metric": "auc", "value": 0.99, "unit": ""},
    "loo-regression": {"protocol": "leave-one-out", "metric": "rmse", "dataset": "diabetes", "model": "ridge",
                       "higher_is_better": False, "unit": "", "value": 55.0},
    "repeated": {"protocol": "repeated 5-fold cross-validation (2 repeats)", "model": "random forest"},
    "mlp": {"model": "MLP with 50 hidden units"},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(PLANS))
def test_notebook_is_valid_and_uses_only_the_runner_stack(name: str) -> None:
    plan = make_plan(**PLANS[name])
    data = materialize.notebook_bytes(plan)
    nb = nbformat.reads(data.decode(), as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code[0].metadata["tags"] == ["parameters"]
    assert "seed = 0" in code[0].source
    imported: set[str] = set()
    for cell in code:
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
    assert imported <= ALLOWED_MODULES
    text = data.decode()
    assert "P2N_EVENTS_PATH" in text
    assert "P2N_METRICS_PATH" in text
    assert "metric_update" in text
    assert nb.metadata["p2n"]["plan_hash"] == plan.plan_hash


def test_same_plan_same_bytes_and_different_plan_different_bytes() -> None:
    first = materialize.notebook_bytes(make_plan())
    again = materialize.notebook_bytes(
        planning.ReproductionPlan.model_validate_json(make_plan().model_dump_json())
    )
    assert first == again
    assert materialize.notebook_bytes(make_plan(value=0.97)) != first


def test_cell_ids_are_positional() -> None:
    nb = json.loads(materialize.notebook_bytes(make_plan()))
    assert [cell["id"] for cell in nb["cells"]] == [f"p2n-{i:02d}" for i in range(len(nb["cells"]))]
