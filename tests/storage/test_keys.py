"""The key layout: one documented place, and no way to escape a run's or paper's prefix."""

from __future__ import annotations

import pytest

from p2n import errors
from p2n.storage import backend, keys


def test_layout_per_paper_plan_and_run() -> None:
    assert keys.paper_document("ns", "paper-a", "paper.pdf") == "papers/ns/paper-a/document/paper.pdf"
    assert keys.paper_pages("ns", "paper-a") == "papers/ns/paper-a/pages.json"
    assert keys.plan_document("ns", "plan-a") == "plans/ns/plan-a/plan.json"
    assert keys.plan_notebook("ns", "plan-a") == "plans/ns/plan-a/notebook.ipynb"
    assert keys.run_artifact("ns", "run-a", "metrics.json") == "runs/ns/run-a/metrics.json"


def test_every_run_artifact_lives_under_the_run_prefix() -> None:
    prefix = keys.run_prefix("ns", "run-a")
    for name in keys.RUN_ARTIFACTS:
        key = keys.run_artifact("ns", "run-a", name)
        assert key.startswith(prefix)
        assert backend.check_key(key) == key


@pytest.mark.parametrize(
    ("namespace", "name"),
    [("ns", "../x"), ("ns", "a/b"), ("", "a"), ("ns", "UPPER"), ("ns", "-a"), ("n s", "a"), ("ns", "a..b")],
)
def test_invalid_names_are_rejected(namespace: str, name: str) -> None:
    with pytest.raises(errors.InvalidInput):
        keys.run_artifact(namespace, name, "logs.txt")
    with pytest.raises(errors.InvalidInput):
        keys.plan_notebook(namespace, name)


@pytest.mark.parametrize("filename", ["../x", "a/b", ".hidden", "", "a\\b", "x" * 201])
def test_invalid_file_names_are_rejected(filename: str) -> None:
    with pytest.raises(errors.InvalidInput):
        keys.paper_document("ns", "paper-a", filename)


@pytest.mark.parametrize(
    ("untrusted", "expected"),
    [
        ("../My Paper (v2).pdf", "My_Paper_v2_.pdf"),
        ("C:\\Users\\me\\paper.pdf", "paper.pdf"),
        ("https://arxiv.org/pdf/1234.5678", "1234.5678"),
        ("..", "document"),
        ("", "document"),
        (".bashrc", "bashrc"),
        ("a..b.pdf", "a.b.pdf"),
    ],
)
def test_safe_filename_makes_untrusted_names_usable(untrusted: str, expected: str) -> None:
    cleaned = keys.safe_filename(untrusted)
    assert cleaned == expected
    assert keys.paper_document("ns", "p", cleaned)
