"""Fault injection: failing requests in Kubernetes' Status format and dropped watch streams."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import kopf
import pytest
from tests.harness import cluster, faults, operators
from tests.harness.widgets import widget

pytestmark = pytest.mark.cluster


def test_fail_next_answers_matching_requests_then_recovers(
    kube: cluster.Cluster, faults: faults.Faults, namespace: str
) -> None:
    url = f"{kube.url}/api/v1/namespaces/{namespace}/configmaps"
    faults.fail_next(2, code=500, verb="create", resource="configmaps")
    faults.fail_next(1, code=409, verb="patch", resource="configmaps")
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    first = httpx.post(url, json=body)
    assert first.status_code == 500
    assert first.json()["kind"] == "Status"
    assert first.json()["reason"] == "InternalError"
    assert httpx.get(url).status_code == 200
    assert httpx.post(url, json=body).status_code == 500
    assert httpx.post(url, json=body).status_code == 201
    merge = {"Content-Type": "application/merge-patch+json"}
    conflict = httpx.patch(f"{url}/c", json={"data": {"a": "b"}}, headers=merge)
    assert conflict.status_code == 409
    assert conflict.json()["reason"] == "Conflict"
    assert httpx.patch(f"{url}/c", json={"data": {"a": "b"}}, headers=merge).status_code == 200
    assert faults.injected == 3


def test_drop_watches_closes_live_streams(
    kube: cluster.Cluster, faults: faults.Faults, namespace: str
) -> None:
    url = f"{kube.url}/api/v1/namespaces/{namespace}/configmaps"
    opened, lines = threading.Event(), []

    def watch() -> None:
        with httpx.stream("GET", url, params={"watch": "true"}, timeout=30) as response:
            opened.set()
            lines.extend(line for line in response.iter_lines() if line)

    reader = threading.Thread(target=watch)
    reader.start()
    opened.wait(10)
    httpx.post(url, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "seen"}})
    cluster.wait_for(lambda: lines, what="the first event")
    cluster.wait_for(lambda: faults.drop_watches("configmaps"), what="a live watch to drop")
    reader.join(10)
    assert not reader.is_alive()
    assert [json.loads(line)["object"]["metadata"]["name"] for line in lines] == ["seen"]


def test_kopf_survives_dropped_watches_and_failing_patches(
    kube: cluster.Cluster, faults: faults.Faults, namespace: str, widgets: str
) -> None:
    registry = kopf.OperatorRegistry()

    @kopf.on.create("harness.p2n.dev", "v1", "widgets", registry=registry)
    def create(patch: kopf.Patch, **_: Any) -> None:
        patch.status["phase"] = "Seen"

    url = f"{widgets}/{namespace}/widgets"
    with operators.running(kube, registry, namespace=namespace) as operator:
        cluster.wait_for(lambda: faults.drop_watches("widgets"), what="kopf's widget watch to drop")
        faults.fail_next(2, code=500, verb="patch", resource="widgets")
        faults.fail_next(2, code=500, verb="patch", resource="widgets/status")
        httpx.post(url, json=widget("w")).raise_for_status()
        seen = cluster.wait_for(
            lambda: httpx.get(f"{url}/w").json().get("status", {}).get("phase"),
            what="the widget to be handled",
        )
    assert seen == "Seen"
    assert faults.injected >= 2
    assert not operator.errors
