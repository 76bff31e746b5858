"""The operator's spans join the trace named by an object's ``p2n.dev/traceparent`` (else one of the
object's own, from its uid): Paper and Plan reconciles parent the pipeline's spans, and a Run's
schedule, exec (with the runner's nbclient inside), persist and finish spans form one tree."""

from __future__ import annotations

import copy
import signal
import subprocess
import sys
import uuid

import pytest
from tests.cluster.operator import test_entrypoint as entrypoint
from tests.cluster.operator.p2n_objects import (
    EXAMPLES,
    TERMINAL,
    apply,
    example,
    notebook,
    ready_plan,
    replace_notebook,
    run_manifest,
    wait_phase,
)
from tests.harness import cluster

from p2n import resources, telemetry
from p2n_operator import podspec

pytestmark = pytest.mark.cluster

RUN_SPANS = ("p2n.run.schedule", "p2n.run.exec", "p2n.run.nbclient", "p2n.run.persist", "p2n.run.finish")


def _caller_span() -> tuple[str, int, int]:
    """A span standing in for the API's create span: (traceparent, trace id, span id)."""
    with telemetry.span("test.create") as span:
        value = telemetry.traceparent()
    assert value is not None
    return value, span.get_span_context().trace_id, span.get_span_context().span_id


def _annotated(manifest: dict, traceparent: str) -> dict:
    result = copy.deepcopy(manifest)
    result["metadata"].setdefault("annotations", {})[resources.TRACEPARENT_ANNOTATION] = traceparent
    return result


def _in_trace(spans, trace_id: int, names: tuple[str, ...]) -> dict:
    """The spans of ``names`` in the trace, once each has finished (the last ones end after the write
    the test waited for); fails if any of them appears twice."""

    def found() -> dict | None:
        mine = [s for s in spans.get_finished_spans() if s.context.trace_id == trace_id and s.name in names]
        by_name = {s.name: s for s in mine}
        assert len(by_name) == len(mine), [s.name for s in mine]
        return by_name if set(by_name) == set(names) else None

    return cluster.wait_for(found, timeout=30, what=f"spans {names} in trace {trace_id:032x}")


def test_paper_and_plan_reconciles_parent_the_pipeline_spans(kube, kubectl, namespace, start_operator, spans):
    start_operator()
    paper_parent, paper_trace, paper_span = _caller_span()
    plan_parent, plan_trace, plan_span = _caller_span()
    apply(kubectl, _annotated(example("paper-text.yaml"), paper_parent))
    apply(kubectl, _annotated(example("plan.yaml"), plan_parent))
    wait_phase(kube, "Plan", example("plan.yaml")["metadata"]["name"], namespace, {"Ready"}, timeout=60)

    paper = _in_trace(spans, paper_trace, ("p2n.paper.reconcile", "p2n.paper.ingest", "p2n.paper.extract"))
    reconcile = paper["p2n.paper.reconcile"]
    assert reconcile.parent.span_id == paper_span
    assert reconcile.parent.is_remote
    assert reconcile.attributes["p2n.paper"] == "iris-lda"
    assert reconcile.attributes["p2n.namespace"] == namespace
    assert reconcile.attributes["p2n.phase"] == "Ready"
    # The pipeline runs in threads (asyncio.to_thread), which carry the reconcile's context.
    for step in ("p2n.paper.ingest", "p2n.paper.extract"):
        assert paper[step].parent.span_id == reconcile.context.span_id
        assert reconcile.start_time <= paper[step].start_time <= paper[step].end_time <= reconcile.end_time

    plan = _in_trace(spans, plan_trace, ("p2n.plan.make", "p2n.plan.materialize"))

    def reconciles() -> list:
        return [
            s
            for s in spans.get_finished_spans()
            if s.context.trace_id == plan_trace and s.name == "p2n.plan.reconcile"
        ]

    # The reconcile that planned ends just after the Ready status the test saw.
    (planning,) = cluster.wait_for(
        lambda: [s for s in reconciles() if s.attributes.get("p2n.phase") == "Ready"], what="planning span"
    )
    assert {s.parent.span_id for s in reconciles()} == {plan_span}
    for step in ("p2n.plan.make", "p2n.plan.materialize"):
        assert plan[step].parent.span_id == planning.context.span_id
    assert planning.attributes["p2n.paper"] == "iris-lda"
    # The Plan may be reconciled while it waits for its Paper (a retry event, not an error).
    for waiting in (s for s in reconciles() if s is not planning):
        assert waiting.status.is_ok
        assert [e.name for e in waiting.events] == ["p2n.retry"]


def test_a_runs_spans_form_one_tree_in_its_trace(
    kube, kubectl, namespace, start_operator, spans, s3_storage_for
):
    op = start_operator()
    plan = ready_plan(kube, kubectl, namespace)
    replace_notebook(s3_storage_for(op.cfg), namespace, plan, notebook("print('traced')"))
    parent, trace_id, span_id = _caller_span()
    apply(kubectl, _annotated(run_manifest("traced", plan), parent))
    apply(kubectl, run_manifest("untraced", plan))
    for name in ("traced", "untraced"):
        status = wait_phase(kube, "Run", name, namespace, TERMINAL, timeout=90)["status"]
        assert status["phase"] == "Succeeded", status

    tree = _in_trace(spans, trace_id, RUN_SPANS)
    for name in ("p2n.run.schedule", "p2n.run.exec", "p2n.run.persist", "p2n.run.finish"):
        assert tree[name].parent.span_id == span_id, name
        assert tree[name].attributes["p2n.run"] == "traced"
        assert tree[name].attributes["p2n.plan"] == plan
        assert tree[name].status.is_ok
    exec_, nbclient = tree["p2n.run.exec"], tree["p2n.run.nbclient"]
    assert nbclient.parent.span_id == exec_.context.span_id
    assert exec_.start_time <= nbclient.start_time < nbclient.end_time <= exec_.end_time
    assert nbclient.attributes["p2n.stage"] == "run_complete"
    assert exec_.attributes["p2n.pod"] == podspec.pod_name_for("traced")
    # Admission precedes the sandbox; collecting its results and the status write follow it.
    assert tree["p2n.run.schedule"].start_time <= nbclient.start_time
    assert nbclient.end_time <= tree["p2n.run.persist"].start_time
    assert tree["p2n.run.persist"].end_time <= tree["p2n.run.finish"].start_time
    # The verdict is the pipeline's report step, run while persisting.
    (report,) = _in_trace(spans, trace_id, ("p2n.run.report",)).values()
    assert report.parent.span_id == tree["p2n.run.persist"].context.span_id
    finish = tree["p2n.run.finish"]
    assert finish.attributes["p2n.phase"] == "Succeeded"
    assert finish.attributes["p2n.verdict"] in ("reproduced", "not_reproduced", "inconclusive")

    # A Run made without a traceparent has a trace of its own: its uid, across its reconciles.
    uid = kube.get(resources.API_VERSION, "Run", "untraced", namespace)["metadata"]["uid"]
    own = _in_trace(spans, uuid.UUID(uid).int, RUN_SPANS)
    roots = {own[name].parent.span_id for name in RUN_SPANS if name != "p2n.run.nbclient"}
    assert len(roots) == 1
    assert own["p2n.run.nbclient"].parent.span_id == own["p2n.run.exec"].context.span_id
    assert all(
        s.attributes.get("p2n.run") != "untraced"
        for s in spans.get_finished_spans()
        if s.context.trace_id == trace_id
    )


def test_a_run_refused_by_a_cap_is_marked_on_its_schedule_span(
    kube, kubectl, namespace, start_operator, spans
):
    start_operator(max_run_memory="1Gi")
    plan = ready_plan(kube, kubectl, namespace)
    apply(kubectl, run_manifest("greedy", plan, resources={"limits": {"memory": "8Gi"}}))
    status = wait_phase(kube, "Run", "greedy", namespace, TERMINAL, timeout=30)["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "E_CAP_EXCEEDED")

    uid = kube.get(resources.API_VERSION, "Run", "greedy", namespace)["metadata"]["uid"]
    tree = _in_trace(spans, uuid.UUID(uid).int, ("p2n.run.schedule", "p2n.run.persist", "p2n.run.finish"))
    schedule = tree["p2n.run.schedule"]
    assert not schedule.status.is_ok
    (cap,) = schedule.events
    assert cap.name == "policy.cap.exceeded"
    assert dict(cap.attributes) == {"p2n.reason": "E_CAP_EXCEEDED", "p2n.message": status["message"]}
    assert "8Gi" in status["message"]
    assert schedule.status.description.startswith("E_CAP_EXCEEDED")
    assert schedule.attributes["p2n.run"] == "greedy"
    assert tree["p2n.run.finish"].attributes["p2n.reason"] == "E_CAP_EXCEEDED"
    assert tree["p2n.run.finish"].attributes["p2n.phase"] == "Failed"
    # No pod was made: there is no execution to record.
    names = {s.name for s in spans.get_finished_spans() if s.context.trace_id == uuid.UUID(uid).int}
    assert "p2n.run.exec" not in names


def test_a_runs_own_trace_survives_an_operator_restart(
    kube, kubectl, namespace, start_operator, spans, s3_storage_for
):
    """The schedule span comes from one operator process, the rest from the next: one trace."""
    first = start_operator()
    plan = ready_plan(kube, kubectl, namespace)
    ticking = "import time\nfor i in range(30):\n    print('tick', i, flush=True)\n    time.sleep(0.1)\n"
    replace_notebook(s3_storage_for(first.cfg), namespace, plan, notebook(ticking))
    apply(kubectl, run_manifest("survivor", plan))
    wait_phase(kube, "Run", "survivor", namespace, {"Running"}, timeout=60)
    uid = kube.get(resources.API_VERSION, "Run", "survivor", namespace)["metadata"]["uid"]
    (before,) = _in_trace(spans, uuid.UUID(uid).int, ("p2n.run.schedule",)).values()
    first.stop()
    start_operator()
    status = wait_phase(kube, "Run", "survivor", namespace, TERMINAL, timeout=90)["status"]
    assert status["phase"] == "Succeeded", status
    after = _in_trace(spans, uuid.UUID(uid).int, RUN_SPANS)
    assert after["p2n.run.schedule"] is before
    assert {after[name].parent.span_id for name in RUN_SPANS if name != "p2n.run.nbclient"} == {
        before.parent.span_id
    }
    assert after["p2n.run.exec"].start_time <= after["p2n.run.nbclient"].start_time


def test_an_approval_brings_the_plans_reconcile_into_the_approvers_trace(
    kube, kubectl, namespace, start_operator, spans
):
    """As ``POST /plans/{name}/approve`` does: approved-by and the approve span's traceparent at once."""
    start_operator()
    kubectl("apply", "-f", str(EXAMPLES / "paper-text.yaml"))
    kubectl("apply", "-f", str(EXAMPLES / "plan-approval.yaml"))
    name = example("plan-approval.yaml")["metadata"]["name"]
    wait_phase(kube, "Plan", name, namespace, {"AwaitingApproval"}, timeout=60)
    parent, trace_id, span_id = _caller_span()
    kubectl(
        "annotate",
        "plan",
        name,
        "p2n.dev/approved-by=alice",
        f"{resources.TRACEPARENT_ANNOTATION}={parent}",
    )
    wait_phase(kube, "Plan", name, namespace, {"Ready"}, timeout=30)
    (approved,) = _in_trace(spans, trace_id, ("p2n.plan.reconcile",)).values()
    assert approved.parent.span_id == span_id
    assert approved.attributes["p2n.phase"] == "Ready"
    assert approved.attributes["p2n.plan"] == name


def test_the_operator_process_exports_its_spans_when_an_endpoint_is_configured(
    kube, kubectl, kubelet, namespace, operator_settings, tmp_path, otlp_collector
):
    env = entrypoint._environment(operator_settings, kube)
    env["P2N_OTLP_ENDPOINT"] = otlp_collector.url
    argv = [
        sys.executable,
        "-m",
        "p2n_operator",
        "--namespace",
        namespace,
        "--liveness",
        "",
        "--metrics-port",
        "0",
    ]
    with (tmp_path / "operator.log").open("wb") as stderr:
        process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            kubectl("apply", "-f", str(EXAMPLES / "paper-text.yaml"))
            wait_phase(kube, "Paper", "iris-lda", namespace, {"Ready"}, timeout=90)
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
    assert code == 0
    # The batch is flushed at shutdown at the latest.
    body = otlp_collector.received()
    uid = kube.get(resources.API_VERSION, "Paper", "iris-lda", namespace)["metadata"]["uid"]
    for expected in (b"p2n-operator", b"p2n.paper.reconcile", b"p2n.paper.ingest", b"p2n.paper.extract"):
        assert expected in body
    assert uuid.UUID(uid).bytes in body  # the Paper's own trace id, as OTLP's 16 raw bytes


def test_a_failing_notebook_fails_its_exec_and_nbclient_spans(
    kube, kubectl, namespace, start_operator, spans, s3_storage_for
):
    op = start_operator()
    plan = ready_plan(kube, kubectl, namespace)
    replace_notebook(s3_storage_for(op.cfg), namespace, plan, notebook("raise ValueError('broken')"))
    apply(kubectl, run_manifest("broken", plan))
    status = wait_phase(kube, "Run", "broken", namespace, TERMINAL, timeout=90)["status"]
    assert (status["phase"], status["reason"]) == ("Failed", "E_NOTEBOOK_ERROR")

    uid = kube.get(resources.API_VERSION, "Run", "broken", namespace)["metadata"]["uid"]
    tree = _in_trace(spans, uuid.UUID(uid).int, RUN_SPANS)
    exec_, nbclient = tree["p2n.run.exec"], tree["p2n.run.nbclient"]
    assert exec_.status.description == "E_NOTEBOOK_ERROR"
    assert exec_.attributes["p2n.reason"] == "E_NOTEBOOK_ERROR"
    assert nbclient.status.description == "E_NOTEBOOK_ERROR"
    assert (nbclient.attributes["p2n.stage"], nbclient.attributes["p2n.exit_code"]) == ("run_error", 3)
    assert tree["p2n.run.schedule"].status.is_ok
    assert (
        tree["p2n.run.finish"].attributes["p2n.phase"],
        tree["p2n.run.finish"].attributes["p2n.reason"],
    ) == (
        "Failed",
        "E_NOTEBOOK_ERROR",
    )
