"""The FastAPI application: ``uvicorn p2n_api.main:app``.

:func:`create_app` wires the routers, the error envelope, the body limit and the request metrics; its
lifespan builds the collaborators (:class:`p2n_api.deps.Services`) from the settings at startup,
unless a test hands in its own, and then also sets up the process's JSON logs (:mod:`p2n.logs`) and,
when an OTLP endpoint is configured, trace export (:mod:`p2n.telemetry`). Nothing connects anywhere
at import time.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from p2n import db, logs, redact, settings, storage, telemetry
from p2n_api import auth, deps, failures, kube, limits, metrics, models, sse
from p2n_api.routes import dashboard, explain, health, papers, plans, runs

API_PREFIX = "/api/v1"

_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": models.ErrorEnvelope, "description": description}
    for status, description in {
        400: "The body cannot be parsed (E_INVALID_INPUT).",
        401: "No valid bearer token (E_UNAUTHORIZED).",
        403: "The caller may not do this (E_FORBIDDEN).",
        404: "No such object (E_NOT_FOUND).",
        409: "The object exists already, or what it depends on is not ready.",
        413: "The request body is too large (E_PAYLOAD_TOO_LARGE).",
        422: "Invalid input (E_INVALID_INPUT), naming the field.",
        500: "Internal error (E_INTERNAL).",
        502: "Kubernetes or storage failed (E_CLUSTER, E_STORAGE, E_LLM).",
        503: "The database is unavailable (E_DATABASE).",
    }.items()
}


def _operation_id(route: APIRoute) -> str:
    # Operation ids are the handler names (create_paper, stream_run_events...): stable and readable.
    return route.name


async def build_services(config: settings.Settings) -> deps.Services:
    cluster = kube.Kube.from_environment()
    history = await anyio.to_thread.run_sync(db.Database.connect, config)
    return deps.Services(
        config=config,
        cluster=cluster,
        history=history,
        store=storage.from_settings(config),
        hub=sse.Hub(cluster, history),
        authenticator=auth.authenticator_for(config, cluster),
    )


def create_app(
    config: settings.Settings | None = None,
    *,
    services: Callable[[], deps.Services] | None = None,
) -> FastAPI:
    """The app; ``services`` (a factory) replaces the ones built from settings, for tests."""
    chosen = config or settings.get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redact.guard_loggers("uvicorn", "p2n_api", "httpx", "fastapi")
        tracing = None
        if services is None:
            # A served app owns its process: JSON logs on stderr and, when configured, OTLP traces.
            logs.configure(chosen)
            tracing = telemetry.configure_tracing(chosen, service="p2n-api")
        built = services() if services is not None else await build_services(chosen)
        app.state.services = built
        try:
            yield
        finally:
            await built.hub.close()
            if services is None:
                await built.cluster.close()
                await anyio.to_thread.run_sync(built.history.close)
            if tracing is not None:
                tracing.shutdown()

    app = FastAPI(
        title="P2N API",
        version="0.1.0",
        summary="Paper -> Plan -> Notebook -> Run -> Report: REST and SSE facade.",
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    failures.install(app)
    app.add_middleware(limits.BodyLimit, max_bytes=chosen.max_body_bytes)
    app.add_middleware(failures.Guard)
    app.add_middleware(metrics.RequestMetrics)
    api = APIRouter(prefix=API_PREFIX, responses=_ERROR_RESPONSES)
    for module in (papers, plans, runs, explain):
        api.include_router(module.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(api)
    app.include_router(dashboard.router)
    return app


app = create_app()
