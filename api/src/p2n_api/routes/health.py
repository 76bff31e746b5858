"""Liveness and readiness probes; the only routes without authentication."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from p2n import errors
from p2n_api import failures, models
from p2n_api.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> models.Health:
    """The process serves requests."""
    return models.Health()


@router.get(
    "/readyz",
    response_model=models.Readiness,
    responses={503: {"model": models.ErrorEnvelope, "description": "A dependency is unreachable."}},
)
async def readyz(services: ServicesDep) -> models.Readiness | JSONResponse:
    """PostgreSQL and the Kubernetes API both answer."""
    checks: dict[str, str] = {}
    failed: list[errors.P2NError] = []
    try:
        await anyio.to_thread.run_sync(services.history.ping)
        checks["database"] = "ok"
    except errors.P2NError as exc:
        checks["database"] = exc.code
        failed.append(exc)
    try:
        await services.cluster.ping()
        checks["kubernetes"] = "ok"
    except errors.P2NError as exc:
        checks["kubernetes"] = exc.code
        failed.append(exc)
    if failed:
        summary = ", ".join(f"{name}: {state}" for name, state in checks.items())
        body = failures.envelope(failed[0].code, f"not ready ({summary})", {"checks": checks})
        return JSONResponse(body, status_code=503)
    return models.Readiness(status="ok", checks=checks)
