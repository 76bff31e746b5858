"""The pipeline work the operator does for a finished Run (blocking; run in a thread).

Reads a Run's artifacts and events back from storage and assesses its result with
``p2n.pipeline.report``, exactly as ``p2n reproduce`` does. The Paper and Plan steps, which need
the heavy parts of the pipeline (pypdf, nbformat), live in ``authoring``, imported only when a
Paper or Plan is handled, so an operator that only runs Runs does not carry them.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic

from p2n import errors, events, resources
from p2n.pipeline import report
from p2n.storage import keys
from p2n_operator import runtime

_MAX_METRICS_BYTES = 1024 * 1024


def claim_of(paper: resources.Paper, claim_id: str) -> resources.Claim:
    claims = paper.status.claims if paper.status is not None else []
    for claim in claims:
        if claim.id == claim_id:
            return claim
    known = ", ".join(c.id for c in claims) or "none"
    raise errors.NotFound(f"claim {claim_id!r} is not in paper {paper.metadata.name} (claims: {known})")


# --- finished Runs ---------------------------------------------------------------------------------


def run_artifacts(rt: runtime.Runtime, namespace: str, name: str, uid: str) -> resources.RunArtifacts:
    """URIs of the artifacts the runner uploaded (a cancelled or failed run may have only some).

    One listing of the Run instance's prefix (``uid`` is its ``metadata.uid``), not a request per
    artifact; the caller reads only what exists.
    """
    uploaded = set(rt.store.list(keys.run_prefix(namespace, name, uid)))
    found: dict[str, str] = {}
    for artifact, field in (
        ("metrics.json", "metrics"),
        ("events.jsonl", "events"),
        ("logs.txt", "logs"),
        ("notebook.ipynb", "notebook"),
    ):
        key = keys.run_artifact(namespace, name, uid, artifact)
        if key in uploaded:
            found[field] = rt.store.uri(key)
    return resources.RunArtifacts.model_validate(found)


def stored_events(rt: runtime.Runtime, namespace: str, name: str, uid: str) -> list[events.Event]:
    """The run's events.jsonl from storage (empty when it was never uploaded); bad lines are skipped."""
    try:
        raw = rt.store.get_bytes(keys.run_artifact(namespace, name, uid, "events.jsonl"))
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
    rt: runtime.Runtime,
    namespace: str,
    name: str,
    uid: str,
    paper: resources.Paper | None,
    plan: resources.Plan,
    *,
    measured: bool,
) -> dict[str, Any] | None:
    """Observed/claimed/gap/verdict from the run's metrics.json; None when nothing can be said.

    ``measured`` says whether metrics.json was uploaded; without it the claim is still assessed
    (inconclusive) and nothing is read.
    """
    if paper is None:
        return None
    try:
        claim = claim_of(paper, plan.spec.claim_id)
    except errors.NotFound:
        return None
    observed = _observed(rt, namespace, name, uid, claim.metric) if measured else None
    result = report.assess_run(claim, observed)
    return {
        "metric": result.metric,
        "observed": result.observed,
        "claimed": result.claimed,
        "gap_percent": result.gap_percent,
        "verdict": result.verdict,
    }


def _observed(rt: runtime.Runtime, namespace: str, name: str, uid: str, metric: str) -> float | None:
    try:
        raw = rt.store.get_bytes(
            keys.run_artifact(namespace, name, uid, "metrics.json"), max_bytes=_MAX_METRICS_BYTES
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
