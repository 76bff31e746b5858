"""The SSE relay baseline: a bare sse-starlette endpoint streaming a pod's runner events.

Served by uvicorn as its own process, like P2N's API. ``/runs/{namespace}/{pod}/events`` follows
the pod's log on the Kubernetes API (``BENCH_KUBE_URL``) and sends each JSON line as an SSE event
(``id`` = seq, ``event`` = name, ``data`` = the event's data), ending after the terminal stage:
the least a relay from the runner's stdout to a browser can do. ``/idle`` holds a connection open
without sending anything, for the per-client memory figure. No auth, no replay, no fan-out.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

_TERMINAL = {"run_complete", "run_error", "run_cancelled"}
_IDLE_SECONDS = 600
_LOG_ATTEMPTS = 600


async def _events(namespace: str, pod: str) -> AsyncIterator[dict[str, Any]]:
    url = f"{os.environ['BENCH_KUBE_URL']}/api/v1/namespaces/{namespace}/pods/{pod}/log"
    timeout = httpx.Timeout(15, read=None)
    async with httpx.AsyncClient(timeout=timeout) as client:
        # The log answers 400 until the container has started: ask again, briefly and boundedly.
        for _ in range(_LOG_ATTEMPTS):
            async with client.stream("GET", url, params={"follow": "true"}) as response:
                if response.status_code != 200:
                    await response.aread()
                    await asyncio.sleep(0.05)
                    continue
                async for line in response.aiter_lines():
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue
                    yield {
                        "id": str(event["seq"]),
                        "event": event["event"],
                        "data": json.dumps(event["data"]),
                    }
                    if event["event"] == "stage_update" and event["data"].get("stage") in _TERMINAL:
                        return
                return


async def events(request: Request) -> EventSourceResponse:
    return EventSourceResponse(_events(request.path_params["namespace"], request.path_params["pod"]))


async def _nothing() -> AsyncIterator[dict[str, Any]]:
    await asyncio.sleep(_IDLE_SECONDS)
    yield {"event": "end", "data": "{}"}


async def idle(_: Request) -> EventSourceResponse:
    return EventSourceResponse(_nothing())


async def healthz(_: Request) -> EventSourceResponse:
    return EventSourceResponse(iter([{"event": "ok", "data": "{}"}]))


app = Starlette(
    routes=[
        Route("/runs/{namespace}/{pod}/events", events),
        Route("/idle", idle),
        Route("/healthz", healthz),
    ]
)
