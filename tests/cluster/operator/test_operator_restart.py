"""The operator stops mid-run and starts again: the pod is adopted, never duplicated, and no event is lost."""

from __future__ import annotations

import pytest
from tests.cluster.operator.p2n_objects import (
    PodConcurrency,
    apply,
    notebook,
    ready_plan,
    replace_notebook,
    run_manifest,
    wait_phase,
)
from tests.harness import cluster

from p2n import db as p2n_db
from p2n import events
from p2n.storage import keys

pytestmark = pytest.mark.cluster

TICKING = "import time\nfor i in range(40):\n    print('tick', i, flush=True)\n    time.sleep(0.1)\n"


def test_restart_mid_run_adopts_the_pod_and_keeps_every_event_once(
    kube, kubectl, namespace, start_operator, s3_storage_for
):
    first = start_operator()
    plan = ready_plan(kube, kubectl, namespace)
    store = s3_storage_for(first.cfg)
    replace_notebook(store, namespace, plan, notebook(TICKING))
    pods = PodConcurrency(kube, namespace)
    try:
        apply(kubectl, run_manifest("survivor", plan))
        running = wait_phase(kube, "Run", "survivor", namespace, {"Running"}, timeout=60)
        run_id = p2n_db.cluster_run_id(namespace, "survivor", running["metadata"]["uid"])
        with p2n_db.Database.connect(first.cfg, migrate=False) as history:
            cluster.wait_for(
                lambda: len(history.events_after(run_id, -1, 1000)) >= 3, timeout=30, what="events"
            )
        first.stop()
        # The sandbox keeps running while no operator watches it.
        assert wait_phase(kube, "Run", "survivor", namespace, {"Running"}, timeout=5)
        start_operator()
        done = wait_phase(kube, "Run", "survivor", namespace, {"Succeeded", "Failed"}, timeout=90)
    finally:
        pods.close()
    assert done["status"]["phase"] == "Succeeded", done["status"]
    assert pods.created == ["p2n-run-survivor"]
    lines = (
        store.get_bytes(keys.run_artifact(namespace, "survivor", done["metadata"]["uid"], "events.jsonl"))
        .decode()
        .splitlines()
    )
    from_runner = [events.parse_line(line).seq for line in lines if line.strip()]
    with p2n_db.Database.connect(first.cfg, migrate=False) as history:
        in_db = [e.seq for e in history.events_after(run_id, -1, 10000)]
    assert in_db == sorted(set(from_runner))
    assert in_db == list(range(len(in_db)))
    assert any(e.event == "log_line" for e in map(events.parse_line, filter(str.strip, lines)))
