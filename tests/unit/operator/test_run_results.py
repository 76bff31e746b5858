"""Reading a finished Run back from storage: events.jsonl lines, metrics.json shapes, the verdict."""

from __future__ import annotations

import json
import types

import pytest

from p2n import errors, events, resources, storage
from p2n.storage import keys
from p2n_operator import steps


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
    rt.store.put_bytes(keys.run_artifact("ns", "run-a", "events.jsonl"), body)
    assert [e.seq for e in steps.stored_events(rt, "ns", "run-a")] == [0, 1, 2]
    assert steps.stored_events(rt, "ns", "never-ran") == []


@pytest.mark.parametrize(
    "metrics",
    [{"accuracy": 0.88}, {"metrics": {"accuracy": 0.88}}, {"metric": "accuracy", "value": 0.88}],
)
def test_assessment_reads_every_metrics_shape(rt, metrics):
    rt.store.put_bytes(keys.run_artifact("ns", "run-a", "metrics.json"), json.dumps(metrics).encode())
    result = steps.assessment(rt, "ns", "run-a", _paper(0.9), PLAN, measured=True)
    assert (result["metric"], result["observed"], result["claimed"]) == ("accuracy", 0.88, 0.9)
    assert result["gap_percent"] == pytest.approx((0.88 - 0.9) / 0.9 * 100)
    assert result["verdict"] in ("reproduced", "not_reproduced", "inconclusive")


def test_assessment_without_a_number_is_inconclusive(rt):
    rt.store.put_bytes(keys.run_artifact("ns", "run-a", "metrics.json"), b'{"accuracy": "high"}')
    result = steps.assessment(rt, "ns", "run-a", _paper(), PLAN, measured=True)
    assert (result["observed"], result["verdict"]) == (None, "inconclusive")
    assert steps.assessment(rt, "ns", "run-a", None, PLAN, measured=True) is None


def test_artifacts_lists_only_what_was_uploaded(rt):
    rt.store.put_bytes(keys.run_artifact("ns", "run-a", "logs.txt"), b"hello")
    artifacts = steps.run_artifacts(rt, "ns", "run-a")
    assert str(artifacts.logs).startswith("file://")
    assert (artifacts.metrics, artifacts.events, artifacts.notebook) == (None, None, None)


def test_missing_claim_is_not_found():
    with pytest.raises(errors.NotFound):
        steps.claim_of(_paper(), "nope")
