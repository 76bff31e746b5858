"""The run event vocabulary: JSON lines and SSE frames round-trip, seq only moves forward, bad input fails."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from p2n import errors, events

SAMPLES: list[events.Event] = [
    events.stage(0, "queued", "iris-lda-cv-seed-1"),
    events.stage(1, "seed_check", "r", seeds={"random": 1, "numpy": 1, "torch": None}),
    events.stage(9, "run_error", "r", code="E_RUN_TIMEOUT", message="timed out", exit_code=4),
    events.progress(2, 50.0, "cell 2/4"),
    events.log_line(3, "fold 1: 0.97", stream="stderr", level="warning", code="E_ARTIFACT_TOO_LARGE"),
    events.metric_update(4, "accuracy", 0.973, split="cv", step=10, ts=1700000000.5),
    events.SamplePred(seq=5, data=events.SamplePredData(text="setosa")),
    events.Token(seq=6, data=events.TokenData(text="The claim")),
]


def _parse_sse(frame: str) -> dict[str, str]:
    assert frame.endswith("\n\n"), "an SSE frame ends with a blank line"
    fields = {}
    for line in frame.rstrip("\n").split("\n"):
        name, _, value = line.partition(": ")
        fields[name] = value
    return fields


def test_samples_cover_the_vocabulary() -> None:
    assert sorted({ev.event for ev in SAMPLES}) == sorted(events.EVENT_NAMES)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda ev: f"{ev.event}-{ev.seq}")
def test_json_line_round_trip(event: events.Event) -> None:
    line = events.to_json_line(event)
    assert "\n" not in line
    assert events.parse_line(line) == event
    assert events.parse_line(line.encode()) == event
    assert json.loads(line)["event"] == event.event


@pytest.mark.parametrize("event", SAMPLES, ids=lambda ev: f"{ev.event}-{ev.seq}")
def test_sse_frame_carries_seq_name_and_data(event: events.Event) -> None:
    fields = _parse_sse(events.to_sse(event))
    assert fields["id"] == str(event.seq)
    assert fields["event"] == event.event
    data = json.loads(fields["data"])
    rebuilt = events.make(fields["event"], int(fields["id"]), data, ts=event.ts)
    assert rebuilt == event


def test_make_validates_the_payload_for_its_name() -> None:
    assert isinstance(events.make("progress", 1, {"percent": 10}), events.Progress)
    with pytest.raises(ValidationError):
        events.make("progress", 1, {"text": "not a progress payload"})
    with pytest.raises(ValidationError):
        events.make("unknown_event", 1, {})


@pytest.mark.parametrize(
    "line",
    [
        "",
        "not json",
        "[]",
        '{"event": "progress", "seq": 1}',
        '{"event": "progress", "seq": -1, "data": {"percent": 5}}',
        '{"event": "progress", "seq": 1, "data": {"percent": 101}}',
        '{"event": "progress", "seq": 1, "data": {"percent": 5, "extra": true}}',
        '{"event": "stage_update", "seq": 1, "data": {"stage": "exploded", "run_id": "r"}}',
        '{"event": "stage_update", "seq": 1, "data": {"stage": "queued", "run_id": ""}}',
        '{"event": "nope", "seq": 1, "data": {}}',
        '{"event": "log_line", "seq": "one", "data": {"text": "x"}}',
    ],
)
def test_bad_lines_are_rejected(line: str) -> None:
    with pytest.raises(ValidationError):
        events.parse_line(line)


def test_events_are_immutable() -> None:
    event = events.progress(1, 5.0)
    with pytest.raises(ValidationError):
        event.seq = 2  # type: ignore[misc]


def test_runner_exit_codes_name_known_error_codes() -> None:
    for exit_code, code in events.RUNNER_EXIT_CODES.items():
        assert code == "OK" or errors.error_class_for(code).code == code, exit_code
        assert events.runner_error_code(exit_code) == code
    assert events.runner_error_code(99) == "E_INTERNAL"
