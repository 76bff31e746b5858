"""The operator's tracing decisions without a cluster: which trace an object joins, what its spans
say, how waiting and refusals are recorded, and the execution times read from a pod."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import kopf
import pytest
from opentelemetry import trace

from p2n import events, resources, telemetry
from p2n_operator import outcome, tracing

UID = "0f8fad5b-d9cb-469f-a165-70867728950e"
SECOND = 1_000_000_000


def _run(annotations: dict | None = None, labels: dict | None = None) -> dict:
    return {
        "metadata": {
            "name": "r1",
            "namespace": "ns",
            "uid": UID,
            "annotations": annotations or {},
            "labels": labels or {},
        },
        "spec": {"planRef": {"name": "p1"}},
    }


def _parent_ids(obj: dict) -> tuple[int, int]:
    parent = trace.get_current_span(tracing.parent_of(obj)).get_span_context()
    return parent.trace_id, parent.span_id


def test_an_annotated_object_joins_the_annotated_trace_else_its_uids(spans) -> None:
    with telemetry.span("p2n.run.create") as span:
        value = telemetry.traceparent()
    context = span.get_span_context()
    assert _parent_ids(_run({resources.TRACEPARENT_ANNOTATION: value})) == (context.trace_id, context.span_id)
    assert _parent_ids(_run())[0] == uuid.UUID(UID).int
    # A damaged annotation is ignored rather than breaking the object's trace.
    assert _parent_ids(_run({resources.TRACEPARENT_ANNOTATION: "00-zz"})) == _parent_ids(_run())


def test_run_spans_name_the_run_its_plan_and_its_papers_label() -> None:
    assert tracing.attributes_of("run", _run(labels={"p2n.dev/paper": "iris"})) == {
        "p2n.namespace": "ns",
        "p2n.run": "r1",
        "p2n.plan": "p1",
        "p2n.paper": "iris",
    }
    plan = {"metadata": {"name": "p1", "namespace": "ns"}, "spec": {"paperRef": {"name": "iris"}}}
    assert tracing.attributes_of("plan", plan) == {
        "p2n.namespace": "ns",
        "p2n.plan": "p1",
        "p2n.paper": "iris",
    }


def test_waiting_is_a_retry_event_and_a_failure_an_error(spans) -> None:
    async def wait() -> None:
        with tracing.reconciling("plan", _run()):
            raise kopf.TemporaryError("paper p is not Ready yet", delay=2.0)

    with pytest.raises(kopf.TemporaryError):
        asyncio.run(wait())
    (waiting,) = spans.get_finished_spans()
    assert waiting.name == "p2n.plan.reconcile"
    assert waiting.status.is_ok
    assert [(e.name, dict(e.attributes)) for e in waiting.events] == [
        ("p2n.retry", {"message": "paper p is not Ready yet", "delay": 2.0})
    ]
    spans.clear()
    failed = resources.PaperStatus(phase="Failed", reason="NoClaims")
    with tracing.reconciling("paper", _run()):
        tracing.settled(failed)
    (paper,) = spans.get_finished_spans()
    assert not paper.status.is_ok
    assert (paper.attributes["p2n.phase"], paper.attributes["p2n.reason"]) == ("Failed", "NoClaims")


def test_a_refusal_is_a_failed_schedule_span_and_a_cap_is_marked(spans) -> None:
    cap = outcome.Outcome("Failed", "E_CAP_EXCEEDED", "memory 8Gi is above the operator ceiling 1Gi")
    tracing.refused(_run(), 5 * SECOND, cap)
    tracing.refused(_run(), 5 * SECOND, outcome.Outcome("Failed", "E_GPU_REQUESTED", "no GPUs"))
    tracing.refused(_run(), 5 * SECOND, outcome.Outcome("Cancelled", "E_CANCELLED", "cancelled before start"))
    capped, gpu = spans.get_finished_spans()
    assert (capped.name, capped.start_time) == ("p2n.run.schedule", 5 * SECOND)
    assert [e.name for e in capped.events] == ["policy.cap.exceeded"]
    assert capped.events[0].attributes["p2n.message"] == cap.message
    assert capped.status.description == f"E_CAP_EXCEEDED: {cap.message}"
    assert gpu.events == ()
    assert gpu.attributes["p2n.reason"] == "E_GPU_REQUESTED"
    assert not gpu.status.is_ok


def _pod(state: dict, start_time: str | None = "2030-01-01T00:00:00Z") -> dict:
    status: dict = {"containerStatuses": [{"name": "runner", "state": state}]}
    if start_time:
        status["startTime"] = start_time
    return {"metadata": {"name": "p2n-run-r1"}, "status": status}


def _final(phase: str, reason: str | None = None) -> resources.RunStatus:
    return resources.RunStatus(
        phase=phase,
        reason=reason,
        started_at=datetime(2030, 1, 1, 0, 0, 1, tzinfo=UTC),
        completed_at=datetime(2030, 1, 1, 0, 0, 30, tzinfo=UTC),
    )


T0 = round(datetime(2030, 1, 1, tzinfo=UTC).timestamp()) * SECOND


def test_an_execution_is_timed_by_the_container_and_the_runner(spans) -> None:
    terminated = {"terminated": {"startedAt": "2030-01-01T00:00:02Z", "finishedAt": "2030-01-01T00:00:09Z"}}
    seen = [
        events.StageUpdate(seq=0, ts=T0 / SECOND + 2.5, data=events.StageData(stage="run_start", run_id="r")),
        events.StageUpdate(
            seq=1,
            ts=T0 / SECOND + 9.25,
            data=events.StageData(stage="run_error", run_id="r", code="E_KERNEL_DIED"),
        ),
    ]
    tracing.executed(_run(), _pod(terminated), seen, _final("Failed", "E_KERNEL_DIED"))
    exec_ = next(s for s in spans.get_finished_spans() if s.name == "p2n.run.exec")
    nbclient = next(s for s in spans.get_finished_spans() if s.name == "p2n.run.nbclient")
    assert (exec_.start_time, exec_.end_time) == (T0 + 2 * SECOND, T0 + 9_250_000_000)
    assert (nbclient.start_time, nbclient.end_time) == (T0 + 2_500_000_000, T0 + 9_250_000_000)
    assert exec_.attributes["p2n.pod"] == "p2n-run-r1"
    assert exec_.status.description == "E_KERNEL_DIED"
    assert exec_.context.trace_id == uuid.UUID(UID).int


def test_a_pod_stopped_while_running_ends_with_the_run(spans) -> None:
    running = {"running": {"startedAt": "2030-01-01T00:00:03Z"}}
    tracing.executed(_run(), _pod(running), [], _final("Cancelled", "E_CANCELLED"))
    (exec_,) = spans.get_finished_spans()
    assert (exec_.start_time, exec_.end_time) == (T0 + 3 * SECOND, T0 + 30 * SECOND)
    assert exec_.status.is_ok  # cancelled on purpose


def test_no_pod_or_a_pod_that_never_started_records_what_it_can(spans) -> None:
    tracing.executed(_run(), None, [], _final("Failed", "E_CAP_EXCEEDED"))
    assert spans.get_finished_spans() == ()
    tracing.executed(_run(), _pod({"waiting": {"reason": "ContainerCreating"}}), [], _final("Cancelled"))
    (exec_,) = spans.get_finished_spans()
    assert exec_.start_time == T0  # the pod's startTime
