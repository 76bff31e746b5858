"""The Run lifecycle: admission, the sandbox pod, its outcome, artifacts, events and the verdict.

A Run is reconciled when it is created or its spec changes, when its sandbox pod changes, and
every few seconds while it waits; reconciliation is serialized per Run, and admission per
namespace: the decision and the reservation of the pod's slot in the in-memory view
(``ledger``) happen under the namespace's lock, so admission never starts more pods than the
namespace's limit (first come, first served among Queued Runs) while pods of different Runs are
created concurrently. The decisions come from ``reconcile.decide_run``; this module gathers what
it needs and carries out the action: create the pod (a 409 adopts the pod of an earlier
attempt), delete it on cancel, or make the Run terminal with its artifacts, events (from
events.jsonl, deduplicated by seq) and verdict. The history in PostgreSQL outlives the Run object.
Scheduling, the execution and finishing are spans of the Run's trace (``tracing``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import kopf
import pydantic

from p2n import db, errors, events, resources
from p2n.storage import keys
from p2n_operator import (
    effects,
    ledger,
    metrics,
    networkpolicy,
    outcome,
    podspec,
    policy,
    reconcile,
    runtime,
    steps,
    tracing,
)


async def reconcile_run(
    rt: runtime.Runtime,
    namespace: str,
    name: str,
    seen_pod: Mapping[str, Any] | None = None,
    seen_run: Mapping[str, Any] | None = None,
) -> None:
    """Observe one Run and carry out its next step; frees a slot for queued Runs when it ends.

    ``seen_pod`` is the Run's pod as a watch event just delivered it, used instead of reading it
    again while it is still the latest state the view knows. ``seen_run`` is the Run as kopf just
    delivered it: used instead of reading it while it has no status (nothing but its creator has
    written it yet), read otherwise, since the operator's own status writes may be newer.
    A Run the watch has shown terminal is left alone without reading it: a terminal phase is
    final, and a restarted operator gets a resume and a pod event for every finished Run.
    """
    if rt.view.finished(namespace, name):
        return
    async with rt.run_lock(namespace, name):
        finished = await _reconcile_run_locked(rt, namespace, name, seen_pod, seen_run)
    if finished:
        rt.drop_run_lock(namespace, name)
        await _start_queued(rt, namespace)


async def _start_queued(rt: runtime.Runtime, namespace: str) -> None:
    for waiting in rt.view.waiting(namespace):
        await reconcile_run(rt, namespace, waiting.name)


async def _reconcile_run_locked(
    rt: runtime.Runtime,
    namespace: str,
    name: str,
    seen_pod: Mapping[str, Any] | None,
    seen_run: Mapping[str, Any] | None,
) -> bool:
    pod_name = podspec.pod_name_for(name)
    listing = _prefetch_artifacts(rt, namespace, name, seen_pod)
    obj, pod = await asyncio.gather(
        _run_of(rt, namespace, name, seen_run),
        _pod_of(rt, namespace, pod_name, seen_pod),
    )
    if obj is None or obj["metadata"].get("deletionTimestamp"):
        return False
    if listing is not None and listing.uid != _uid(obj):
        # The pod was an earlier Run's of the same name: its artifacts are not this Run's.
        listing = None
    current = resources.RunStatus.model_validate(obj.get("status") or {})
    if pod is None and current.pod is not None:
        # The view knows no pod, but the Run had one: make sure it is really gone.
        pod = await _read_pod(rt, namespace, pod_name)
    if current.phase in resources.TERMINAL_RUN_PHASES:
        rt.view.dequeue(namespace, name)
        return False
    spec_raw = dict(obj.get("spec") or {})
    plan = await _plan_of(rt, namespace, spec_raw)
    scheduling = time.time_ns()
    admitted, position = False, None
    if pod is None and current.pod is None and not spec_raw.get("cancel") and _plan_ready(plan):
        admitted, position = await _admission(rt, namespace, name, obj)
    observed = reconcile.RunObserved(
        spec=spec_raw,
        status=current,
        generation=effects.generation(obj["metadata"]),
        name=name,
        plan=plan,
        pod=pod,
        admitted=admitted,
        queue_position=position,
        last_stage=rt.last_stage.get(f"{namespace}/{name}"),
    )
    decision = reconcile.decide_run(observed, rt.config, effects.now())
    if decision.action == "finish" and pod is None and current.pod is None:
        tracing.refused(obj, scheduling, decision.outcome)
    if admitted and decision.action != "create_pod":
        rt.view.forget_pod(namespace, pod_name)
    if decision.action == "create_pod" and plan is not None:
        try:
            with tracing.scheduling(obj, scheduling):
                await _start_sandbox(rt, obj, plan, decision.status)
        except errors.P2NError as exc:
            rt.view.forget_pod(namespace, pod_name)
            if isinstance(exc, effects.TRANSIENT):
                raise
            failure = outcome.Outcome("Failed", exc.code, exc.message)
            decision = reconcile.RunDecision("finish", current, failure)
        except BaseException:
            rt.view.forget_pod(namespace, pod_name)
            raise
    if decision.action == "delete_pod":
        await effects.blocking(
            rt.kube.delete_pod, namespace, podspec.pod_name_for(name), rt.config.sandbox_grace_seconds
        )
    if decision.action == "finish" and decision.outcome is not None:
        await _finish(rt, obj, plan, pod, current, decision.outcome, listing.future if listing else None)
        return True
    await effects.write_status(rt, "Run", namespace, name, current, decision.status)
    if decision.status.phase == "Queued":
        rt.view.enqueue(namespace, name, str(obj["metadata"].get("creationTimestamp", "")))
    else:
        rt.view.dequeue(namespace, name)
    if decision.status.phase != current.phase:
        effects.announce(obj, decision.status.phase, decision.status.message, failed=False)
    return False


@dataclasses.dataclass(frozen=True)
class _Listing:
    """A storage listing started early, for the Run instance ``uid`` that owns the pod."""

    uid: str
    future: asyncio.Future[resources.RunArtifacts]


def _uid(obj: Mapping[str, Any]) -> str:
    """The Run's ``metadata.uid``: with its name, it keys the instance's history and artifacts."""
    return str(obj["metadata"]["uid"])


def _prefetch_artifacts(
    rt: runtime.Runtime, namespace: str, name: str, seen_pod: Mapping[str, Any] | None
) -> _Listing | None:
    """The storage listing of a Run whose pod the watch just saw end, started while the Run is read.

    The artifacts are those of the Run instance that owns the pod (its controller reference). The
    Run's status decides whether it finishes now; when it does not, or when the Run read is
    another instance, the listing is dropped.
    """
    if seen_pod is None or not ledger.pod_state(seen_pod).ended:
        return None
    owners = seen_pod.get("metadata", {}).get("ownerReferences") or []
    uid = next((str(ref["uid"]) for ref in owners if ref.get("controller") and ref.get("uid")), None)
    if uid is None:
        return None
    listing = asyncio.ensure_future(effects.blocking(steps.run_artifacts, rt, namespace, name, uid))
    listing.add_done_callback(_settled)
    return _Listing(uid, listing)


def _settled(future: asyncio.Future[Any]) -> None:
    """Mark a dropped future's failure as seen (asyncio would log it as never retrieved)."""
    if not future.cancelled():
        future.exception()


async def _run_of(
    rt: runtime.Runtime, namespace: str, name: str, seen: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    if seen is not None and not seen.get("status"):
        return dict(seen)
    return await effects.blocking(rt.kube.find_object, "Run", namespace, name)


async def _pod_of(
    rt: runtime.Runtime, namespace: str, pod_name: str, seen: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The Run's pod without an API call when the view's latest state settles it, else read.

    The view holds every sandbox pod (kopf lists them before any handler runs, and the operator
    records the pods it creates), so a pod it does not know has not been made yet; a create that
    meets one made behind its back adopts it.
    """
    known = rt.view.pod(namespace, pod_name)
    if known is None:
        return None
    if seen is not None and ledger.pod_state(seen) == known:
        return dict(seen)
    return await _read_pod(rt, namespace, pod_name)


async def _read_pod(rt: runtime.Runtime, namespace: str, pod_name: str) -> dict[str, Any] | None:
    pod = await effects.blocking(rt.kube.find_pod, namespace, pod_name)
    if pod is None:
        rt.view.forget_pod(namespace, pod_name)
    else:
        rt.view.record_pod(namespace, pod_name, ledger.pod_state(pod))
    return pod


def _plan_ready(plan: resources.Plan | None) -> bool:
    return plan is not None and plan.status is not None and plan.status.phase == "Ready"


async def _plan_of(rt: runtime.Runtime, namespace: str, spec_raw: Mapping[str, Any]) -> resources.Plan | None:
    """The Run's Plan: from the view when it is Ready there, else read (a Plan just made Ready)."""
    plan_name = (spec_raw.get("planRef") or {}).get("name")
    if not plan_name:
        return None
    seen = rt.view.plan(namespace, str(plan_name))
    if _plan_ready(seen):
        return seen
    raw = await effects.blocking(rt.kube.find_object, "Plan", namespace, str(plan_name))
    if raw is None:
        return None
    try:
        return resources.Plan.model_validate(raw)
    except pydantic.ValidationError:
        return None


async def _admission(
    rt: runtime.Runtime, namespace: str, name: str, obj: Mapping[str, Any]
) -> tuple[bool, int | None]:
    """Whether this Run may start now, else its queue position (first come, first served).

    Decided from the in-memory view under the namespace's lock; an admitted Run's pod is
    recorded as active before the lock is released, so the slot is taken at once.
    """
    async with rt.namespace_lock(namespace):
        waiting = {w.name: w for w in rt.view.waiting(namespace)}
        waiting[name] = policy.Waiting(name, obj["metadata"].get("creationTimestamp", ""))
        active = rt.view.active_pods(namespace)
        decision = policy.admission(waiting.values(), active, rt.config.max_concurrent_runs)
        admitted = name in decision.start
        if admitted:
            rt.view.record_pod(namespace, podspec.pod_name_for(name), ledger.RESERVED)
    return admitted, decision.positions.get(name)


async def _start_sandbox(
    rt: runtime.Runtime, obj: Mapping[str, Any], plan: resources.Plan, status: resources.RunStatus
) -> None:
    """Ensure the NetworkPolicy, then create the pod and record the Run in the history concurrently.

    The follower awaits the history write (``Runtime.recording``) before it ingests the pod's
    events, so the pod need not wait for it. Presigning is a local computation, done on the event
    loop.
    """
    run_model = resources.Run.model_validate(obj)
    namespace, name = str(obj["metadata"]["namespace"]), str(obj["metadata"]["name"])
    uid = _uid(obj)
    manifest_args = _presigned(rt, namespace, name, uid, run_model.spec.plan_ref.name)
    run_id = db.cluster_run_id(namespace, name, uid)
    manifest = podspec.sandbox_pod_for(run_model, plan, rt.config, *manifest_args, run_id=run_id)
    await ensure_network_policy(rt, namespace)
    key = f"{namespace}/{name}"
    record = _record(namespace, name, uid, run_model.spec, status, plan)
    recorded = rt.recording[key] = asyncio.ensure_future(effects.blocking(rt.history.upsert_run, record))
    try:
        outcomes = await asyncio.gather(
            _create_pod(rt, manifest, uid),
            recorded,
            return_exceptions=True,
        )
    finally:
        if rt.recording.get(key) is recorded:
            del rt.recording[key]
    for failure in outcomes:
        if isinstance(failure, BaseException):
            raise failure


async def _create_pod(rt: runtime.Runtime, manifest: Mapping[str, Any], owner_uid: str) -> None:
    """Create the pod and record it in the view as created, so its ADDED event is no news."""
    created = await effects.blocking(rt.kube.create_pod, manifest, owner_uid)
    meta = manifest["metadata"]
    rt.view.confirm_pod(str(meta["namespace"]), str(meta["name"]), ledger.pod_state(created))


async def ensure_network_policy(rt: runtime.Runtime, namespace: str, *, force: bool = False) -> None:
    """Apply the namespace's sandbox NetworkPolicy unless the view has it with the expected spec.

    The view is fed by a watch of the policy (``handlers``), which also re-applies a policy deleted
    or changed while sandbox pods run, and by this function's own writes; ``force`` applies it
    regardless. A burst of Runs in a namespace without the policy applies it once.
    """
    manifest = networkpolicy.sandbox_network_policy(namespace, rt.config)
    if not force and rt.view.has_policy(namespace, manifest["spec"]):
        return
    async with rt.policy_lock(namespace):
        if not force and rt.view.has_policy(namespace, manifest["spec"]):
            return
        await effects.blocking(rt.kube.apply_network_policy, manifest)
        rt.view.record_policy(namespace, manifest["spec"])


def _presigned(
    rt: runtime.Runtime, namespace: str, name: str, uid: str, plan_name: str
) -> tuple[dict[str, str], str]:
    """PUT URLs for the four artifacts and a GET URL for the Plan's notebook: no credentials in the pod.

    The artifact keys carry the Run's uid, so a Run recreated under the same name never overwrites
    the artifacts of the earlier instance, whose history row still links to them.
    """
    urls = {
        artifact: rt.store.presign_put(keys.run_artifact(namespace, name, uid, artifact))
        for artifact in podspec.ARTIFACT_NAMES
    }
    notebook = rt.store.presign_get(keys.plan_notebook(namespace, plan_name))
    return urls, notebook


def _record(
    namespace: str,
    name: str,
    uid: str,
    spec: resources.RunSpec | None,
    status: resources.RunStatus,
    plan: resources.Plan | None,
) -> db.RunRecord:
    plan_status = plan.status if plan is not None else None
    artifacts = status.artifacts.model_dump(exclude_none=True) if status.artifacts else {}
    return db.RunRecord(
        run_id=db.cluster_run_id(namespace, name, uid),
        namespace=namespace,
        name=name,
        paper=plan.spec.paper_ref.name if plan is not None else None,
        plan=plan.metadata.name if plan is not None else None,
        claim=plan.spec.claim_id if plan is not None else None,
        metric=status.metric or (plan_status.plan.metric if plan_status and plan_status.plan else None),
        seed=spec.seed if spec is not None else 0,
        phase=status.phase,
        observed=status.observed,
        claimed=status.claimed,
        gap_percent=status.gap_percent,
        verdict=status.verdict,
        reason=status.reason,
        message=status.message,
        plan_hash=plan_status.plan_hash if plan_status else None,
        env_hash=status.env_hash or (plan_status.env_hash if plan_status else None),
        artifacts=artifacts,
        started_at=status.started_at,
        completed_at=status.completed_at,
    )


async def _finish(
    rt: runtime.Runtime,
    obj: Mapping[str, Any],
    plan: resources.Plan | None,
    pod: Mapping[str, Any] | None,
    current: resources.RunStatus,
    ended: outcome.Outcome,
    listing: asyncio.Future[resources.RunArtifacts] | None = None,
) -> None:
    """Make the Run terminal: stop a pod that can never finish, collect artifacts, events and the verdict."""
    namespace, name, uid = str(obj["metadata"]["namespace"]), str(obj["metadata"]["name"]), _uid(obj)
    if (
        pod is not None
        and outcome.pod_phase(pod) not in ("Succeeded", "Failed")
        and not pod.get("metadata", {}).get("deletionTimestamp")
    ):
        await effects.blocking(
            rt.kube.delete_pod, namespace, podspec.pod_name_for(name), rt.config.sandbox_grace_seconds
        )
    spec = _spec_or_none(obj)
    with tracing.persisting(obj):
        final, seen = await _collect(
            rt,
            namespace,
            name,
            uid,
            spec,
            plan,
            pod,
            current,
            ended,
            effects.generation(obj["metadata"]),
            listing,
        )
    tracing.executed(obj, pod, seen, final)
    with tracing.finishing(obj, final):
        await effects.write_status(rt, "Run", namespace, name, current, final)
    rt.view.dequeue(namespace, name)
    rt.last_stage.pop(f"{namespace}/{name}", None)
    rt.throttle.forget(f"{namespace}/{name}")
    effects.announce(obj, final.phase, final.message, final.phase != "Succeeded")


def _spec_or_none(obj: Mapping[str, Any]) -> resources.RunSpec | None:
    try:
        return resources.RunSpec.model_validate(obj.get("spec") or {})
    except pydantic.ValidationError:
        return None


async def _collect(
    rt: runtime.Runtime,
    namespace: str,
    name: str,
    uid: str,
    spec: resources.RunSpec | None,
    plan: resources.Plan | None,
    pod: Mapping[str, Any] | None,
    current: resources.RunStatus,
    ended: outcome.Outcome,
    generation: int,
    listing: asyncio.Future[resources.RunArtifacts] | None,
) -> tuple[resources.RunStatus, list[events.Event]]:
    """The terminal status and the runner's uploaded events.

    One storage listing (``listing``, when already started) and the Paper (from the view, else
    read) run concurrently; then only what was uploaded is read: events.jsonl (with the history
    row written first, which its events reference) and metrics.json, concurrently.
    """
    report: dict[str, Any] | None = None
    artifacts: resources.RunArtifacts | None = None
    stored: list[events.Event] = []
    if current.pod is not None or pod is not None:
        assess = plan is not None and ended.phase != "Cancelled"
        uploaded, paper = await asyncio.gather(
            listing or effects.blocking(steps.run_artifacts, rt, namespace, name, uid),
            _paper_of(rt, namespace, plan) if assess else _nothing(),
        )
        stored, assessed = await asyncio.gather(
            _uploaded_events(rt, namespace, name, uid, _record(namespace, name, uid, spec, current, plan))
            if uploaded.events
            else _no_events(),
            _assessment(rt, namespace, name, uid, paper, plan, measured=uploaded.metrics is not None),
        )
        artifacts = uploaded
        if stored:
            run_id = db.cluster_run_id(namespace, name, uid)
            metrics.ingested(await effects.blocking(rt.history.ingest_events, run_id, stored))
        stages = [e.data for e in stored if isinstance(e, events.StageUpdate)]
        if stages and pod is not None and ended.phase != "Cancelled":
            ended = outcome.classify(pod, stages[-1]) or ended
        if plan is not None and ended.phase in ("Succeeded", "Failed", "TimedOut"):
            report = assessed
            if report is not None and ended.phase != "Succeeded" and report.get("observed") is None:
                report = None
    env_hash = plan.status.env_hash if plan is not None and plan.status is not None else None
    final = reconcile.run_finished(
        current, ended, generation, effects.now(), report=report, artifacts=artifacts, env_hash=env_hash
    )
    await effects.blocking(rt.history.upsert_run, _record(namespace, name, uid, spec, final, plan))
    return final, stored


async def _nothing() -> None:
    return None


async def _no_events() -> list[events.Event]:
    return []


async def _uploaded_events(
    rt: runtime.Runtime, namespace: str, name: str, uid: str, record: db.RunRecord
) -> list[events.Event]:
    stored, _ = await asyncio.gather(
        effects.blocking(steps.stored_events, rt, namespace, name, uid),
        effects.blocking(rt.history.upsert_run, record),
    )
    return stored


async def _paper_of(
    rt: runtime.Runtime, namespace: str, plan: resources.Plan | None
) -> resources.Paper | None:
    """The Plan's Paper: from the view when it is Ready there, else read."""
    if plan is None:
        return None
    seen = rt.view.paper(namespace, plan.spec.paper_ref.name)
    if seen is not None and seen.status is not None and seen.status.phase == "Ready":
        return seen
    paper_raw = await effects.blocking(rt.kube.find_object, "Paper", namespace, plan.spec.paper_ref.name)
    return resources.Paper.model_validate(paper_raw) if paper_raw is not None else None


async def _assessment(
    rt: runtime.Runtime,
    namespace: str,
    name: str,
    uid: str,
    paper: resources.Paper | None,
    plan: resources.Plan | None,
    *,
    measured: bool,
) -> dict[str, Any] | None:
    """Observed/claimed/gap/verdict of the Run against its Plan's claim (metrics.json read if uploaded)."""
    if plan is None or paper is None:
        return None
    if not measured:
        return steps.assessment(rt, namespace, name, uid, paper, plan, measured=False)
    return await effects.blocking(steps.assessment, rt, namespace, name, uid, paper, plan, measured=True)


async def cleanup(rt: runtime.Runtime, namespace: str, name: str, body: kopf.Body) -> None:
    """Stop the sandbox of a deleted Run and record it Cancelled; its history stays in PostgreSQL.

    Called by the finalizer's handler, or on the DELETED event of a Run deleted before it had the
    finalizer: then its status may not name the pod yet. The view knows a pod being created
    (serialized with the Run's reconciliation), but the garbage collector may already have
    deleted the pod of a Run without finalizer and the pod watch told the view; the history row,
    written with the pod, still says the Run had started.
    """
    async with rt.run_lock(namespace, name):
        rt.view.dequeue(namespace, name)
        pod_name = podspec.pod_name_for(name)
        had_pod = rt.view.pod(namespace, pod_name) is not None
        await effects.blocking(rt.kube.delete_pod, namespace, pod_name, rt.config.sandbox_grace_seconds)
    rt.drop_run_lock(namespace, name)
    current = resources.RunStatus.model_validate(dict(body.get("status") or {}))
    if current.phase in resources.TERMINAL_RUN_PHASES:
        return
    if current.pod is None and not had_pod and not await _started_in_history(rt, namespace, name, _uid(body)):
        return
    deleted = outcome.Outcome("Cancelled", "E_CANCELLED", "the Run was deleted")
    final = reconcile.run_finished(current, deleted, effects.generation(body["metadata"]), effects.now())
    plan = await _plan_of(rt, namespace, dict(body.get("spec") or {}))
    record = _record(namespace, name, _uid(body), _spec_or_none(body), final, plan)
    await effects.blocking(rt.history.upsert_run, record)


async def _started_in_history(rt: runtime.Runtime, namespace: str, name: str, uid: str) -> bool:
    """Whether the history holds this Run instance, not yet terminal (its pod was being made)."""
    try:
        record = await effects.blocking(rt.history.get_run, db.cluster_run_id(namespace, name, uid))
    except errors.NotFound:
        return False
    return record.phase not in resources.TERMINAL_RUN_PHASES
