"""The manual flow over HTTP with the real operator: paper -> plan -> run -> `curl -N` events -> report."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml
from tests.api.support import sse_frames
from tests.harness import cluster, operators

from p2n_operator import service

pytestmark = pytest.mark.api

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def operator(kube, kubelet, namespace, api_config) -> Any:
    """The real operator (kopf, in a thread) on the test's namespace, with the API's bucket and database."""
    config = api_config.model_copy(
        update={"status_interval_seconds": 0.2, "sandbox_grace_seconds": 5, "max_concurrent_runs": 4}
    )
    with operators.running(
        kube, service.registry(), namespace=namespace, memo=kopf.Memo(settings=config)
    ) as op:
        yield op
    assert not op.errors, op.errors


def _paper_text() -> str:
    return yaml.safe_load((EXAMPLES / "paper-text.yaml").read_text())["spec"]["source"]["text"]


def _wait_json(api, path: str, check, timeout: float = 90, what: str = "") -> dict:
    def probe() -> dict | None:
        response = api.get(path)
        return response.json() if response.status_code == 200 and check(response.json()) else None

    return cluster.wait_for(probe, timeout=timeout, interval=0.2, what=what or path)


def _curl_events(api, run: str, last_event_id: int | None = None) -> str:
    url = f"{api.base_url}/api/v1/runs/{run}/events?namespace={api.namespace}"
    argv = ["curl", "-sS", "-N", "--max-time", "120", "-H", f"Authorization: Bearer {api.token}", url]
    if last_event_id is not None:
        argv[1:1] = ["-H", f"Last-Event-ID: {last_event_id}"]
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=150).stdout


def _first_frames(api, run: str, count: int) -> list[dict]:
    frames: list[dict] = []
    buffer = ""
    with api.stream("GET", f"/api/v1/runs/{run}/events") as response:
        for text in response.iter_text():
            buffer += text
            while "\n\n" in buffer and len(frames) < count:
                block, buffer = buffer.split("\n\n", 1)
                frames += sse_frames(block + "\n\n")
            if len(frames) >= count:
                return frames[:count]
    return frames


@pytest.mark.skipif(shutil.which("curl") is None, reason="the curl binary is not installed")
def test_manual_flow_with_curl(api, operator):
    created = api.post(
        "/api/v1/papers",
        json={"name": "iris-lda", "text": _paper_text(), "extraction": {"provider": "offline"}},
    )
    assert created.status_code == 201, created.text
    paper = _wait_json(
        api, "/api/v1/papers/iris-lda", lambda p: p["phase"] in ("Ready", "Failed"), what="paper"
    )
    assert paper["phase"] == "Ready", paper
    claims = api.get("/api/v1/papers/iris-lda/claims").json()["items"]
    assert "iris-accuracy-2" in [c["id"] for c in claims]

    plan = api.post(
        "/api/v1/plans",
        json={
            "name": "iris-cv",
            "paper": "iris-lda",
            "claim_id": "iris-accuracy-2",
            "planner": {"provider": "offline"},
        },
    )
    assert plan.status_code == 201, plan.text
    started = api.post("/api/v1/plans/iris-cv/run", json={"seed": 1})
    assert started.status_code == 201, started.text
    run = started.json()["run_id"]

    # A client that leaves after a few live events and comes back with Last-Event-ID ...
    first = _first_frames(api, run, 3)
    assert [f["id"] for f in first] == [0, 1, 2]
    stream = _curl_events(api, run, last_event_id=first[-1]["id"])
    assert stream.startswith("retry: ")
    frames = first + sse_frames(stream)
    ids = [f["id"] for f in frames]
    # ... gets every later event exactly once, as the full replay from PostgreSQL shows.
    assert ids == [f["id"] for f in sse_frames(_curl_events(api, run))]
    assert ids == sorted(set(ids)), "ids must increase without duplicates"
    stages = [f["data"]["stage"] for f in frames if f["event"] == "stage_update"]
    assert stages[0] == "run_start", stages
    assert stages[-1] == "run_complete", stages
    names = {f["event"] for f in frames}
    assert {"progress", "metric_update"} <= names, names
    finished = _wait_json(api, f"/api/v1/runs/{run}", lambda r: r["phase"] == "Succeeded", what="run status")
    # After the terminal event there is nothing left: 204 tells EventSource clients to stop.
    assert api.get(f"/api/v1/runs/{run}/events", headers={"Last-Event-ID": str(ids[-1])}).status_code == 204
    report = api.get("/api/v1/papers/iris-lda/report").json()
    assert report["claimed"] == pytest.approx(0.98)
    assert report["observed"] == pytest.approx(finished["observed"])
    assert report["gap_percent"] == pytest.approx((report["observed"] - 0.98) / 0.98 * 100, abs=1e-6)
    assert report["verdict"] in ("reproduced", "not_reproduced", "inconclusive")
    assert report["citations"]
    assert all(c["page"] >= 1 and c["quote"] for c in report["citations"])
    section = next(s for s in report["claims"] if s["plan"] == "iris-cv")
    links = section["runs"][0]["artifacts"]
    assert {"metrics", "events", "logs", "notebook"} <= set(links)
    assert "X-Amz-Signature=" in links["metrics"]
    # The links name this instance's artifacts: a Run recreated under the name gets its own.
    assert f"/runs/{api.namespace}/{run}/{finished['uid']}/metrics.json?" in links["metrics"]

    history = api.get("/api/v1/papers/iris-lda/runs").json()["items"]
    assert [h["name"] for h in history] == [run]
    assert history[0]["phase"] == "Succeeded"
    assert history[0]["env_hash"]
    metrics = api.get(f"/api/v1/runs/{run}/metrics").json()["points"]
    assert finished["metric"] in {p["metric"] for p in metrics}
    csv_text = api.get(f"/api/v1/runs/{run}/metrics.csv").text
    assert csv_text.splitlines()[0] == "seq,metric,split,step,value,ts"
    assert len(csv_text.splitlines()) == len(metrics) + 1

    book = api.post("/api/v1/explain/kid", json={"paper": "iris-lda", "claim_id": "iris-accuracy-2"})
    assert book.status_code == 200, book.text
    assert 5 <= len(book.json()["pages"]) <= 7
