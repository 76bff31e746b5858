"""The key layout: one documented place, and no way to escape a run's or paper's prefix."""

from __future__ import annotations

import pytest

from p2n import errors
from p2n.storage import backend, keys

UID = "0b6f2c1e-6a9d-4c57-9a55-2f1d3e4c5b6a"
OTHER_UID = "5d2a9f0c-1b3e-4f6a-8c7d-9e0f1a2b3c4d"


def test_layout_per_paper_plan_and_run() -> None:
    assert keys.paper_document("ns", "paper-a", "paper.pdf") == "papers/ns/paper-a/document/paper.pdf"
    assert keys.paper_pages("ns", "paper-a") == "papers/ns/paper-a/pages.json"
    assert keys.plan_document("ns", "plan-a") == "plans/ns/plan-a/plan.json"
    assert keys.plan_notebook("ns", "plan-a") == "plans/ns/plan-a/notebook.ipynb"
    assert keys.run_artifact("ns", "run-a", UID, "metrics.json") == f"runs/ns/run-a/{UID}/metrics.json"


def test_every_run_artifact_lives_under_the_run_prefix() -> None:
    prefix = keys.run_prefix("ns", "run-a", UID)
    for name in keys.RUN_ARTIFACTS:
        key = keys.run_artifact("ns", "run-a", UID, name)
        assert key.startswith(prefix)
        assert backend.check_key(key) == key


def test_a_recreated_run_does_not_share_the_old_instance_prefix() -> None:
    old = keys.run_prefix("ns", "run-a", UID)
    new = keys.run_prefix("ns", "run-a", OTHER_UID)
    assert not new.startswith(old)
    assert not old.startswith(new)
    old_logs = keys.run_artifact("ns", "run-a", UID, "logs.txt")
    assert old_logs != keys.run_artifact("ns", "run-a", OTHER_UID, "logs.txt")


@pytest.mark.parametrize("uid", ["", "../x", "a/b", "UPPER", "a..b"])
def test_invalid_uids_are_rejected(uid: str) -> None:
    with pytest.raises(errors.InvalidInput):
        keys.run_artifact("ns", "run-a", uid, "logs.txt")


@pytest.mark.parametrize(
    ("namespace", "name"),
    [("ns", "../x"), ("ns", "a/b"), ("", "a"), ("ns", "UPPER"), ("ns", "-a"), ("n s", "a"), ("ns", "a..b")],
)
def test_invalid_names_are_rejected(namespace: str, name: str) -> None:
    with pytest.raises(errors.InvalidInput):
        keys.run_artifact(namespace, name, UID, "logs.txt")
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
