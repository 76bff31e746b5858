"""Runs: upserted by run_id, listed per namespace, paper and plan, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import p2n.db
from p2n import errors

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _run(name: str, namespace: str = "hist", **fields: object) -> p2n.db.RunRecord:
    return p2n.db.RunRecord(
        run_id=p2n.db.cluster_run_id(namespace, name), namespace=namespace, name=name, **fields
    )


def test_upsert_inserts_then_replaces_keeping_created_at(db: p2n.db.Database) -> None:
    first = db.upsert_run(_run("run-u", paper="paper-a", plan="plan-a", claim="c1", seed=3))
    assert first.created_at is not None
    assert first.phase == "Pending"
    assert first.run_id == "hist/run-u"

    finished = first.model_copy(
        update={
            "phase": "Succeeded",
            "observed": 0.9,
            "claimed": 0.93,
            "gap_percent": 3.2258,
            "verdict": "reproduced",
            "artifacts": {"metrics.json": "s3://b/p2n/runs/hist/run-u/metrics.json"},
            "started_at": T0,
            "completed_at": T0 + timedelta(minutes=3),
            "created_at": None,
        }
    )
    second = db.upsert_run(finished)

    assert second.created_at == first.created_at
    assert second.updated_at is not None
    assert first.updated_at is not None
    assert second.updated_at >= first.updated_at
    assert db.get_run("hist/run-u") == second
    assert second.model_dump(exclude={"created_at", "updated_at"}) == finished.model_dump(
        exclude={"created_at", "updated_at"}
    )


def test_get_unknown_run_is_not_found(db: p2n.db.Database) -> None:
    with pytest.raises(errors.NotFound):
        db.get_run("hist/none")


def test_history_is_newest_first_per_paper_and_plan(db: p2n.db.Database) -> None:
    layout = [
        ("h1", "paper-x", "plan-1", 0),
        ("h2", "paper-x", "plan-2", 1),
        ("h3", "paper-y", "plan-3", 2),
        ("h4", "paper-x", "plan-1", 3),
    ]
    for name, paper, plan, minutes in layout:
        db.upsert_run(
            _run(name, namespace="hist2", paper=paper, plan=plan, created_at=T0 + timedelta(minutes=minutes))
        )
    db.upsert_run(_run("h5", namespace="other", paper="paper-x", plan="plan-1", created_at=T0))

    def names(runs: list[p2n.db.RunRecord]) -> list[str]:
        return [run.name for run in runs]

    assert names(db.run_history("hist2")) == ["h4", "h3", "h2", "h1"]
    assert names(db.run_history("hist2", paper="paper-x")) == ["h4", "h2", "h1"]
    assert names(db.run_history("hist2", plan="plan-1")) == ["h4", "h1"]
    assert names(db.run_history("hist2", paper="paper-x", plan="plan-2")) == ["h2"]
    assert names(db.run_history("hist2", limit=2)) == ["h4", "h3"]
    assert names(db.run_history("hist2", limit=2, offset=2)) == ["h2", "h1"]
    assert names(db.run_history("hist2", paper="paper-none")) == []


def test_equal_creation_times_are_ordered_stably(db: p2n.db.Database) -> None:
    for name in ["s-a", "s-c", "s-b"]:
        db.upsert_run(_run(name, namespace="same", created_at=T0))
    assert [run.name for run in db.run_history("same")] == ["s-c", "s-b", "s-a"]


def test_local_run_ids_are_unique_and_usable_as_names() -> None:
    ids = {p2n.db.new_local_run_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(run_id.startswith("run-") and run_id == run_id.lower() for run_id in ids)


def test_record_validation_rejects_bad_phase() -> None:
    with pytest.raises(ValueError, match="phase"):
        p2n.db.RunRecord(run_id="a/b", namespace="a", name="b", phase="Exploded")  # type: ignore[arg-type]


def test_nul_characters_in_run_fields_are_replaced(db: p2n.db.Database) -> None:
    stored = db.upsert_run(
        _run("run-nul", message="kernel said \x00 bye", artifacts={"logs.txt": "file:///x\x00"})
    )
    assert stored.message == "kernel said \ufffd bye"
    assert stored.artifacts == {"logs.txt": "file:///x\ufffd"}
