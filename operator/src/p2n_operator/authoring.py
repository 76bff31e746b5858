"""The pipeline work the operator does for a Paper and a Plan (blocking; run in a thread).

Each step calls ``p2n.pipeline`` exactly as ``p2n reproduce`` does, with the operator's storage,
so a cluster and a laptop produce the same claims, plans and notebooks. What is specific to the
cluster lives here: reading a ConfigMap source through ``kube`` and keeping the ingested pages in
storage for the Plan step. The handlers import this module on first use: it pulls in pypdf,
nbformat and jsonschema, which an operator that only runs Runs does not need in memory.
"""

from __future__ import annotations

import dataclasses

from p2n import errors, resources
from p2n.pipeline import extract, ingest, materialize, planning
from p2n.storage import keys
from p2n_operator import runtime, steps


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
    claim = steps.claim_of(paper, spec.claim_id)
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


def _document(rt: runtime.Runtime, namespace: str, paper: str) -> ingest.Document | None:
    try:
        raw = rt.store.get_bytes(keys.paper_pages(namespace, paper))
    except errors.NotFound:
        return None
    return ingest.Document.model_validate_json(raw)
