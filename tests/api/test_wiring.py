"""The production wiring: services built from settings and the environment, as in the container."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr
from tests.api import support

import p2n.db
from p2n import storage
from p2n_api import auth, deps, main, sse
from p2n_api import kube as kube_adapter

pytestmark = pytest.mark.api


async def test_cluster_connection_comes_from_kubeconfig(kube, namespace):
    # The ``kube`` fixture points KUBECONFIG at the emulated API server, as kubectl would find it.
    kube.create(
        {
            "apiVersion": support.API,
            "kind": "Paper",
            "metadata": {"name": "seen"},
            "spec": {"source": {"text": "x"}},
        },
        namespace,
    )
    client = kube_adapter.Kube.from_environment()
    try:
        await client.ping()
        assert [p["metadata"]["name"] for p in await client.list("Paper", namespace)] == ["seen"]
    finally:
        await client.close()


def test_app_built_from_settings_serves_requests(kube, api_config, namespace):
    config = api_config.model_copy(
        update={"auth_mode": "static", "static_tokens": SecretStr("wired=operator-admin")}
    )
    server = support.ServerThread(main.create_app(config))
    server.start()
    try:
        assert httpx.get(f"{server.url}/readyz").json()["checks"] == {"database": "ok", "kubernetes": "ok"}
        with support.ApiClient(server.url, "wired", namespace) as client:
            created = client.post("/api/v1/papers", json={"name": "wired", "text": "Accuracy 0.9."})
            assert created.status_code == 201, created.text
            assert client.get("/api/v1/papers").json()["items"][0]["name"] == "wired"
    finally:
        server.stop()


def test_readyz_reports_unreachable_dependencies(api_config, postgres_database):
    history = p2n.db.Database(postgres_database, pool_min=0, pool_max=1)
    history.close()

    def services() -> deps.Services:
        cluster_client = kube_adapter.Kube(f"http://127.0.0.1:{support.free_port()}")
        return deps.Services(
            config=api_config,
            cluster=cluster_client,
            history=history,
            store=storage.from_settings(api_config),
            hub=sse.Hub(cluster_client, history),
            authenticator=auth.authenticator_for(api_config, cluster_client),
        )

    server = support.ServerThread(main.create_app(api_config, services=services))
    server.start()
    try:
        response = httpx.get(f"{server.url}/readyz")
        assert httpx.get(f"{server.url}/healthz").status_code == 200
    finally:
        server.stop()
    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "E_DATABASE"
    assert error["details"]["checks"] == {"database": "E_DATABASE", "kubernetes": "E_CLUSTER"}
