"""A minimal kopf operator works against the harness: events, status, finalizer, child pod, pod log."""

from __future__ import annotations

import json
import sys
from typing import Any

import httpx
import kopf
import pytest
from tests.harness import cluster, kubelet, operators
from tests.harness.widgets import MERGE, widget

pytestmark = pytest.mark.cluster

FINALIZER = "p2n.dev/cleanup"


def widget_operator(kube: cluster.Cluster, seen: list[tuple[str, Any]]) -> kopf.OperatorRegistry:
    """Widgets get a child pod that prints their spec; the pod's phase is mirrored into status."""
    registry = kopf.OperatorRegistry()
    group, version = "harness.p2n.dev", "v1"

    @kopf.on.create(group, version, "widgets", registry=registry)
    def create(name: str, namespace: str, spec: Any, body: Any, patch: kopf.Patch, **_: Any) -> None:
        seen.append(("create", dict(spec)))
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"{name}-job", "labels": {"harness/widget": name}},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "main",
                        "image": "ghcr.io/p2n/runner:test",
                        "command": [sys.executable, "-c", "import os; print('size', os.environ['SIZE'])"],
                        "env": [{"name": "SIZE", "value": str(spec.get("size"))}],
                    }
                ],
            },
        }
        kopf.adopt(pod, owner=body)
        response = httpx.post(f"{kube.url}/api/v1/namespaces/{namespace}/pods", json=pod)
        response.raise_for_status()
        patch.status["phase"] = "Started"
        patch.status["pod"] = pod["metadata"]["name"]

    @kopf.on.update(group, version, "widgets", field="spec", registry=registry)
    def update(new: Any, patch: kopf.Patch, **_: Any) -> None:
        seen.append(("update", dict(new)))
        patch.status["observedSize"] = new["size"]

    @kopf.on.delete(group, version, "widgets", registry=registry)
    def delete(name: str, **_: Any) -> None:
        seen.append(("delete", name))

    @kopf.on.field(
        "v1", "pods", field="status.phase", labels={"harness/widget": kopf.PRESENT}, registry=registry
    )
    def pod_phase(new: Any, labels: Any, namespace: str, **_: Any) -> None:
        owner = labels["harness/widget"]
        url = f"{kube.url}/apis/{group}/{version}/namespaces/{namespace}/widgets/{owner}/status"
        httpx.patch(url, json={"status": {"podPhase": new}}, headers=MERGE)

    return registry


def test_kopf_operator_reconciles_widgets_through_their_lifecycle(
    kube: cluster.Cluster, kubelet: kubelet.Kubelet, namespace: str, widgets: str
) -> None:
    seen: list[tuple[str, Any]] = []
    settings = operators.fast_settings()
    settings.persistence.finalizer = FINALIZER
    url = f"{widgets}/{namespace}/widgets"
    with operators.running(
        kube, widget_operator(kube, seen), namespace=namespace, settings=settings
    ) as operator:
        httpx.post(url, json=widget("w1", size=3)).raise_for_status()

        def status(*keys: str) -> Any:
            obj = httpx.get(f"{url}/w1").json()
            current = obj.get("status", {})
            return current if all(k in current for k in keys) else None

        assert cluster.wait_for(lambda: status("phase"), what="status.phase")["pod"] == "w1-job"
        assert FINALIZER in httpx.get(f"{url}/w1").json()["metadata"]["finalizers"]
        pod_url = f"{kube.url}/api/v1/namespaces/{namespace}/pods/w1-job"
        started = ("Running", "Succeeded")
        cluster.wait_for(lambda: (status("podPhase") or {}).get("podPhase") in started, what="pod start")
        with httpx.stream("GET", f"{pod_url}/log", params={"follow": "true"}, timeout=30) as response:
            assert response.status_code == 200
            assert [line for line in response.iter_lines() if line] == ["size 3"]
        cluster.wait_for(lambda: status("podPhase")["podPhase"] == "Succeeded", what="pod to succeed")

        httpx.patch(f"{url}/w1", json={"spec": {"size": 4}}, headers=MERGE).raise_for_status()
        assert cluster.wait_for(lambda: status("observedSize"), what="update")["observedSize"] == 4

        httpx.delete(f"{url}/w1").raise_for_status()
        cluster.wait_for(lambda: httpx.get(f"{url}/w1").status_code == 404, what="the widget to be released")
        cluster.wait_for(lambda: httpx.get(pod_url).status_code == 404, what="the owned pod to cascade")
    assert not operator.errors
    assert [event for event, _ in seen] == ["create", "update", "delete"]
    assert seen[0][1] == {"size": 3}
    assert json.dumps(seen[1][1]) == json.dumps({"size": 4})
