"""Kubernetes objects and history rows as the API shows them (the ``*Public`` models).

Objects are read leniently: a status written by a newer operator, or a Paper applied with kubectl,
must still be shown rather than fail the request.
"""

from __future__ import annotations

from typing import Any

import pydantic

from p2n import db, resources
from p2n_api import models


def _status(obj: dict[str, Any], model: type[pydantic.BaseModel]) -> Any:
    try:
        return model.model_validate(obj.get("status") or {})
    except pydantic.ValidationError:
        return model.model_validate({"phase": (obj.get("status") or {}).get("phase", "Pending")})


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {
        "name": meta.get("name", ""),
        "namespace": meta.get("namespace", ""),
        "created_at": meta.get("creationTimestamp"),
    }


def claims_of(obj: dict[str, Any]) -> list[resources.Claim]:
    status: resources.PaperStatus = _status(obj, resources.PaperStatus)
    return list(status.claims)


def paper(obj: dict[str, Any]) -> models.PaperPublic:
    status: resources.PaperStatus = _status(obj, resources.PaperStatus)
    spec = obj.get("spec") or {}
    source = spec.get("source") or {}
    kind = "url" if source.get("url") else "text" if source.get("text") else "configMap"
    return models.PaperPublic(
        **_meta(obj),
        title=status.title or spec.get("title"),
        source=kind,
        source_url=source.get("url"),
        phase=status.phase,
        document_sha256=status.document_sha256,
        pages=status.pages,
        claim_count=len(status.claims),
        reason=status.reason,
        message=status.message,
    )


def plan(obj: dict[str, Any]) -> models.PlanPublic:
    status: resources.PlanStatus = _status(obj, resources.PlanStatus)
    spec = obj.get("spec") or {}
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    summary = status.plan
    return models.PlanPublic(
        **_meta(obj),
        paper=str((spec.get("paperRef") or {}).get("name", "")),
        claim_id=str(spec.get("claimId", "")),
        approval_required=bool((spec.get("approval") or {}).get("required", False)),
        timeout_minutes=int(spec.get("timeoutMinutes", 10)),
        phase=status.phase,
        plan=models.PlanSummary.model_validate(summary.model_dump()) if summary else None,
        plan_hash=status.plan_hash,
        env_hash=status.env_hash,
        approved_by=status.approved_by or annotations.get(resources.APPROVED_BY_ANNOTATION),
        approved_at=status.approved_at,
        reason=status.reason,
        message=status.message,
    )


def run(obj: dict[str, Any]) -> models.RunPublic:
    status: resources.RunStatus = _status(obj, resources.RunStatus)
    spec = obj.get("spec") or {}
    artifacts = status.artifacts.model_dump(exclude_none=True) if status.artifacts else None
    return models.RunPublic(
        **_meta(obj),
        uid=(obj.get("metadata") or {}).get("uid"),
        plan=str((spec.get("planRef") or {}).get("name", "")),
        seed=int(spec.get("seed", 0)),
        cancel=bool(spec.get("cancel", False)),
        phase=status.phase,
        queue_position=status.queue_position,
        started_at=status.started_at,
        completed_at=status.completed_at,
        progress=status.progress,
        metric=status.metric,
        observed=status.observed,
        claimed=status.claimed,
        gap_percent=status.gap_percent,
        verdict=status.verdict,
        env_hash=status.env_hash,
        artifacts=models.RunArtifacts(**artifacts) if artifacts else None,
        reason=status.reason,
        message=status.message,
    )


def history_entry(record: db.RunRecord) -> models.HistoryEntry:
    return models.HistoryEntry.model_validate(
        record.model_dump(include=set(models.HistoryEntry.model_fields))
    )
