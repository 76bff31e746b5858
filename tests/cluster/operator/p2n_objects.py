"""Helpers of the operator's cluster tests: example manifests, waiting for phases, reading results."""

from __future__ import annotations

import copy
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml
from tests.harness import cluster

from p2n import resources

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
API = "p2n.dev/v1alpha1"
TERMINAL = resources.TERMINAL_RUN_PHASES


def example(name: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / name).read_text())


def with_spec(manifest: dict[str, Any], name: str | None = None, **spec: Any) -> dict[str, Any]:
    result = copy.deepcopy(manifest)
    if name:
        result["metadata"]["name"] = name
    result["spec"].update(spec)
    return result


def phase_of(kube: cluster.Cluster, kind: str, name: str, namespace: str) -> str | None:
    obj = kube.find(API, kind, name, namespace)
    return ((obj or {}).get("status") or {}).get("phase")


def wait_phase(
    kube: cluster.Cluster, kind: str, name: str, namespace: str, phases: Collection[str], timeout: float = 60
) -> dict[str, Any]:
    """Wait until the object's phase is one of ``phases``; return the object."""
    return cluster.wait_for(
        lambda: _in_phase(kube, kind, name, namespace, phases),
        timeout=timeout,
        interval=0.2,
        what=f"{kind} {name} in {sorted(phases)} (now {phase_of(kube, kind, name, namespace)})",
    )


def _in_phase(
    kube: cluster.Cluster, kind: str, name: str, namespace: str, phases: Collection[str]
) -> dict[str, Any] | None:
    obj = kube.find(API, kind, name, namespace)
    if obj is not None and (obj.get("status") or {}).get("phase") in phases:
        return obj
    return None


def sandbox_pods(kube: cluster.Cluster, namespace: str) -> list[dict[str, Any]]:
    return kube.list("v1", "Pod", namespace, label_selector="app.kubernetes.io/name=p2n-sandbox")


def apply(kubectl: Any, manifest: dict[str, Any]) -> None:
    kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest))


def ready_plan(kube: cluster.Cluster, kubectl: Any, namespace: str, plan_file: str = "plan.yaml") -> str:
    """Apply the example Paper and a Plan, wait until the Plan is Ready, return its name."""
    kubectl("apply", "-f", str(EXAMPLES / "paper-text.yaml"))
    plan = example(plan_file)
    apply(kubectl, plan)
    name = plan["metadata"]["name"]
    wait_phase(kube, "Plan", name, namespace, {"Ready"}, timeout=60)
    return name


def run_manifest(name: str, plan: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API,
        "kind": "Run",
        "metadata": {"name": name},
        "spec": {"planRef": {"name": plan}, **spec},
    }


def notebook(*sources: str) -> bytes:
    """A notebook of code cells; the last cell reports ``accuracy`` the way materialized notebooks do."""
    import nbformat

    metrics = (
        "import json, os\n"
        "with open(os.environ.get('P2N_METRICS_PATH', 'metrics.json'), 'w') as f:\n"
        "    json.dump({'accuracy': 0.5}, f)\n"
    )
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in (*sources, metrics)]
    return nbformat.writes(nb).encode()


def replace_notebook(store: Any, namespace: str, plan: str, content: bytes) -> None:
    """Swap the Plan's materialized notebook in storage for ``content`` (Runs started later use it)."""
    from p2n.storage import keys

    store.put_bytes(keys.plan_notebook(namespace, plan), content, "application/x-ipynb+json")


def run_status(kube: cluster.Cluster, name: str, namespace: str) -> dict[str, Any]:
    return (kube.get(API, "Run", name, namespace).get("status")) or {}


class PodConcurrency:
    """Counts unfinished sandbox pods from every pod event of the namespace (no sampling gaps)."""

    def __init__(self, kube: cluster.Cluster, namespace: str) -> None:
        self.active: set[str] = set()
        self.most = 0
        self.created: list[str] = []
        self._kube = kube
        self._watcher = kube.store.watch(
            kube.kind("v1", "Pod"),
            namespace,
            self._deliver,
            label_selector="app.kubernetes.io/name=p2n-sandbox",
        )

    def _deliver(self, event: Any) -> None:
        if event is None:
            return
        name = event.obj["metadata"]["name"]
        phase = (event.obj.get("status") or {}).get("phase")
        if event.type == "ADDED" and name not in self.created:
            self.created.append(name)
        if event.type == "DELETED" or phase in ("Succeeded", "Failed"):
            self.active.discard(name)
        else:
            self.active.add(name)
        self.most = max(self.most, len(self.active))

    def close(self) -> None:
        self._kube.store.unwatch(self._watcher)
