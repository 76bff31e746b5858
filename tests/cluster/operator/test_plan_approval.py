"""A Plan with approval.required waits at AwaitingApproval until annotated, and its Runs wait with it."""

from __future__ import annotations

import pytest
from tests.cluster.operator.p2n_objects import (
    EXAMPLES,
    apply,
    example,
    run_manifest,
    run_status,
    sandbox_pods,
    wait_phase,
)

pytestmark = pytest.mark.cluster


def test_plan_waits_for_approval_then_runs(kube, kubectl, namespace, start_operator):
    start_operator()
    kubectl("apply", "-f", str(EXAMPLES / "paper-text.yaml"))
    kubectl("apply", "-f", str(EXAMPLES / "plan-approval.yaml"))
    name = example("plan-approval.yaml")["metadata"]["name"]
    waiting = wait_phase(kube, "Plan", name, namespace, {"AwaitingApproval", "Ready", "Failed"}, timeout=60)
    status = waiting["status"]
    assert status["phase"] == "AwaitingApproval", status
    assert "approvedBy" not in status
    assert status["planHash"].startswith("sha256:")
    (ready,) = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "AwaitingApproval")

    apply(kubectl, run_manifest("reviewed-run", name))
    pending = wait_phase(kube, "Run", "reviewed-run", namespace, {"Pending"}, timeout=30)
    assert pending["status"]["conditions"][0]["reason"] == "PlanNotReady"
    assert sandbox_pods(kube, namespace) == []

    kubectl("annotate", "plan", name, "p2n.dev/approved-by=alice")
    annotations = kube.get("p2n.dev/v1alpha1", "Plan", name, namespace)["metadata"]["annotations"]
    assert annotations["p2n.dev/approved-by"] == "alice"
    approved = wait_phase(kube, "Plan", name, namespace, {"Ready"}, timeout=30)["status"]
    assert approved["approvedBy"] == "alice"
    assert approved["approvedAt"]
    done = wait_phase(kube, "Run", "reviewed-run", namespace, {"Succeeded", "Failed"}, timeout=120)
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert run_status(kube, "reviewed-run", namespace)["verdict"]
