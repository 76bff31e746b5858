"""Trace context across processes (p2n.telemetry): the W3C traceparent the API writes, the trace an
object's uid names, and spans recorded after the fact from a sandbox's and a runner's own times."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

from opentelemetry import trace

from p2n import events, telemetry

SECOND = 1_000_000_000


def _parent(context) -> trace.SpanContext:
    return trace.get_current_span(context).get_span_context()


def _stage(seq: int, stage: str, ts: float, **extra) -> events.StageUpdate:
    return events.StageUpdate(seq=seq, ts=ts, data=events.StageData(stage=stage, run_id="r1", **extra))


def test_a_traceparent_names_the_span_it_was_taken_in(spans) -> None:
    assert telemetry.traceparent() is None  # no span, nothing to hand on
    with telemetry.span("p2n.run.create") as span:
        value = telemetry.traceparent()
    assert value is not None
    parent = _parent(telemetry.context_from(value))
    assert (parent.trace_id, parent.span_id) == (
        span.get_span_context().trace_id,
        span.get_span_context().span_id,
    )
    assert parent.is_remote
    with telemetry.span("p2n.run.schedule", context=telemetry.context_from(value)):
        pass
    (_, child) = spans.get_finished_spans()
    assert child.parent.span_id == span.get_span_context().span_id
    assert child.context.trace_id == span.get_span_context().trace_id


def test_a_missing_or_malformed_traceparent_names_nothing() -> None:
    for value in (None, "", "garbage", "00-" + "0" * 32 + "-" + "0" * 16 + "-01"):
        assert telemetry.context_from(value) is None


def test_an_objects_uid_is_its_trace(spans) -> None:
    uid = str(uuid.uuid4())
    first, again = telemetry.object_trace(uid), telemetry.object_trace(uid)
    assert _parent(first) == _parent(again)
    assert trace.format_trace_id(_parent(first).trace_id) == uid.replace("-", "")
    for context in (first, again):
        with telemetry.span("p2n.run.schedule", context=context):
            pass
    ids = {s.context.trace_id for s in spans.get_finished_spans()}
    assert ids == {uuid.UUID(uid).int}
    assert telemetry.object_trace(str(uuid.uuid4())) != first
    for bad in ("", "not-a-uid", str(uuid.UUID(int=0))):
        assert telemetry.object_trace(bad) is None


def test_a_recorded_span_keeps_its_times_and_parents_children(spans) -> None:
    start = 1_700_000_000 * SECOND
    outer = telemetry.recorded_span("p2n.run.exec", start, start + 5 * SECOND, {"p2n.run": "r"})
    telemetry.recorded_span(
        "p2n.run.nbclient", start + SECOND, start + 2 * SECOND, context=outer, error="E_X"
    )
    nbclient, exec_ = sorted(spans.get_finished_spans(), key=lambda s: s.name != "p2n.run.nbclient")
    assert (exec_.start_time, exec_.end_time) == (start, start + 5 * SECOND)
    assert exec_.status.is_ok
    assert nbclient.parent.span_id == exec_.context.span_id
    assert nbclient.status.status_code == trace.StatusCode.ERROR
    assert nbclient.status.description == "E_X"


def test_an_execution_contains_the_runners_own_times(spans) -> None:
    """Kubernetes' whole seconds are widened to contain the runner's finer timestamps."""
    seen = [
        _stage(0, "run_start", 100.25),
        events.progress(1, 50.0),
        _stage(2, "seed_check", 100.5),
        _stage(3, "run_error", 103.75, code="E_NOTEBOOK_ERROR", exit_code=3),
    ]
    telemetry.record_execution(
        seen,
        start_ns=100 * SECOND,
        end_ns=103 * SECOND,
        attributes={"p2n.run": "r"},
        error="E_NOTEBOOK_ERROR",
    )
    exec_ = next(s for s in spans.get_finished_spans() if s.name == "p2n.run.exec")
    nbclient = next(s for s in spans.get_finished_spans() if s.name == "p2n.run.nbclient")
    assert (exec_.start_time, exec_.end_time) == (100 * SECOND, 103_750_000_000)
    assert (nbclient.start_time, nbclient.end_time) == (100_250_000_000, 103_750_000_000)
    assert nbclient.parent.span_id == exec_.context.span_id
    assert dict(nbclient.attributes) == {
        "p2n.stage": "run_error",
        "p2n.exit_code": 3,
        "p2n.reason": "E_NOTEBOOK_ERROR",
    }
    assert nbclient.status.description == "E_NOTEBOOK_ERROR"
    assert exec_.status.description == "E_NOTEBOOK_ERROR"
    assert dict(exec_.attributes) == {"p2n.run": "r"}


def test_a_runner_killed_before_its_terminal_stage_ends_with_the_sandbox(spans) -> None:
    telemetry.record_execution(
        [_stage(0, "run_start", 10.5)], start_ns=11 * SECOND, end_ns=20 * SECOND, attributes={}
    )
    exec_ = next(s for s in spans.get_finished_spans() if s.name == "p2n.run.exec")
    nbclient = next(s for s in spans.get_finished_spans() if s.name == "p2n.run.nbclient")
    assert (exec_.start_time, exec_.end_time) == (10_500_000_000, 20 * SECOND)
    assert nbclient.end_time == 20 * SECOND
    assert nbclient.attributes["p2n.stage"] == "none"
    assert not nbclient.status.is_ok


def test_a_cancelled_notebook_is_no_failure(spans) -> None:
    seen = [_stage(0, "run_start", 1.0), _stage(1, "run_cancelled", 2.0, code="E_CANCELLED", exit_code=143)]
    telemetry.record_execution(seen, start_ns=SECOND, end_ns=3 * SECOND, attributes={})
    nbclient = next(s for s in spans.get_finished_spans() if s.name == "p2n.run.nbclient")
    assert nbclient.status.is_ok
    assert (nbclient.attributes["p2n.stage"], nbclient.attributes["p2n.reason"]) == (
        "run_cancelled",
        "E_CANCELLED",
    )


def test_a_sandbox_without_a_runner_has_no_notebook_span_and_one_never_started_none(spans) -> None:
    telemetry.record_execution([], start_ns=SECOND, end_ns=2 * SECOND, attributes={})
    assert [s.name for s in spans.get_finished_spans()] == ["p2n.run.exec"]
    spans.clear()
    telemetry.record_execution([events.progress(0, 1.0)], start_ns=None, end_ns=2 * SECOND, attributes={})
    assert spans.get_finished_spans() == ()


_OFF = """
import json
from p2n import telemetry
from p2n_api import tracing
with telemetry.span("p2n.run.create"):
    print(json.dumps([telemetry.traceparent(), tracing.annotated({"name": "r"})]))
"""


def test_with_tracing_off_nothing_is_handed_on() -> None:
    """A process without a tracer provider (no OTLP endpoint) writes no annotation."""
    out = subprocess.run([sys.executable, "-c", _OFF], capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(out.stdout) == [None, {"name": "r"}]
