"""Observability of the API: the Prometheus ``/metrics`` endpoint, request durations by route
template, the SSE gauges and counter, and the ``p2n.*`` spans of the routes that change state."""

from __future__ import annotations

import httpx
import prometheus_client
import pytest
from tests.api.support import sse_frames
from tests.harness import cluster

from p2n_api import main

pytestmark = pytest.mark.api

DURATION = "p2n_api_http_request_duration_seconds_count"


def _sample(name: str, labels: dict[str, str] | None = None) -> float:
    return prometheus_client.REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_metrics_are_served_without_a_token_and_kept_out_of_the_schema(api):
    response = httpx.get(f"{api.base_url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for family in ("p2n_api_http_request_duration_seconds", "p2n_api_sse_clients", "p2n_api_sse_feeds"):
        assert f"# TYPE {family} " in response.text
    assert "# TYPE p2n_api_sse_events_relayed_total counter" in response.text
    openmetrics = httpx.get(
        f"{api.base_url}/metrics", headers={"Accept": "application/openmetrics-text"}, timeout=10
    )
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert "/metrics" not in main.create_app().openapi()["paths"]


def test_request_durations_are_labelled_by_route_template_and_status(api):
    template = {"method": "GET", "route": "/api/v1/runs/{name}", "status": "404"}
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    before, before_unmatched = _sample(DURATION, template), _sample(DURATION, unmatched)
    assert api.get("/api/v1/runs/observed-missing-run").status_code == 404
    assert api.get("/api/v1/runs/another-missing-run").status_code == 404
    assert api.get("/no/such/observed-path").status_code == 404
    # The duration is observed once the response is sent: the client may see it a moment earlier.
    cluster.wait_for(lambda: _sample(DURATION, template) == before + 2, what="404s by template")
    cluster.wait_for(lambda: _sample(DURATION, unmatched) == before_unmatched + 1, what="unmatched")
    text = httpx.get(f"{api.base_url}/metrics", timeout=10).text
    assert 'route="/api/v1/runs/{name}"' in text
    assert "observed-missing-run" not in text
    assert "observed-path" not in text


def test_sse_clients_feeds_and_relayed_events_are_counted(api, api_server, fake_run):
    run = fake_run(count=20)
    clients, feeds = _sample("p2n_api_sse_clients"), _sample("p2n_api_sse_feeds")
    relayed = _sample("p2n_api_sse_events_relayed_total")
    received: list[dict] = []
    with api.stream("GET", f"/api/v1/runs/{run.name}/events") as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        buffer = ""
        while not received:
            line = next(lines)
            buffer += line + "\n"
            if not line:  # a blank line ends a frame
                received = sse_frames(buffer)
        # The first event (seq 0) arrived while the pod waits at its gate: the client is connected.
        assert _sample("p2n_api_sse_clients") == clients + 1
        assert _sample("p2n_api_sse_feeds") == feeds + 1
        run.release()
        for line in lines:
            buffer += line + "\n"
    received = sse_frames(buffer)
    assert [f["id"] for f in received] == list(range(run.total))
    assert _sample("p2n_api_sse_events_relayed_total") == relayed + run.total
    cluster.wait_for(lambda: _sample("p2n_api_sse_clients") == clients, what="client counted out")
    cluster.wait_for(lambda: _sample("p2n_api_sse_feeds") == feeds, what="feed counted out")


def _finished(spans, name: str) -> list:
    return [s for s in spans.get_finished_spans() if s.name == name]


def test_state_changing_routes_are_spans(api, spans, kube):
    ns = api.namespace
    assert (
        api.post("/api/v1/papers", json={"name": "traced", "text": "LDA gets 98% on iris."}).status_code
        == 201
    )
    plan = {"name": "traced-plan", "paper": "traced", "claim_id": "c1", "approval_required": True}
    assert api.post("/api/v1/plans", json=plan).status_code == 201
    assert api.post("/api/v1/plans/traced-plan/approve").status_code == 200
    created = api.post("/api/v1/plans/traced-plan/run", json={"seeds": [1, 2]})
    assert created.status_code == 201
    run = created.json()["run_ids"][0]
    assert api.post(f"/api/v1/runs/{run}/cancel").status_code == 202

    (paper,) = _finished(spans, "p2n.paper.create")
    assert dict(paper.attributes) == {"p2n.namespace": ns, "p2n.paper": "traced"}
    (approve,) = _finished(spans, "p2n.plan.approve")
    assert dict(approve.attributes) == {"p2n.namespace": ns, "p2n.plan": "traced-plan"}
    runs = _finished(spans, "p2n.run.create")
    assert [s.attributes["p2n.seed"] for s in runs] == [1, 2]
    assert {s.attributes["p2n.run"] for s in runs} == set(created.json()["run_ids"])
    (cancel,) = _finished(spans, "p2n.run.cancel")
    assert dict(cancel.attributes) == {"p2n.namespace": ns, "p2n.run": run}
    assert all(s.status.is_ok for s in (paper, approve, *runs, cancel))


def test_a_failed_create_is_an_error_span(api, spans):
    body = {"name": "twice", "text": "LDA gets 98% on iris."}
    assert api.post("/api/v1/papers", json=body).status_code == 201
    assert api.post("/api/v1/papers", json=body).status_code == 409
    first, second = _finished(spans, "p2n.paper.create")
    assert first.status.is_ok
    assert not second.status.is_ok
    assert [e.name for e in second.events] == ["exception"]


def test_an_event_stream_is_one_span(api, spans, fake_run):
    run = fake_run(count=5)
    run.release()
    response = api.get(f"/api/v1/runs/{run.name}/events")
    assert len(sse_frames(response.text)) == run.total
    (stream,) = cluster.wait_for(lambda: _finished(spans, "p2n.run.events"), what="stream span")
    assert dict(stream.attributes) == {"p2n.namespace": api.namespace, "p2n.run": run.name}
