"""The kubelet emulator runs pods as local processes with Kubernetes pod status and logs."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.harness import cluster, kubelet

pytestmark = pytest.mark.cluster


def pod(name: str, script: str, *, env: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "main",
        "image": "ghcr.io/p2n/runner:test",
        "command": ["python", "-c", textwrap.dedent(script)],
        "env": [{"name": k, "value": v} for k, v in (env or {}).items()],
    }
    container.update(spec.pop("container", {}))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [container], **spec},
    }


def finished(kube: cluster.Cluster, namespace: str, name: str, timeout: float = 30) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        obj = kube.get("v1", "Pod", name, namespace)
        return obj if obj.get("status", {}).get("phase") in ("Succeeded", "Failed") else None

    return cluster.wait_for(probe, timeout=timeout, what=f"pod {name} to finish")


def terminated(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["status"]["containerStatuses"][0]["state"]["terminated"]  # type: ignore[no-any-return]


def test_pod_runs_pending_running_succeeded_with_its_env(
    kube: cluster.Cluster, kubelet: kubelet.Kubelet, namespace: str
) -> None:
    phases: list[str] = []
    kind = kube.kind("v1", "Pod")
    watcher = kube.store.watch(
        kind, namespace, lambda ev: ev and phases.append(ev.obj.get("status", {}).get("phase", ""))
    )
    script = """
        import os, sys
        print("greeting", os.environ["GREETING"], flush=True)
        print("kubeconfig" in os.environ, file=sys.stderr)
    """
    kube.create(pod("ok", script, env={"GREETING": "hello"}), namespace)
    done = finished(kube, namespace, "ok")
    kube.store.unwatch(watcher)
    assert done["status"]["phase"] == "Succeeded"
    state = terminated(done)
    assert state["exitCode"] == 0
    assert state["reason"] == "Completed"
    assert state["startedAt"] <= state["finishedAt"]
    assert [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p] == [
        "Pending",
        "Running",
        "Succeeded",
    ]
    assert sorted(kubelet.log(namespace, "ok").splitlines()) == ["False", "greeting hello"]


def test_failing_command_fails_the_pod_with_its_exit_code(
    kube: cluster.Cluster, kubelet: kubelet.Kubelet, namespace: str
) -> None:
    kube.create(pod("bad", "import sys; sys.exit(3)"), namespace)
    done = finished(kube, namespace, "bad")
    assert done["status"]["phase"] == "Failed"
    assert terminated(done)["exitCode"] == 3
    assert terminated(done)["reason"] == "Error"


def test_console_scripts_resolve_against_the_venv(
    kube: cluster.Cluster, kubelet: kubelet.Kubelet, namespace: str
) -> None:
    spec = pod("runner", "")
    spec["spec"]["containers"][0]["command"] = ["p2n-runner", "--help"]
    kube.create(spec, namespace)
    assert finished(kube, namespace, "runner")["status"]["phase"] == "Succeeded"
    assert "--notebook" in kubelet.log(namespace, "runner")


def test_log_follow_streams_while_the_container_runs(
    kube: cluster.Cluster, kubelet: kubelet.Kubelet, namespace: str, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    script = f"""
        import os, time
        print("first", flush=True)
        while not os.path.exists({str(gate)!r}):
            time.sleep(0.02)
        print("second", flush=True)
    """
    kube.create(pod("follow", script), namespace)
    cluster.wait_for(lambda: kubelet.log(namespace, "follow"), what="first line")
    url = f"{kube.url}/api/v1/namespaces/{namespace}/pods/follow/log"
    lines = []
    with httpx.stream("GET", url, params={"follow": "true"}, timeout=20) as response:
        for line in response.iter_lines():
            lines.append(line)
            if line == "first":
                gate.touch()
    assert lines == ["first", "second"]
    assert finished(kube, namespace, "follow")["status"]["phase"] == "Succeeded"


def test_log_options_tail_timestamps_since(
    kube: cluster.Cluster, kubelet: kubelet.Kubelet, namespace: str
) -> None:
    kube.create(pod("many", "for i in range(5): print(i)"), namespace)
    finished(kube, namespace, "many")
    url = f"{kube.url}/api/v1/namespaces/{namespace}/pods/many/log"
    assert httpx.get(url).text == "0\n1\n2\n3\n4\n"
    assert httpx.get(url, params={"tailLines": "2"}).text == "3\n4\n"
    stamped = httpx.get(url, params={"timestamps": "true", "tailLines": "1"}).text
    stamp, line = stamped.split(" ")
    assert line == "4\n"
    assert stamp.endswith("Z")
    assert httpx.get(url, params={"sinceTime": "2999-01-01T00:00:00Z"}).text == ""
    assert httpx.get(url, params={"sinceTime": "2000-01-01T00:00:00Z"}).text.count("\n") == 5


def test_active_deadline_fails_the_pod_with_deadline_exceeded(
    kube: cluster.Cluster, kubelet: kubelet.Kubelet, namespace: str
) -> None:
    kube.create(pod("slow", "import time; time.sleep(60)", activeDeadlineSeconds=1), namespace)
    done = finished(kube, namespace, "slow")
    assert done["status"]["phase"] == "Failed"
    assert done["status"]["reason"] == "DeadlineExceeded"
    assert terminated(done)["exitCode"] != 0


def test_delete_sends_sigterm_and_waits_for_exit(
    kube: cluster.Cluster, kubelet: kubelet.Kubelet, namespace: str
) -> None:
    script = """
        import signal, sys, time
        def stop(*_):
            print("got SIGTERM", flush=True)
            sys.exit(0)
        signal.signal(signal.SIGTERM, stop)
        print("ready", flush=True)
        time.sleep(60)
    """
    kube.create(pod("graceful", script), namespace)
    cluster.wait_for(lambda: "ready" in kubelet.log(namespace, "graceful"), what="the process to be ready")
    deleted = httpx.delete(f"{kube.url}/api/v1/namespaces/{namespace}/pods/graceful").json()
    assert deleted["metadata"]["deletionTimestamp"]
    cluster.wait_for(lambda: kube.find("v1", "Pod", "graceful", namespace) is None, what="pod removal")
    assert "got SIGTERM" in kubelet.log(namespace, "graceful")


def test_delete_kills_after_the_grace_period(
    kube: cluster.Cluster, kubelet: kubelet.Kubelet, namespace: str
) -> None:
    script = """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(60)
    """
    kube.create(pod("stubborn", script, terminationGracePeriodSeconds=1), namespace)
    cluster.wait_for(lambda: "ready" in kubelet.log(namespace, "stubborn"), what="the process to be ready")
    last: list[dict[str, Any]] = []
    watcher = kube.store.watch(kube.kind("v1", "Pod"), namespace, lambda ev: ev and last.append(ev.obj))
    kube.delete("v1", "Pod", "stubborn", namespace)
    assert kube.get("v1", "Pod", "stubborn", namespace)["metadata"]["deletionTimestamp"]
    cluster.wait_for(lambda: kube.find("v1", "Pod", "stubborn", namespace) is None, what="pod removal")
    kube.store.unwatch(watcher)
    assert terminated(last[-1])["exitCode"] == 137


def test_image_pull_convention(kube: cluster.Cluster, kubelet: kubelet.Kubelet, namespace: str) -> None:
    spec = pod("nopull", "print('never')", container={"image": "ghcr.io/p2n/runner:does-not-exist"})
    kube.create(spec, namespace)

    def waiting() -> str | None:
        obj = kube.get("v1", "Pod", "nopull", namespace)
        statuses = obj.get("status", {}).get("containerStatuses") or [{}]
        reason = statuses[0].get("state", {}).get("waiting", {}).get("reason")
        return reason if reason in ("ErrImagePull", "ImagePullBackOff") else None

    assert cluster.wait_for(waiting, what="ErrImagePull") in ("ErrImagePull", "ImagePullBackOff")
    cluster.wait_for(lambda: waiting() == "ImagePullBackOff", what="ImagePullBackOff")
    assert kube.get("v1", "Pod", "nopull", namespace)["status"]["phase"] == "Pending"
    response = httpx.get(f"{kube.url}/api/v1/namespaces/{namespace}/pods/nopull/log")
    assert response.status_code == 400
    assert "ImagePullBackOff" in response.json()["message"]
    kube.delete("v1", "Pod", "nopull", namespace)
    assert kube.find("v1", "Pod", "nopull", namespace) is None


def test_env_value_from_fails_the_pod_clearly(
    kube: cluster.Cluster, kubelet: kubelet.Kubelet, namespace: str
) -> None:
    spec = pod("vf", "print(1)")
    spec["spec"]["containers"][0]["env"] = [
        {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
    ]
    kube.create(spec, namespace)
    done = finished(kube, namespace, "vf")
    assert done["status"]["phase"] == "Failed"
    assert done["status"]["reason"] == "UnsupportedByHarness"
    assert "SECRET" in done["status"]["message"]


def test_paused_kubelet_leaves_pods_pending_until_resumed(
    kube: cluster.Cluster, kubelet: kubelet.Kubelet, namespace: str
) -> None:
    kubelet.pause()
    kube.create(pod("later", "print('ran')"), namespace)
    assert kube.get("v1", "Pod", "later", namespace)["status"]["phase"] == "Pending"
    assert kubelet.pid(namespace, "later") is None
    kubelet.resume()
    assert finished(kube, namespace, "later")["status"]["phase"] == "Succeeded"


def test_memory_limit_applies_to_the_process(
    kube: cluster.Cluster, kubelet: kubelet.Kubelet, namespace: str
) -> None:
    script = "data = bytearray(768 * 1024 * 1024); print('allocated')"
    limits = {"resources": {"limits": {"memory": "128Mi", "cpu": "500m"}}}
    kube.create(pod("hungry", script, container=limits), namespace)
    done = finished(kube, namespace, "hungry")
    assert done["status"]["phase"] == "Failed"
    assert terminated(done)["reason"] in ("OOMKilled", "Error")
    assert "allocated" not in kubelet.log(namespace, "hungry")


def test_volumes_are_local_directories_with_remapped_paths(
    kube: cluster.Cluster, kubelet: kubelet.Kubelet, namespace: str
) -> None:
    kube.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "nb"}, "data": {"x.txt": "hi"}},
        namespace,
    )
    script = """
        import sys, pathlib
        print(pathlib.Path(sys.argv[1]).read_text())
        pathlib.Path(sys.argv[2]).write_text("o")
    """
    spec = pod("vols", script)
    container = spec["spec"]["containers"][0]
    container["args"] = ["/input/x.txt", "/work/out.txt"]
    container["volumeMounts"] = [
        {"name": "in", "mountPath": "/input"},
        {"name": "work", "mountPath": "/work"},
    ]
    spec["spec"]["volumes"] = [{"name": "in", "configMap": {"name": "nb"}}, {"name": "work", "emptyDir": {}}]
    kube.create(spec, namespace)
    done = finished(kube, namespace, "vols")
    assert done["status"]["phase"] == "Succeeded", json.dumps(done["status"])
    assert kubelet.log(namespace, "vols").strip() == "hi"


def test_kubernetes_client_follows_a_running_pods_log(
    kube: cluster.Cluster, kubelet: kubelet.Kubelet, namespace: str
) -> None:
    import kubernetes

    script = """
        import time
        for i in range(3):
            print("line", i, flush=True)
            time.sleep(0.2)
    """
    kube.create(pod("chatty", script), namespace)
    cluster.wait_for(lambda: kubelet.pid(namespace, "chatty"), what="the container to start")
    core = kubernetes.client.CoreV1Api(kube.api_client())
    stream = core.read_namespaced_pod_log("chatty", namespace, follow=True, _preload_content=False)
    text = b"".join(stream.stream()).decode()
    assert text.splitlines() == ["line 0", "line 1", "line 2"]
