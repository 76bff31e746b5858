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
Stage: TypeAlias = Literal["queued", "run_start", "seed_check", "run_complete", "run_error", "run_cancelled"]
TERMINAL_STAGES: frozenset[str] = frozenset({"run_complete", "run_error", "run_cancelled"})


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageData(_Payload):
    stage: Stage
    run_id: str = Field(
        min_length=1,
        max_length=512,
        description="The run's history id; for a cluster Run <namespace>/<name>/<uid> (db.cluster_run_id).",
    )
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


# Exit codes of ``p2n-runner``, shared by the local sandbox, the operator and the kubelet emulator
# (the runner may import only this module from the core). Each maps to an error code, or "OK".
# 1 is what an uncaught Python exception exits with, so it means an internal runner failure; 2 is
# argparse's usage error; 143 is the conventional 128 + SIGTERM for a cancelled run.
RUNNER_EXIT_OK = 0
RUNNER_EXIT_INTERNAL = 1
RUNNER_EXIT_INVALID_INPUT = 2
RUNNER_EXIT_NOTEBOOK_ERROR = 3
RUNNER_EXIT_TIMEOUT = 4
RUNNER_EXIT_METRICS_MISSING = 5
RUNNER_EXIT_KERNEL_DIED = 6
RUNNER_EXIT_OOM_KILLED = 7
RUNNER_EXIT_GPU_REQUESTED = 8
RUNNER_EXIT_STORAGE = 9
RUNNER_EXIT_CANCELLED = 143

RUNNER_EXIT_CODES: dict[int, str] = {
    RUNNER_EXIT_OK: "OK",
    RUNNER_EXIT_INTERNAL: "E_INTERNAL",
    RUNNER_EXIT_INVALID_INPUT: "E_INVALID_INPUT",
    RUNNER_EXIT_NOTEBOOK_ERROR: "E_NOTEBOOK_ERROR",
    RUNNER_EXIT_TIMEOUT: "E_RUN_TIMEOUT",
    RUNNER_EXIT_METRICS_MISSING: "E_METRICS_MISSING",
    RUNNER_EXIT_KERNEL_DIED: "E_KERNEL_DIED",
    RUNNER_EXIT_OOM_KILLED: "E_OOM_KILLED",
    RUNNER_EXIT_GPU_REQUESTED: "E_GPU_REQUESTED",
    RUNNER_EXIT_STORAGE: "E_STORAGE",
    RUNNER_EXIT_CANCELLED: "E_CANCELLED",
}
RUNNER_EXIT_BY_CODE: dict[str, int] = {code: exit_code for exit_code, code in RUNNER_EXIT_CODES.items()}


def runner_error_code(exit_code: int) -> str:
    """The error code for a runner exit status; a status outside the table is ``E_INTERNAL``."""
    return RUNNER_EXIT_CODES.get(exit_code, "E_INTERNAL")
