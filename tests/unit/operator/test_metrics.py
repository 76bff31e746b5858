"""The operator's metrics fed by watch events: phases, queue, durations observed once per Run."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import kopf
import pytest
from prometheus_client import REGISTRY

from p2n_operator import ledger, metrics, outcome, podspec

NS = "research"


def _run(name: str, phase: str | None, *, created: str = "2026-01-01T00:00:00Z", **status: Any) -> dict:
    body: dict[str, Any] = {
        "metadata": {"namespace": NS, "name": name, "creationTimestamp": created},
        "spec": {"planRef": {"name": "p"}},
        "status": dict(status, **({"phase": phase} if phase else {})),
    }
    return body


def _pod(run: str, phase: str, *, started: str | None = None) -> dict:
    status: dict[str, Any] = {"phase": phase}
    if started:
        status["startTime"] = started
        status["containerStatuses"] = [{"name": "runner", "state": {"running": {"startedAt": started}}}]
    return {
        "metadata": {
            "namespace": NS,
            "name": podspec.pod_name_for(run),
            "annotations": {podspec.RUN_NAME_ANNOTATION: run},
        },
        "status": status,
    }


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def exporter():
    """A Board attached to the process registry (no server), detached after the test."""
    exporter = asyncio.run(metrics.start(ledger.Ledger(), 0))
    yield exporter
    asyncio.run(exporter.stop())


def test_runs_by_phase_follow_transitions_and_deletions(exporter):
    board = exporter.board
    board.observe_run(_run("a", None))
    board.observe_run(_run("b", "Running"))
    assert _value("p2n_operator_runs", namespace=NS, phase="Pending") == 1
    assert _value("p2n_operator_runs", namespace=NS, phase="Running") == 1
    board.observe_run(_run("a", "Running"))
    board.observe_run(_run("b", "Succeeded", completedAt="2026-01-01T00:01:00Z"))
    assert _value("p2n_operator_runs", namespace=NS, phase="Pending") == 0
    assert _value("p2n_operator_runs", namespace=NS, phase="Running") == 1
    assert _value("p2n_operator_runs", namespace=NS, phase="Succeeded") == 1
    board.forget_run(NS, "b")
    assert _value("p2n_operator_runs", namespace=NS, phase="Succeeded") == 0
    board.forget_run(NS, "a")
    assert REGISTRY.get_sample_value("p2n_operator_runs", {"namespace": NS, "phase": "Running"}) is None


def test_a_detached_board_is_no_longer_counted():
    exporter = asyncio.run(metrics.start(ledger.Ledger(), 0))
    exporter.board.observe_run(_run("gone", "Queued"))
    assert _value("p2n_operator_runs", namespace=NS, phase="Queued") == 1
    asyncio.run(exporter.stop())
    assert _value("p2n_operator_runs", namespace=NS, phase="Queued") == 0


def test_completion_is_observed_once_on_the_transition_only(exporter):
    board = exporter.board
    before = _value("p2n_run_creation_to_completion_seconds_count", phase="Failed")
    total = _value("p2n_run_creation_to_completion_seconds_sum", phase="Failed")
    # Already terminal when first seen (an operator restart lists it): not observed again.
    board.observe_run(_run("old", "Failed", completedAt="2026-01-01T00:00:30Z"))
    board.observe_run(_run("new", "Running"))
    done = _run("new", "Failed", completedAt="2026-01-01T00:02:00Z")
    board.observe_run(done)
    board.observe_run(done)  # a repeated watch event
    assert _value("p2n_run_creation_to_completion_seconds_count", phase="Failed") == before + 1
    assert _value("p2n_run_creation_to_completion_seconds_sum", phase="Failed") == total + 120


def test_pod_start_is_observed_once_when_seen_waiting_then_started(exporter):
    board = exporter.board
    count = _value("p2n_run_creation_to_pod_start_seconds_count")
    total = _value("p2n_run_creation_to_pod_start_seconds_sum")
    board.observe_run(_run("r", "Pending"))
    board.observe_pod(_pod("r", "Pending"))
    board.observe_pod(_pod("r", "Running", started="2026-01-01T00:00:07Z"))
    board.observe_pod(_pod("r", "Running", started="2026-01-01T00:00:07Z"))
    # A pod first seen running (listed after a restart) was observed by the operator before.
    board.observe_run(_run("s", "Running"))
    board.observe_pod(_pod("s", "Running", started="2026-01-01T00:00:09Z"))
    assert _value("p2n_run_creation_to_pod_start_seconds_count") == count + 1
    assert _value("p2n_run_creation_to_pod_start_seconds_sum") == total + 7


def test_a_deleted_pending_pod_is_forgotten(exporter):
    board = exporter.board
    count = _value("p2n_run_creation_to_pod_start_seconds_count")
    board.observe_run(_run("t", "Pending"))
    board.observe_pod(_pod("t", "Pending"))
    board.forget_pod(NS, podspec.pod_name_for("t"))
    board.observe_pod(_pod("t", "Running", started="2026-01-01T00:00:03Z"))
    assert _value("p2n_run_creation_to_pod_start_seconds_count") == count


def test_queue_length_comes_from_the_view_at_scrape_time(exporter):
    view = exporter.board.view
    view.enqueue(NS, "q1", "2026-01-01T00:00:00Z")
    view.enqueue(NS, "q2", "2026-01-01T00:00:01Z")
    assert _value("p2n_operator_queue_length", namespace=NS) == 2
    # A queued Run whose pod exists does not wait any more.
    view.record_pod(NS, podspec.pod_name_for("q1"), ledger.RESERVED)
    assert _value("p2n_operator_queue_length", namespace=NS) == 1


@pytest.mark.parametrize(
    ("raised", "outcome"),
    [(None, "ok"), (kopf.TemporaryError("later"), "retry"), (RuntimeError("boom"), "error")],
)
def test_reconcile_durations_by_outcome(raised, outcome):
    before = _value("p2n_operator_reconcile_duration_seconds_count", kind="Plan", outcome=outcome)
    with pytest.raises(type(raised)) if raised else contextlib.nullcontext(), metrics.reconciling("Plan"):
        if raised:
            raise raised
    assert _value("p2n_operator_reconcile_duration_seconds_count", kind="Plan", outcome=outcome) == before + 1


def test_a_cancelled_reconciliation_is_not_observed():
    def total():
        return sum(
            _value("p2n_operator_reconcile_duration_seconds_count", kind="Paper", outcome=outcome)
            for outcome in ("ok", "retry", "error")
        )

    before = total()
    with pytest.raises(asyncio.CancelledError), metrics.reconciling("Paper"):
        raise asyncio.CancelledError
    assert total() == before


def test_run_durations_use_second_to_hour_buckets():
    (family,) = [m for m in REGISTRY.collect() if m.name == "p2n_run_creation_to_completion_seconds"]
    bounds = {s.labels["le"] for s in family.samples if s.name.endswith("_bucket")}
    assert {"1.0", "3600.0", "+Inf"} <= bounds
    assert "0.005" not in bounds


def test_timestamps_and_pod_start_times():
    assert metrics.seconds_between("2026-01-01T00:00:00Z", "2026-01-01T01:00:00+00:00") == 3600
    assert metrics.seconds_between("", "2026-01-01T00:00:00Z") is None
    assert metrics.seconds_between("not a time", "2026-01-01T00:00:00Z") is None
    pod = {"status": {"startTime": "2026-01-01T00:00:01Z"}}
    assert outcome.execution_started(pod) == "2026-01-01T00:00:01Z"
    pod["status"]["containerStatuses"] = [{"state": {"terminated": {"startedAt": "2026-01-01T00:00:02Z"}}}]
    assert outcome.execution_started(pod) == "2026-01-01T00:00:02Z"
    assert outcome.execution_started({"status": {}}) is None
