"""The report of a Paper, assembled on request from the cluster's objects and the storage.

For each Plan of the Paper, the finished Runs (one per seed) are aggregated by
:func:`p2n.pipeline.report.assess_runs`, the same verdict logic ``p2n reproduce`` uses; artifact
links are presigned GET URLs that expire, so a report can be shared without storage credentials.
"""

from __future__ import annotations

import dataclasses

from p2n import errors, resources
from p2n.pipeline import report
from p2n.storage import keys
from p2n_api import deps, models, views

ARTIFACT_FILES: dict[str, str] = {
    "metrics": "metrics.json",
    "events": "events.jsonl",
    "logs": "logs.txt",
    "notebook": "notebook.ipynb",
}


def _presigned(services: deps.Services, namespace: str, run: models.RunPublic) -> dict[str, str]:
    """GET links to the artifacts of this instance of the Run (its uid is part of their keys)."""
    links: dict[str, str] = {}
    present = run.artifacts.model_dump(exclude_none=True) if run.artifacts and run.uid else {}
    for artifact in present:
        filename = ARTIFACT_FILES.get(artifact)
        if filename is None:
            continue
        try:
            key = keys.run_artifact(namespace, run.name, str(run.uid), filename)
            links[artifact] = services.store.presign_get(key)
        except errors.P2NError:
            continue
    return links


@dataclasses.dataclass(frozen=True)
class Section:
    """One claim of the paper with the assessment of its Plan's finished Runs (None before any)."""

    claim: resources.Claim
    assessment: report.Assessment | None
    public: models.ClaimReport
    finished_at: str


def _section(
    services: deps.Services,
    namespace: str,
    claim: resources.Claim,
    plan: models.PlanPublic | None,
    runs: list[models.RunPublic],
) -> Section:
    finished = [r for r in runs if r.phase in resources.TERMINAL_RUN_PHASES and r.phase != "Cancelled"]
    outcome = (
        report.assess_runs(claim, [r.observed if r.phase == "Succeeded" else None for r in finished])
        if finished
        else None
    )
    public = models.ClaimReport(
        claim=models.ClaimPublic.of(claim),
        plan=plan.name if plan else None,
        metric=claim.metric,
        claimed=claim.value,
        observed=outcome.observed if outcome else None,
        gap_percent=outcome.gap_percent if outcome else None,
        verdict=outcome.verdict if outcome else None,
        reason=outcome.reason if outcome else None,
        runs=[
            models.RunOutcome(
                name=r.name,
                seed=r.seed,
                phase=r.phase,
                observed=r.observed,
                reason=r.reason,
                artifacts=_presigned(services, namespace, r),
            )
            for r in runs
        ],
    )
    stamps = [r.completed_at.isoformat() for r in runs if r.completed_at is not None]
    return Section(claim, outcome, public, max(stamps, default=""))


async def sections(
    services: deps.Services, namespace: str, name: str
) -> tuple[models.PaperPublic, list[resources.Claim], list[Section]]:
    """The paper, its claims, and one section per claim, most recently finished first."""
    paper_obj = await services.cluster.get("Paper", namespace, name)
    claims = views.claims_of(paper_obj)
    plans = [
        views.plan(obj)
        for obj in await services.cluster.list("Plan", namespace)
        if ((obj.get("spec") or {}).get("paperRef") or {}).get("name") == name
    ]
    runs_by_plan: dict[str, list[models.RunPublic]] = {}
    for obj in await services.cluster.list("Run", namespace):
        run = views.run(obj)
        runs_by_plan.setdefault(run.plan, []).append(run)
    by_id = {c.id: c for c in claims}
    found: list[Section] = []
    for plan in plans:
        claim = by_id.get(plan.claim_id)
        if claim is not None:
            runs = sorted(runs_by_plan.get(plan.name, []), key=lambda r: (r.seed, r.name))
            found.append(_section(services, namespace, claim, plan, runs))
    planned = {section.claim.id for section in found}
    found += [_section(services, namespace, c, None, []) for c in claims if c.id not in planned]
    found.sort(key=lambda section: section.finished_at, reverse=True)
    return views.paper(paper_obj), claims, found


async def paper_report(services: deps.Services, namespace: str, name: str) -> models.PaperReport:
    paper, claims, found = await sections(services, namespace, name)
    # The headline is the newest verdict.
    headline = next((s.public for s in found if s.public.verdict is not None), None)
    return models.PaperReport(
        paper=name,
        namespace=namespace,
        title=paper.title,
        phase=paper.phase,
        document_sha256=paper.document_sha256,
        claimed=headline.claimed if headline else None,
        observed=headline.observed if headline else None,
        gap_percent=headline.gap_percent if headline else None,
        verdict=headline.verdict if headline else None,
        citations=[models.Citation(page=c.citation.page, quote=c.citation.quote) for c in claims],
        claims=[s.public for s in found],
    )
