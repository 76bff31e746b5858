"""The real kubectl 1.37 binary works against the harness: apply, get, describe, explain, delete."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from tests.harness import cluster, kubectl
from tests.harness import kubectl as kubectl_binary

pytestmark = pytest.mark.cluster

EXAMPLES = cluster.REPO / "examples"


def examples() -> list[Path]:
    return sorted(EXAMPLES.glob("*.yaml"))


def test_apply_get_describe_delete_the_examples(
    kube: cluster.Cluster, kubectl: kubectl.Kubectl, namespace: str
) -> None:
    applied = kubectl("apply", "-f", str(EXAMPLES))
    manifests = [yaml.safe_load(path.read_text()) for path in examples()]
    assert len(manifests) >= 3
    for manifest in manifests:
        assert f"{manifest['kind'].lower()}.p2n.dev/{manifest['metadata']['name']} created" in applied

    run = next(m for m in manifests if m["kind"] == "Run")
    table = kubectl("get", "runs").splitlines()
    assert table[0].split()[:4] == ["NAME", "PLAN", "SEED", "PHASE"]
    assert table[1].split()[:3] == [
        run["metadata"]["name"],
        run["spec"]["planRef"]["name"],
        str(run["spec"]["seed"]),
    ]
    everything = kubectl("get", "p2n")
    assert all(m["metadata"]["name"] in everything for m in manifests)

    as_yaml = yaml.safe_load(kubectl("get", "run", run["metadata"]["name"], "-o", "yaml"))
    assert as_yaml["spec"]["planRef"] == run["spec"]["planRef"]
    assert as_yaml["metadata"]["uid"]
    listed = kubectl.json("get", "plans")
    assert listed["kind"] == "List"
    assert {i["kind"] for i in listed["items"]} == {"Plan"}

    obj = kube.get("p2n.dev/v1alpha1", "Run", run["metadata"]["name"], namespace)
    kube.create(
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": "run-"},
            "involvedObject": {
                "apiVersion": "p2n.dev/v1alpha1",
                "kind": "Run",
                "name": obj["metadata"]["name"],
                "namespace": namespace,
                "uid": obj["metadata"]["uid"],
            },
            "reason": "PodCreated",
            "message": "sandbox pod p2n-run-x created",
            "type": "Normal",
            "count": 1,
            "firstTimestamp": obj["metadata"]["creationTimestamp"],
            "lastTimestamp": obj["metadata"]["creationTimestamp"],
            "source": {"component": "p2n-operator"},
        },
        namespace,
    )
    described = kubectl("describe", "run", run["metadata"]["name"])
    assert "Plan Ref:" in described
    assert "PodCreated" in described
    assert "sandbox pod p2n-run-x created" in described

    deleted = kubectl("delete", "-f", str(EXAMPLES))
    assert deleted.count("deleted") == len(manifests)
    assert kube.list("p2n.dev/v1alpha1", "Run", namespace) == []


def test_reapply_patches_and_bumps_generation(
    kube: cluster.Cluster, kubectl: kubectl.Kubectl, namespace: str
) -> None:
    manifest = yaml.safe_load((EXAMPLES / "run.yaml").read_text())
    name = manifest["metadata"]["name"]
    kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest))
    assert "unchanged" in kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest))
    manifest["spec"]["seed"] = 7
    assert "configured" in kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest))
    run = kube.get("p2n.dev/v1alpha1", "Run", name, namespace)
    assert run["spec"]["seed"] == 7
    assert run["metadata"]["generation"] == 2


def test_reapplying_a_builtin_kind_sends_a_strategic_merge_patch(
    kube: cluster.Cluster, kubectl: kubectl.Kubectl, namespace: str
) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg"},
        "data": {"a": "1", "b": "2"},
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump(config))
    config["data"] = {"a": "1", "c": "3"}
    assert "configured" in kubectl("apply", "-f", "-", input=yaml.safe_dump(config))
    assert kube.get("v1", "ConfigMap", "cfg", namespace)["data"] == {"a": "1", "c": "3"}


def test_server_side_apply(kube: cluster.Cluster, kubectl: kubectl.Kubectl, namespace: str) -> None:
    manifest = yaml.safe_load((EXAMPLES / "plan.yaml").read_text())
    kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(manifest))
    manifest["spec"]["timeoutMinutes"] = 5
    kubectl("apply", "--server-side", "-f", "-", input=yaml.safe_dump(manifest))
    plan = kube.get("p2n.dev/v1alpha1", "Plan", manifest["metadata"]["name"], namespace)
    assert plan["spec"]["timeoutMinutes"] == 5


@pytest.mark.parametrize(
    "path", sorted((cluster.REPO / "examples" / "invalid").glob("*.yaml")), ids=lambda p: p.stem
)
def test_invalid_examples_are_rejected_at_admission(kubectl: kubectl.Kubectl, path: Path) -> None:
    result = kubectl.run("apply", "-f", str(path), check=False)
    assert result.returncode != 0
    assert "is invalid" in result.stderr


def test_explain_shows_the_crd_descriptions(kubectl: kubectl.Kubectl) -> None:
    explained = kubectl("explain", "run.spec.planRef")
    assert "KIND:       Run" in explained
    assert "required" in explained.lower() or "name" in explained


def test_pods_print_like_kubectl_and_logs_read(
    kube: cluster.Cluster, kubectl: kubectl.Kubectl, kubelet: object, namespace: str
) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "hello"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "x", "command": ["python", "-c", "print('hi there')"]}],
        },
    }
    kubectl("apply", "-f", "-", input=yaml.safe_dump(pod))
    cluster.wait_for(
        lambda: kube.get("v1", "Pod", "hello", namespace).get("status", {}).get("phase") == "Succeeded",
        what="pod to succeed",
    )
    header, row = kubectl("get", "pods").splitlines()
    assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert row.split()[:4] == ["hello", "0/1", "Completed", "0"]
    assert kubectl("logs", "hello") == "hi there\n"
    assert kubectl("logs", "hello", "--follow") == "hi there\n"
    assert "Exit Code:    0" in kubectl("describe", "pod", "hello")
    kubectl("delete", "pod", "hello")
    assert kube.find("v1", "Pod", "hello", namespace) is None


def test_get_watch_prints_rows_as_status_changes(
    kube: cluster.Cluster, kubectl: kubectl.Kubectl, namespace: str
) -> None:
    manifest = yaml.safe_load((EXAMPLES / "run.yaml").read_text())
    name = manifest["metadata"]["name"]
    kubectl("apply", "-f", "-", input=yaml.safe_dump(manifest))
    argv = [str(kubectl_binary.BINARY), "--kubeconfig", str(kube.kubeconfig_path), "-n", namespace]
    watcher = subprocess.Popen([*argv, "get", "runs", "-w"], stdout=subprocess.PIPE, text=True)
    try:
        assert watcher.stdout is not None
        header = watcher.stdout.readline().split()
        first = watcher.stdout.readline().split()
        kube.patch("p2n.dev/v1alpha1", "Run", name, {"status": {"phase": "Running"}}, namespace, status=True)
        second = watcher.stdout.readline().split()
    finally:
        watcher.kill()
        watcher.wait()
    phase = header.index("PHASE")
    assert (first[0], first[phase]) == (name, "<none>")
    assert (second[0], second[phase]) == (name, "Running")
