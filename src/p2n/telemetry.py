"""Metrics and traces of P2N's services, set up in this one place (Prometheus and OpenTelemetry).

The API, the operator and (later) the runner expose the same kinds of numbers and spans; naming,
the registry and the exporter choice live here so that they stay consistent across them.

Traces. Code opens spans with :func:`span` (names ``p2n.paper.*``, ``p2n.plan.*``, ``p2n.run.*``)
and marks policy decisions on the current span with :func:`event`. That needs only
``opentelemetry-api`` (a core dependency): until :func:`configure_tracing` installs an SDK
provider, spans are non-recording and cost a function call. :func:`configure_tracing` installs one
only when an OTLP endpoint is configured (``P2N_OTLP_ENDPOINT``, or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) and exports over HTTP in
batches; otherwise there is no exporter at all.

One Run's trace spans processes: the API records the W3C :func:`traceparent` of its create span
as the object's ``p2n.dev/traceparent`` annotation and the operator parents its spans on it
(:func:`context_from`), or, for an object made without one, on :func:`object_trace` of its uid.
Work whose span could not stay open (a pod's execution seen across reconciles, the runner's
notebook execution timed by its own events) is recorded afterwards by :func:`recorded_span`.

Metrics. :func:`counter`, :func:`gauge` and :func:`histogram` create instruments named
``p2n_<name>`` on prometheus-client's process-wide registry (which also carries the process
collectors); :func:`exposition` renders it for a ``/metrics`` endpoint. prometheus-client is in
the ``api`` and ``operator`` extras, not in the core, so it is imported only when a service asks for
an instrument; the CLI and the pipeline import this module without it.

A service adopts all of it in a few lines::

    provider = telemetry.configure_tracing(cfg, service="p2n-operator")
    RECONCILES = telemetry.counter("operator_reconciles", "Reconciliations.", ["kind", "outcome"])
    body, content_type = telemetry.exposition(accept_header)   # in its /metrics handler
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation import tracecontext
from opentelemetry.util import types

from p2n import events, settings

if TYPE_CHECKING:
    import prometheus_client
    from opentelemetry.sdk.trace import TracerProvider

METRIC_PREFIX = "p2n_"
TRACES_PATH = "/v1/traces"
_STANDARD_ENDPOINTS = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
P = ParamSpec("P")
R = TypeVar("R")

# A proxy: it delegates to whichever provider is installed, even one installed after this import.
_tracer = trace.get_tracer("p2n")
# Trace context crosses process boundaries (API -> annotation -> operator) as a W3C traceparent.
_W3C = tracecontext.TraceContextTextMapPropagator()
_TRACEPARENT = "traceparent"
_SPAN_ID_BITS = (1 << 64) - 1


def span(
    name: str,
    attributes: Mapping[str, types.AttributeValue] | None = None,
    context: otel_context.Context | None = None,
    start_ns: int | None = None,
) -> AbstractContextManager[trace.Span]:
    """A span around a block, current inside it; an exception escaping it is recorded as an error.

    ``context`` gives the parent (see :func:`context_from`, :func:`object_trace`); by default the
    current span is. ``start_ns`` (Unix ns) starts it earlier, at work that led up to the block.
    """
    return _tracer.start_as_current_span(name, context=context, attributes=attributes, start_time=start_ns)


def recorded_span(
    name: str,
    start_ns: int,
    end_ns: int,
    attributes: Mapping[str, types.AttributeValue] | None = None,
    context: otel_context.Context | None = None,
    error: str | None = None,
) -> otel_context.Context:
    """A span for work that happened elsewhere or earlier, from its recorded times (Unix ns).

    A span cannot stay open across processes, reconciles or restarts, so such work (the sandbox
    pod's execution, the runner's notebook execution) is recorded once it is over. ``error``
    marks it failed with that description. Returns a context with it as parent, for children.
    """
    recorded = _tracer.start_span(name, context=context, attributes=attributes, start_time=start_ns)
    if error is not None:
        recorded.set_status(trace.Status(trace.StatusCode.ERROR, error))
    recorded.end(end_time=max(start_ns, end_ns))
    return trace.set_span_in_context(recorded, context)


def record_execution(
    seen: Iterable[events.Event],
    *,
    start_ns: int | None,
    end_ns: int,
    attributes: Mapping[str, types.AttributeValue],
    context: otel_context.Context | None = None,
    error: str | None = None,
) -> None:
    """Record ``p2n.run.exec`` (a sandbox's execution) and its child ``p2n.run.nbclient``.

    The runner cannot export spans (its sandbox reaches nothing but the artifact store), so it
    takes part through the timestamps of its own events: ``p2n.run.nbclient`` lasts from its
    ``run_start`` to its terminal stage (run_complete, run_error or run_cancelled; a runner killed
    before that one ends with the sandbox). ``p2n.run.exec`` lasts from ``start_ns`` to ``end_ns``
    (Unix ns: the pod's container times in a cluster, the subprocess's in local mode), widened to
    contain the runner's times, since Kubernetes reports whole seconds. Nothing is recorded for a
    sandbox that never started (no ``start_ns`` and no ``run_start``).
    """
    stages = [e for e in seen if isinstance(e, events.StageUpdate)]
    started = next((e for e in stages if e.data.stage == "run_start"), None)
    ended = next((e for e in reversed(stages) if e.data.stage in events.TERMINAL_STAGES), None)
    if started is None and start_ns is None:
        return
    runner_start = _ns(started.ts) if started is not None else end_ns
    runner_end = _ns(ended.ts) if ended is not None else end_ns
    outer_start = runner_start if start_ns is None else min(start_ns, runner_start)
    outer = recorded_span("p2n.run.exec", outer_start, max(end_ns, runner_end), attributes, context, error)
    if started is None:
        return
    inner: dict[str, types.AttributeValue] = {"p2n.stage": ended.data.stage if ended else "none"}
    failure: str | None = "the runner ended without a terminal stage"
    if ended is not None:
        if ended.data.exit_code is not None:
            inner["p2n.exit_code"] = ended.data.exit_code
        if ended.data.code:
            inner["p2n.reason"] = ended.data.code
        # A cancelled notebook was stopped on purpose: only run_error is a failure.
        failure = ended.data.code or ended.data.stage if ended.data.stage == "run_error" else None
    recorded_span("p2n.run.nbclient", runner_start, runner_end, inner, outer, failure)


def _ns(seconds: float) -> int:
    # Whole microseconds first: a float of Unix ns is only exact to 256 ns, a float of µs is exact.
    return round(seconds * 1_000_000) * 1_000


def traceparent() -> str | None:
    """The current span's W3C ``traceparent`` value, or None when tracing is off (no valid span)."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get(_TRACEPARENT)


def context_from(value: str | None) -> otel_context.Context | None:
    """The remote parent a ``traceparent`` value names, or None when it is missing or malformed."""
    if not value:
        return None
    extracted = _W3C.extract({_TRACEPARENT: value})
    return extracted if trace.get_current_span(extracted).get_span_context().is_valid else None


def object_trace(uid: str) -> otel_context.Context | None:
    """A remote parent whose trace id is the 128 bits of an object's UUID (None if not a UUID).

    Every span about an object that carries no traceparent (one made by ``kubectl apply``) joins
    this one trace, across reconciles and operator restarts, with nothing stored on the object;
    the trace id is the uid without dashes, so the uid finds the trace in a tracing backend. The
    parent span id is derived from the uid too and is never exported itself.
    """
    try:
        key = uuid.UUID(uid)
    except (TypeError, ValueError):
        return None
    if not key.int:
        return None
    parent = trace.SpanContext(
        trace_id=key.int,
        span_id=(key.int & _SPAN_ID_BITS) or 1,
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(parent))


def traced(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a (synchronous) function so that each call is one span ``name``."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            with span(name):
                return function(*args, **kwargs)

        return call

    return decorate


def event(name: str, attributes: Mapping[str, types.AttributeValue] | None = None) -> None:
    """Record ``name`` (e.g. ``policy.cap.exceeded``) as an event of the current span, if any."""
    trace.get_current_span().add_event(name, attributes=attributes)


def current_ids() -> dict[str, str]:
    """``trace_id`` and ``span_id`` (hex) of the current recording span, for log lines; else empty."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return {}
    return {
        "trace_id": trace.format_trace_id(context.trace_id),
        "span_id": trace.format_span_id(context.span_id),
    }


def otlp_endpoint(cfg: settings.Settings) -> str | None:
    """The OTLP/HTTP traces URL to export to, or None when tracing export is not configured.

    ``P2N_OTLP_ENDPOINT`` is a base URL like ``OTEL_EXPORTER_OTLP_ENDPOINT`` (traces go to
    ``<base>/v1/traces``). With only the standard variables set, the exporter reads them itself
    and the empty string is returned.
    """
    if cfg.otlp_endpoint:
        return cfg.otlp_endpoint.rstrip("/") + TRACES_PATH
    if any(os.environ.get(name) for name in _STANDARD_ENDPOINTS):
        return ""
    return None


def configure_tracing(cfg: settings.Settings, *, service: str) -> TracerProvider | None:
    """Install a batching OTLP/HTTP exporter as the global tracer provider, if one is configured.

    Returns the provider (call ``shutdown()`` on exit to flush it), or None when no endpoint is
    configured: spans then stay non-recording. Call it once per process, at startup.
    """
    endpoint = otlp_endpoint(cfg)
    if endpoint is None:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint or None)))
    trace.set_tracer_provider(provider)
    return provider


def counter(name: str, documentation: str, labels: Sequence[str] = ()) -> prometheus_client.Counter:
    """A counter ``p2n_<name>_total`` on the process-wide registry; create each one once, at import."""
    import prometheus_client

    return prometheus_client.Counter(METRIC_PREFIX + name, documentation, labels)


def gauge(name: str, documentation: str, labels: Sequence[str] = ()) -> prometheus_client.Gauge:
    """A gauge ``p2n_<name>`` on the process-wide registry."""
    import prometheus_client

    return prometheus_client.Gauge(METRIC_PREFIX + name, documentation, labels)


def histogram(
    name: str,
    documentation: str,
    labels: Sequence[str] = (),
    buckets: Sequence[float] | None = None,
) -> prometheus_client.Histogram:
    """A histogram ``p2n_<name>``: ``buckets`` (upper bounds, seconds), else 5 ms to 10 s."""
    import prometheus_client

    if buckets is None:
        return prometheus_client.Histogram(METRIC_PREFIX + name, documentation, labels)
    return prometheus_client.Histogram(METRIC_PREFIX + name, documentation, labels, buckets=buckets)


def exposition(accept: str | None = None) -> tuple[bytes, str]:
    """The process-wide registry in the format ``accept`` asks for (Prometheus text or OpenMetrics)."""
    import prometheus_client
    from prometheus_client import exposition as formats

    encoder, content_type = formats.choose_encoder(accept or "")
    return encoder(prometheus_client.REGISTRY), content_type
