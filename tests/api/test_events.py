"""SSE relay: replay from PostgreSQL, live from the pod log, resume with Last-Event-ID, fan-out."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from tests.api.support import API, sse_frames
from tests.harness import cluster

import p2n.db
from p2n import events

pytestmark = pytest.mark.api


def _stored_run(kube, db, namespace, name, batch, phase="Succeeded"):
    created = kube.create(
        {"apiVersion": API, "kind": "Run", "metadata": {"name": name}, "spec": {"planRef": {"name": "x"}}},
        namespace,
    )
    kube.patch(API, "Run", name, {"status": {"phase": phase, "reason": None}}, namespace, status=True)
    run_id = p2n.db.cluster_run_id(namespace, name, created["metadata"]["uid"])
    db.upsert_run(p2n.db.RunRecord(run_id=run_id, namespace=namespace, name=name, phase=phase))
    db.ingest_events(run_id, batch)


def _events(name, count):
    batch = [events.stage(0, "run_start", name)]
    batch += [events.progress(i, 100.0 * i / count, f"step {i}") for i in range(1, count + 1)]
    batch += [
        events.metric_update(count + 1, "accuracy", 0.97),
        events.stage(count + 2, "run_complete", name),
    ]
    return batch


def test_finished_run_replays_from_the_database(api, kube, db):
    _stored_run(kube, db, api.namespace, "done", _events("done", 700))
    response = api.get("/api/v1/runs/done/events")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.startswith("retry: 3000\n\n")
    frames = sse_frames(response.text)
    assert [f["id"] for f in frames] == list(range(703))
    assert frames[0]["event"] == "stage_update"
    assert frames[0]["data"]["stage"] == "run_start"
    assert frames[701] == {
        "id": 701,
        "event": "metric_update",
        "data": {**frames[701]["data"], "metric": "accuracy", "value": 0.97},
    }
    assert frames[-1]["data"]["stage"] == "run_complete"

    resumed = api.get("/api/v1/runs/done/events", headers={"Last-Event-ID": "650"})
    assert [f["id"] for f in sse_frames(resumed.text)] == list(range(651, 703))
    by_query = api.get("/api/v1/runs/done/events", params={"last_event_id": 700, "namespace": api.namespace})
    assert [f["id"] for f in sse_frames(by_query.text)] == [701, 702]


def test_a_stream_without_terminal_stage_ends_with_the_status_stage(api, kube, db):
    batch = [events.stage(0, "run_start", "killed"), events.progress(1, 10.0, "cell 1")]
    _stored_run(kube, db, api.namespace, "killed", batch, phase="TimedOut")
    kube.patch(
        API,
        "Run",
        "killed",
        {"status": {"reason": "E_RUN_TIMEOUT", "message": "too slow"}},
        api.namespace,
        status=True,
    )
    frames = sse_frames(api.get("/api/v1/runs/killed/events").text)
    assert [f["id"] for f in frames] == [0, 1, 2]
    assert frames[-1]["data"]["stage"] == "run_error"
    assert frames[-1]["data"]["code"] == "E_RUN_TIMEOUT"


def test_a_deleted_run_still_replays_from_history(api, kube, db):
    _stored_run(kube, db, api.namespace, "gone", _events("gone", 3))
    kube.delete(API, "Run", "gone", api.namespace)
    frames = sse_frames(api.get("/api/v1/runs/gone/events").text)
    assert [f["id"] for f in frames] == list(range(6))
    assert api.get("/api/v1/runs/never-existed/events").status_code == 404


def test_invalid_last_event_id_is_422(api, kube, db):
    _stored_run(kube, db, api.namespace, "r1", _events("r1", 1))
    response = api.get("/api/v1/runs/r1/events", headers={"Last-Event-ID": "abc"})
    assert response.status_code == 422


def _read(client: httpx.Client, path: str, headers=None, stop_after: int | None = None) -> list[dict]:
    frames: list[dict] = []
    buffer = ""
    with client.stream("GET", path, headers=headers or {}) as response:
        assert response.status_code == 200, response.read()
        for text in response.iter_text():
            buffer += text
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                frames += sse_frames(block + "\n\n")
                if stop_after is not None and len(frames) >= stop_after:
                    return frames
    return frames


def test_live_events_from_the_pod_log_and_resume(api, api_server, fake_run):
    run = fake_run(count=40)
    first: list[dict] = []
    path = f"/api/v1/runs/{run.name}/events"

    cluster.wait_for(lambda: api_server.services.hub.feeds == 0, what="no feed yet")
    run.release()
    first = _read(api, path, stop_after=10)
    assert [f["id"] for f in first] == list(range(10))
    rest = _read(api, path, headers={"Last-Event-ID": str(first[-1]["id"])})
    assert [f["id"] for f in rest] == list(range(10, run.total))
    assert rest[-1]["data"]["stage"] == "run_complete"
    assert [f["event"] for f in rest[-2:]] == ["metric_update", "stage_update"]
    # Both clients are gone: the shared upstream is freed.
    cluster.wait_for(lambda: api_server.services.hub.feeds == 0, what="feed released")


def test_many_clients_share_one_upstream(api, api_server, fake_run, kube):
    run = fake_run(count=300)
    path = f"{api.base_url}/api/v1/runs/{run.name}/events"
    clients = 200

    async def main() -> list[list[int]]:
        limits = httpx.Limits(max_connections=clients + 10)
        async with httpx.AsyncClient(
            headers=dict(api.headers), params={"namespace": api.namespace}, limits=limits, timeout=60
        ) as client:
            connected = asyncio.Event()
            opened = 0

            async def one() -> list[int]:
                nonlocal opened
                ids: list[int] = []
                async with client.stream("GET", path) as response:
                    assert response.status_code == 200
                    opened += 1
                    if opened == clients:
                        connected.set()
                    buffer = ""
                    async for text in response.aiter_text():
                        buffer += text
                        while "\n\n" in buffer:
                            block, buffer = buffer.split("\n\n", 1)
                            ids += [f["id"] for f in sse_frames(block + "\n\n")]
                return ids

            tasks = [asyncio.create_task(one()) for _ in range(clients)]
            await asyncio.wait_for(connected.wait(), 60)
            assert api_server.services.hub.feeds == 1
            run.release()
            return await asyncio.gather(*tasks)

    results = asyncio.run(main())
    expected = list(range(run.total))
    assert all(ids == expected for ids in results), {len(ids) for ids in results}
    # One pod-log stream served all of them.
    cluster.wait_for(lambda: api_server.services.hub.feeds == 0, what="feed released")


def test_disconnected_clients_free_the_feed(api, api_server, fake_run):
    run = fake_run(count=5)
    with api.stream("GET", f"/api/v1/runs/{run.name}/events") as response:
        assert response.status_code == 200
        # Keep the iterator referenced: a dropped one is finalized at once and closes the stream.
        chunks = response.iter_text()
        next(chunks)
        cluster.wait_for(lambda: api_server.services.hub.feeds == 1, what="feed started")
    cluster.wait_for(
        lambda: api_server.services.hub.feeds == 0, timeout=10, what="feed released on disconnect"
    )
    run.release()


def test_heartbeats_keep_an_idle_stream_alive(api, fake_run):
    # The runner prints run_start, then waits at its gate: the stream is idle but must stay alive.
    run = fake_run(count=3)
    seen = ""
    with api.stream("GET", f"/api/v1/runs/{run.name}/events") as response:
        for text in response.iter_text():
            seen += text
            start = seen.find("id: 0\nevent: stage_update\n")
            if start >= 0 and ": heartbeat\n\n" in seen[start:]:
                break
    assert seen.startswith("retry: 3000\n\n")
    run.release()


def test_authorization_is_checked_again_on_reconnect(api, kube, db, access):
    _stored_run(kube, db, api.namespace, "secret-run", _events("secret-run", 2))
    assert api.get("/api/v1/runs/secret-run/events").status_code == 200
    access.clear()
    access.add_token(api.token, "tester")
    response = api.get("/api/v1/runs/secret-run/events", headers={"Last-Event-ID": "1"})
    assert response.status_code == 403
    assert json.loads(response.text)["error"]["code"] == "E_FORBIDDEN"


def test_reconnecting_after_the_terminal_event_gets_204(api, kube, db):
    _stored_run(kube, db, api.namespace, "over", _events("over", 2))
    assert api.get("/api/v1/runs/over/events", headers={"Last-Event-ID": "4"}).status_code == 204
    last = sse_frames(api.get("/api/v1/runs/over/events", headers={"Last-Event-ID": "3"}).text)
    assert [f["id"] for f in last] == [4]
    # Also when the terminal event was added by the relay (the runner's never reached the log).
    _stored_run(kube, db, api.namespace, "cut", [events.stage(0, "run_start", "cut")], phase="Failed")
    closing = sse_frames(api.get("/api/v1/runs/cut/events").text)
    assert [(f["id"], f["data"]["stage"]) for f in closing] == [(0, "run_start"), (1, "run_error")]
    assert api.get("/api/v1/runs/cut/events", headers={"Last-Event-ID": "1"}).status_code == 204


def test_a_run_deleted_while_streaming_ends_cancelled(api, fake_run, kube):
    run = fake_run(count=5)
    seen: list[dict] = []
    buffer = ""
    with api.stream("GET", f"/api/v1/runs/{run.name}/events") as response:
        for text in response.iter_text():
            buffer += text
            while "\n\n" in buffer:
                block, buffer = buffer.split("\n\n", 1)
                frames = sse_frames(block + "\n\n")
                if frames and not seen:
                    # The runner has started (and waits at its gate): now the Run goes away.
                    kube.delete(API, "Run", run.name, api.namespace)
                seen += frames
    assert [f["data"]["stage"] for f in seen] == ["run_start", "run_cancelled"]
    assert [f["id"] for f in seen] == [0, 1]
    assert seen[-1]["data"]["code"] == "E_CANCELLED"
    run.release()
