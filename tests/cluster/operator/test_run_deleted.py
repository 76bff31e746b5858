"""A Run deleted before the operator wrote its status (so before it had the finalizer).

kopf adds the operator's finalizer with the Run's first status write, not before its pod is
created; a Run deleted in between is cleaned up from its DELETED event: its pod goes (owner
reference) and its history ends Cancelled.
"""

from __future__ import annotations

import pytest
from tests.cluster.operator.p2n_objects import API, apply, ready_plan, run_manifest, sandbox_pods
from tests.harness import cluster

from p2n import db as p2n_db

pytestmark = pytest.mark.cluster


def test_run_deleted_before_its_finalizer_ends_cancelled_in_history(
    kube, kubectl, namespace, start_operator, faults
):
    op = start_operator()
    plan = ready_plan(kube, kubectl, namespace)
    # Every status write of Runs fails: the Run gets its pod but never a status, hence no finalizer.
    faults.fail_next(10_000, code=500, verb="patch", resource="runs/status", namespace=namespace)
    apply(kubectl, run_manifest("short-lived", plan))
    cluster.wait_for(lambda: sandbox_pods(kube, namespace), timeout=60, what="the sandbox pod")
    run = kube.get(API, "Run", "short-lived", namespace)
    assert "p2n.dev/cleanup" not in (run["metadata"].get("finalizers") or [])
    assert not run.get("status")

    kube.delete(API, "Run", "short-lived", namespace)
    run_id = p2n_db.cluster_run_id(namespace, "short-lived", run["metadata"]["uid"])
    with p2n_db.Database.connect(op.cfg, migrate=False) as history:
        record = cluster.wait_for(
            lambda: (r := history.get_run(run_id)).phase == "Cancelled" and r,
            timeout=30,
            what="history Cancelled",
        )
    assert record.reason == "E_CANCELLED"
    cluster.wait_for(lambda: not sandbox_pods(kube, namespace), timeout=30, what="pod gone")
