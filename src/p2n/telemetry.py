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
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from opentelemetry import trace
from opentelemetry.util import types

from p2n import settings

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


def span(
    name: str, attributes: Mapping[str, types.AttributeValue] | None = None
) -> AbstractContextManager[trace.Span]:
    """A span around a block, current inside it; an exception escaping it is recorded as an error."""
    return _tracer.start_as_current_span(name, attributes=attributes)


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


def histogram(name: str, documentation: str, labels: Sequence[str] = ()) -> prometheus_client.Histogram:
    """A histogram ``p2n_<name>`` (prometheus-client's default buckets, 5 ms to 10 s)."""
    import prometheus_client

    return prometheus_client.Histogram(METRIC_PREFIX + name, documentation, labels)


def exposition(accept: str | None = None) -> tuple[bytes, str]:
    """The process-wide registry in the format ``accept`` asks for (Prometheus text or OpenMetrics)."""
    import prometheus_client
    from prometheus_client import exposition as formats

    encoder, content_type = formats.choose_encoder(accept or "")
    return encoder(prometheus_client.REGISTRY), content_type
