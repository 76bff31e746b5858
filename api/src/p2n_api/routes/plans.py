"""Plans: create one for a claim, list, read, delete, approve (human in the loop), and run with seeds."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Response

from p2n import errors, resources, telemetry
from p2n_api import deps, models, tracing, views
from p2n_api.deps import Caller, NamePath, ServicesDep

router = APIRouter(prefix="/plans", tags=["plans"])

PAPER_LABEL = f"{resources.GROUP}/paper"
PLAN_LABEL = f"{resources.GROUP}/plan"


def _plan_name(paper: str, claim_id: str) -> str:
    return f"{paper[:30].rstrip('-')}-{claim_id[:20].rstrip('-')}-{secrets.token_hex(3)}"


def _run_name(plan: str, seed: int) -> str:
    return f"{plan[:40].rstrip('-')}-s{seed}-{secrets.token_hex(3)}"


@router.post("", status_code=201)
async def create_plan(
    body: models.PlanCreate,
    caller: Annotated[Caller, deps.authorized("create", "plans")],
    services: ServicesDep,
) -> models.PlanPublic:
    """Create a Plan reproducing one claim of a Paper; with approval_required it waits for approval."""
    await services.cluster.get("Paper", caller.namespace, body.paper)
    spec = resources.PlanSpec(
        paper_ref=resources.ObjectRef(name=body.paper),
        claim_id=body.claim_id,
        planner=body.planner or resources.PlannerSpec(),
        approval=resources.ApprovalSpec(required=body.approval_required),
        overrides=body.overrides,
        resources=body.resources,
        timeout_minutes=body.timeout_minutes,
    )
    name = body.name or _plan_name(body.paper, body.claim_id)
    metadata = {"name": name, "namespace": caller.namespace, "labels": {PAPER_LABEL: body.paper}}
    with telemetry.span("p2n.plan.create", {"p2n.namespace": caller.namespace, "p2n.plan": name}):
        manifest = {
            "apiVersion": resources.API_VERSION,
            "kind": "Plan",
            "metadata": tracing.annotated(metadata),
            "spec": spec.wire(),
        }
        return views.plan(await services.cluster.create("Plan", caller.namespace, manifest))


@router.get("")
async def list_plans(
    caller: Annotated[Caller, deps.authorized("list", "plans")], services: ServicesDep
) -> models.PlanList:
    items = await services.cluster.list("Plan", caller.namespace)
    return models.PlanList(items=[views.plan(obj) for obj in items])


@router.get("/{name}")
async def get_plan(
    name: NamePath, caller: Annotated[Caller, deps.authorized("get", "plans")], services: ServicesDep
) -> models.PlanPublic:
    return views.plan(await services.cluster.get("Plan", caller.namespace, name))


@router.delete("/{name}", status_code=204, response_class=Response)
async def delete_plan(
    name: NamePath, caller: Annotated[Caller, deps.authorized("delete", "plans")], services: ServicesDep
) -> Response:
    await services.cluster.delete("Plan", caller.namespace, name)
    return Response(status_code=204)


@router.post("/{name}/approve")
async def approve_plan(
    name: NamePath, caller: Annotated[Caller, deps.authorized("patch", "plans")], services: ServicesDep
) -> models.PlanPublic:
    """Approve the Plan as the authenticated user (annotation ``p2n.dev/approved-by``)."""
    approval = {"annotations": {resources.APPROVED_BY_ANNOTATION: caller.principal.username}}
    with telemetry.span("p2n.plan.approve", {"p2n.namespace": caller.namespace, "p2n.plan": name}):
        # The operator's work after the approval joins the approval's trace.
        patch = {"metadata": tracing.annotated(approval)}
        return views.plan(await services.cluster.patch("Plan", caller.namespace, name, patch))


@router.post("/{name}/run", status_code=201)
async def run_plan(
    name: NamePath,
    body: models.RunRequest,
    caller: Annotated[Caller, deps.authorized("create", "runs")],
    services: ServicesDep,
) -> models.RunsCreated:
    """Start the Plan: one Run with ``seed``, or one Run per entry of ``seeds``; returns the run ids."""
    plan = await services.cluster.get("Plan", caller.namespace, name)
    if (plan.get("status") or {}).get("phase") == "Failed":
        raise errors.PlanNotReady(f"Plan {name} failed: {(plan.get('status') or {}).get('message') or ''}")
    paper = str(((plan.get("spec") or {}).get("paperRef") or {}).get("name", ""))
    created: list[str] = []
    for seed in body.seeds or [body.seed]:
        spec = resources.RunSpec(
            plan_ref=resources.ObjectRef(name=name),
            seed=seed,
            resources=body.resources,
            timeout_minutes=body.timeout_minutes,
        )
        labels: dict[str, Any] = {PLAN_LABEL: name}
        if paper:
            labels[PAPER_LABEL] = paper
        run_name = _run_name(name, seed)
        attributes: dict[str, str | int] = {
            "p2n.namespace": caller.namespace,
            "p2n.plan": name,
            "p2n.run": run_name,
            "p2n.seed": seed,
        }
        with telemetry.span("p2n.run.create", attributes):
            manifest = {
                "apiVersion": resources.API_VERSION,
                "kind": "Run",
                "metadata": tracing.annotated(
                    {"name": run_name, "namespace": caller.namespace, "labels": labels}
                ),
                "spec": spec.wire(),
            }
            await services.cluster.create("Run", caller.namespace, manifest)
        created.append(run_name)
    return models.RunsCreated(run_id=created[0], run_ids=created, namespace=caller.namespace)
