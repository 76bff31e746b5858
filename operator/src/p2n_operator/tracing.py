"""The operator's spans: which trace an object's work joins, and the spans of its steps.

A Paper, Plan or Run is worked on across many reconciles, possibly by several operator processes
over its life, so no span stays open between them: each step is its own span, parented on the
object's trace. That trace is the one named by the object's ``p2n.dev/traceparent`` annotation
(written by the API inside its create or approve span), else one derived from the object's uid
(``telemetry.object_trace``): an object made with ``kubectl`` gets a trace of its own, the same on
every reconcile and after a restart, found in a tracing backend by its uid.

The tree of a Run::

    p2n.run.create (API)  or the uid's trace
    ├── p2n.run.schedule      admission and pod creation; failed, and policy.cap.exceeded, when refused
    ├── p2n.run.exec          the sandbox pod's execution (recorded when the Run finishes)
    │   └── p2n.run.nbclient  the runner's notebook execution, timed by its own stage events
    ├── p2n.run.persist       artifacts, events and history collected at the end
    └── p2n.run.finish        the terminal status write

Paper and Plan reconciles are ``p2n.paper.reconcile`` and ``p2n.plan.reconcile``; the pipeline
spans (``p2n.paper.ingest``, ``p2n.plan.make``...) are their children because blocking calls run
through ``asyncio.to_thread``, which carries the current context into the thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Literal

import kopf
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.util import types

from p2n import errors, events, resources, telemetry
from p2n_operator import outcome, podspec

Kind = Literal["paper", "plan", "run"]
# Phases in which a Run's execution failed (a cancelled Run was stopped on purpose).
_FAILED_PHASES = frozenset({"Failed", "TimedOut"})


def parent_of(obj: Mapping[str, Any]) -> otel_context.Context | None:
    """The trace the object's spans join: its traceparent annotation, else its uid's own trace."""
    metadata = obj.get("metadata") or {}
    annotated = (metadata.get("annotations") or {}).get(resources.TRACEPARENT_ANNOTATION)
    return telemetry.context_from(annotated) or telemetry.object_trace(str(metadata.get("uid") or ""))


def attributes_of(kind: Kind, obj: Mapping[str, Any]) -> dict[str, types.AttributeValue]:
    """Which object a span is about: namespace and name, and the Plan and Paper it refers to."""
    metadata = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    attributes: dict[str, types.AttributeValue] = {
        "p2n.namespace": str(metadata.get("namespace") or ""),
        f"p2n.{kind}": str(metadata.get("name") or ""),
    }
    for ref, key in (("planRef", "p2n.plan"), ("paperRef", "p2n.paper")):
        name = (spec.get(ref) or {}).get("name")
        if name:
            attributes[key] = str(name)
    # A Run names only its Plan; the API labels it with the Paper too.
    paper = (metadata.get("labels") or {}).get(podspec.PAPER_LABEL)
    if paper and "p2n.paper" not in attributes:
        attributes["p2n.paper"] = str(paper)
    return attributes


@contextlib.contextmanager
def reconciling(kind: Literal["paper", "plan"], obj: Mapping[str, Any]) -> Iterator[trace.Span]:
    """``p2n.<kind>.reconcile`` around one reconcile of a Paper or Plan.

    Waiting (kopf.TemporaryError: the Plan's Paper is not Ready yet, storage is down) is retried
    by kopf and is no failure: it becomes a ``p2n.retry`` event, and the error goes on to kopf.
    """
    waiting: kopf.TemporaryError | None = None
    with telemetry.span(f"p2n.{kind}.reconcile", attributes_of(kind, obj), parent_of(obj)) as span:
        try:
            yield span
        except kopf.TemporaryError as exc:
            span.add_event("p2n.retry", {"message": str(exc), "delay": float(exc.delay or 0.0)})
            waiting = exc
    if waiting is not None:
        raise waiting


def settled(status: resources.PaperStatus | resources.PlanStatus) -> None:
    """Put the status a step reached on the current span; a Failed one marks the span failed."""
    span = trace.get_current_span()
    span.set_attribute("p2n.phase", status.phase or "")
    if status.reason:
        span.set_attribute("p2n.reason", status.reason)
    if status.phase == "Failed":
        span.set_status(trace.Status(trace.StatusCode.ERROR, status.reason or "Failed"))


def scheduling(obj: Mapping[str, Any], start_ns: int) -> contextlib.AbstractContextManager[trace.Span]:
    """``p2n.run.schedule``: admission (which began at ``start_ns``) and the sandbox pod's creation."""
    return telemetry.span("p2n.run.schedule", attributes_of("run", obj), parent_of(obj), start_ns)


def refused(obj: Mapping[str, Any], start_ns: int, ended: outcome.Outcome | None) -> None:
    """Record the ``p2n.run.schedule`` of a Run that failed before it got a pod, as a failed span.

    The policy refuses a request above a ceiling (E_CAP_EXCEEDED) in the Run's decision, before
    any pod exists: that is marked with the error's trace label, ``policy.cap.exceeded``.
    """
    if ended is None or ended.phase != "Failed":
        return
    with scheduling(obj, start_ns) as span:
        span.set_attribute("p2n.reason", ended.reason or "")
        if ended.reason == errors.CapExceeded.code:
            telemetry.event(
                errors.CapExceeded.trace_label, {"p2n.reason": ended.reason, "p2n.message": ended.message}
            )
        span.set_status(trace.Status(trace.StatusCode.ERROR, f"{ended.reason}: {ended.message}"))


def persisting(obj: Mapping[str, Any]) -> contextlib.AbstractContextManager[trace.Span]:
    """``p2n.run.persist``: collecting a finished Run's artifacts and events, writing its history."""
    return telemetry.span("p2n.run.persist", attributes_of("run", obj), parent_of(obj))


def finishing(
    obj: Mapping[str, Any], final: resources.RunStatus
) -> contextlib.AbstractContextManager[trace.Span]:
    """``p2n.run.finish``: the terminal status write, with the phase, verdict and reason reached."""
    attributes = attributes_of("run", obj)
    attributes["p2n.phase"] = final.phase
    for key, value in (("p2n.verdict", final.verdict), ("p2n.reason", final.reason)):
        if value:
            attributes[key] = value
    return telemetry.span("p2n.run.finish", attributes, parent_of(obj))


def executed(
    obj: Mapping[str, Any],
    pod: Mapping[str, Any] | None,
    seen: Iterable[events.Event],
    final: resources.RunStatus,
) -> None:
    """Record ``p2n.run.exec`` and ``p2n.run.nbclient`` of a finished Run that had a sandbox pod.

    The pod's container times (whole seconds), else the pod's start and the Run's own times,
    bound the execution; the runner's stage events in ``seen`` time the notebook inside it.
    """
    if pod is None:
        return
    start = _ns(outcome.execution_started(pod)) or _ns(final.started_at)
    terminated = outcome.container_state(pod).get("terminated") or {}
    end = _ns(terminated.get("finishedAt")) or _ns(final.completed_at)
    if end is None:
        return
    attributes = attributes_of("run", obj)
    attributes["p2n.pod"] = str((pod.get("metadata") or {}).get("name") or "")
    attributes["p2n.phase"] = final.phase
    if final.reason:
        attributes["p2n.reason"] = final.reason
    failure = (final.reason or final.phase) if final.phase in _FAILED_PHASES else None
    telemetry.record_execution(
        seen, start_ns=start, end_ns=end, attributes=attributes, context=parent_of(obj), error=failure
    )


def _ns(moment: str | datetime | None) -> int | None:
    """Unix ns of an RFC 3339 timestamp (as Kubernetes writes them) or a datetime; None if absent."""
    when = outcome.timestamp(moment)
    return None if when is None else round(when.timestamp() * 1_000_000) * 1_000
