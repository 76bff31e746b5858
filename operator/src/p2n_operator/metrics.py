"""Prometheus metrics of the operator: the instruments, what feeds them, and the ``/metrics`` server.

Series (labels come from closed sets: kinds, outcomes, phases, and the namespaces the operator
watches, which an administrator chooses; never a Run's or a Plan's name):

- ``p2n_operator_runs{namespace, phase}``: Runs by phase, counted at scrape time from
  :class:`Board`, which the Run watch keeps (kopf lists every existing Run before any other
  handler runs, so the counts are right again after a restart);
- ``p2n_operator_queue_length{namespace}``: Queued Runs waiting for a slot, read at scrape time
  from the operator's in-memory view (``ledger``), never kept twice;
- ``p2n_operator_reconcile_duration_seconds{kind, outcome}``: one Paper/Plan/Run reconciliation,
  outcome ``ok``, ``retry`` (kopf will call again) or ``error``;
- ``p2n_run_creation_to_pod_start_seconds`` and ``p2n_run_creation_to_completion_seconds{phase}``:
  from the Run's ``creationTimestamp`` to its pod's start and to its ``completedAt``;
- ``p2n_operator_events_ingested_total``: runner events written to PostgreSQL by the operator.

Each Run's two durations are observed exactly once: on the *transition* the watch shows (a pod
seen not started, then started; a Run seen unfinished, then terminal). An object first seen
already started or finished (when the operator starts and lists what exists) is not observed:
the operator that saw the transition did that. A transition that happens while no operator
runs (a pod starting during a restart) is lost rather than counted twice; a Run turns terminal
only by the operator's own write, so a completion is lost only to a crash right after it. This
keeps no set of observed ids to bound.

The endpoint is served by aiohttp on kopf's own event loop, started by the startup handler and
stopped by the cleanup handler, so an operator started, stopped and started again in one
process (as the tests do) rebinds cleanly; and because the scrape runs on the loop that
updates :class:`Board` and the view, it reads them between two handler steps, never while a
thread mutates them (prometheus-client's own server would scrape from another thread). It is a
port of its own, apart from kopf's liveness endpoint: unauthenticated like ``/healthz``, and
holding aggregates only.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Literal, get_args

import kopf
from aiohttp import web
from prometheus_client import core, registry

from p2n import resources, telemetry
from p2n_operator import ledger, outcome, podspec

Kind = Literal["Paper", "Plan", "Run"]
Outcome = Literal["ok", "retry", "error"]
PATH = "/metrics"
# Seconds to hours: a Run may wait in the queue, and runs for up to 25 minutes.
RUN_BUCKETS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0)
# Milliseconds (a Run step) to minutes (a Paper's extraction with a language model).
RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
RUN_PHASES: tuple[str, ...] = get_args(resources.RunPhase)
_log = logging.getLogger(__name__)

RECONCILE_DURATION = telemetry.histogram(
    "operator_reconcile_duration_seconds",
    "Time one reconciliation of a Paper, Plan or Run took, by outcome (ok, retry, error).",
    ["kind", "outcome"],
    buckets=RECONCILE_BUCKETS,
)
TO_POD_START = telemetry.histogram(
    "run_creation_to_pod_start_seconds",
    "Time from a Run's creation to its sandbox pod starting.",
    buckets=RUN_BUCKETS,
)
TO_COMPLETION = telemetry.histogram(
    "run_creation_to_completion_seconds",
    "Time from a Run's creation to its terminal phase, by that phase.",
    ["phase"],
    buckets=RUN_BUCKETS,
)
EVENTS_INGESTED = telemetry.counter(
    "operator_events_ingested", "Runner events the operator wrote to PostgreSQL (duplicates not counted)."
)


@contextlib.contextmanager
def reconciling(kind: Kind) -> Iterator[None]:
    """Time the block as one reconciliation of ``kind``; kopf's TemporaryError counts as a retry.

    A block cancelled (the operator stopping, a daemon cancelled) had no outcome: not observed.
    """
    started = time.perf_counter()
    result: Outcome | None = "error"
    try:
        yield
        result = "ok"
    except kopf.TemporaryError:
        result = "retry"
        raise
    except asyncio.CancelledError:
        result = None
        raise
    finally:
        if result is not None:
            RECONCILE_DURATION.labels(kind, result).observe(time.perf_counter() - started)


def ingested(count: int) -> None:
    """``count`` runner events were newly written to PostgreSQL."""
    EVENTS_INGESTED.inc(count)


def seconds_between(earlier: object, later: object) -> float | None:
    """Seconds from one Kubernetes timestamp (RFC 3339 text) to another; None if either is missing."""
    start, end = outcome.timestamp(earlier), outcome.timestamp(later)
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclasses.dataclass(slots=True)
class _Tracked:
    phase: str
    created: str  # empty once the Run is terminal: nothing more is observed of it


class Board:
    """What the watches showed of Runs and sandbox pods, for the phase gauge and the durations.

    Per Run only its phase and creation time are kept; per pod only whether it was seen waiting
    to start. The view (``ledger``) supplies the queue at scrape time.
    """

    def __init__(self, view: ledger.Ledger) -> None:
        self.view = view
        self._runs: dict[tuple[str, str], _Tracked] = {}
        self._unstarted: set[tuple[str, str]] = set()

    def observe_run(self, run: Mapping[str, Any]) -> None:
        """A Run as the watch shows it; observes its completion on the unfinished → terminal step."""
        meta = run.get("metadata") or {}
        key = (str(meta.get("namespace")), str(meta.get("name")))
        status = run.get("status") or {}
        phase = str(status.get("phase") or "Pending")
        phase = phase if phase in RUN_PHASES else "Pending"
        created = str(meta.get("creationTimestamp") or "")
        finished = phase in resources.TERMINAL_RUN_PHASES
        before = self._runs.get(key)
        self._runs[key] = _Tracked(phase, "" if finished else created)
        if finished and before is not None and before.phase not in resources.TERMINAL_RUN_PHASES:
            took = seconds_between(created, status.get("completedAt") or _now())
            if took is not None:
                TO_COMPLETION.labels(phase).observe(took)

    def forget_run(self, namespace: str, name: str) -> None:
        """The Run is gone from the cluster."""
        self._runs.pop((namespace, name), None)

    def observe_pod(self, pod: Mapping[str, Any]) -> None:
        """A sandbox pod as the watch shows it; observes its Run's start on the waiting → started step."""
        meta = pod.get("metadata") or {}
        namespace = str(meta.get("namespace"))
        key = (namespace, str(meta.get("name")))
        if not ledger.pod_state(pod).started:
            self._unstarted.add(key)
            return
        if key not in self._unstarted:
            return
        self._unstarted.discard(key)
        run_name = (meta.get("annotations") or {}).get(podspec.RUN_NAME_ANNOTATION)
        run = self._runs.get((namespace, str(run_name)))
        if run is not None:
            took = seconds_between(run.created, outcome.execution_started(pod))
            if took is not None:
                TO_POD_START.observe(took)

    def forget_pod(self, namespace: str, name: str) -> None:
        """The pod is gone from the cluster."""
        self._unstarted.discard((namespace, name))

    def phases(self) -> dict[tuple[str, str], int]:
        """Runs per (namespace, phase), every phase of every namespace with a Run (zeros included)."""
        namespaces = {namespace for namespace, _ in self._runs}
        counts = {(namespace, phase): 0 for namespace in namespaces for phase in RUN_PHASES}
        for (namespace, _), run in self._runs.items():
            counts[(namespace, run.phase)] += 1
        return counts


class _Collector(registry.Collector):
    """The scrape-time series of every attached :class:`Board` (one per running operator)."""

    def __init__(self) -> None:
        self.boards: list[Board] = []

    def collect(self) -> Iterable[core.Metric]:
        runs = core.GaugeMetricFamily(
            telemetry.METRIC_PREFIX + "operator_runs", "Runs by phase.", labels=["namespace", "phase"]
        )
        queue = core.GaugeMetricFamily(
            telemetry.METRIC_PREFIX + "operator_queue_length",
            "Queued Runs waiting for a free slot.",
            labels=["namespace"],
        )
        phases: dict[tuple[str, str], int] = {}
        queued: dict[str, int] = {}
        for board in self.boards:
            for key, count in board.phases().items():
                phases[key] = phases.get(key, 0) + count
            for namespace, count in board.view.queue_lengths().items():
                queued[namespace] = queued.get(namespace, 0) + count
        for (namespace, phase), count in sorted(phases.items()):
            runs.add_metric([namespace, phase], count)
        for namespace, count in sorted(queued.items()):
            queue.add_metric([namespace], count)
        return [runs, queue]

    def describe(self) -> Iterable[core.Metric]:
        # Describing by collecting would read a Board from the registering thread; names suffice.
        return [
            core.GaugeMetricFamily(telemetry.METRIC_PREFIX + "operator_runs", "Runs by phase."),
            core.GaugeMetricFamily(telemetry.METRIC_PREFIX + "operator_queue_length", "Queued Runs."),
        ]


_COLLECTOR = _Collector()
core.REGISTRY.register(_COLLECTOR)


@dataclasses.dataclass
class Exporter:
    """A running operator's :class:`Board` and, when a port is configured, its ``/metrics`` server."""

    board: Board
    server: web.AppRunner | None = None

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            _COLLECTOR.boards.remove(self.board)
        if self.server is not None:
            await self.server.cleanup()


async def start(view: ledger.Ledger, port: int, host: str | None = None) -> Exporter:
    """Attach a fresh Board to the process's registry and serve ``/metrics`` on ``port`` (0 = no server).

    Without ``host`` the server listens on every interface (IPv4 and IPv6), as a scraper needs.
    """
    server = None
    if port:
        app = web.Application()
        app.router.add_get(PATH, _metrics)
        server = web.AppRunner(app, access_log=None, handle_signals=False)
        await server.setup()
        try:
            await web.TCPSite(server, host, port).start()
        except BaseException:
            await server.cleanup()
            raise
        _log.info("serving metrics on port %d at %s", port, PATH)
    exporter = Exporter(Board(view), server)
    _COLLECTOR.boards.append(exporter.board)
    return exporter


async def _metrics(request: web.Request) -> web.Response:
    body, content_type = telemetry.exposition(request.headers.get("Accept"))
    response = web.Response(body=body)
    # The content type carries parameters (version, charset) that aiohttp's own field rejects.
    response.headers["Content-Type"] = content_type
    return response
