"""Runs: upserted by run_id (one row per Run instance), listed per namespace, paper and plan, newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import p2n.db
from p2n import errors

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
UID = "0b6f2c1e-6a9d-4c57-9a55-2f1d3e4c5b6a"


def _run(name: str, namespace: str = "hist", uid: str = UID, **fields: object) -> p2n.db.RunRecord:
    return p2n.db.RunRecord(
        run_id=p2n.db.cluster_run_id(namespace, name, uid), namespace=namespace, name=name, **fields
    )


def test_upsert_inserts_then_replaces_keeping_created_at(db: p2n.db.Database) -> None:
    first = db.upsert_run(_run("run-u", paper="paper-a", plan="plan-a", claim="c1", seed=3))
    assert first.created_at is not None
    assert first.phase == "Pending"
    assert first.run_id == f"hist/run-u/{UID}"

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
    assert db.get_run(f"hist/run-u/{UID}") == second
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


def test_cluster_run_ids_name_the_instance() -> None:
    run_id = p2n.db.cluster_run_id("ns", "run-a", UID)
    assert run_id == f"ns/run-a/{UID}"
    assert p2n.db.cluster_run_uid(run_id) == UID
    assert p2n.db.cluster_run_id("ns", "run-a", "another-uid") != run_id
    # Namespaces are DNS labels (63), Run names DNS subdomains (253), uids 36 characters.
    longest = p2n.db.cluster_run_id("n" * 63, "r" * 253, UID)
    assert p2n.db.RunRecord(run_id=longest, namespace="n" * 63, name="r" * 253).run_id == longest
    with pytest.raises(errors.InvalidInput):
        p2n.db.cluster_run_id("ns", "run-a", "")


def test_a_recreated_run_has_its_own_row(db: p2n.db.Database) -> None:
    old = db.upsert_run(_run("again", namespace="recreated", uid="uid-old", phase="Succeeded", observed=0.5))
    new = db.upsert_run(_run("again", namespace="recreated", uid="uid-new"))
    assert db.get_run(old.run_id).observed == 0.5
    assert db.get_run(new.run_id).phase == "Pending"
    assert [run.run_id for run in db.run_history("recreated")] == [new.run_id, old.run_id]


def test_latest_run_is_the_newest_instance_of_the_name(db: p2n.db.Database) -> None:
    for uid, minutes in [("u-first", 0), ("u-third", 2), ("u-second", 1)]:
        db.upsert_run(_run("named", namespace="latest", uid=uid, created_at=T0 + timedelta(minutes=minutes)))
    later = T0 + timedelta(minutes=9)
    db.upsert_run(_run("named-too", namespace="latest", uid="u-later", created_at=later))
    db.upsert_run(_run("named", namespace="latest-other", uid="u-elsewhere", created_at=later))

    assert db.latest_run("latest", "named").run_id == "latest/named/u-third"
    with pytest.raises(errors.NotFound):
        db.latest_run("latest", "never")
    with pytest.raises(errors.NotFound):
        db.latest_run("nowhere", "named")


def test_latest_run_breaks_equal_creation_times_like_the_history(db: p2n.db.Database) -> None:
    for uid in ["u-a", "u-c", "u-b"]:
        db.upsert_run(_run("tied", namespace="latest-tie", uid=uid, created_at=T0))
    assert db.latest_run("latest-tie", "tied") == db.run_history("latest-tie")[0]
    assert db.latest_run("latest-tie", "tied").run_id == "latest-tie/tied/u-c"
