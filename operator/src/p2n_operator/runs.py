"""The Run lifecycle: admission, the sandbox pod, its outcome, artifacts, events and the verdict.

A Run is reconciled when it is created or its spec changes, when its sandbox pod changes, and
every few seconds while it waits; reconciliation is serialized per namespace, so admission never
starts more pods than the namespace's limit (first come, first served among Queued Runs). The
decisions come from ``reconcile.decide_run``; this module gathers what it needs and carries out
the action: create the pod (a 409 adopts the pod of an earlier attempt), delete it on cancel, or
make the Run terminal with its artifacts, events (from events.jsonl, deduplicated by seq) and
verdict. The history in PostgreSQL outlives the Run object.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf
import pydantic

from p2n import db, errors, events, resources
from p2n.storage import keys
from p2n_operator import effects, networkpolicy, outcome, podspec, policy, reconcile, runtime, steps


async def reconcile_run(rt: runtime.Runtime, namespace: str, name: str) -> None:
    """Observe one Run and carry out its next step; frees a slot for queued Runs when it ends."""
    async with rt.namespace_lock(namespace):
        finished = await _reconcile_run_locked(rt, namespace, name)
    if finished:
        await _start_queued(rt, namespace)


async def _start_queued(rt: runtime.Runtime, namespace: str) -> None:
    runs = await effects.blocking(rt.kube.list_objects, "Run", namespace)
    for waiting in reconcile.queued(runs):
        await reconcile_run(rt, namespace, waiting.name)


async def _reconcile_run_locked(rt: runtime.Runtime, namespace: str, name: str) -> bool:
    obj = await effects.blocking(rt.kube.find_object, "Run", namespace, name)
    if obj is None or obj["metadata"].get("deletionTimestamp"):
        return False
    current = resources.RunStatus.model_validate(obj.get("status") or {})
    if current.phase in resources.TERMINAL_RUN_PHASES:
        return False
    spec_raw = dict(obj.get("spec") or {})
    plan = await _plan_of(rt, namespace, spec_raw)
    pod = await effects.blocking(rt.kube.find_pod, namespace, podspec.pod_name_for(name))
    admitted, position = False, None
    if pod is None and current.pod is None and not spec_raw.get("cancel"):
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
    if decision.action == "create_pod" and plan is not None:
        try:
            await effects.blocking(_start_sandbox, rt, obj, plan, decision.status)
        except errors.P2NError as exc:
            if isinstance(exc, effects.TRANSIENT):
                raise
            failure = outcome.Outcome("Failed", exc.code, exc.message)
            decision = reconcile.RunDecision("finish", current, failure)
    if decision.action == "delete_pod":
        await effects.blocking(
            rt.kube.delete_pod, namespace, podspec.pod_name_for(name), rt.config.sandbox_grace_seconds
        )
    if decision.action == "finish" and decision.outcome is not None:
        await _finish(rt, obj, plan, pod, current, decision.outcome)
        return True
    await effects.write_status(rt, "Run", namespace, name, current, decision.status)
    if decision.status.phase != current.phase:
        effects.announce(obj, decision.status.phase, decision.status.message, failed=False)
    return False


async def _plan_of(rt: runtime.Runtime, namespace: str, spec_raw: Mapping[str, Any]) -> resources.Plan | None:
    plan_name = (spec_raw.get("planRef") or {}).get("name")
    if not plan_name:
        return None
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
    """Whether this Run may start now, else its queue position (first come, first served)."""
    runs = await effects.blocking(rt.kube.list_objects, "Run", namespace)
    pods = await effects.blocking(rt.kube.list_pods, namespace, {podspec.APP_LABEL: podspec.SANDBOX_APP})
    active = sum(1 for pod in pods if outcome.pod_phase(pod) not in ("Succeeded", "Failed"))
    waiting = {w.name: w for w in reconcile.queued(runs)}
    waiting[name] = policy.Waiting(name, obj["metadata"].get("creationTimestamp", ""))
    decision = policy.admission(waiting.values(), active, rt.config.max_concurrent_runs)
    return name in decision.start, decision.positions.get(name)


def _start_sandbox(
    rt: runtime.Runtime, obj: Mapping[str, Any], plan: resources.Plan, status: resources.RunStatus
) -> None:
    """Record the Run in the history, then create its NetworkPolicy and pod (idempotent)."""
    run_model = resources.Run.model_validate(obj)
    namespace, name = str(obj["metadata"]["namespace"]), str(obj["metadata"]["name"])
    manifest_args = _presigned(rt, namespace, name, run_model.spec.plan_ref.name)
    run_id = db.cluster_run_id(namespace, name)
    manifest = podspec.sandbox_pod_for(run_model, plan, rt.config, *manifest_args, run_id=run_id)
    rt.history.upsert_run(_record(namespace, name, run_model.spec, status, plan))
    rt.kube.apply_network_policy(networkpolicy.sandbox_network_policy(namespace, rt.config))
    rt.kube.create_pod(manifest, str(obj["metadata"]["uid"]))


def _presigned(rt: runtime.Runtime, namespace: str, name: str, plan_name: str) -> tuple[dict[str, str], str]:
    """PUT URLs for the four artifacts and a GET URL for the Plan's notebook: no credentials in the pod."""
    urls = {
        artifact: rt.store.presign_put(keys.run_artifact(namespace, name, artifact))
        for artifact in podspec.ARTIFACT_NAMES
    }
    notebook = rt.store.presign_get(keys.plan_notebook(namespace, plan_name))
    return urls, notebook


def _record(
    namespace: str,
    name: str,
    spec: resources.RunSpec | None,
    status: resources.RunStatus,
    plan: resources.Plan | None,
) -> db.RunRecord:
    plan_status = plan.status if plan is not None else None
    artifacts = status.artifacts.model_dump(exclude_none=True) if status.artifacts else {}
    return db.RunRecord(
        run_id=db.cluster_run_id(namespace, name),
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
) -> None:
    """Make the Run terminal: stop a pod that can never finish, collect artifacts, events and the verdict."""
    namespace, name = str(obj["metadata"]["namespace"]), str(obj["metadata"]["name"])
    if (
        pod is not None
        and outcome.pod_phase(pod) not in ("Succeeded", "Failed")
        and not pod.get("metadata", {}).get("deletionTimestamp")
    ):
        await effects.blocking(
            rt.kube.delete_pod, namespace, podspec.pod_name_for(name), rt.config.sandbox_grace_seconds
        )
    spec = _spec_or_none(obj)
    final = await effects.blocking(
        _collect, rt, namespace, name, spec, plan, pod, current, ended, effects.generation(obj["metadata"])
    )
    await effects.write_status(rt, "Run", namespace, name, current, final)
    rt.last_stage.pop(f"{namespace}/{name}", None)
    rt.throttle.forget(f"{namespace}/{name}")
    effects.announce(obj, final.phase, final.message, final.phase != "Succeeded")


def _spec_or_none(obj: Mapping[str, Any]) -> resources.RunSpec | None:
    try:
        return resources.RunSpec.model_validate(obj.get("spec") or {})
    except pydantic.ValidationError:
        return None


def _collect(
    rt: runtime.Runtime,
    namespace: str,
    name: str,
    spec: resources.RunSpec | None,
    plan: resources.Plan | None,
    pod: Mapping[str, Any] | None,
    current: resources.RunStatus,
    ended: outcome.Outcome,
    generation: int,
) -> resources.RunStatus:
    run_id = db.cluster_run_id(namespace, name)
    stored = steps.stored_events(rt, namespace, name)
    report: dict[str, Any] | None = None
    artifacts: resources.RunArtifacts | None = None
    if current.pod is not None or pod is not None:
        rt.history.upsert_run(_record(namespace, name, spec, current, plan))
        if stored:
            rt.history.ingest_events(run_id, stored)
        stages = [e.data for e in stored if isinstance(e, events.StageUpdate)]
        if stages and pod is not None and ended.phase != "Cancelled":
            ended = outcome.classify(pod, stages[-1]) or ended
        artifacts = steps.run_artifacts(rt, namespace, name)
        if plan is not None and ended.phase in ("Succeeded", "Failed", "TimedOut"):
            paper_raw = rt.kube.find_object("Paper", namespace, plan.spec.paper_ref.name)
            paper = resources.Paper.model_validate(paper_raw) if paper_raw is not None else None
            report = steps.assessment(rt, namespace, name, paper, plan)
            if report is not None and ended.phase != "Succeeded" and report.get("observed") is None:
                report = None
    env_hash = plan.status.env_hash if plan is not None and plan.status is not None else None
    final = reconcile.run_finished(
        current, ended, generation, effects.now(), report=report, artifacts=artifacts, env_hash=env_hash
    )
    rt.history.upsert_run(_record(namespace, name, spec, final, plan))
    return final


async def cleanup(rt: runtime.Runtime, namespace: str, name: str, body: kopf.Body) -> None:
    """Finalizer: stop the sandbox; the Run's history stays in PostgreSQL."""
    await effects.blocking(
        rt.kube.delete_pod, namespace, podspec.pod_name_for(name), rt.config.sandbox_grace_seconds
    )
    current = resources.RunStatus.model_validate(dict(body.get("status") or {}))
    if current.phase in resources.TERMINAL_RUN_PHASES or current.pod is None:
        return
    deleted = outcome.Outcome("Cancelled", "E_CANCELLED", "the Run was deleted")
    final = reconcile.run_finished(current, deleted, effects.generation(body["metadata"]), effects.now())
    plan = await _plan_of(rt, namespace, dict(body.get("spec") or {}))
    await effects.blocking(rt.history.upsert_run, _record(namespace, name, _spec_or_none(body), final, plan))
