"""spec.cancel stops a Run wherever it is: waiting for its Plan, queued, or running (keeping artifacts)."""

from __future__ import annotations

import pytest
from tests.cluster.operator.p2n_objects import (
    API,
    apply,
    notebook,
    ready_plan,
    replace_notebook,
    run_manifest,
    run_status,
    sandbox_pods,
    wait_phase,
)
from tests.harness import cluster

from p2n import db as p2n_db
from p2n.storage import keys

pytestmark = pytest.mark.cluster

SLOW = "import time\nfor i in range(600):\n    print('tick', i, flush=True)\n    time.sleep(0.1)\n"


def _cancel(kube, name, namespace):
    kube.patch(API, "Run", name, {"spec": {"cancel": True}}, namespace)


def test_cancel_while_pending_needs_no_pod(kube, kubectl, namespace, start_operator):
    start_operator()
    apply(kubectl, run_manifest("early", "no-such-plan-yet"))
    wait_phase(kube, "Run", "early", namespace, {"Pending"}, timeout=30)
    _cancel(kube, "early", namespace)
    status = wait_phase(kube, "Run", "early", namespace, {"Cancelled"}, timeout=30)["status"]
    assert status["reason"] == "E_CANCELLED"
    assert sandbox_pods(kube, namespace) == []


def test_cancel_while_queued_and_while_running(kube, kubectl, namespace, start_operator, s3_storage_for):
    op = start_operator(max_concurrent_runs=1)
    plan = ready_plan(kube, kubectl, namespace)
    store = s3_storage_for(op.cfg)
    replace_notebook(store, namespace, plan, notebook(SLOW))
    apply(kubectl, run_manifest("first", plan))
    first_uid = wait_phase(kube, "Run", "first", namespace, {"Running"}, timeout=60)["metadata"]["uid"]
    apply(kubectl, run_manifest("second", plan))
    queued = wait_phase(kube, "Run", "second", namespace, {"Queued"}, timeout=30)
    assert queued["status"]["queuePosition"] == 1

    _cancel(kube, "second", namespace)
    assert (
        wait_phase(kube, "Run", "second", namespace, {"Cancelled"}, timeout=30)["status"]["reason"]
        == "E_CANCELLED"
    )

    # Let the first one print for a while, so there is something to keep.
    run_id = p2n_db.cluster_run_id(namespace, "first", first_uid)
    with p2n_db.Database.connect(op.cfg, migrate=False) as history:
        cluster.wait_for(
            lambda: len(history.events_after(run_id, -1, 1000)) > 5, timeout=60, what="live events"
        )
    _cancel(kube, "first", namespace)
    status = wait_phase(kube, "Run", "first", namespace, {"Cancelled", "Failed", "Succeeded"}, timeout=60)[
        "status"
    ]
    assert (status["phase"], status["reason"]) == ("Cancelled", "E_CANCELLED")
    assert store.exists(keys.run_artifact(namespace, "first", first_uid, "logs.txt"))
    assert "logs" in status["artifacts"]
    assert run_status(kube, "second", namespace)["phase"] == "Cancelled"
    cluster.wait_for(
        lambda: not sandbox_pods(kube, namespace) or _all_done(kube, namespace), timeout=30, what="pod gone"
    )


def _all_done(kube, namespace):
    return all(
        (p.get("status") or {}).get("phase") in ("Succeeded", "Failed") for p in sandbox_pods(kube, namespace)
    )
