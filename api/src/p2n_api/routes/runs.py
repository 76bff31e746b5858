"""Runs: list, read, follow their events (SSE), cancel, and export their metric series."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Header, Query, Response
from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from p2n import db, errors, resources, telemetry
from p2n_api import deps, models, sse, views
from p2n_api.deps import Caller, NamePath, ServicesDep
from p2n_api.routes import plans

router = APIRouter(prefix="/runs", tags=["runs"])

EventId = Annotated[str, Field(max_length=20, pattern=r"^(-1|[0-9]+)$")]

_SSE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-sent events: `id: <seq>`, `event: <name>`, `data: <json>`.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    204: {"description": "The run is over and the client has its terminal event: stop reconnecting."},
}
_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "seq,metric,split,step,value,ts",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


@router.get("")
async def list_runs(
    caller: Annotated[Caller, deps.authorized("list", "runs")],
    services: ServicesDep,
    plan: Annotated[str | None, Query(min_length=1, max_length=63, pattern=deps.DNS_LABEL)] = None,
) -> models.RunList:
    selector = f"{plans.PLAN_LABEL}={plan}" if plan else None
    items = await services.cluster.list("Run", caller.namespace, selector)
    return models.RunList(items=[views.run(obj) for obj in items])


@router.get("/{name}")
async def get_run(
    name: NamePath, caller: Annotated[Caller, deps.authorized("get", "runs")], services: ServicesDep
) -> models.RunPublic:
    return views.run(await services.cluster.get("Run", caller.namespace, name))


async def _run_or_history(services: deps.Services, namespace: str, name: str) -> dict[str, Any]:
    """The Run object; for a deleted Run, a stand-in made from its history row (NotFound if neither).

    The object's uid names the instance whose history is served; once it is gone, the newest
    history row of that name (a Run may have been deleted and recreated several times).
    """
    try:
        return await services.cluster.get("Run", namespace, name)
    except errors.NotFound:
        record = await anyio.to_thread.run_sync(services.history.latest_run, namespace, name)
    uid = db.cluster_run_uid(record.run_id)
    if record.phase not in resources.TERMINAL_RUN_PHASES:
        return sse.deleted_run(namespace, name, uid)
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": uid},
        "status": {"phase": record.phase, "reason": record.reason, "message": record.message},
    }


@router.get("/{name}/events", status_code=200, response_class=sse.EventStream, responses=_SSE_RESPONSE)
async def stream_run_events(
    name: NamePath,
    caller: Annotated[Caller, deps.authorized("get", "runs")],
    services: ServicesDep,
    last_event_id_header: Annotated[
        EventId | SkipJsonSchema[None], Header(alias="Last-Event-ID", description="Resume after this seq.")
    ] = None,
    last_event_id: Annotated[int | None, Query(ge=-1, description="Resume after this seq.")] = None,
) -> Response:
    """The run's events as SSE, from the first one (or after ``Last-Event-ID``) to the terminal stage.

    A client reconnecting after the terminal event gets 204, which tells an ``EventSource`` to stop.
    """
    after = sse.last_event_id(last_event_id_header, last_event_id)
    run = await _run_or_history(services, caller.namespace, name)
    terminal = await services.hub.terminal_seq(run)
    if terminal is not None and after >= terminal:
        return Response(status_code=204)
    attributes = {"p2n.namespace": caller.namespace, "p2n.run": name}
    return sse.EventStream(services.hub.stream(run, after), attributes)


@router.post("/{name}/cancel", status_code=202)
async def cancel_run(
    name: NamePath, caller: Annotated[Caller, deps.authorized("patch", "runs")], services: ServicesDep
) -> models.CancelAccepted:
    """Ask the operator to cancel the Run (``spec.cancel=true``); partial artifacts are kept."""
    with telemetry.span("p2n.run.cancel", {"p2n.namespace": caller.namespace, "p2n.run": name}):
        await services.cluster.patch("Run", caller.namespace, name, {"spec": {"cancel": True}})
    return models.CancelAccepted(name=name, namespace=caller.namespace)


async def _series(services: deps.Services, namespace: str, name: str) -> list[models.MetricPoint]:
    run = await _run_or_history(services, namespace, name)
    points = await anyio.to_thread.run_sync(services.history.metric_series, sse.run_id_of(run))
    return [models.MetricPoint.model_validate(p.model_dump()) for p in points]


@router.get("/{name}/metrics")
async def get_run_metrics(
    name: NamePath, caller: Annotated[Caller, deps.authorized("get", "runs")], services: ServicesDep
) -> models.MetricSeries:
    """Every ``metric_update`` of the run, by metric, split and step."""
    return models.MetricSeries(run=name, points=await _series(services, caller.namespace, name))


@router.get("/{name}/metrics.csv", response_class=Response, responses=_CSV_RESPONSE)
async def get_run_metrics_csv(
    name: NamePath, caller: Annotated[Caller, deps.authorized("get", "runs")], services: ServicesDep
) -> Response:
    """The metric series as CSV (one row per point)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["seq", "metric", "split", "step", "value", "ts"])
    for p in await _series(services, caller.namespace, name):
        writer.writerow([p.seq, p.metric, p.split, p.step, repr(p.value), repr(p.ts)])
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}-metrics.csv"'},
    )
