"""From an observed sandbox Pod to the Run's phase and typed reason.

Kubernetes reports how a pod ended in several places (pod ``status.reason`` for deadlines and
evictions, the container's ``terminated`` state for exit codes and OOM kills, ``waiting`` reasons
for image and configuration problems). The runner reports why *it* stopped through its exit code
(``p2n.events.RUNNER_EXIT_CODES``) and its last ``stage_update``. This module folds all of that into
one answer, so every surface shows the same phase and error code for the same ending.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping
from typing import Any

from p2n import events, resources

# Waiting reasons after which the container will never start without someone changing the pod.
_FATAL_WAITING = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)
_CODE_PHASES: dict[str, resources.RunPhase] = {
    "OK": "Succeeded",
    "E_RUN_TIMEOUT": "TimedOut",
    "E_CANCELLED": "Cancelled",
}
# 128 + SIGKILL: the container was killed without the runner saying why (not an OOM kill).
_EXIT_SIGKILL = 137


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How a Run ended: terminal phase, error code (None on success) and a message for people."""

    phase: resources.RunPhase
    reason: str | None
    message: str


def container_state(pod: Mapping[str, Any]) -> Mapping[str, Any]:
    """The runner container's ``state`` (``waiting``, ``running`` or ``terminated``), else empty."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return (statuses[0].get("state") or {}) if statuses else {}


def pod_phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def timestamp(value: object) -> datetime.datetime | None:
    """A Kubernetes RFC 3339 timestamp (or a datetime) as an aware datetime; None if absent or bad."""
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.datetime.fromisoformat(value)
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.UTC)


def started_at(pod: Mapping[str, Any]) -> datetime.datetime | None:
    """When the kubelet started the runner container (its ``running.startedAt``), if it says."""
    return timestamp((container_state(pod).get("running") or {}).get("startedAt"))


def execution_started(pod: Mapping[str, Any]) -> str | None:
    """When the runner container started (running or since ended), else the pod's ``startTime``."""
    state = container_state(pod)
    for key in ("running", "terminated"):
        started = (state.get(key) or {}).get("startedAt")
        if started:
            return str(started)
    started = (pod.get("status") or {}).get("startTime")
    return str(started) if started else None


def is_running(pod: Mapping[str, Any]) -> bool:
    """Whether the runner process has started (the Run moves from Pending to Running)."""
    return pod_phase(pod) == "Running" or "running" in container_state(pod)


def _from_code(code: str, message: str) -> Outcome:
    phase = _CODE_PHASES.get(code, "Failed")
    return Outcome(phase=phase, reason=None if code == "OK" else code, message=message)


def _stage_message(last_stage: events.StageData | None, default: str) -> str:
    if last_stage is not None and last_stage.message:
        return last_stage.message
    return default


def classify(
    pod: Mapping[str, Any], last_stage: events.StageData | None = None, *, cancel_requested: bool = False
) -> Outcome | None:
    """The terminal outcome of a pod, or None while it may still run to completion."""
    status = pod.get("status") or {}
    pod_reason = status.get("reason")
    pod_message = str(status.get("message") or "")
    if pod_reason == "DeadlineExceeded":
        return Outcome("TimedOut", "E_RUN_TIMEOUT", pod_message or "the sandbox exceeded its deadline")
    if pod_reason == "Evicted":
        # The kubelet evicts a pod that writes more than its ephemeral-storage limit.
        code = "E_CAP_EXCEEDED" if "ephemeral" in pod_message.lower() else "E_CLUSTER"
        return Outcome("Failed", code, pod_message or "the sandbox pod was evicted")
    state = container_state(pod)
    waiting = state.get("waiting") or {}
    if waiting.get("reason") in _FATAL_WAITING:
        detail = str(waiting.get("message") or "")
        return Outcome("Failed", "E_CLUSTER", f"{waiting['reason']}: {detail}".rstrip(": "))
    terminated = state.get("terminated")
    if terminated is None:
        if pod_phase(pod) in ("Succeeded", "Failed"):
            code = "OK" if pod_phase(pod) == "Succeeded" else "E_INTERNAL"
            return _from_code(code, pod_message or f"the sandbox pod {pod_phase(pod).lower()}")
        return None
    exit_code = int(terminated.get("exitCode") or 0)
    if terminated.get("reason") == "OOMKilled":
        return Outcome("Failed", "E_OOM_KILLED", "the notebook ran out of memory (OOMKilled)")
    if cancel_requested and exit_code != events.RUNNER_EXIT_OK:
        return Outcome("Cancelled", "E_CANCELLED", "cancelled; partial artifacts kept")
    if exit_code == _EXIT_SIGKILL and exit_code not in events.RUNNER_EXIT_CODES:
        return Outcome("Failed", "E_KERNEL_DIED", "the sandbox was killed (SIGKILL)")
    code = events.runner_error_code(exit_code)
    if code == "E_INTERNAL" and last_stage is not None and last_stage.code:
        code = last_stage.code
    default = "the notebook ran to completion" if code == "OK" else f"runner exited with {exit_code} ({code})"
    return _from_code(code, _stage_message(last_stage, default))
