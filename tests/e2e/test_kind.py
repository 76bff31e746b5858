"""The whole system on kind: the example Paper/Plan/Run applied with kubectl reproduce a claim,
the Run's events stream through the API over SSE, a second Run is cancelled, and the release
uninstalls cleanly (keeping the CRDs, as Helm does)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from tests.e2e import kind_cluster as e2e

pytestmark = [pytest.mark.kind, pytest.mark.timeout(3600)]

EXAMPLES = e2e.REPO / "examples"
RUN = "iris-lda-cv-seed-1"
CANCELLED_RUN = "iris-lda-cv-seed-2"
TERMINAL = ("Succeeded", "Failed", "Cancelled", "TimedOut")
# Run inside a pod labelled as a sandbox: one word per destination. curl exits 7 (refused) or 28
# (timed out) when no connection is made; any other code means the TCP connection was made.
EGRESS_PROBE = f"""
probe() {{
  curl -s -o /dev/null --connect-timeout 5 -m 8 "$2"
  case $? in 7|28) echo "$1:blocked" ;; 6) echo "$1:unresolved" ;; *) echo "$1:reachable" ;; esac
}}
probe store http://s3.{e2e.DEPS_NAMESPACE}.svc.cluster.local:5000/
probe apiserver https://kubernetes.default.svc/version
probe postgres http://postgres.{e2e.DEPS_NAMESPACE}.svc.cluster.local:5432/
"""
# Routes of the API (api/src/p2n_api/routes/runs.py); the namespace is a query parameter.
EVENTS = "/api/v1/runs/{name}/events"
CANCEL = "/api/v1/runs/{name}/cancel"


def _wait_for_phase(kubectl, kind: str, name: str, phases: tuple[str, ...], timeout_s: int) -> dict:
    """Poll until the object's phase is one of ``phases`` or terminal (or time is up); return it."""
    wanted = set(phases) | set(TERMINAL)
    deadline = time.monotonic() + timeout_s
    while True:
        obj = kubectl.json("get", kind, name)
        if obj.get("status", {}).get("phase") in wanted or time.monotonic() > deadline:
            return obj
        time.sleep(2)


def _sse(response: httpx.Response) -> Iterator[dict]:
    """Parse a text/event-stream into {id, event, data} dicts."""
    event: dict = {}
    for line in response.iter_lines():
        if not line:
            if event:
                yield event
            event = {}
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "data":
            event["data"] = f"{event['data']}\n{value}" if "data" in event else value
        elif field in ("id", "event"):
            event[field] = value


def test_api_is_ready(api_url):
    assert httpx.get(f"{api_url}/readyz", timeout=30).status_code == 200


def test_example_run_succeeds(cluster, release):
    kubectl = cluster.kubectl()
    kubectl(
        "apply",
        "-f",
        str(EXAMPLES / "paper-text.yaml"),
        "-f",
        str(EXAMPLES / "plan.yaml"),
        "-f",
        str(EXAMPLES / "run.yaml"),
    )
    paper = _wait_for_phase(kubectl, "paper", "iris-lda", ("Ready",), 300)
    assert paper["status"]["phase"] == "Ready", paper["status"]
    plan = _wait_for_phase(kubectl, "plan", "iris-lda-cv", ("Ready",), 300)
    assert plan["status"]["phase"] == "Ready", plan["status"]
    run = _wait_for_phase(kubectl, "run", RUN, ("Succeeded",), 900)
    status = run["status"]
    assert status["phase"] == "Succeeded", status
    assert status["observed"] is not None
    assert status["verdict"] in ("reproduced", "not_reproduced", "inconclusive")
    # The sandbox pod ran in the hardened namespace, without a token, under the restricted profile.
    pods = kubectl.json("get", "pods", "-l", f"p2n.dev/run={RUN}")["items"]
    for pod in pods:
        assert pod["spec"]["automountServiceAccountToken"] is False
        assert pod["spec"]["serviceAccountName"] == "p2n-sandbox"


def test_sandbox_pods_reach_only_the_artifact_store(cluster, release, tmp_path: Path):
    """With the operator's sandbox policy in place (written for the first Run), a pod labelled as a
    sandbox reaches the S3 service and nothing else: the CNI enforces the policies."""
    kubectl = cluster.kubectl()
    probe = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "e2e-egress-probe", "labels": {"app.kubernetes.io/name": "p2n-sandbox"}},
        "spec": {
            "serviceAccountName": "p2n-sandbox",
            "automountServiceAccountToken": False,
            "restartPolicy": "Never",
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "probe",
                    "image": "curlimages/curl:8.16.0",
                    "command": ["sh", "-c", EGRESS_PROBE],
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                }
            ],
        },
    }
    manifest = tmp_path / "probe.yaml"
    manifest.write_text(yaml.safe_dump(probe))
    kubectl("apply", "-f", str(manifest))
    kubectl.run(
        "wait",
        "--for=jsonpath={.status.phase}=Succeeded",
        "pod/e2e-egress-probe",
        "--timeout=180s",
        timeout=200,
    )
    lines = kubectl("logs", "e2e-egress-probe").split()
    kubectl("delete", "pod", "e2e-egress-probe", "--wait=false")
    assert lines == ["store:reachable", "apiserver:blocked", "postgres:blocked"], lines


def test_run_events_stream_through_the_api(api_url, user_token):
    headers = {"Authorization": f"Bearer {user_token}", "Accept": "text/event-stream"}
    url = f"{api_url}{EVENTS.format(name=RUN)}?namespace={e2e.RUN_NAMESPACE}"
    seen: list[dict] = []
    with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(60, read=120)) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in _sse(response):
            seen.append(event)
            data = json.loads(event.get("data") or "null")
            if (
                event.get("event") == "stage_update"
                and isinstance(data, dict)
                and data.get("stage") == "run_complete"
            ):
                break
    ids = [int(event["id"]) for event in seen if "id" in event]
    assert ids == sorted(ids)
    assert len(ids) == len(set(ids))
    names = {event.get("event") for event in seen}
    assert {"stage_update", "metric_update"} <= names, names
    # Reconnecting with Last-Event-ID resumes after that event: no gap, no duplicate.
    middle = ids[len(ids) // 2]
    resumed: list[int] = []
    with httpx.stream(
        "GET",
        url,
        headers={**headers, "Last-Event-ID": str(middle)},
        timeout=httpx.Timeout(60, read=120),
    ) as response:
        for event in _sse(response):
            resumed.append(int(event["id"]))
            if resumed[-1] >= ids[-1]:
                break
    assert resumed == [i for i in ids if i > middle]


def test_a_second_run_is_cancelled_through_the_api(cluster, api_url, user_token, tmp_path: Path):
    kubectl = cluster.kubectl()
    second = yaml.safe_load((EXAMPLES / "run.yaml").read_text())
    second["metadata"]["name"] = CANCELLED_RUN
    second["spec"]["seed"] = 2
    manifest = tmp_path / "run-2.yaml"
    manifest.write_text(yaml.safe_dump(second))
    kubectl("apply", "-f", str(manifest))
    started = _wait_for_phase(kubectl, "run", CANCELLED_RUN, ("Running",), 300)
    assert started["status"]["phase"] == "Running", started["status"]
    response = httpx.post(
        f"{api_url}{CANCEL.format(name=CANCELLED_RUN)}",
        params={"namespace": e2e.RUN_NAMESPACE},
        headers={"Authorization": f"Bearer {user_token}"},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    assert kubectl.json("get", "run", CANCELLED_RUN)["spec"]["cancel"] is True
    run = _wait_for_phase(kubectl, "run", CANCELLED_RUN, ("Cancelled",), 300)
    assert run["status"]["phase"] == "Cancelled", run["status"]
    # The sandbox was stopped: no pod of the Run is left running (it may take its grace period).
    selector = f"p2n.dev/run={CANCELLED_RUN}"
    kubectl.run("wait", "--for=delete", "pod", "-l", selector, "--timeout=120s", timeout=150, check=False)
    pods = kubectl.json("get", "pods", "-l", selector)["items"]
    assert all(pod["status"].get("phase") in ("Succeeded", "Failed") for pod in pods), pods


def test_uninstall_removes_the_release_and_keeps_the_crds(cluster, release, helm_binary):
    e2e.helm(helm_binary, cluster, "uninstall", release, "--namespace", e2e.RELEASE_NAMESPACE, "--wait")
    system = cluster.kubectl(e2e.RELEASE_NAMESPACE)
    assert (
        system.json("get", "deployments,services,serviceaccounts", "-l", "app.kubernetes.io/part-of=p2n")[
            "items"
        ]
        == []
    )
    system.run(
        "wait", "--for=delete", f"namespace/{e2e.RUN_NAMESPACE}", "--timeout=300s", timeout=330, check=False
    )
    assert system.run("get", "namespace", e2e.RUN_NAMESPACE, check=False).returncode != 0
    crds = system.json("get", "crds")["items"]
    assert {"papers.p2n.dev", "plans.p2n.dev", "runs.p2n.dev"} <= {crd["metadata"]["name"] for crd in crds}
