"""Reconcile decisions for Paper, Plan and Run, without any server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.unit.operator.operator_builders import READY_PLAN_STATUS, make_paper, make_plan, make_run

from p2n import errors, events, resources
from p2n_operator import outcome, podspec, reconcile

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


def _observe(run=None, plan=None, pod=None, **kw):
    run = run or make_run()
    return reconcile.RunObserved(
        spec=run.spec.wire(),
        status=run.status or resources.RunStatus(),
        generation=1,
        name=run.metadata.name,
        plan=plan,
        pod=pod,
        **kw,
    )


def _ready_plan():
    return make_plan(**READY_PLAN_STATUS)


def _pod(phase="Running", state=None, deleting=False):
    meta = {"name": "p2n-run-run-a"}
    if deleting:
        meta["deletionTimestamp"] = "2026-11-22T02:00:00Z"
    return {
        "metadata": meta,
        "status": {"phase": phase, "containerStatuses": [{"state": state or {"running": {}}}]},
    }


# --- status bookkeeping ---------------------------------------------------------------------------


def test_status_patch_is_empty_when_nothing_changed():
    current = {"phase": "Ready", "claimCount": 2, "kopf": {"progress": {}}}
    assert reconcile.status_patch(current, {"phase": "Ready", "claimCount": 2}) == {}


def test_status_patch_sets_changed_keys_and_removes_dropped_ones():
    current = {"phase": "Running", "queuePosition": 2}
    assert reconcile.status_patch(current, {"phase": "Succeeded"}) == {
        "phase": "Succeeded",
        "queuePosition": None,
    }


def test_condition_transition_time_moves_only_when_status_changes():
    status = reconcile.paper_progress(resources.PaperStatus(), "Ingesting", 1, NOW)
    again = reconcile.paper_progress(status, "Extracting", 1, LATER)
    (cond,) = again.conditions
    assert (cond.type, cond.status, cond.reason) == ("Ready", "False", "Extracting")
    assert cond.last_transition_time == NOW
    assert cond.observed_generation == 1


def test_error_codes_become_camel_case_reasons():
    assert reconcile.reason_for("E_OOM_KILLED") == "OomKilled"
    assert reconcile.reason_for("E_RUN_TIMEOUT") == "RunTimeout"
    assert reconcile.reason_for("E_NOPE") == "InternalError"


# --- Paper -----------------------------------------------------------------------------------------


def test_paper_is_extracted_again_when_its_spec_changes():
    ready = resources.PaperStatus(phase="Ready", observed_generation=1)
    assert not reconcile.paper_needs_extraction(ready, 1)
    assert reconcile.paper_needs_extraction(ready, 2)
    assert reconcile.paper_needs_extraction(resources.PaperStatus(), 1)
    assert not reconcile.paper_needs_extraction(
        resources.PaperStatus(phase="Failed", observed_generation=3), 3
    )


def _claim():
    return resources.Claim(
        id="c1",
        metric="accuracy",
        value=0.9,
        higher_is_better=True,
        citation=resources.Citation(page=1, quote="q"),
    )


def test_paper_ready_records_claims_and_document():
    status = reconcile.paper_ready(
        resources.PaperStatus(),
        2,
        NOW,
        claims=[_claim()],
        title="T",
        document_sha256="a" * 64,
        document_uri="s3://b/doc",
        pages=3,
    )
    assert (status.phase, status.claim_count, status.observed_generation, status.pages) == ("Ready", 1, 2, 3)
    assert status.conditions[0].status == "True"
    assert status.reason is None


def test_paper_without_claims_fails_with_no_claims():
    status = reconcile.paper_ready(
        resources.PaperStatus(),
        1,
        NOW,
        claims=[],
        title=None,
        document_sha256="a" * 64,
        document_uri="u",
        pages=1,
    )
    assert (status.phase, status.reason) == ("Failed", "E_NO_CLAIMS")
    assert status.conditions[0].reason == "NoClaims"


# --- Plan ------------------------------------------------------------------------------------------


def test_plan_waits_for_its_paper():
    plan = make_plan()
    decision = reconcile.decide_plan(plan.spec, resources.PlanStatus(), 1, {}, make_paper("Extracting"), NOW)
    assert decision.action == "wait_paper"
    assert decision.status.conditions[0].reason == "PaperNotReady"
    missing = reconcile.decide_plan(plan.spec, resources.PlanStatus(), 1, {}, None, NOW)
    assert missing.action == "wait_paper"


def test_plan_fails_when_its_paper_failed():
    decision = reconcile.decide_plan(
        make_plan().spec, resources.PlanStatus(), 1, {}, make_paper("Failed"), NOW
    )
    assert (decision.action, decision.status.phase, decision.status.reason) == (
        "none",
        "Failed",
        "E_PAPER_NOT_READY",
    )


def test_plan_is_planned_once_its_paper_is_ready_and_again_after_a_spec_change():
    plan = make_plan()
    decision = reconcile.decide_plan(plan.spec, resources.PlanStatus(), 1, {}, make_paper("Ready"), NOW)
    assert (decision.action, decision.status.phase) == ("plan", "Planning")
    done = resources.PlanStatus.model_validate({**READY_PLAN_STATUS, "observed_generation": 1})
    assert reconcile.decide_plan(plan.spec, done, 1, {}, make_paper("Ready"), NOW).action == "none"
    assert reconcile.decide_plan(plan.spec, done, 2, {}, make_paper("Ready"), NOW).action == "plan"


def _planned(spec):
    status = reconcile.planned(
        resources.PlanStatus(phase="Planning"),
        1,
        NOW,
        summary=resources.PlanSummary(dataset="iris", model="m", protocol="p", metric="accuracy", target=0.9),
        plan_hash="h",
        env_hash="e",
        notebook_uri="u",
    )
    return reconcile.approval(spec, status, 1, {}, NOW)


def test_plan_without_approval_is_ready_right_away():
    status = _planned(make_plan().spec)
    assert (status.phase, status.approved_by) == ("Ready", None)
    assert status.conditions[-1].reason == "Planned"


def test_plan_requiring_approval_waits_then_records_who_and_when():
    spec = make_plan(spec={"approval": {"required": True}}).spec
    waiting = _planned(spec)
    assert waiting.phase == "AwaitingApproval"
    decision = reconcile.decide_plan(spec, waiting, 1, {}, make_paper("Ready"), NOW)
    assert (decision.action, decision.status.phase) == ("approval", "AwaitingApproval")
    annotations = {resources.APPROVED_BY_ANNOTATION: "alice"}
    approved = reconcile.decide_plan(spec, waiting, 1, annotations, make_paper("Ready"), LATER).status
    assert (approved.phase, approved.approved_by, approved.approved_at) == ("Ready", "alice", LATER)
    assert reconcile.approval(spec, approved, 1, annotations, LATER + timedelta(hours=1)).approved_at == LATER


# --- Run -------------------------------------------------------------------------------------------


def test_run_waits_for_its_plan(cfg):
    decision = reconcile.decide_run(_observe(plan=make_plan(phase="Planning")), cfg, NOW)
    assert (decision.action, decision.status.phase) == ("wait_plan", "Pending")
    assert decision.status.conditions[0].reason == "PlanNotReady"


def test_run_fails_when_its_plan_failed(cfg):
    decision = reconcile.decide_run(_observe(plan=make_plan(phase="Failed")), cfg, NOW)
    assert decision.action == "finish"
    assert (decision.outcome.phase, decision.outcome.reason) == ("Failed", "E_PLAN_NOT_READY")


def test_admitted_run_creates_its_pod(cfg):
    decision = reconcile.decide_run(_observe(plan=_ready_plan(), admitted=True), cfg, NOW)
    assert decision.action == "create_pod"
    assert decision.status.pod == podspec.pod_name_for("run-a")


def test_run_beyond_the_limit_is_queued_with_its_position(cfg):
    decision = reconcile.decide_run(_observe(plan=_ready_plan(), queue_position=2), cfg, NOW)
    assert (decision.action, decision.status.phase, decision.status.queue_position) == ("queue", "Queued", 2)


def test_gpu_run_fails_before_any_pod(cfg):
    obs = _observe(plan=_ready_plan())
    obs = reconcile.RunObserved(
        **{
            **obs.__dict__,
            "spec": {"planRef": {"name": "plan-a"}, "resources": {"limits": {"nvidia.com/gpu": "1"}}},
        }
    )
    decision = reconcile.decide_run(obs, cfg, NOW)
    assert decision.action == "finish"
    assert (decision.outcome.phase, decision.outcome.reason) == ("Failed", "E_GPU_REQUESTED")


def test_run_above_the_ceiling_fails_with_cap_exceeded(cfg):
    run = make_run(spec={"resources": {"limits": {"memory": "64Gi"}}})
    decision = reconcile.decide_run(_observe(run=run, plan=_ready_plan(), admitted=True), cfg, NOW)
    assert (decision.action, decision.outcome.reason) == ("finish", "E_CAP_EXCEEDED")


def test_running_pod_moves_the_run_to_running_once(cfg):
    decision = reconcile.decide_run(_observe(plan=_ready_plan(), pod=_pod()), cfg, NOW)
    assert (decision.action, decision.status.phase, decision.status.started_at) == ("none", "Running", NOW)
    run = make_run(**decision.status.wire())
    again = reconcile.decide_run(_observe(run=run, plan=_ready_plan(), pod=_pod()), cfg, LATER)
    assert again.status.started_at == NOW
    assert reconcile.status_patch(decision.status.wire(), again.status.wire()) == {}


def test_started_at_is_the_kubelets_start_time_when_the_pod_says(cfg):
    pod = _pod(state={"running": {"startedAt": "2026-11-22T01:00:00Z"}})
    decision = reconcile.decide_run(_observe(plan=_ready_plan(), pod=pod), cfg, LATER)
    assert decision.status.started_at == datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def test_pending_pod_keeps_the_run_pending(cfg):
    pod = _pod("Pending", {"waiting": {"reason": "ContainerCreating"}})
    decision = reconcile.decide_run(_observe(plan=_ready_plan(), pod=pod), cfg, NOW)
    assert (decision.action, decision.status.phase) == ("none", "Pending")


def test_finished_pod_finishes_the_run(cfg):
    pod = _pod("Failed", {"terminated": {"exitCode": 137, "reason": "OOMKilled"}})
    decision = reconcile.decide_run(_observe(plan=_ready_plan(), pod=pod), cfg, NOW)
    assert decision.action == "finish"
    assert decision.outcome.reason == "E_OOM_KILLED"


def test_vanished_pod_fails_the_run(cfg):
    run = make_run(phase="Running", pod="p2n-run-run-a")
    decision = reconcile.decide_run(_observe(run=run, plan=_ready_plan()), cfg, NOW)
    assert (decision.action, decision.outcome.reason) == ("finish", "E_CLUSTER")


def test_cancel_before_start_cancels_without_a_pod(cfg):
    run = make_run(spec={"cancel": True}, phase="Queued")
    decision = reconcile.decide_run(_observe(run=run, plan=_ready_plan()), cfg, NOW)
    assert decision.action == "finish"
    assert (decision.outcome.phase, decision.outcome.reason) == ("Cancelled", "E_CANCELLED")


def test_cancel_while_running_deletes_the_pod_once(cfg):
    run = make_run(spec={"cancel": True}, phase="Running", pod="p2n-run-run-a")
    decision = reconcile.decide_run(_observe(run=run, plan=_ready_plan(), pod=_pod()), cfg, NOW)
    assert decision.action == "delete_pod"
    assert decision.status.conditions[0].reason == "Cancelling"
    deleting = reconcile.decide_run(_observe(run=run, plan=_ready_plan(), pod=_pod(deleting=True)), cfg, NOW)
    assert deleting.action == "none"


def test_cancelled_pod_that_exited_is_cancelled(cfg):
    run = make_run(spec={"cancel": True}, phase="Running", pod="p2n-run-run-a")
    pod = _pod("Failed", {"terminated": {"exitCode": events.RUNNER_EXIT_CANCELLED, "reason": "Error"}})
    decision = reconcile.decide_run(_observe(run=run, plan=_ready_plan(), pod=pod), cfg, NOW)
    assert (decision.action, decision.outcome.phase) == ("finish", "Cancelled")


def test_terminal_run_is_left_alone(cfg):
    run = make_run(phase="Succeeded")
    decision = reconcile.decide_run(_observe(run=run, plan=_ready_plan(), pod=None), cfg, NOW)
    assert decision.action == "none"


def test_finished_status_carries_the_report_and_the_reason():
    report = {
        "metric": "accuracy",
        "observed": 0.95,
        "claimed": 0.96,
        "gap_percent": -1.04,
        "verdict": "reproduced",
    }
    ok = reconcile.run_finished(
        resources.RunStatus(phase="Running"),
        outcome.Outcome("Succeeded", None, "done"),
        1,
        NOW,
        report=report,
    )
    assert (ok.phase, ok.observed, ok.claimed, ok.gap_percent, ok.verdict, ok.progress) == (
        "Succeeded",
        0.95,
        0.96,
        -1.04,
        "reproduced",
        100.0,
    )
    assert (ok.completed_at, ok.reason, ok.conditions[0].status, ok.conditions[0].reason) == (
        NOW,
        None,
        "True",
        "Succeeded",
    )
    oom = reconcile.run_finished(
        resources.RunStatus(phase="Running"), outcome.Outcome("Failed", "E_OOM_KILLED", "oom"), 1, NOW
    )
    assert (oom.phase, oom.reason, oom.conditions[0].reason, oom.verdict) == (
        "Failed",
        "E_OOM_KILLED",
        "OomKilled",
        None,
    )


def test_queue_holds_queued_uncancelled_runs_oldest_first():
    def raw(name, created, phase, cancel=False):
        return {
            "metadata": {"name": name, "creationTimestamp": created},
            "spec": {"cancel": cancel},
            "status": {"phase": phase},
        }

    runs = [
        raw("c", "2026-01-01T00:00:03Z", "Queued"),
        raw("a", "2026-01-01T00:00:01Z", "Queued"),
        raw("b", "2026-01-01T00:00:02Z", "Pending"),
        raw("d", "2026-01-01T00:00:00Z", "Queued", cancel=True),
        raw("e", "2026-01-01T00:00:00Z", "Running"),
    ]
    assert [w.name for w in reconcile.queued(runs)] == ["a", "c"]


def test_progress_is_throttled_per_run():
    throttle = reconcile.ProgressThrottle(1.0)
    assert throttle.due("a", 10.0)
    assert not throttle.due("a", 10.5)
    assert throttle.due("b", 10.5)
    assert throttle.due("a", 11.0)
    throttle.forget("a")
    assert throttle.due("a", 11.1)


def test_typed_errors_survive_the_status_round_trip():
    failed = reconcile.failed(resources.PlanStatus(), errors.UnsupportedPlan("no such model"), 1, NOW)
    assert errors.from_code(failed.reason, failed.message).code == "E_UNSUPPORTED_PLAN"
