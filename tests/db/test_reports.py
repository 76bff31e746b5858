"""Reports: saved with the runs they aggregate, replaced by id, listed newest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import p2n.db
from p2n import errors

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def seeds(db: p2n.db.Database) -> list[str]:
    run_ids = []
    for seed in range(3):
        record = p2n.db.RunRecord(
            run_id=f"rep/run-s{seed}", namespace="rep", name=f"run-s{seed}", plan="plan-a", seed=seed
        )
        run_ids.append(db.upsert_run(record).run_id)
    return run_ids


def test_save_then_get_report(db: p2n.db.Database, seeds: list[str]) -> None:
    saved = db.save_report(
        p2n.db.ReportRecord(
            report_id="rep/plan-a",
            namespace="rep",
            paper="paper-a",
            plan="plan-a",
            claim="c1",
            metric="accuracy",
            observed=0.9,
            claimed=0.93,
            gap_percent=3.23,
            verdict="reproduced",
            run_ids=list(reversed(seeds)),
            body={"runs": 3, "nested": {"values": [0.89, 0.9, 0.91]}},
            json_uri="s3://b/p2n/reports/rep/plan-a/report.json",
        )
    )

    assert saved.run_ids == sorted(seeds)
    assert saved.body == {"runs": 3, "nested": {"values": [0.89, 0.9, 0.91]}}
    assert saved.created_at is not None
    assert db.get_report("rep/plan-a") == saved


def test_saving_again_replaces_the_report_and_its_runs(db: p2n.db.Database, seeds: list[str]) -> None:
    first = db.save_report(p2n.db.ReportRecord(report_id="rep/again", namespace="rep", run_ids=seeds))
    second = db.save_report(
        p2n.db.ReportRecord(report_id="rep/again", namespace="rep", run_ids=seeds[:1], verdict="inconclusive")
    )
    assert second.run_ids == seeds[:1]
    assert second.verdict == "inconclusive"
    assert second.created_at == first.created_at


def test_report_on_an_unknown_run_is_not_found_and_not_saved(db: p2n.db.Database) -> None:
    with pytest.raises(errors.NotFound):
        db.save_report(p2n.db.ReportRecord(report_id="rep/bad", namespace="rep", run_ids=["rep/none"]))
    with pytest.raises(errors.NotFound):
        db.get_report("rep/bad")


def test_reports_are_listed_newest_first(db: p2n.db.Database) -> None:
    for index, plan in enumerate(["p1", "p2", "p1"]):
        db.save_report(
            p2n.db.ReportRecord(
                report_id=f"list/r{index}",
                namespace="list",
                plan=plan,
                created_at=T0 + timedelta(minutes=index),
            )
        )
    assert [report.report_id for report in db.reports("list")] == ["list/r2", "list/r1", "list/r0"]
    assert [report.report_id for report in db.reports("list", plan="p1")] == ["list/r2", "list/r0"]
    assert [report.report_id for report in db.reports("list", limit=1)] == ["list/r2"]


def test_nul_characters_in_the_report_body_are_replaced(db: p2n.db.Database) -> None:
    saved = db.save_report(
        p2n.db.ReportRecord(report_id="rep/nul", namespace="rep", body={"note\x00": ["a\x00b"]})
    )
    assert saved.body == {"note\ufffd": ["a\ufffdb"]}
