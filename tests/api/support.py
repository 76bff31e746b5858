"""Helpers of the API tier: the app served by uvicorn in a thread, an API client, SSE parsing, and a
fake runner pod (a Run whose pod prints runner events through the kubelet emulator, released by a
gate file) for relay tests that do not need the operator.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic import SecretStr
from tests.harness import cluster

import p2n.db
from p2n import settings
from p2n.storage import s3
from p2n_api import auth, deps, main, sse
from p2n_api import kube as api_kube

API = "p2n.dev/v1alpha1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerThread:
    """uvicorn serving one app in a background thread (its own event loop)."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="api-uvicorn", daemon=True)
        self.app = app

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise AssertionError("the API server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)

    @property
    def services(self) -> deps.Services:
        return self.app.state.services


def api_settings(
    bucket_settings: settings.Settings, database_url: str, **overrides: Any
) -> settings.Settings:
    return bucket_settings.model_copy(
        update={"database_url": SecretStr(database_url), "db_pool_max": 8, "log_format": "text", **overrides}
    )


@contextlib.contextmanager
def serve(
    kube_cluster: cluster.Cluster,
    config: settings.Settings,
    history: p2n.db.Database,
    heartbeat: float = sse.HEARTBEAT_SECONDS,
) -> Iterator[ServerThread]:
    """The real app (``p2n_api.main.create_app``) wired to the harness cluster, ``history`` and S3."""

    def services() -> deps.Services:
        cluster_client = api_kube.Kube(kube_cluster.url, token="harness-admin")
        return deps.Services(
            config=config,
            cluster=cluster_client,
            history=history,
            store=s3.S3Storage.from_settings(config),
            hub=sse.Hub(cluster_client, history, heartbeat=heartbeat),
            authenticator=auth.authenticator_for(config, cluster_client),
        )

    server = ServerThread(main.create_app(config, services=services))
    server.start()
    try:
        yield server
    finally:
        server.stop()


class ApiClient(httpx.Client):
    """An httpx client for the API, authenticated, acting in ``namespace`` (a query parameter)."""

    def __init__(self, base_url: str, token: str | None, ns: str) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        super().__init__(base_url=base_url, headers=headers, params={"namespace": ns}, timeout=30)
        self.namespace = ns
        self.token = token

    def as_token(self, token: str | None) -> ApiClient:
        return ApiClient(str(self.base_url), token, self.namespace)


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    return body["error"]


# --- a Run whose pod prints runner events (no operator needed) -------------------------------------

_FAKE_RUNNER = textwrap.dedent(
    """
    import json, os, sys, time
    run_id, count = os.environ["RUN_ID"], int(os.environ["COUNT"])
    gate = os.environ.get("GATE")
    def emit(seq, event, data):
        print(json.dumps({"seq": seq, "event": event, "ts": time.time(), "data": data}), flush=True)
    emit(0, "stage_update", {"stage": "run_start", "run_id": run_id})
    deadline = time.time() + 60
    while gate and not os.path.exists(gate) and time.time() < deadline:
        time.sleep(0.02)
    print("a line that is not an event", flush=True)
    for i in range(1, count + 1):
        emit(i, "progress", {"percent": 100.0 * i / count, "msg": f"step {i}"})
        if i % 10 == 0:
            time.sleep(0.01)
    metric = {"metric": "accuracy", "split": "test", "value": 0.97, "step": 0, "ts": 1.0}
    emit(count + 1, "metric_update", metric)
    emit(count + 2, "stage_update", {"stage": "run_complete", "run_id": run_id})
    """
)


class FakeRun:
    """A Run object (phase Running) and its pod printing ``count`` progress events once ``release()``d."""

    def __init__(self, kube_cluster: cluster.Cluster, ns: str, gate: Path, count: int) -> None:
        self.kube = kube_cluster
        self.namespace = ns
        self.gate = gate
        self.count = count
        self.name = f"fake-{secrets.token_hex(3)}"
        self.pod = f"p2n-run-{self.name}"
        self.total = count + 3

    def start(self) -> None:
        self.kube.create(
            {
                "apiVersion": API,
                "kind": "Run",
                "metadata": {"name": self.name},
                "spec": {"planRef": {"name": "no-plan"}, "seed": 0},
            },
            self.namespace,
        )
        self.kube.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": self.pod},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "runner",
                            "image": "p2n-runner:test",
                            "command": ["python", "-c", _FAKE_RUNNER],
                            "env": [
                                {"name": "RUN_ID", "value": self.name},
                                {"name": "COUNT", "value": str(self.count)},
                                {"name": "GATE", "value": str(self.gate)},
                            ],
                        }
                    ],
                },
            },
            self.namespace,
        )
        self.kube.patch(
            API,
            "Run",
            self.name,
            {"status": {"phase": "Running", "pod": self.pod}},
            self.namespace,
            status=True,
        )

    def release(self) -> None:
        self.gate.touch()

    def finish(self, phase: str = "Succeeded") -> None:
        self.kube.patch(API, "Run", self.name, {"status": {"phase": phase}}, self.namespace, status=True)


def sse_frames(text: str) -> list[dict[str, Any]]:
    """Parse an SSE body into frames ``{"id", "event", "data"}`` (comments and retry hints skipped)."""
    frames: list[dict[str, Any]] = []
    for block in text.split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            key, _, value = line.partition(": ")
            fields[key] = value
        if "event" in fields:
            frames.append(
                {"id": int(fields["id"]), "event": fields["event"], "data": json.loads(fields["data"])}
            )
    return frames
