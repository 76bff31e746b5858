"""The pipeline work the operator does for a Paper, a Plan and a finished Run (blocking; run in a thread).

Each step calls ``p2n.pipeline`` exactly as ``p2n reproduce`` does, with the operator's storage,
so a cluster and a laptop produce the same claims, plans, notebooks and verdicts. What is
specific to the cluster lives here: reading a ConfigMap source through ``kube``, keeping the
ingested pages in storage for the Plan step, and reading a Run's artifacts back.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pydantic

from p2n import errors, events, resources
from p2n.pipeline import extract, ingest, materialize, planning, report
from p2n.storage import keys
from p2n_operator import runtime

_MAX_METRICS_BYTES = 1024 * 1024


def ingest_paper(
    rt: runtime.Runtime, namespace: str, name: str, spec: resources.PaperSpec
) -> ingest.Document:
    """Read, split and store the Paper's document; keep its pages for the Plan step."""
    config_map_text = None
    ref = spec.source.config_map_ref
    if ref is not None:
        config_map_text = rt.kube.config_map_value(namespace, ref.name, ref.key)
    document = ingest.ingest(
        spec.source,
        settings=rt.config,
        store=rt.store,
        namespace=namespace,
        paper=name,
        title=spec.title,
        config_map_text=config_map_text,
    )
    rt.store.put_bytes(
        keys.paper_pages(namespace, name), document.model_dump_json().encode(), "application/json"
    )
    return document


def extract_claims(
    rt: runtime.Runtime, document: ingest.Document, spec: resources.PaperSpec
) -> list[resources.Claim]:
    """The document's quantitative claims with citations (E_NO_CLAIMS when there is none)."""
    return extract.extract_claims(
        document,
        settings=rt.config,
        extraction=spec.extraction,
        dataset_names=[ref.name for ref in spec.datasets],
    )


@dataclasses.dataclass(frozen=True)
class Planned:
    summary: resources.PlanSummary
    plan_hash: str
    env_hash: str
    notebook_uri: str


def plan_claim(
    rt: runtime.Runtime, namespace: str, name: str, spec: resources.PlanSpec, paper: resources.Paper
) -> Planned:
    """Plan the reproduction of ``spec.claimId`` and store the plan and its notebook."""
    claim = claim_of(paper, spec.claim_id)
    document = _document(rt, namespace, spec.paper_ref.name)
    plan = planning.plan(
        claim,
        settings=rt.config,
        spec=spec,
        paper=paper.spec,
        document_text=document.text if document else "",
    )
    rt.store.put_bytes(
        keys.plan_document(namespace, name), plan.model_dump_json().encode(), "application/json"
    )
    notebook_uri = rt.store.put_bytes(
        keys.plan_notebook(namespace, name), materialize.notebook_bytes(plan), "application/x-ipynb+json"
    )
    return Planned(
        summary=plan.summary(), plan_hash=plan.plan_hash, env_hash=plan.env_hash, notebook_uri=notebook_uri
    )


def claim_of(paper: resources.Paper, claim_id: str) -> resources.Claim:
    claims = paper.status.claims if paper.status is not None else []
    for claim in claims:
        if claim.id == claim_id:
            return claim
    known = ", ".join(c.id for c in claims) or "none"
    raise errors.NotFound(f"claim {claim_id!r} is not in paper {paper.metadata.name} (claims: {known})")


def _document(rt: runtime.Runtime, namespace: str, paper: str) -> ingest.Document | None:
    try:
        raw = rt.store.get_bytes(keys.paper_pages(namespace, paper))
    except errors.NotFound:
        return None
    return ingest.Document.model_validate_json(raw)


# --- finished Runs ---------------------------------------------------------------------------------


def run_artifacts(rt: runtime.Runtime, namespace: str, name: str) -> resources.RunArtifacts:
    """URIs of the artifacts the runner uploaded (a cancelled or failed run may have only some)."""
    found: dict[str, str] = {}
    for artifact, field in (
        ("metrics.json", "metrics"),
        ("events.jsonl", "events"),
        ("logs.txt", "logs"),
        ("notebook.ipynb", "notebook"),
    ):
        key = keys.run_artifact(namespace, name, artifact)
        if rt.store.exists(key):
            found[field] = rt.store.uri(key)
    return resources.RunArtifacts.model_validate(found)


def stored_events(rt: runtime.Runtime, namespace: str, name: str) -> list[events.Event]:
    """The run's events.jsonl from storage (empty when it was never uploaded); bad lines are skipped."""
    try:
        raw = rt.store.get_bytes(keys.run_artifact(namespace, name, "events.jsonl"))
    except errors.NotFound:
        return []
    return [event for event in map(parse_event, raw.splitlines()) if event is not None]


def parse_event(line: bytes | str) -> events.Event | None:
    """One runner stdout/events.jsonl line as an event, or None for anything else (plain output)."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        return events.parse_line(text)
    except pydantic.ValidationError:
        return None


def assessment(
    rt: runtime.Runtime, namespace: str, name: str, paper: resources.Paper | None, plan: resources.Plan
) -> dict[str, Any] | None:
    """Observed/claimed/gap/verdict from the run's metrics.json; None when nothing can be said."""
    if paper is None:
        return None
    try:
        claim = claim_of(paper, plan.spec.claim_id)
    except errors.NotFound:
        return None
    observed = _observed(rt, namespace, name, claim.metric)
    result = report.assess_run(claim, observed)
    return {
        "metric": result.metric,
        "observed": result.observed,
        "claimed": result.claimed,
        "gap_percent": result.gap_percent,
        "verdict": result.verdict,
    }


def _observed(rt: runtime.Runtime, namespace: str, name: str, metric: str) -> float | None:
    try:
        raw = rt.store.get_bytes(
            keys.run_artifact(namespace, name, "metrics.json"), max_bytes=_MAX_METRICS_BYTES
        )
        metrics = json.loads(raw)
    except (errors.NotFound, errors.PayloadTooLarge, ValueError):
        return None
    if not isinstance(metrics, dict):
        return None
    candidates = [metrics.get(metric)]
    if isinstance(metrics.get("metrics"), dict):
        candidates.append(metrics["metrics"].get(metric))
    if metrics.get("metric") == metric:
        candidates.append(metrics.get("value"))
    for value in candidates:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None
