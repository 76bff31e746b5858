"""kopf handlers for Paper, Plan and Run: registration, kopf settings, and the Paper and Plan steps.

Handlers are thin on purpose. What should happen is decided by ``reconcile`` (status and
actions), ``policy`` (admission, caps) and ``outcome`` (how a pod ended); the Kubernetes API is
reached through ``kube`` only and the pipeline through ``steps`` and ``authoring`` (imported on
first use), all blocking and therefore run in threads. Runs are carried out by ``runs``
(lifecycle) and ``follower`` (events from the pod's log), with the in-memory view of ``ledger``
fed by indexing handlers. Each Paper and Plan reconcile is a span of the object's trace
(``tracing``). Handlers are registered on a registry given by the caller, never on
kopf's global one, so an operator can be started, stopped and started again in one process.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, TypeVar, cast

import kopf
import pydantic

from p2n import errors, resources, settings
from p2n_operator import effects, follower, metrics, networkpolicy, podspec, reconcile, runs, runtime, tracing

PAPERS = (resources.GROUP, resources.VERSION, "papers")
PLANS = (resources.GROUP, resources.VERSION, "plans")
RUNS = (resources.GROUP, resources.VERSION, "runs")
FINALIZER = f"{resources.GROUP}/cleanup"
APPROVAL_FIELD = ["metadata", "annotations", resources.APPROVED_BY_ANNOTATION]
USER_ANNOTATIONS = (resources.APPROVED_BY_ANNOTATION,)
# Waiting for a Paper: retried with doubling delays (at most 10 s apart), about half an hour in total.
WAIT_RETRIES = 200
WAITING_RUN_INTERVAL = 2.0
SANDBOX_LABELS = {podspec.APP_LABEL: podspec.SANDBOX_APP}
SANDBOX_POLICIES = ("networking.k8s.io", "v1", "networkpolicies")

_M = TypeVar("_M", bound=pydantic.BaseModel)


# --- operator lifecycle ---------------------------------------------------------------------------


class ProgressStorage(kopf.AnnotationsProgressStorage):
    """kopf's progress annotations under ``p2n.dev/`` that leave P2N's own annotations visible.

    kopf drops every annotation with its storage prefix from the object's essence before
    diffing, which would hide ``p2n.dev/approved-by`` from the approval handler.
    """

    def clear(self, *, essence: kopf.BodyEssence) -> kopf.BodyEssence:
        annotations = dict(essence.get("metadata", {}).get("annotations", {}))
        kept = {key: annotations[key] for key in USER_ANNOTATIONS if key in annotations}
        cleared = super().clear(essence=essence)
        if kept:
            metadata = cast(dict[str, Any], cleared).setdefault("metadata", {})
            metadata.setdefault("annotations", {}).update(kept)
        return cleared


def configure_kopf(kopf_settings: kopf.OperatorSettings, cfg: settings.Settings) -> None:
    """kopf's own bookkeeping under p2n.dev, in annotations (never in the user's status)."""
    kopf_settings.persistence.progress_storage = ProgressStorage(prefix=resources.GROUP)
    kopf_settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=resources.GROUP, key="last-handled-configuration"
    )
    kopf_settings.persistence.finalizer = FINALIZER
    kopf_settings.posting.reporting_component = "p2n-operator"
    # Only warnings of the handlers become Kubernetes Events; phase changes are posted explicitly.
    kopf_settings.posting.level = logging.WARNING
    kopf_settings.peering.standalone = cfg.operator_peering is None
    if cfg.operator_peering is not None:
        kopf_settings.peering.name = cfg.operator_peering
        kopf_settings.peering.mandatory = True


def register(registry: kopf.OperatorRegistry) -> None:
    """Register every handler of the operator on ``registry`` (a fresh one per operator run)."""

    @kopf.on.startup(registry=registry, retries=3, backoff=2.0)
    async def start(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
        cfg = memo.get("settings") or settings_from_env()
        memo.settings = cfg
        configure_kopf(settings, cfg)
        effects.size_executor()
        rt = await effects.blocking(runtime.Runtime.start, cfg)
        try:
            memo.metrics = await metrics.start(rt.view, cfg.operator_metrics_port)
        except BaseException:
            await effects.blocking(rt.close)
            raise
        memo.runtime = rt

    @kopf.on.cleanup(registry=registry)
    async def stop(memo: kopf.Memo, **_: Any) -> None:
        exporter = memo.get("metrics")
        if exporter is not None:
            await exporter.stop()
        rt = memo.get("runtime")
        if rt is not None:
            await effects.blocking(rt.close)

    @kopf.on.probe(registry=registry, id="database")
    async def database_alive(memo: kopf.Memo, **_: Any) -> str:
        await effects.blocking(effects.runtime_of(memo).history.ping)
        return "ok"

    # --- Paper ------------------------------------------------------------------------------------

    @kopf.on.resume(*PAPERS, registry=registry, id="paper")
    @kopf.on.create(*PAPERS, registry=registry, id="paper")
    @kopf.on.update(*PAPERS, registry=registry, id="paper", field="spec")
    async def paper(
        body: kopf.Body,
        meta: kopf.Meta,
        spec: kopf.Spec,
        status: kopf.Status,
        memo: kopf.Memo,
        retry: int,
        **_: Any,
    ) -> None:
        with metrics.reconciling("Paper"):
            await _reconcile_paper(effects.runtime_of(memo), body, meta, spec, status, retry)

    # --- Plan -------------------------------------------------------------------------------------

    @kopf.on.resume(*PLANS, registry=registry, id="plan", retries=WAIT_RETRIES)
    @kopf.on.create(*PLANS, registry=registry, id="plan", retries=WAIT_RETRIES)
    @kopf.on.update(*PLANS, registry=registry, id="plan", field="spec", retries=WAIT_RETRIES)
    @kopf.on.field(*PLANS, registry=registry, id="approval", field=APPROVAL_FIELD)
    async def plan(
        body: kopf.Body,
        meta: kopf.Meta,
        spec: kopf.Spec,
        status: kopf.Status,
        memo: kopf.Memo,
        retry: int,
        **_: Any,
    ) -> None:
        with metrics.reconciling("Plan"), tracing.reconciling("plan", body):
            await _reconcile_plan(effects.runtime_of(memo), body, meta, spec, status, retry)

    # --- Run --------------------------------------------------------------------------------------

    @kopf.on.resume(*RUNS, registry=registry, id="run")
    @kopf.on.create(*RUNS, registry=registry, id="run")
    @kopf.on.update(*RUNS, registry=registry, id="run", field="spec")
    async def run(name: str, namespace: str | None, body: kopf.Body, memo: Any, **_: Any) -> None:
        with metrics.reconciling("Run"):
            await runs.reconcile_run(effects.runtime_of(memo), str(namespace), name, seen_run=body)

    @kopf.timer(
        *RUNS,
        registry=registry,
        id="waiting",
        interval=WAITING_RUN_INTERVAL,
        initial_delay=WAITING_RUN_INTERVAL,
        when=_waiting,
    )
    async def waiting(name: str, namespace: str | None, memo: Any, **_: Any) -> None:
        with metrics.reconciling("Run"):
            await runs.reconcile_run(effects.runtime_of(memo), str(namespace), name)

    # Indexing handlers run for every watch event before any other handler, and kopf holds the
    # other handlers back until every existing object has been seen: they feed ``Runtime.view``
    # and keep nothing in kopf's own indices.
    @kopf.index(*RUNS, registry=registry, id="queue")
    async def run_seen(body: kopf.Body, memo: Any, **_: Any) -> None:
        if memo.get("runtime") is not None:
            effects.runtime_of(memo).view.observe_run(body)
            memo.metrics.board.observe_run(body)

    @kopf.index("", "v1", "pods", registry=registry, id="sandboxes", labels=SANDBOX_LABELS)
    async def sandbox_seen(body: kopf.Body, memo: Any, **_: Any) -> None:
        if memo.get("runtime") is not None:
            effects.runtime_of(memo).view.observe_pod(body)
            memo.metrics.board.observe_pod(body)

    @kopf.index(*PLANS, registry=registry, id="plans")
    async def plan_seen(body: kopf.Body, memo: Any, **_: Any) -> None:
        if memo.get("runtime") is not None:
            effects.runtime_of(memo).view.observe_plan(body)

    @kopf.index(*PAPERS, registry=registry, id="papers")
    async def paper_seen(body: kopf.Body, memo: Any, **_: Any) -> None:
        if memo.get("runtime") is not None:
            effects.runtime_of(memo).view.observe_paper(body)

    @kopf.on.event(*PAPERS, registry=registry, id="paper-gone")
    async def paper_gone(event: kopf.RawEvent, name: str, namespace: str | None, memo: Any, **_: Any) -> None:
        if event["type"] == "DELETED" and memo.get("runtime") is not None:
            effects.runtime_of(memo).view.forget_paper(str(namespace), name)

    @kopf.on.event(*PLANS, registry=registry, id="plan-gone")
    async def plan_gone(event: kopf.RawEvent, name: str, namespace: str | None, memo: Any, **_: Any) -> None:
        if event["type"] == "DELETED" and memo.get("runtime") is not None:
            effects.runtime_of(memo).view.forget_plan(str(namespace), name)

    # Filtered by ``when``: kopf neither calls nor logs it for the other events of every Run.
    @kopf.on.event(*RUNS, registry=registry, id="run-gone", when=_deleted)
    async def run_gone(
        event: kopf.RawEvent, body: kopf.Body, name: str, namespace: str | None, memo: Any, **_: Any
    ) -> None:
        if event["type"] == "DELETED" and memo.get("runtime") is not None:
            memo.metrics.board.forget_run(str(namespace), name)
            effects.runtime_of(memo).view.forget_run(str(namespace), name)
            if FINALIZER not in body.get("metadata", {}).get("finalizers", []):
                # Deleted before its finalizer was added: the cleanup handler never ran.
                await runs.cleanup(effects.runtime_of(memo), str(namespace), name, body)

    @kopf.index(*SANDBOX_POLICIES, registry=registry, id="policies", labels=networkpolicy.LABELS)
    async def policy_seen(body: kopf.Body, memo: Any, **_: Any) -> None:
        if memo.get("runtime") is not None:
            effects.runtime_of(memo).view.observe_policy(body)

    @kopf.on.event(*SANDBOX_POLICIES, registry=registry, id="policy", labels=networkpolicy.LABELS)
    async def policy_changed(event: kopf.RawEvent, namespace: str | None, memo: Any, **_: Any) -> None:
        if memo.get("runtime") is None:
            return
        rt = effects.runtime_of(memo)
        if event["type"] == "DELETED":
            rt.view.forget_policy(str(namespace))
        if rt.view.has_sandboxes(str(namespace)):
            # The namespace runs sandboxes: put a deleted or changed policy back now.
            await runs.ensure_network_policy(rt, str(namespace))

    @kopf.on.event("", "v1", "pods", registry=registry, labels=SANDBOX_LABELS)
    async def sandbox_pod(
        event: kopf.RawEvent,
        body: kopf.Body,
        meta: kopf.Meta,
        name: str,
        namespace: str | None,
        memo: Any,
        **_: Any,
    ) -> None:
        if memo.get("runtime") is None:
            return
        rt = effects.runtime_of(memo)
        if event["type"] == "DELETED":
            rt.view.forget_pod(str(namespace), name)
            memo.metrics.board.forget_pod(str(namespace), name)
        elif not rt.view.take_change(str(namespace), name):
            # Nothing the Run's decision depends on changed (phase, start, end, deletion).
            return
        run_name = meta.annotations.get(podspec.RUN_NAME_ANNOTATION)
        if run_name:
            seen = None if event["type"] == "DELETED" else body
            with metrics.reconciling("Run"):
                await runs.reconcile_run(rt, str(namespace), run_name, seen)

    @kopf.daemon(*RUNS, registry=registry, id="events", when=_unfinished, cancellation_timeout=5.0)
    async def run_events(
        name: str, namespace: str | None, body: kopf.Body, memo: Any, stopped: kopf.DaemonStopped, **_: Any
    ) -> None:
        uid = str(body["metadata"]["uid"])
        await follower.follow(effects.runtime_of(memo), str(namespace), name, uid, stopped)

    @kopf.on.delete(*RUNS, registry=registry, id="cleanup", when=_reconciled)
    async def run_deleted(name: str, namespace: str | None, body: kopf.Body, memo: Any, **_: Any) -> None:
        await runs.cleanup(effects.runtime_of(memo), str(namespace), name, body)


def settings_from_env() -> settings.Settings:
    return settings.Settings()


# The filters of the Run's timer, daemon and delete handler match only Runs the operator has
# written a status to. kopf adds its finalizer before any handler runs when one of these matches,
# which would put a patch and its watch event in front of every new Run's pod; this way the first
# status write (the pod's name, or Queued) brings the finalizer instead. A Run deleted before that
# is cleaned up from its DELETED event (``run_gone``); its pod goes with it (ownerReference).


def _reconciled(status: kopf.Status, **_: Any) -> bool:
    return status.get("phase") is not None


def _waiting(status: kopf.Status, **_: Any) -> bool:
    """Queued, or Pending without a pod (waiting for its Plan); a Run with a pod follows its pod's events."""
    phase = status.get("phase")
    return phase == "Queued" or (phase == "Pending" and not status.get("pod"))


def _deleted(type: str, **_: Any) -> bool:
    return type == "DELETED"


def _unfinished(status: kopf.Status, **_: Any) -> bool:
    return _reconciled(status) and status.get("phase") not in resources.TERMINAL_RUN_PHASES


# --- Paper -----------------------------------------------------------------------------------------


async def _reconcile_paper(
    rt: runtime.Runtime, body: kopf.Body, meta: kopf.Meta, spec: kopf.Spec, status: kopf.Status, retry: int
) -> None:
    namespace, name = str(meta["namespace"]), str(meta["name"])
    current = resources.PaperStatus.model_validate(dict(status))
    generation = effects.generation(meta)
    if not reconcile.paper_needs_extraction(current, generation):
        return
    start = current
    # Imported on first use: the Paper and Plan steps pull in pypdf and nbformat.
    from p2n_operator import authoring

    with tracing.reconciling("paper", body):
        try:
            paper_spec = _validated(resources.PaperSpec, spec)
            ingesting = reconcile.paper_progress(current, "Ingesting", generation, effects.now())
            await effects.write_status(rt, "Paper", namespace, name, current, ingesting)
            current = ingesting
            document = await effects.blocking(authoring.ingest_paper, rt, namespace, name, paper_spec)
            extracting = reconcile.paper_progress(current, "Extracting", generation, effects.now())
            await effects.write_status(rt, "Paper", namespace, name, current, extracting)
            current = extracting
            claims = await effects.blocking(authoring.extract_claims, rt, document, paper_spec)
            final = reconcile.paper_ready(
                current,
                generation,
                effects.now(),
                claims=claims,
                title=document.title,
                document_sha256=document.sha256,
                document_uri=document.uri or "",
                pages=document.page_count,
            )
        except errors.P2NError as exc:
            effects.retry_if_transient(exc, retry)
            final = reconcile.failed(current, exc, generation, effects.now())
        await effects.write_status(rt, "Paper", namespace, name, current, final)
        tracing.settled(final)
    if final.phase != start.phase:
        effects.announce(body, final.phase, final.message, final.phase == "Failed")


def _validated(model: type[_M], raw: Mapping[str, Any]) -> _M:
    try:
        return model.model_validate(dict(raw))
    except pydantic.ValidationError as exc:
        raise resources.error_from_validation(exc) from exc


# --- Plan ------------------------------------------------------------------------------------------


async def _reconcile_plan(
    rt: runtime.Runtime, body: kopf.Body, meta: kopf.Meta, spec: kopf.Spec, status: kopf.Status, retry: int
) -> None:
    namespace, name = str(meta["namespace"]), str(meta["name"])
    current = resources.PlanStatus.model_validate(dict(status))
    generation = effects.generation(meta)
    start = current
    try:
        plan_spec = _validated(resources.PlanSpec, spec)
    except errors.P2NError as exc:
        final = reconcile.failed(current, exc, generation, effects.now())
        await effects.write_status(rt, "Plan", namespace, name, current, final)
        tracing.settled(final)
        return
    raw_paper = await effects.blocking(rt.kube.find_object, "Paper", namespace, plan_spec.paper_ref.name)
    paper = resources.Paper.model_validate(raw_paper) if raw_paper is not None else None
    decision = reconcile.decide_plan(plan_spec, current, generation, meta.annotations, paper, effects.now())
    await effects.write_status(rt, "Plan", namespace, name, current, decision.status)
    current = decision.status
    if decision.action == "wait_paper":
        raise kopf.TemporaryError(
            f"paper {plan_spec.paper_ref.name} is not Ready yet", delay=effects.wait_delay(retry)
        )
    if decision.action == "plan" and paper is not None:
        from p2n_operator import authoring

        try:
            planned = await effects.blocking(authoring.plan_claim, rt, namespace, name, plan_spec, paper)
            final = reconcile.planned(
                current,
                generation,
                effects.now(),
                summary=planned.summary,
                plan_hash=planned.plan_hash,
                env_hash=planned.env_hash,
                notebook_uri=planned.notebook_uri,
            )
            final = reconcile.approval(plan_spec, final, generation, meta.annotations, effects.now())
        except errors.P2NError as exc:
            effects.retry_if_transient(exc, retry)
            final = reconcile.failed(current, exc, generation, effects.now())
        await effects.write_status(rt, "Plan", namespace, name, current, final)
        current = final
    tracing.settled(current)
    if current.phase != start.phase:
        effects.announce(body, current.phase, current.message, current.phase == "Failed")
        if current.phase == "Failed":
            # Final for this generation: kopf stops retrying; a spec change plans again.
            raise kopf.PermanentError(f"{current.reason}: {current.message}")
