"""Runs that do not succeed end in the right phase with the right typed reason, and free their slot."""

from __future__ import annotations

import pytest
from tests.cluster.operator.p2n_objects import (
    API,
    EXAMPLES,
    TERMINAL,
    apply,
    notebook,
    ready_plan,
    replace_notebook,
    run_manifest,
    sandbox_pods,
    wait_phase,
)
from tests.harness import cluster

from p2n import db as p2n_db
from p2n.storage import keys

pytestmark = pytest.mark.cluster


def test_failing_notebook_fails_with_the_runners_code(
    kube, kubectl, namespace, start_operator, s3_storage_for
):
    op = start_operator()
    plan = ready_plan(kube, kubectl, namespace)
    store = s3_storage_for(op.cfg)
    replace_notebook(store, namespace, plan, notebook("print('before')", "1 / 0"))
    apply(kubectl, run_manifest("broken", plan))
    broken = wait_phase(kube, "Run", "broken", namespace, TERMINAL, timeout=90)
    status, uid = broken["status"], broken["metadata"]["uid"]
    assert (status["phase"], status["reason"]) == ("Failed", "E_NOTEBOOK_ERROR")
    assert "ZeroDivisionError" in status["message"]
    (complete,) = [c for c in status["conditions"] if c["type"] == "Complete"]
    assert complete["reason"] == "NotebookError"
    assert "verdict" not in status
    # The partial artifacts are kept, and the history has the failure.
    assert store.exists(keys.run_artifact(namespace, "broken", uid, "logs.txt"))
    with p2n_db.Database.connect(op.cfg, migrate=False) as history:
        record = history.get_run(p2n_db.cluster_run_id(namespace, "broken", uid))
    assert (record.phase, record.reason) == ("Failed", "E_NOTEBOOK_ERROR")


def test_gpu_requests_are_refused_by_the_api_and_by_the_planner(kube, kubectl, namespace, start_operator):
    start_operator()
    # A Run asking for a GPU never exists: the CRD schema refuses it with the typed code.
    rejected = kubectl.run("apply", "-f", str(EXAMPLES / "invalid" / "run-gpu.yaml"), check=False)
    assert rejected.returncode != 0
    assert "E_GPU_REQUESTED" in rejected.stderr
    # A claim that needs GPUs fails its Plan with E_GPU_REQUESTED, and a Run of it never starts.
    paper = {
        "apiVersion": API,
        "kind": "Paper",
        "metadata": {"name": "resnet"},
        "spec": {"source": {"text": (EXAMPLES / "papers" / "imagenet-resnet.md").read_text()}},
    }
    apply(kubectl, paper)
    ready = wait_phase(kube, "Paper", "resnet", namespace, {"Ready", "Failed"}, timeout=60)
    claim = ready["status"]["claims"][0]["id"]
    plan = {
        "apiVersion": API,
        "kind": "Plan",
        "metadata": {"name": "resnet-plan"},
        "spec": {"paperRef": {"name": "resnet"}, "claimId": claim},
    }
    apply(kubectl, plan)
    failed = wait_phase(kube, "Plan", "resnet-plan", namespace, {"Ready", "Failed"}, timeout=60)["status"]
    assert (failed["phase"], failed["reason"]) == ("Failed", "E_GPU_REQUESTED")
    apply(kubectl, run_manifest("resnet-run", "resnet-plan"))
    status = wait_phase(kube, "Run", "resnet-run", namespace, TERMINAL, timeout=30)["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "E_PLAN_NOT_READY")
    assert sandbox_pods(kube, namespace) == []


def test_resources_above_the_ceiling_fail_with_cap_exceeded(kube, kubectl, namespace, start_operator):
    start_operator(max_run_memory="1Gi")
    plan = ready_plan(kube, kubectl, namespace)
    apply(kubectl, run_manifest("greedy", plan, resources={"limits": {"memory": "8Gi"}}))
    status = wait_phase(kube, "Run", "greedy", namespace, TERMINAL, timeout=30)["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "E_CAP_EXCEEDED")
    assert sandbox_pods(kube, namespace) == []


def test_memory_hog_is_oom_killed(kube, kubectl, namespace, start_operator, s3_storage_for):
    op = start_operator()
    plan = ready_plan(kube, kubectl, namespace)
    hog = "blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 1024 * 1024))\n"
    replace_notebook(s3_storage_for(op.cfg), namespace, plan, notebook(hog))
    apply(kubectl, run_manifest("hog", plan, resources={"limits": {"memory": "512Mi"}}))
    status = wait_phase(kube, "Run", "hog", namespace, TERMINAL, timeout=90)["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "E_OOM_KILLED"), status


def test_endless_notebook_times_out(kube, kubectl, namespace, start_operator):
    op = start_operator()
    plan = ready_plan(kube, kubectl, namespace)
    forever = "import time\nwhile True:\n    time.sleep(0.5)\n"
    from p2n import storage

    replace_notebook(storage.from_settings(op.cfg), namespace, plan, notebook(forever))
    apply(kubectl, run_manifest("endless", plan, timeoutMinutes=1))
    status = wait_phase(kube, "Run", "endless", namespace, TERMINAL, timeout=150)["status"]
    assert (status["phase"], status["reason"]) == ("TimedOut", "E_RUN_TIMEOUT"), status
    (complete,) = [c for c in status["conditions"] if c["type"] == "Complete"]
    assert complete["reason"] == "RunTimeout"


def test_image_that_cannot_be_pulled_fails_the_run_and_frees_the_slot(
    kube, kubectl, namespace, start_operator
):
    start_operator(runner_image="ghcr.io/p2n-dev/p2n-runner:does-not-exist", max_concurrent_runs=1)
    plan = ready_plan(kube, kubectl, namespace)
    apply(kubectl, run_manifest("unpullable", plan))
    status = wait_phase(kube, "Run", "unpullable", namespace, TERMINAL, timeout=60)["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "E_CLUSTER")
    assert "ErrImagePull" in status["message"] or "ImagePullBackOff" in status["message"]
    # The pod that would never start is removed, so the namespace's only slot is free again.
    cluster.wait_for(lambda: not sandbox_pods(kube, namespace), timeout=30, what="stuck pod removed")
