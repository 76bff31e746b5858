"""Prometheus metrics of the API: the instruments, the middleware timing every request, ``/metrics``.

``/metrics`` is served on the API's port without authentication, like ``/healthz``, and is left
out of the OpenAPI schema. That is what most Kubernetes services do (a scraper has no user token,
and a ServiceMonitor/PodMonitor scrapes the pod directly); the series hold only aggregates whose
labels come from a closed set (route templates, never raw paths; methods; status codes), so no
object name, user or secret can appear in them. Deployments that want it private restrict the
path at their ingress (the scraper reaches the pod directly, not through the ingress).

Request durations are labelled by route template (``/api/v1/runs/{name}``), so the number of
series stays bounded whatever paths clients send; unmatched paths share one label. The router
only tells which route matched (its path relative to its router), so the full template is looked
up in the app's OpenAPI paths by operation id. An SSE stream's duration is the time the client
stayed connected.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from p2n import telemetry

UNMATCHED_ROUTE = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

HTTP_DURATION = telemetry.histogram(
    "api_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template and status.",
    ["method", "route", "status"],
)
SSE_CLIENTS = telemetry.gauge("api_sse_clients", "SSE clients connected to run event streams.")
SSE_FEEDS = telemetry.gauge(
    "api_sse_feeds", "Runs whose events the API follows upstream (one feed per run, shared by its clients)."
)
EVENTS_RELAYED = telemetry.counter("api_sse_events_relayed", "Events sent to SSE clients (per client).")

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The process's metrics in the Prometheus (or OpenMetrics, if asked) text format."""
    body, content_type = telemetry.exposition(request.headers.get("accept"))
    return Response(body, media_type=content_type)


class RequestMetrics:
    """ASGI middleware observing :data:`HTTP_DURATION` for every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: dict[str, str] | None = None

    def _template(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is None:
            return UNMATCHED_ROUTE
        if self._templates is None and isinstance(scope.get("app"), FastAPI):
            paths = scope["app"].openapi().get("paths", {})
            self._templates = {
                str(operation["operationId"]): path
                for path, operations in paths.items()
                for operation in operations.values()
                if isinstance(operation, dict) and "operationId" in operation
            }
        by_name = (self._templates or {}).get(str(getattr(route, "name", "")))
        return by_name or str(getattr(route, "path", "")) or UNMATCHED_ROUTE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            # The router stores the matched route in the (shared) scope dict.
            route = self._template(scope)
            HTTP_DURATION.labels(method, route, str(status)).observe(time.perf_counter() - started)
