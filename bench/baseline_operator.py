"""The control-plane baseline: a minimal kopf operator that creates one pod per Run.

Run by ``kopf run --standalone`` as its own process, like P2N's operator. It does the least an
operator must do for the same two figures: on a Run's creation it creates a pod (owned by the Run,
labelled with its name, through the same `kubernetes` client P2N uses), and when that pod ends it
writes the Run's terminal phase. No plan lookup, no admission, no storage, no database.
"""

from __future__ import annotations

from typing import Any

import kopf
import kubernetes

_clients: dict[str, Any] = {}


def _api() -> tuple[Any, Any]:
    if not _clients:
        kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
        _clients["core"] = kubernetes.client.CoreV1Api()
        _clients["custom"] = kubernetes.client.CustomObjectsApi()
    return _clients["core"], _clients["custom"]


@kopf.on.create("p2n.dev", "v1alpha1", "runs")
def create_pod(name: str, namespace: str | None, body: kopf.Body, **_: Any) -> None:
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"base-{name}", "labels": {"p2n.dev/run": name}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox", "command": ["true"]}],
        },
    }
    kopf.adopt(pod, owner=body)
    core, _custom = _api()
    core.create_namespaced_pod(namespace, pod)


@kopf.on.field("", "v1", "pods", field="status.phase", labels={"p2n.dev/run": kopf.PRESENT})
def pod_phase(new: Any, namespace: str | None, labels: kopf.Labels, **_: Any) -> None:
    if new not in ("Succeeded", "Failed"):
        return
    _core, custom = _api()
    custom.patch_namespaced_custom_object_status(
        "p2n.dev", "v1alpha1", namespace, "runs", labels["p2n.dev/run"], {"status": {"phase": new}}
    )
