"""Pure reconcile decisions for Paper, Plan and Run: (spec, observed state) -> (action, status).

Handlers in ``handlers.py`` gather the observed state (the object, its Plan or Paper, its pod) and
carry out the action this module picks; everything that decides *what* should happen lives here
and is unit-tested without a server. Functions never read the clock: ``now`` is a parameter.

Status conventions: ``phase`` plus one summary condition per kind (``Ready`` for Paper and Plan,
``Complete`` for Run) with ``observedGeneration``; a failed object carries the typed error code
in ``status.reason``. ``status_patch`` returns only what changed, so an unchanged status is never
written back.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Literal, TypeVar

from p2n import errors, events, resources, settings
from p2n_operator import outcome, podspec, policy

_S = TypeVar("_S", resources.PaperStatus, resources.PlanStatus, resources.RunStatus)
ConditionStatus = Literal["True", "False", "Unknown"]
_MAX_MESSAGE = 4096


def reason_for(code: str) -> str:
    """The CamelCase condition reason of an error code (E_OOM_KILLED -> OomKilled)."""
    cls = errors.error_class_for(code)
    return "InternalError" if cls is errors.P2NError else cls.__name__


def status_patch(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch turning ``current`` into ``desired``; empty when nothing changed.

    Keys present in ``current`` but absent from ``desired`` are set to None (removed), except
    keys this operator does not own (kopf's own bookkeeping under ``status.kopf``).
    """
    current = current or {}
    patch = {key: value for key, value in desired.items() if current.get(key) != value}
    for key in current:
        if key not in desired and key != "kopf" and current[key] is not None:
            patch[key] = None
    return patch


def _moved(
    status: _S,
    *,
    phase: str,
    generation: int,
    condition: str,
    condition_status: ConditionStatus,
    reason: str,
    message: str,
    now: datetime,
    error_code: str | None = None,
    **fields: Any,
) -> _S:
    message = message[:_MAX_MESSAGE]
    conditions = resources.set_condition(
        list(status.conditions), condition, condition_status, reason, message, generation, now
    )
    update: dict[str, Any] = {
        "phase": phase,
        "observed_generation": generation,
        "conditions": conditions,
        "reason": error_code,
        "message": message or None,
        **fields,
    }
    return status.model_copy(update=update)


def failed(
    status: _S, error: errors.P2NError, generation: int, now: datetime, *, condition: str = "Ready"
) -> _S:
    """Any kind moved to Failed with the error's code as ``status.reason``."""
    return _moved(
        status,
        phase="Failed",
        generation=generation,
        condition=condition,
        condition_status="False",
        reason=reason_for(error.code),
        message=error.message,
        now=now,
        error_code=error.code,
    )


def _not_ready(
    status: _S,
    phase: str,
    generation: int,
    reason: str,
    message: str,
    now: datetime,
    *,
    condition: str = "Ready",
    **fields: Any,
) -> _S:
    """An object on its way: its summary condition (Ready, or Complete for a Run) False with ``reason``."""
    return _moved(
        status,
        phase=phase,
        generation=generation,
        condition=condition,
        condition_status="False",
        reason=reason,
        message=message,
        now=now,
        **fields,
    )


# --- Paper ---------------------------------------------------------------------------------------


def paper_needs_extraction(status: resources.PaperStatus, generation: int) -> bool:
    """Whether the Paper's spec has not been ingested and extracted yet at this generation."""
    if status.observed_generation != generation:
        return True
    return status.phase not in ("Ready", "Failed")


def paper_progress(
    status: resources.PaperStatus, phase: Literal["Ingesting", "Extracting"], generation: int, now: datetime
) -> resources.PaperStatus:
    """The Paper on its way: Ready=False with the step as reason; old claims are dropped."""
    message = "reading the document" if phase == "Ingesting" else "extracting quantitative claims"
    return _not_ready(
        status,
        phase,
        generation,
        phase,
        message,
        now,
        claims=[] if phase == "Ingesting" else status.claims,
        claim_count=None if phase == "Ingesting" else status.claim_count,
    )


def paper_ready(
    status: resources.PaperStatus,
    generation: int,
    now: datetime,
    *,
    claims: list[resources.Claim],
    title: str | None,
    document_sha256: str,
    document_uri: str,
    pages: int,
) -> resources.PaperStatus:
    """The Paper with its claims; no claims at all is the typed failure E_NO_CLAIMS."""
    if not claims:
        return failed(
            status, errors.NoClaims("no quantitative claims found in the document"), generation, now
        )
    return _moved(
        status,
        phase="Ready",
        generation=generation,
        condition="Ready",
        condition_status="True",
        reason="ClaimsExtracted",
        message=f"{len(claims)} claims extracted",
        now=now,
        claims=claims,
        claim_count=len(claims),
        title=title,
        document_sha256=document_sha256,
        document_uri=document_uri,
        pages=pages,
    )


# --- Plan ----------------------------------------------------------------------------------------

PlanAction = Literal["wait_paper", "plan", "approval", "none"]


@dataclasses.dataclass(frozen=True)
class PlanDecision:
    action: PlanAction
    status: resources.PlanStatus


def decide_plan(
    spec: resources.PlanSpec,
    status: resources.PlanStatus,
    generation: int,
    annotations: Mapping[str, str],
    paper: resources.Paper | None,
    now: datetime,
) -> PlanDecision:
    """What a Plan needs next: its Paper, planning, approval, or nothing."""
    planned = status.plan_hash is not None and status.observed_generation == generation
    if planned and status.phase in ("Ready", "Failed"):
        return PlanDecision("none", status)
    if planned and status.phase == "AwaitingApproval":
        return PlanDecision("approval", approval(spec, status, generation, annotations, now))
    if status.phase == "Failed" and status.observed_generation == generation:
        return PlanDecision("none", status)
    paper_phase = paper.status.phase if paper is not None and paper.status is not None else None
    if paper_phase == "Failed":
        error = errors.PaperNotReady(f"paper {spec.paper_ref.name} failed; nothing to plan")
        return PlanDecision("none", failed(status, error, generation, now))
    if paper_phase != "Ready":
        waiting = _not_ready(
            status,
            "Pending",
            generation,
            "PaperNotReady",
            f"waiting for paper {spec.paper_ref.name} to be Ready",
            now,
        )
        return PlanDecision("wait_paper", waiting)
    planning = _not_ready(
        status,
        "Planning",
        generation,
        "Planning",
        f"planning the reproduction of claim {spec.claim_id}",
        now,
    )
    return PlanDecision("plan", planning)


def planned(
    status: resources.PlanStatus,
    generation: int,
    now: datetime,
    *,
    summary: resources.PlanSummary,
    plan_hash: str,
    env_hash: str,
    notebook_uri: str,
) -> resources.PlanStatus:
    """The Plan after planning and materializing, before the approval step."""
    return status.model_copy(
        update={
            "plan": summary,
            "plan_hash": plan_hash,
            "env_hash": env_hash,
            "notebook_uri": notebook_uri,
            "observed_generation": generation,
            "phase": "Planning",
        }
    )


def approval(
    spec: resources.PlanSpec,
    status: resources.PlanStatus,
    generation: int,
    annotations: Mapping[str, str],
    now: datetime,
) -> resources.PlanStatus:
    """Ready when no approval is required or the approval annotation is set, else AwaitingApproval.

    ``approvedBy``/``approvedAt`` record the first approval seen for the same approver, so
    re-reconciling an approved Plan does not move its approval time.
    """
    approver = annotations.get(resources.APPROVED_BY_ANNOTATION, "").strip()
    if spec.approval.required and not approver:
        return _not_ready(
            status,
            "AwaitingApproval",
            generation,
            "AwaitingApproval",
            f"approve with: kubectl annotate plan <name> {resources.APPROVED_BY_ANNOTATION}=<you>",
            now,
        )
    fields: dict[str, Any] = {}
    if approver:
        same = status.approved_by == approver and status.approved_at is not None
        fields = {"approved_by": approver, "approved_at": status.approved_at if same else now}
    message = f"approved by {approver}" if approver else "plan and notebook ready"
    return _moved(
        status,
        phase="Ready",
        generation=generation,
        condition="Ready",
        condition_status="True",
        reason="Approved" if approver else "Planned",
        message=message,
        now=now,
        **fields,
    )


# --- Run -----------------------------------------------------------------------------------------

RunAction = Literal["none", "wait_plan", "queue", "create_pod", "delete_pod", "finish"]


@dataclasses.dataclass(frozen=True)
class RunObserved:
    """Everything the Run's decision depends on, gathered by the handler."""

    spec: Mapping[str, Any]
    status: resources.RunStatus
    generation: int
    name: str
    plan: resources.Plan | None
    pod: Mapping[str, Any] | None
    admitted: bool = False
    queue_position: int | None = None
    last_stage: events.StageData | None = None


@dataclasses.dataclass(frozen=True)
class RunDecision:
    action: RunAction
    status: resources.RunStatus
    outcome: outcome.Outcome | None = None


def _run_moved(
    status: resources.RunStatus,
    phase: resources.RunPhase,
    generation: int,
    reason: str,
    message: str,
    now: datetime,
    **fields: Any,
) -> resources.RunStatus:
    return _not_ready(status, phase, generation, reason, message, now, condition="Complete", **fields)


def queued(runs: Iterable[Mapping[str, Any]]) -> list[policy.Waiting]:
    """The Queued, uncancelled Runs among raw Run objects, oldest first (the admission queue).

    Runs still waiting for their Plan are not in the queue: a slot is never held for a Run
    that could not start.
    """
    waiting = [
        policy.Waiting(run["metadata"]["name"], run["metadata"].get("creationTimestamp", ""))
        for run in runs
        if (run.get("status") or {}).get("phase") == "Queued" and not (run.get("spec") or {}).get("cancel")
    ]
    return sorted(waiting, key=lambda w: (w.created, w.name))


def decide_run(obs: RunObserved, cfg: settings.Settings, now: datetime) -> RunDecision:
    """The next step of a Run's lifecycle; see the module docstring for the conventions."""
    status = obs.status
    if status.phase in resources.TERMINAL_RUN_PHASES:
        return RunDecision("none", status)
    try:
        spec = policy.run_spec_from(obs.spec)
    except errors.P2NError as exc:
        return RunDecision("finish", status, outcome.Outcome("Failed", exc.code, exc.message))
    pod = obs.pod
    if spec.cancel:
        if pod is None:
            message = "cancelled; partial artifacts kept" if status.pod else "cancelled before start"
            return RunDecision("finish", status, outcome.Outcome("Cancelled", "E_CANCELLED", message))
        ended = outcome.classify(pod, obs.last_stage, cancel_requested=True)
        if ended is not None:
            return RunDecision("finish", status, ended)
        if (pod.get("metadata") or {}).get("deletionTimestamp"):
            return RunDecision("none", status)
        cancelling = _run_moved(
            status, status.phase, obs.generation, "Cancelling", "stopping the sandbox", now
        )
        return RunDecision("delete_pod", cancelling)
    if pod is None:
        return _run_without_pod(obs, spec, cfg, now)
    ended = outcome.classify(pod, obs.last_stage)
    if ended is not None:
        return RunDecision("finish", status, ended)
    pod_name = str((pod.get("metadata") or {}).get("name") or podspec.pod_name_for(obs.name))
    if outcome.is_running(pod):
        # The kubelet's start time, not when the operator saw it: Runs started together keep their order.
        started = status.started_at or outcome.started_at(pod) or now
        return RunDecision(
            "none",
            _run_moved(
                status,
                "Running",
                obs.generation,
                "Running",
                "the notebook is running",
                now,
                pod=pod_name,
                started_at=started,
                queue_position=None,
            ),
        )
    return RunDecision(
        "none",
        _run_moved(
            status,
            "Pending",
            obs.generation,
            "PodPending",
            "waiting for the sandbox to start",
            now,
            pod=pod_name,
            queue_position=None,
        ),
    )


def _run_without_pod(
    obs: RunObserved, spec: resources.RunSpec, cfg: settings.Settings, now: datetime
) -> RunDecision:
    status = obs.status
    if status.pod is not None:
        gone = outcome.Outcome("Failed", "E_CLUSTER", f"sandbox pod {status.pod} disappeared")
        return RunDecision("finish", status, gone)
    plan = obs.plan
    plan_phase = plan.status.phase if plan is not None and plan.status is not None else None
    if plan_phase == "Failed":
        failure = outcome.Outcome("Failed", "E_PLAN_NOT_READY", f"plan {spec.plan_ref.name} failed")
        return RunDecision("finish", status, failure)
    if plan is None or plan_phase != "Ready":
        message = f"waiting for plan {spec.plan_ref.name} to be Ready"
        return RunDecision(
            "wait_plan", _run_moved(status, "Pending", obs.generation, "PlanNotReady", message, now)
        )
    try:
        policy.sandbox_resources(spec, plan.spec, cfg)
    except errors.P2NError as exc:
        return RunDecision("finish", status, outcome.Outcome("Failed", exc.code, exc.message))
    if obs.admitted:
        created = _run_moved(
            status,
            "Pending",
            obs.generation,
            "PodCreated",
            "starting the sandbox",
            now,
            pod=podspec.pod_name_for(obs.name),
            queue_position=None,
        )
        return RunDecision("create_pod", created)
    position = obs.queue_position
    message = f"waiting for a free sandbox slot (position {position})" if position else "waiting for a slot"
    return RunDecision(
        "queue",
        _run_moved(
            status, "Queued", obs.generation, "ConcurrencyLimit", message, now, queue_position=position
        ),
    )


def run_finished(
    status: resources.RunStatus,
    ended: outcome.Outcome,
    generation: int,
    now: datetime,
    *,
    report: Mapping[str, Any] | None = None,
    artifacts: resources.RunArtifacts | None = None,
    env_hash: str | None = None,
) -> resources.RunStatus:
    """The terminal status: phase and typed reason from ``ended``; report fields when measured.

    ``report`` carries ``metric``, ``observed``, ``claimed``, ``gap_percent`` and ``verdict``
    (as computed by ``p2n.pipeline.report``); a failed Run keeps whatever it measured.
    """
    fields: dict[str, Any] = {
        "completed_at": status.completed_at or now,
        "queue_position": None,
        "artifacts": artifacts or status.artifacts,
        "env_hash": env_hash or status.env_hash,
    }
    if ended.phase == "Succeeded":
        fields["progress"] = 100.0
    for key in ("metric", "observed", "claimed", "gap_percent", "verdict"):
        if report is not None and report.get(key) is not None:
            fields[key] = report[key]
    return _moved(
        status,
        phase=ended.phase,
        generation=generation,
        condition="Complete",
        condition_status="True",
        reason="Succeeded" if ended.reason is None else reason_for(ended.reason),
        message=ended.message,
        now=now,
        error_code=ended.reason,
        **fields,
    )


class ProgressThrottle:
    """At most one progress patch per Run per ``interval`` seconds; the last value always wins.

    The runner may report progress many times a second; the API server should not see a status
    write for each. Callers pass a monotonic clock reading as ``now``.
    """

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._last: dict[str, float] = {}

    def due(self, key: str, now: float) -> bool:
        """Whether a patch for ``key`` may go out now (and, if so, record that it did)."""
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            return False
        self._last[key] = now
        return True

    def forget(self, key: str) -> None:
        self._last.pop(key, None)
