"""The operator's /metrics over real HTTP while Runs queue, run and finish, and across a restart."""

from __future__ import annotations

import socket

import httpx
import pytest
from prometheus_client import parser
from tests.cluster.operator.p2n_objects import (
    apply,
    notebook,
    ready_plan,
    replace_notebook,
    run_manifest,
    wait_phase,
)
from tests.harness import cluster

from p2n import db as p2n_db

pytestmark = pytest.mark.cluster

# Long enough for the second Run to be seen waiting while the first one runs.
SLEEPY = "import time\ntime.sleep(3)\n"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> Samples:
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in parser.text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_follow_runs_through_the_queue_to_the_end_and_survive_a_restart(
    kube, kubectl, namespace, start_operator, s3_storage_for
):
    port = _free_port()
    op = start_operator(operator_metrics_port=port, max_concurrent_runs=1)
    plan = ready_plan(kube, kubectl, namespace)
    replace_notebook(s3_storage_for(op.cfg), namespace, plan, notebook(SLEEPY))
    before = scrape(port)
    assert value(before, "p2n_operator_reconcile_duration_seconds_count", kind="Plan", outcome="ok") >= 1

    names = ["metered-1", "metered-2"]
    for seed, name in enumerate(names):
        apply(kubectl, run_manifest(name, plan, seed=seed))
    queued = cluster.wait_for(
        lambda: (
            (s := scrape(port))
            and value(s, "p2n_operator_queue_length", namespace=namespace) == 1
            and value(s, "p2n_operator_runs", namespace=namespace, phase="Queued") == 1
            and s
        ),
        timeout=60,
        what="the second Run counted as queued",
    )
    assert value(queued, "p2n_operator_runs", namespace=namespace, phase="Succeeded") == 0
    for name in names:
        wait_phase(kube, "Run", name, namespace, {"Succeeded", "Failed"}, timeout=120)
    after = cluster.wait_for(
        lambda: (
            (s := scrape(port))
            and value(s, "p2n_operator_runs", namespace=namespace, phase="Succeeded") == 2
            and s
        ),
        timeout=30,
        what="both Runs counted as Succeeded",
    )

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    for phase in ("Pending", "Queued", "Running", "Failed"):
        assert value(after, "p2n_operator_runs", namespace=namespace, phase=phase) == 0, phase
    assert value(after, "p2n_operator_queue_length", namespace=namespace) == 0
    assert grew("p2n_operator_reconcile_duration_seconds_count", kind="Run", outcome="ok") >= 2
    assert grew("p2n_run_creation_to_pod_start_seconds_count") == 2
    assert grew("p2n_run_creation_to_completion_seconds_count", phase="Succeeded") == 2
    # The second Run waited for the first one: its completion took at least both notebooks' sleeps.
    assert grew("p2n_run_creation_to_completion_seconds_sum", phase="Succeeded") >= 3 + 6
    with p2n_db.Database.connect(op.cfg, migrate=False) as history:
        stored = sum(
            len(history.events_after(history.latest_run(namespace, name).run_id, -1, 10000)) for name in names
        )
    assert stored > 0
    assert grew("p2n_operator_events_ingested_total") == stored

    # A restarted operator counts the Runs from its first listing and observes nothing twice.
    op.stop()
    op.start()
    restarted = cluster.wait_for(
        lambda: (
            (s := scrape(port))
            and value(s, "p2n_operator_runs", namespace=namespace, phase="Succeeded") == 2
            and s
        ),
        timeout=30,
        what="the restarted operator's phase counts",
    )
    for name in (
        "p2n_run_creation_to_pod_start_seconds_count",
        "p2n_run_creation_to_completion_seconds_count",
        "p2n_operator_events_ingested_total",
    ):
        assert {k: v for k, v in restarted.items() if k[0] == name} == {
            k: v for k, v in after.items() if k[0] == name
        }, name

    # Deleted Runs leave the phase counts.
    for name in names:
        kubectl("delete", "run", name, "--wait=false")
    cluster.wait_for(
        lambda: value(scrape(port), "p2n_operator_runs", namespace=namespace, phase="Succeeded") == 0,
        timeout=30,
        what="deleted Runs uncounted",
    )


def test_openmetrics_is_served_when_asked_for(namespace, start_operator):
    port = _free_port()
    start_operator(operator_metrics_port=port)
    response = httpx.get(
        f"http://127.0.0.1:{port}/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")
