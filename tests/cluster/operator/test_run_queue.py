"""At most max_concurrent_runs sandboxes per namespace; the rest wait Queued and start in creation order."""

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

pytestmark = pytest.mark.cluster

SHORT = "import time\ntime.sleep(1.5)\n"


def test_five_runs_with_a_limit_of_two(kube, kubectl, namespace, start_operator, s3_storage_for):
    op = start_operator(max_concurrent_runs=2)
    plan = ready_plan(kube, kubectl, namespace)
    replace_notebook(s3_storage_for(op.cfg), namespace, plan, notebook(SHORT))
    pods = PodConcurrency(kube, namespace)
    try:
        names = [f"seed-{i}" for i in range(5)]
        for seed, name in enumerate(names):
            apply(kubectl, run_manifest(name, plan, seed=seed))
        wait_phase(kube, "Run", names[-1], namespace, {"Queued", "Running", "Succeeded"}, timeout=30)
        finished = [
            wait_phase(kube, "Run", n, namespace, {"Succeeded", "Failed"}, timeout=120) for n in names
        ]
    finally:
        pods.close()
    assert [r["status"]["phase"] for r in finished] == ["Succeeded"] * 5
    assert pods.most == 2
    assert len(pods.created) == 5
    # Started in creation order: pods were created in the order the Runs were.
    assert pods.created == [f"p2n-run-{n}" for n in names]
    started = [r["status"]["startedAt"] for r in finished]
    assert started == sorted(started)
