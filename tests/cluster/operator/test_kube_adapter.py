"""The operator's Kubernetes adapter against the emulated API: adoption on 409, typed errors, logs."""

from __future__ import annotations

import copy

import kopf
import pytest
from tests.harness import cluster

from p2n import errors
from p2n_operator import kube as kube_adapter

pytestmark = pytest.mark.cluster

API = "p2n.dev/v1alpha1"
HELLO = ["python", "-c", "print('hello')"]


def _adapter(kube: cluster.Cluster) -> kube_adapter.Kube:
    """The adapter logged in to the emulated server (the operator logs in through kopf's login)."""
    return kube_adapter.Kube(lambda: kopf.ConnectionInfo(server=kube.url, token="harness-admin"))


def _phase(adapter: kube_adapter.Kube, namespace: str) -> str | None:
    return ((adapter.find_pod(namespace, "p2n-run-adopt") or {}).get("status") or {}).get("phase")


def _pod(namespace: str, owner_uid: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "p2n-run-adopt",
            "namespace": namespace,
            "labels": {"app.kubernetes.io/name": "p2n-sandbox"},
            "ownerReferences": [
                {
                    "apiVersion": "p2n.dev/v1alpha1",
                    "kind": "Run",
                    "name": "adopt",
                    "uid": owner_uid,
                    "controller": True,
                }
            ],
        },
        "spec": {
            "containers": [{"name": "runner", "image": "x", "command": ["python", "-c", "print('hello')"]}]
        },
    }


def test_a_second_create_adopts_the_same_pod_and_refuses_a_stranger(kube, kubelet, namespace):
    adapter = _adapter(kube)
    created = adapter.create_pod(_pod(namespace, "uid-1"), "uid-1")
    again = adapter.create_pod(copy.deepcopy(_pod(namespace, "uid-1")), "uid-1")
    assert again["metadata"]["uid"] == created["metadata"]["uid"]
    assert len(adapter.list_pods(namespace, {"app.kubernetes.io/name": "p2n-sandbox"})) == 1
    with pytest.raises(errors.ClusterError):
        adapter.create_pod(_pod(namespace, "uid-2"), "uid-2")


def test_missing_objects_are_none_and_deletes_are_idempotent(kube, namespace):
    adapter = _adapter(kube)
    assert adapter.find_object("Run", namespace, "nope") is None
    assert adapter.find_pod(namespace, "nope") is None
    adapter.delete_pod(namespace, "nope")
    with pytest.raises(errors.NotFound):
        adapter.patch_status("Run", namespace, "nope", {"phase": "Running"})


def test_pod_log_follows_until_the_container_exits(kube, kubelet, namespace):
    adapter = _adapter(kube)
    adapter.create_pod(_pod(namespace, "uid-1"), "uid-1")

    cluster.wait_for(
        lambda: (
            (adapter.find_pod(namespace, "p2n-run-adopt") or {}).get("status", {}).get("phase") == "Succeeded"
        ),
        timeout=30,
        what="pod finished",
    )
    assert list(adapter.pod_log(namespace, "p2n-run-adopt", "runner")) == [b"hello"]
