"""The run event vocabulary: one model per SSE event name, each carrying a monotonic ``seq``.

The same objects travel as JSON lines on the runner's stdout, as rows in PostgreSQL and as SSE
frames (``id: <seq>``, ``event: <name>``, ``data: <json of data>``), so a client resuming with
``Last-Event-ID`` can be served from any of them without gaps or duplicates.

This module is imported by the sandbox runner, so it may depend on pydantic and the standard
library only.

    >>> ev = progress(seq=3, percent=50.0, msg="cell 2/4")
    >>> parse_line(to_json_line(ev)) == ev
    True
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

EventName: TypeAlias = Literal[
    "stage_update", "progress", "log_line", "metric_update", "sample_pred", "token"
]
EVENT_NAMES: tuple[str, ...] = (
    "stage_update",
    "progress",
    "log_line",
    "metric_update",
    "sample_pred",
    "token",
)
Stage: TypeAlias = Literal[
    "queued", "run_start", "seed_check", "run_complete", "run_error", "run_cancelled"
]
TERMINAL_STAGES: frozenset[str] = frozenset({"run_complete", "run_error", "run_cancelled"})


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageData(_Payload):
    stage: Stage
    run_id: str = Field(min_length=1, max_length=253)
    code: str | None = Field(default=None, description="Typed error code for run_error/run_cancelled.")
    message: str | None = None
    seeds: dict[str, int | str | None] | None = Field(
        default=None, description="For seed_check: the seeds actually set, per library."
    )
    exit_code: int | None = None


class ProgressData(_Payload):
    percent: float = Field(ge=0, le=100)
    msg: str = ""


class LogLineData(_Payload):
    text: str
    stream: Literal["stdout", "stderr", "system"] = "stdout"
    level: Literal["info", "warning", "error"] = "info"
    code: str | None = Field(default=None, description="Set on warnings such as E_ARTIFACT_TOO_LARGE.")


class MetricUpdateData(_Payload):
    metric: str = Field(min_length=1, max_length=128)
    split: str = Field(default="test", max_length=64)
    value: float
    step: int = Field(default=0, ge=0)
    ts: float = Field(default_factory=time.time, description="Unix time in seconds.")


class SamplePredData(_Payload):
    text: str


class TokenData(_Payload):
    text: str


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int = Field(ge=0, description="Monotonic per run; the SSE id.")
    ts: float = Field(default_factory=time.time, description="Unix time the event was emitted.")


class StageUpdate(_Event):
    event: Literal["stage_update"] = "stage_update"
    data: StageData


class Progress(_Event):
    event: Literal["progress"] = "progress"
    data: ProgressData


class LogLine(_Event):
    event: Literal["log_line"] = "log_line"
    data: LogLineData


class MetricUpdate(_Event):
    event: Literal["metric_update"] = "metric_update"
    data: MetricUpdateData


class SamplePred(_Event):
    event: Literal["sample_pred"] = "sample_pred"
    data: SamplePredData


class Token(_Event):
    event: Literal["token"] = "token"
    data: TokenData


Event: TypeAlias = Annotated[
    StageUpdate | Progress | LogLine | MetricUpdate | SamplePred | Token,
    Field(discriminator="event"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

_DATA_MODELS: dict[str, type[_Payload]] = {
    "stage_update": StageData,
    "progress": ProgressData,
    "log_line": LogLineData,
    "metric_update": MetricUpdateData,
    "sample_pred": SamplePredData,
    "token": TokenData,
}


def make(name: str, seq: int, data: dict[str, Any], ts: float | None = None) -> Event:
    """Build a validated event from its name and payload (raises pydantic.ValidationError)."""
    raw: dict[str, Any] = {"event": name, "seq": seq, "data": data}
    if ts is not None:
        raw["ts"] = ts
    return EVENT_ADAPTER.validate_python(raw)


def stage(seq: int, stage_name: Stage, run_id: str, **extra: Any) -> StageUpdate:
    return StageUpdate(seq=seq, data=StageData(stage=stage_name, run_id=run_id, **extra))


def progress(seq: int, percent: float, msg: str = "") -> Progress:
    return Progress(seq=seq, data=ProgressData(percent=percent, msg=msg))


def log_line(seq: int, text: str, **extra: Any) -> LogLine:
    return LogLine(seq=seq, data=LogLineData(text=text, **extra))


def metric_update(seq: int, metric: str, value: float, **extra: Any) -> MetricUpdate:
    return MetricUpdate(seq=seq, data=MetricUpdateData(metric=metric, value=value, **extra))


def parse_line(line: str | bytes) -> Event:
    """Parse one JSON line as written by the runner (raises pydantic.ValidationError on bad input)."""
    return EVENT_ADAPTER.validate_json(line)


def to_json_line(event: Event) -> str:
    """The runner's stdout / ``events.jsonl`` form: compact JSON, no trailing newline."""
    return event.model_dump_json()


def data_json(event: Event) -> str:
    """The SSE ``data:`` payload: the event's data object as compact JSON."""
    return json.dumps(event.data.model_dump(mode="json"), separators=(",", ":"))


def to_sse(event: Event) -> str:
    """One SSE frame with ``id`` = seq, ready to be written to the wire."""
    return f"id: {event.seq}\nevent: {event.event}\ndata: {data_json(event)}\n\n"


def data_model_for(name: str) -> type[BaseModel]:
    """The payload model of an event name, for schema publication (OpenAPI, docs)."""
    return _DATA_MODELS[name]
