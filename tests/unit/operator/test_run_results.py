"""Reading a finished Run back from storage: events.jsonl lines, metrics.json shapes, the verdict."""

from __future__ import annotations

import json
import types

import pytest

from p2n import errors, events, resources, storage
from p2n.storage import keys
from p2n_operator import runs, steps


@pytest.fixture
def rt(tmp_path):
    return types.SimpleNamespace(store=storage.LocalStorage(tmp_path))


def _paper(value=0.9):
    return resources.Paper.model_validate(
        {
            "metadata": {"name": "paper-a"},
            "spec": {"source": {"text": "x"}},
            "status": {
                "phase": "Ready",
                "claims": [
                    {
                        "id": "c1",
                        "metric": "accuracy",
                        "value": value,
                        "higherIsBetter": True,
                        "citation": {"page": 1, "quote": "q"},
                    }
                ],
            },
        }
    )


UID = "0b6f2c1e-6a9d-4c57-9a55-2f1d3e4c5b6a"
PLAN = resources.Plan.model_validate(
    {"metadata": {"name": "plan-a"}, "spec": {"paperRef": {"name": "paper-a"}, "claimId": "c1"}}
)


def test_only_event_lines_are_events():
    line = events.to_json_line(events.progress(3, 50.0, "half"))
    assert steps.parse_event(line.encode()) == events.progress(3, 50.0, "half").model_copy(
        update={"ts": json.loads(line)["ts"]}
    )
    assert steps.parse_event(b"plain output from a cell") is None
    assert steps.parse_event('{"event": "nonsense"}') is None
    assert steps.parse_event(b"") is None


def test_stored_events_skip_bad_lines(rt):
    good = [events.to_json_line(events.log_line(i, f"line {i}")) for i in range(3)]
    body = "\n".join([good[0], "garbage", good[1], "", good[2]]).encode()
    rt.store.put_bytes(keys.run_artifact("ns", "run-a", UID, "events.jsonl"), body)
    assert [e.seq for e in steps.stored_events(rt, "ns", "run-a", UID)] == [0, 1, 2]
    assert steps.stored_events(rt, "ns", "never-ran", UID) == []


@pytest.mark.parametrize(
    "metrics",
    [{"accuracy": 0.88}, {"metrics": {"accuracy": 0.88}}, {"metric": "accuracy", "value": 0.88}],
)
def test_assessment_reads_every_metrics_shape(rt, metrics):
    rt.store.put_bytes(keys.run_artifact("ns", "run-a", UID, "metrics.json"), json.dumps(metrics).encode())
    result = steps.assessment(rt, "ns", "run-a", UID, _paper(0.9), PLAN, measured=True)
    assert (result["metric"], result["observed"], result["claimed"]) == ("accuracy", 0.88, 0.9)
    assert result["gap_percent"] == pytest.approx((0.88 - 0.9) / 0.9 * 100)
    assert result["verdict"] in ("reproduced", "not_reproduced", "inconclusive")


def test_assessment_without_a_number_is_inconclusive(rt):
    rt.store.put_bytes(keys.run_artifact("ns", "run-a", UID, "metrics.json"), b'{"accuracy": "high"}')
    result = steps.assessment(rt, "ns", "run-a", UID, _paper(), PLAN, measured=True)
    assert (result["observed"], result["verdict"]) == (None, "inconclusive")
    assert steps.assessment(rt, "ns", "run-a", UID, None, PLAN, measured=True) is None


def test_artifacts_lists_only_what_was_uploaded(rt):
    rt.store.put_bytes(keys.run_artifact("ns", "run-a", UID, "logs.txt"), b"hello")
    artifacts = steps.run_artifacts(rt, "ns", "run-a", UID)
    assert str(artifacts.logs).startswith("file://")
    assert (artifacts.metrics, artifacts.events, artifacts.notebook) == (None, None, None)


def test_missing_claim_is_not_found():
    with pytest.raises(errors.NotFound):
        steps.claim_of(_paper(), "nope")


def _ended_pod(*owners):
    return {
        "metadata": {"name": "p2n-run-run-a", "ownerReferences": list(owners)},
        "status": {"phase": "Succeeded"},
    }


async def test_early_listing_is_of_the_instance_that_owns_the_pod(rt):
    other = "5d2a9f0c-1b3e-4f6a-8c7d-9e0f1a2b3c4d"
    rt.store.put_bytes(keys.run_artifact("ns", "run-a", UID, "logs.txt"), b"mine")
    rt.store.put_bytes(keys.run_artifact("ns", "run-a", other, "metrics.json"), b"{}")
    owner = {"kind": "Run", "name": "run-a", "uid": UID, "controller": True}
    listing = runs._prefetch_artifacts(rt, "ns", "run-a", _ended_pod(owner))
    assert listing is not None
    assert listing.uid == UID
    artifacts = await listing.future
    assert artifacts.logs is not None
    assert artifacts.metrics is None


def test_no_early_listing_without_a_controlling_owner(rt):
    not_controller = {"kind": "Run", "name": "run-a", "uid": UID}
    assert runs._prefetch_artifacts(rt, "ns", "run-a", _ended_pod(not_controller)) is None
    assert runs._prefetch_artifacts(rt, "ns", "run-a", _ended_pod()) is None
