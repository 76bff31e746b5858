"""The in-memory view behind admission: the queue, active sandbox pods, Plans, and pod changes."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from tests.unit.operator.operator_builders import READY_PLAN_STATUS

from p2n import settings
from p2n_operator import ledger, podspec, runs, runtime

NS = "research"


def _run(name: str, created: str, phase: str | None = "Queued", **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": NS, "creationTimestamp": created},
        "spec": {"planRef": {"name": "plan-a"}, **spec},
        "status": {"phase": phase} if phase else {},
    }


def _pod(run: str, phase: str, *, running: bool = False, deleting: bool = False) -> dict[str, Any]:
    state = {"running": {}} if running else {"waiting": {"reason": "ContainerCreating"}}
    meta: dict[str, Any] = {"name": podspec.pod_name_for(run), "namespace": NS}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    return {
        "metadata": meta,
        "status": {
            "phase": phase,
            "containerStatuses": [{"name": podspec.CONTAINER_NAME, "state": state}],
        },
    }


def _names(view: ledger.Ledger) -> list[str]:
    return [w.name for w in view.waiting(NS)]


def test_queued_runs_wait_oldest_first():
    view = ledger.Ledger()
    view.observe_run(_run("c", "2026-01-01T00:00:03Z"))
    view.observe_run(_run("a", "2026-01-01T00:00:01Z"))
    view.observe_run(_run("b", "2026-01-01T00:00:02Z"))
    view.observe_run(_run("z", "2026-01-01T00:00:00Z", phase="Pending"))
    assert _names(view) == ["a", "b", "c"]


def test_cancelled_deleted_or_moved_runs_leave_the_queue():
    view = ledger.Ledger()
    for name in ("a", "b", "c", "d"):
        view.observe_run(_run(name, f"2026-01-01T00:00:0{ord(name) - 96}Z"))
    view.observe_run(_run("a", "2026-01-01T00:00:01Z", cancel=True))
    deleting = _run("b", "2026-01-01T00:00:02Z")
    deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    view.observe_run(deleting)
    view.observe_run(_run("c", "2026-01-01T00:00:03Z", phase="Pending"))
    assert _names(view) == ["d"]
    view.dequeue(NS, "d")
    assert _names(view) == []


def test_a_queued_run_whose_pod_exists_is_not_waiting():
    view = ledger.Ledger()
    view.observe_run(_run("a", "2026-01-01T00:00:01Z"))
    view.observe_run(_run("b", "2026-01-01T00:00:02Z"))
    view.record_pod(NS, podspec.pod_name_for("a"), ledger.RESERVED)
    assert _names(view) == ["b"]


def test_namespaces_are_separate():
    view = ledger.Ledger()
    view.observe_run(_run("a", "2026-01-01T00:00:01Z"))
    view.record_pod(NS, "p", ledger.RESERVED)
    assert view.waiting("other") == []
    assert view.active_pods("other") == 0


def test_unfinished_and_reserved_pods_are_active_until_they_end_or_vanish():
    view = ledger.Ledger()
    view.record_pod(NS, podspec.pod_name_for("a"), ledger.RESERVED)
    view.observe_pod(_pod("b", "Pending"))
    view.observe_pod(_pod("c", "Running", running=True))
    view.observe_pod(_pod("d", "Succeeded"))
    view.observe_pod(_pod("e", "Failed"))
    assert view.active_pods(NS) == 3
    view.observe_pod(_pod("c", "Succeeded"))
    view.forget_pod(NS, podspec.pod_name_for("a"))
    assert view.active_pods(NS) == 1


def test_only_a_new_pod_state_counts_as_a_change():
    view = ledger.Ledger()
    name = podspec.pod_name_for("a")
    view.record_pod(NS, name, ledger.RESERVED)
    view.observe_pod(_pod("a", "Pending"))
    assert view.take_change(NS, name)
    assert not view.take_change(NS, name)
    view.observe_pod(_pod("a", "Pending"))
    assert not view.take_change(NS, name)
    view.observe_pod(_pod("a", "Running", running=True))
    assert view.take_change(NS, name)
    view.observe_pod(_pod("a", "Running", running=True, deleting=True))
    assert view.take_change(NS, name)


def test_a_state_read_by_the_operator_is_not_reported_again_by_the_watch():
    view = ledger.Ledger()
    pod = _pod("a", "Running", running=True)
    view.record_pod(NS, podspec.pod_name_for("a"), ledger.pod_state(pod))
    view.observe_pod(pod)
    assert not view.take_change(NS, podspec.pod_name_for("a"))


def test_an_ended_container_is_a_state_of_its_own():
    pod = _pod("a", "Running")
    pod["status"]["containerStatuses"][0]["state"] = {"terminated": {"exitCode": 0}}
    state = ledger.pod_state(pod)
    assert (state.active, state.ended) == (True, True)
    assert state != ledger.pod_state(_pod("a", "Running", running=True))


async def test_the_follower_is_woken_when_its_pod_starts():
    view = ledger.Ledger()
    name = podspec.pod_name_for("a")
    waiter = asyncio.create_task(view.wait_started(NS, name))
    view.observe_pod(_pod("a", "Pending"))
    await asyncio.sleep(0)
    assert not waiter.done()
    view.observe_pod(_pod("a", "Running", running=True))
    await asyncio.wait_for(waiter, 5)
    await asyncio.wait_for(view.wait_started(NS, name), 5)


async def test_a_finished_pod_counts_as_started():
    view = ledger.Ledger()
    view.observe_pod(_pod("a", "Failed"))
    await asyncio.wait_for(view.wait_started(NS, podspec.pod_name_for("a")), 5)


def _plan(phase: str = "Ready", **meta: Any) -> dict[str, Any]:
    status = dict(READY_PLAN_STATUS, phase=phase)
    return {
        "metadata": {"name": "plan-a", "namespace": NS, "uid": "uid-plan-a", **meta},
        "spec": {"paperRef": {"name": "paper-a"}, "claimId": "c1"},
        "status": status,
    }


def test_plans_are_kept_validated_and_dropped_when_deleted_or_invalid():
    view = ledger.Ledger()
    view.observe_plan(_plan())
    seen = view.plan(NS, "plan-a")
    assert seen is not None
    assert seen.status is not None
    assert seen.status.phase == "Ready"
    view.observe_plan(_plan(deletionTimestamp="2026-01-01T00:01:00Z"))
    assert view.plan(NS, "plan-a") is None
    view.observe_plan(_plan())
    view.observe_plan({"metadata": {"name": "plan-a", "namespace": NS}, "spec": {"claimId": 3}})
    assert view.plan(NS, "plan-a") is None


@dataclasses.dataclass
class _Unused:
    """Admission touches neither the API, storage nor the database."""


def _runtime(limit: int) -> runtime.Runtime:
    cfg = settings.Settings(max_concurrent_runs=limit)
    return runtime.Runtime(
        config=cfg,
        kube=_Unused(),  # type: ignore[arg-type]
        store=_Unused(),  # type: ignore[arg-type]
        history=_Unused(),  # type: ignore[arg-type]
        throttle=None,  # type: ignore[arg-type]
    )


async def test_admission_takes_the_slot_at_once_and_queues_the_rest():
    rt = _runtime(limit=2)
    decisions = [
        await runs._admission(rt, NS, name, _run(name, f"2026-01-01T00:00:0{i}Z", phase=None))
        for i, name in enumerate(("a", "b", "c"), start=1)
    ]
    assert decisions == [(True, None), (True, None), (False, 1)]
    assert rt.view.active_pods(NS) == 2


async def test_admission_serves_the_queue_first_come_first_served():
    rt = _runtime(limit=1)
    rt.view.observe_run(_run("old", "2026-01-01T00:00:01Z"))
    late = _run("late", "2026-01-01T00:00:05Z", phase=None)
    assert await runs._admission(rt, NS, "late", late) == (False, 1)
    assert await runs._admission(rt, NS, "old", _run("old", "2026-01-01T00:00:01Z")) == (True, None)
    assert rt.view.pod(NS, podspec.pod_name_for("old")) == ledger.RESERVED


async def test_a_full_namespace_admits_nothing_until_a_pod_ends():
    rt = _runtime(limit=1)
    rt.view.observe_pod(_pod("busy", "Running", running=True))
    run = _run("next", "2026-01-01T00:00:01Z", phase=None)
    assert await runs._admission(rt, NS, "next", run) == (False, 1)
    rt.view.observe_pod(_pod("busy", "Succeeded"))
    assert await runs._admission(rt, NS, "next", run) == (True, None)


def test_the_view_knows_which_runs_the_watch_has_shown_terminal():
    view = ledger.Ledger()
    view.observe_run(_run("done", "2026-01-01T00:00:01Z", phase="Succeeded"))
    view.observe_run(_run("busy", "2026-01-01T00:00:02Z", phase="Running"))
    assert view.finished(NS, "done")
    assert not view.finished(NS, "busy")
    # A new instance of the name (no status yet) is not finished; a deleted Run is forgotten.
    view.observe_run(_run("done", "2026-01-01T00:00:03Z", phase=None))
    assert not view.finished(NS, "done")
    view.observe_run(_run("busy", "2026-01-01T00:00:02Z", phase="Cancelled"))
    view.forget_run(NS, "busy")
    assert not view.finished(NS, "busy")


async def test_a_run_the_watch_has_shown_terminal_is_not_read_again():
    # A restarted operator gets a resume and a pod event for every finished Run: no API call, no lock.
    rt = _runtime(limit=1)
    rt.view.observe_run(_run("done", "2026-01-01T00:00:01Z", phase="Failed"))
    await runs.reconcile_run(rt, NS, "done", seen_pod=_pod("done", "Failed"))
    assert rt._run_locks == {}
