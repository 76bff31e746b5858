"""A Run deleted and recreated under the same name: the API serves the current instance's history.

While the Run object exists its uid names the history row to serve; once it is gone, the newest
history row of that name is served (``Database.latest_run``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tests.api.support import API, sse_frames

import p2n.db
from p2n import events

pytestmark = pytest.mark.api


def _instance(kube, db, namespace, name, accuracy, steps, created_at=None):
    """Create the Run object, finished, with a history row and ``steps`` events of its own; its uid."""
    obj = kube.create(
        {"apiVersion": API, "kind": "Run", "metadata": {"name": name}, "spec": {"planRef": {"name": "x"}}},
        namespace,
    )
    kube.patch(API, "Run", name, {"status": {"phase": "Succeeded"}}, namespace, status=True)
    uid = obj["metadata"]["uid"]
    run_id = p2n.db.cluster_run_id(namespace, name, uid)
    db.upsert_run(
        p2n.db.RunRecord(
            run_id=run_id,
            namespace=namespace,
            name=name,
            phase="Succeeded",
            observed=accuracy,
            created_at=created_at,
        )
    )
    batch = [events.stage(0, "run_start", run_id)]
    batch += [events.progress(i, 100.0 * i / steps, f"step {i}") for i in range(1, steps + 1)]
    batch += [
        events.metric_update(steps + 1, "accuracy", accuracy),
        events.stage(steps + 2, "run_complete", run_id),
    ]
    db.ingest_events(run_id, batch)
    return uid


def _replayed(api, name):
    frames = sse_frames(api.get(f"/api/v1/runs/{name}/events").text)
    return [f["id"] for f in frames], {f["data"]["run_id"] for f in frames if f["event"] == "stage_update"}


def _accuracy(api, name):
    response = api.get(f"/api/v1/runs/{name}/metrics")
    assert response.status_code == 200, response.text
    return [p["value"] for p in response.json()["points"]]


def test_the_existing_object_names_the_instance_served(api, kube, db):
    ns = api.namespace
    # Even with the old instance's row dated later, the live object's own history is served.
    old = _instance(kube, db, ns, "twice", 0.5, 2, created_at=datetime.now(UTC) + timedelta(days=1))
    kube.delete(API, "Run", "twice", ns)
    new = _instance(kube, db, ns, "twice", 0.9, 5)
    assert new != old

    assert api.get("/api/v1/runs/twice").json()["uid"] == new
    ids, run_ids = _replayed(api, "twice")
    assert ids == list(range(8))
    assert run_ids == {p2n.db.cluster_run_id(ns, "twice", new)}
    assert _accuracy(api, "twice") == [0.9]
    csv = api.get("/api/v1/runs/twice/metrics.csv").text.splitlines()
    assert len(csv) == 2
    assert csv[1].split(",")[4] == "0.9"


def test_a_deleted_run_serves_its_newest_history_row(api, kube, db):
    ns = api.namespace
    first = _instance(kube, db, ns, "thrice", 0.1, 1)
    kube.delete(API, "Run", "thrice", ns)
    second = _instance(kube, db, ns, "thrice", 0.2, 3)
    kube.delete(API, "Run", "thrice", ns)
    assert api.get("/api/v1/runs/thrice").status_code == 404

    ids, run_ids = _replayed(api, "thrice")
    assert ids == list(range(6))
    assert run_ids == {p2n.db.cluster_run_id(ns, "thrice", second)}
    assert _accuracy(api, "thrice") == [0.2]
    # The first instance keeps its own, complete history.
    assert [e.seq for e in db.events_after(p2n.db.cluster_run_id(ns, "thrice", first))] == [0, 1, 2, 3]


def test_a_recreated_run_without_history_yet_does_not_serve_the_old_one(api, kube, db):
    ns = api.namespace
    _instance(kube, db, ns, "fresh", 0.4, 2)
    kube.delete(API, "Run", "fresh", ns)
    kube.create(
        {"apiVersion": API, "kind": "Run", "metadata": {"name": "fresh"}, "spec": {"planRef": {"name": "x"}}},
        ns,
    )
    kube.patch(API, "Run", "fresh", {"status": {"phase": "Cancelled"}}, ns, status=True)
    assert _accuracy(api, "fresh") == []
    frames = sse_frames(api.get("/api/v1/runs/fresh/events").text)
    assert [(f["id"], f["data"]["stage"]) for f in frames] == [(0, "run_cancelled")]
