"""Paper -> Plan -> Run via `kubectl apply`, reconciled by the real operator, run by the kubelet emulator."""

from __future__ import annotations

import json

import pytest
from tests.cluster.operator.p2n_objects import (
    API,
    EXAMPLES,
    apply,
    example,
    notebook,
    ready_plan,
    replace_notebook,
    run_manifest,
    sandbox_pods,
    wait_phase,
)
from tests.harness import cluster

from p2n import db as p2n_db
from p2n import events
from p2n.storage import keys

pytestmark = pytest.mark.cluster


def test_examples_reproduce_a_claim_end_to_end(kube, kubectl, namespace, start_operator, s3_storage_for):
    op = start_operator()
    for name in ("paper-text.yaml", "plan.yaml", "run.yaml"):
        kubectl("apply", "-f", str(EXAMPLES / name))
    run_name = example("run.yaml")["metadata"]["name"]
    run = wait_phase(
        kube, "Run", run_name, namespace, {"Succeeded", "Failed", "TimedOut", "Cancelled"}, timeout=120
    )
    status, uid = run["status"], run["metadata"]["uid"]
    assert status["phase"] == "Succeeded", status
    assert status["claimed"] == pytest.approx(0.98)
    assert 0 < status["observed"] <= 1
    assert status["gapPercent"] == pytest.approx((status["observed"] - 0.98) / 0.98 * 100, abs=0.01)
    assert status["verdict"] in ("reproduced", "not_reproduced", "inconclusive")
    assert status["progress"] == 100
    assert status["observedGeneration"] == 1
    (complete,) = [c for c in status["conditions"] if c["type"] == "Complete"]
    assert (complete["status"], complete["reason"]) == ("True", "Succeeded")

    # kubectl shows the result too (printer columns read from status).
    table = kubectl("get", "runs", run_name)
    assert "Succeeded" in table

    # Artifacts are in S3 and their URIs in status.
    store = s3_storage_for(op.cfg)
    for artifact in ("metrics.json", "events.jsonl", "logs.txt", "notebook.ipynb"):
        assert store.exists(keys.run_artifact(namespace, run_name, uid, artifact)), artifact
    assert status["artifacts"]["metrics"].startswith("s3://")

    # Every event of events.jsonl is in PostgreSQL exactly once, in order, with no gap.
    lines = store.get_bytes(keys.run_artifact(namespace, run_name, uid, "events.jsonl")).decode().splitlines()
    stored = [events.parse_line(line) for line in lines if line.strip()]
    with p2n_db.Database.connect(op.cfg, migrate=False) as history:
        in_db = history.events_after(p2n_db.cluster_run_id(namespace, run_name, uid), -1, 10000)
        record = history.get_run(p2n_db.cluster_run_id(namespace, run_name, uid))
    assert [e.seq for e in in_db] == sorted({e.seq for e in stored})
    assert [e.seq for e in in_db] == list(range(len(in_db)))
    stages = [e for e in in_db if e.event == "stage_update"]
    assert {e.data.run_id for e in stages} == {f"{namespace}/{run_name}/{uid}"}
    assert stages[-1].data.stage == "run_complete"
    assert (record.phase, record.verdict, record.observed) == (
        "Succeeded",
        status["verdict"],
        status["observed"],
    )

    # One pod was made, owned by the Run, and the Kubernetes Events tell the story.
    (pod,) = sandbox_pods(kube, namespace)
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["automountServiceAccountToken"] is False
    policy = kube.get("networking.k8s.io/v1", "NetworkPolicy", "p2n-sandbox", namespace)
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "p2n-sandbox"}}
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert pod["metadata"]["ownerReferences"][0]["name"] == run_name
    reasons = [e["reason"] for e in kube.events_for(run)]
    assert "Succeeded" in reasons
    metrics = json.loads(store.get_bytes(keys.run_artifact(namespace, run_name, uid, "metrics.json")))
    assert metrics


def test_paper_is_extracted_again_when_its_spec_changes(kube, kubectl, namespace, start_operator):
    start_operator()
    kubectl("apply", "-f", str(EXAMPLES / "paper-text.yaml"))
    first = wait_phase(kube, "Paper", "iris-lda", namespace, {"Ready"}, timeout=60)["status"]
    assert first["claimCount"] > 1
    assert first["observedGeneration"] == 1
    assert first["documentSha256"]
    kube.patch(API, "Paper", "iris-lda", {"spec": {"extraction": {"maxClaims": 1}}}, namespace)
    again = cluster.wait_for(
        lambda: _status_at_generation(kube, namespace, 2), timeout=60, what="paper re-extracted"
    )
    assert (again["phase"], again["claimCount"]) == ("Ready", 1)


def _status_at_generation(kube, namespace, generation):
    status = kube.get(API, "Paper", "iris-lda", namespace).get("status") or {}
    if status.get("observedGeneration") == generation and status.get("phase") == "Ready":
        return status
    return None


def test_deleting_a_running_run_stops_its_pod_and_keeps_its_history(
    kube, kubectl, namespace, start_operator, s3_storage_for
):
    op = start_operator()
    plan = ready_plan(kube, kubectl, namespace)
    slow = "import time\nfor i in range(600):\n    print('tick', i, flush=True)\n    time.sleep(0.1)\n"
    replace_notebook(s3_storage_for(op.cfg), namespace, plan, notebook(slow))
    apply(kubectl, run_manifest("doomed", plan))
    running = wait_phase(kube, "Run", "doomed", namespace, {"Running"}, timeout=60)
    assert "p2n.dev/cleanup" in running["metadata"]["finalizers"]
    kubectl("delete", "run", "doomed", "--wait=false")
    cluster.wait_for(lambda: kube.find(API, "Run", "doomed", namespace) is None, timeout=60, what="run gone")
    cluster.wait_for(lambda: not sandbox_pods(kube, namespace), timeout=60, what="pod gone")
    with p2n_db.Database.connect(op.cfg, migrate=False) as history:
        record = history.latest_run(namespace, "doomed")
    assert record.run_id == p2n_db.cluster_run_id(namespace, "doomed", running["metadata"]["uid"])
    assert (record.phase, record.reason) == ("Cancelled", "E_CANCELLED")


def test_paper_text_from_a_config_map(kube, kubectl, namespace, start_operator):
    start_operator()
    text = example("paper-text.yaml")["spec"]["source"]["text"]
    kube.create(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "notes"}, "data": {"paper.md": text}},
        namespace,
    )
    paper = {
        "apiVersion": API,
        "kind": "Paper",
        "metadata": {"name": "from-config-map"},
        "spec": {"source": {"configMapRef": {"name": "notes"}}},
    }
    apply(kubectl, paper)
    status = wait_phase(kube, "Paper", "from-config-map", namespace, {"Ready", "Failed"}, timeout=60)[
        "status"
    ]
    assert status["phase"] == "Ready", status
    assert status["claimCount"] > 0
    assert status["claims"][0]["citation"]["page"] >= 1
    missing = {
        **paper,
        "metadata": {"name": "missing-map"},
        "spec": {"source": {"configMapRef": {"name": "nope"}}},
    }
    apply(kubectl, missing)
    failed = wait_phase(kube, "Paper", "missing-map", namespace, {"Ready", "Failed"}, timeout=60)["status"]
    assert (failed["phase"], failed["reason"]) == ("Failed", "E_NOT_FOUND")
