"""The API hands its trace to the operator: objects it creates (or approves) carry the W3C
traceparent of the route's span in ``p2n.dev/traceparent``."""

from __future__ import annotations

import re

import pytest
from opentelemetry import trace
from tests.api import test_end_to_end
from tests.harness import cluster

from p2n import resources, telemetry

pytestmark = pytest.mark.api

API = resources.API_VERSION
TERMINAL = resources.TERMINAL_RUN_PHASES


TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def _traceparent_of(span) -> tuple[int, int]:
    context = span.get_span_context()
    return context.trace_id, context.span_id


def _annotation(obj: dict) -> tuple[int, int] | None:
    """The (trace id, span id) the object's traceparent annotation names, as the operator reads it."""
    value = (obj["metadata"].get("annotations") or {}).get(resources.TRACEPARENT_ANNOTATION)
    if value is None:
        return None
    assert TRACEPARENT.match(value), value
    parent = trace.get_current_span(telemetry.context_from(value)).get_span_context()
    assert parent.is_remote
    return parent.trace_id, parent.span_id


def _only(spans, name: str):
    (span,) = [s for s in spans.get_finished_spans() if s.name == name]
    return span


def test_created_objects_carry_their_create_span(api, spans, kube):
    ns = api.namespace
    assert api.post("/api/v1/papers", json={"name": "tp", "text": "LDA gets 98% on iris."}).status_code == 201
    plan = {"name": "tp-plan", "paper": "tp", "claim_id": "c1", "approval_required": True}
    assert api.post("/api/v1/plans", json=plan).status_code == 201
    created = api.post("/api/v1/plans/tp-plan/run", json={"seeds": [3, 4]})
    assert created.status_code == 201

    paper = kube.get(API, "Paper", "tp", ns)
    assert _annotation(paper) == _traceparent_of(_only(spans, "p2n.paper.create"))
    plan_span = _only(spans, "p2n.plan.create")
    assert dict(plan_span.attributes) == {"p2n.namespace": ns, "p2n.plan": "tp-plan"}
    assert _annotation(kube.get(API, "Plan", "tp-plan", ns)) == _traceparent_of(plan_span)
    run_spans = {s.attributes["p2n.run"]: s for s in spans.get_finished_spans() if s.name == "p2n.run.create"}
    assert set(run_spans) == set(created.json()["run_ids"])
    for name, span in run_spans.items():
        assert _annotation(kube.get(API, "Run", name, ns)) == _traceparent_of(span)
    # Each Run has a span (and so an operator subtree) of its own.
    assert len({_annotation(kube.get(API, "Run", name, ns)) for name in run_spans}) == 2


def test_an_approval_hands_its_own_trace_on(api, spans, kube):
    ns = api.namespace
    assert api.post("/api/v1/papers", json={"name": "tq", "text": "LDA gets 98% on iris."}).status_code == 201
    plan = {"name": "tq-plan", "paper": "tq", "claim_id": "c1", "approval_required": True}
    assert api.post("/api/v1/plans", json=plan).status_code == 201
    created = _annotation(kube.get(API, "Plan", "tq-plan", ns))
    assert api.post("/api/v1/plans/tq-plan/approve").status_code == 200
    stored = kube.get(API, "Plan", "tq-plan", ns)
    approve = _only(spans, "p2n.plan.approve")
    assert _annotation(stored) == _traceparent_of(approve) != created
    assert stored["metadata"]["annotations"][resources.APPROVED_BY_ANNOTATION] == "tester"


def test_an_uploaded_paper_carries_its_create_span(api, spans, kube):
    files = {"file": ("notes.md", b"# Notes\n\nLDA gets 98% accuracy on iris.\n", "text/markdown")}
    assert api.post("/api/v1/papers/upload", files=files, data={"name": "tu"}).status_code == 201
    paper = kube.get(API, "Paper", "tu", api.namespace)
    assert _annotation(paper) == _traceparent_of(_only(spans, "p2n.paper.create"))


# The real operator in a thread, as in the end-to-end test (the same fixture, not a copy).
operator = test_end_to_end.operator


def _child_of(spans, name: str, parent) -> object:
    """The one finished span ``name`` whose parent is ``parent`` (waiting for it to end)."""

    def found():
        mine = [
            s
            for s in spans.get_finished_spans()
            if s.name == name and s.parent is not None and s.parent.span_id == parent.context.span_id
        ]
        assert len(mine) <= 1, mine
        return mine[0] if mine else None

    return cluster.wait_for(found, timeout=30, what=f"{name} under {parent.name}")


def test_the_operators_work_joins_the_api_requests_trace(api, operator, spans):
    paper = {"name": "iris-lda", "text": test_end_to_end._paper_text(), "extraction": {"provider": "offline"}}
    assert api.post("/api/v1/papers", json=paper).status_code == 201
    plan = {
        "name": "iris-cv",
        "paper": "iris-lda",
        "claim_id": "iris-accuracy-2",
        "planner": {"provider": "offline"},
    }
    assert api.post("/api/v1/plans", json=plan).status_code == 201
    run = api.post("/api/v1/plans/iris-cv/run", json={"seed": 1}).json()["run_id"]
    done = test_end_to_end._wait_json(
        api, f"/api/v1/runs/{run}", lambda r: r["phase"] in TERMINAL, what="run"
    )
    assert done["phase"] == "Succeeded", done

    paper_create, plan_create, run_create = (
        _only(spans, name) for name in ("p2n.paper.create", "p2n.plan.create", "p2n.run.create")
    )
    reconcile = _child_of(spans, "p2n.paper.reconcile", paper_create)
    for step in ("p2n.paper.ingest", "p2n.paper.extract"):
        assert _child_of(spans, step, reconcile).context.trace_id == paper_create.context.trace_id
    # The reconcile that planned (the Plan may also have been reconciled while its Paper was not Ready).
    (planning,) = cluster.wait_for(
        lambda: [
            s
            for s in spans.get_finished_spans()
            if s.name == "p2n.plan.reconcile"
            and s.parent.span_id == plan_create.context.span_id
            and s.attributes.get("p2n.phase") == "Ready"
        ],
        what="planning span",
    )
    _child_of(spans, "p2n.plan.make", planning)
    for name in ("p2n.run.schedule", "p2n.run.exec", "p2n.run.persist", "p2n.run.finish"):
        assert _child_of(spans, name, run_create).attributes["p2n.run"] == run
    nbclient = _child_of(spans, "p2n.run.nbclient", _child_of(spans, "p2n.run.exec", run_create))
    assert nbclient.attributes["p2n.stage"] == "run_complete"
    finish = _child_of(spans, "p2n.run.finish", run_create)
    assert finish.attributes["p2n.verdict"] == done["verdict"]
    assert finish.attributes["p2n.paper"] == "iris-lda"
