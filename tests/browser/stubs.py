"""Canned API objects for the page tests, shaped like the API's ``*Public`` models."""

from __future__ import annotations

from typing import Any

PAPER = {
    "name": "iris-lda",
    "namespace": "default",
    "created_at": "2026-11-22T02:00:00Z",
    "title": "Linear Discriminant Analysis on the Iris Flowers",
    "source": "text",
    "source_url": None,
    "phase": "Ready",
    "document_sha256": "ab" * 32,
    "pages": 1,
    "claim_count": 1,
    "reason": None,
    "message": None,
}
CLAIM = {
    "id": "iris-accuracy-2",
    "metric": "accuracy",
    "value": 0.98,
    "unit": "ratio",
    "higher_is_better": True,
    "dataset": "iris",
    "model": "lda",
    "protocol": "kfold",
    "citation": {"page": 1, "quote": "Under 10-fold stratified cross-validation it reaches 98.0% as well"},
}


def plan(phase: str = "AwaitingApproval", approved_by: str | None = None) -> dict[str, Any]:
    return {
        "name": "iris-cv",
        "namespace": "default",
        "created_at": "2026-11-22T02:01:00Z",
        "paper": "iris-lda",
        "claim_id": "iris-accuracy-2",
        "approval_required": True,
        "timeout_minutes": 10,
        "phase": phase,
        "plan": {
            "dataset": "iris",
            "model": "lda",
            "protocol": "kfold",
            "metric": "accuracy",
            "target": 0.98,
        },
        "plan_hash": "1" * 64,
        "env_hash": "2" * 64,
        "approved_by": approved_by,
        "approved_at": None,
        "reason": None,
        "message": None,
    }


def run(phase: str = "Running", name: str = "iris-cv-s0-abc123", **extra: Any) -> dict[str, Any]:
    body = {
        "name": name,
        "namespace": "default",
        "created_at": "2026-11-22T02:02:00Z",
        "plan": "iris-cv",
        "seed": 0,
        "cancel": False,
        "phase": phase,
        "queue_position": None,
        "started_at": "2026-11-22T02:02:01Z",
        "completed_at": None,
        "progress": 0.0,
        "metric": "accuracy",
        "observed": None,
        "claimed": 0.98,
        "gap_percent": None,
        "verdict": None,
        "env_hash": None,
        "artifacts": None,
        "reason": None,
        "message": None,
    }
    body.update(extra)
    return body


REPORT = {
    "paper": "iris-lda",
    "namespace": "default",
    "title": PAPER["title"],
    "phase": "Ready",
    "document_sha256": "ab" * 32,
    "claimed": 0.98,
    "observed": 0.98,
    "gap_percent": 0.0,
    "verdict": "reproduced",
    "citations": [CLAIM["citation"]],
    "claims": [
        {
            "claim": CLAIM,
            "plan": "iris-cv",
            "metric": "accuracy",
            "claimed": 0.98,
            "observed": 0.98,
            "gap_percent": 0.0,
            "verdict": "reproduced",
            "reason": None,
            "runs": [
                {
                    "name": "iris-cv-s0-abc123",
                    "seed": 0,
                    "phase": "Succeeded",
                    "observed": 0.98,
                    "reason": None,
                    "artifacts": {"metrics": "http://127.0.0.1:9/bucket/metrics.json?X-Amz-Signature=x"},
                }
            ],
        }
    ],
}
STORYBOOK = {
    "title": "The Flower Sorting Robot",
    "pages": [
        {
            "title": f"Page {i}",
            "body": f"This is page {i}.",
            "alt_text": f"Picture {i}: a robot and a flower.",
            "visual_hint": "a robot looks at a flower",
        }
        for i in range(1, 6)
    ],
    "glossary": [{"term": "score", "meaning": "how many right answers"}],
    "grade_level": 2.9,
    "provider": "offline",
}


def paper_api(stub: Any) -> None:
    """The answers a paper's page asks for."""
    stub.on("GET", "/papers", {"items": [PAPER]})
    stub.on("GET", "/papers/iris-lda", PAPER)
    stub.on("GET", "/papers/iris-lda/claims", {"paper": "iris-lda", "items": [CLAIM]})
    stub.on("GET", "/papers/iris-lda/runs", {"paper": "iris-lda", "items": []})
    stub.on("GET", "/papers/iris-lda/report", REPORT)
    stub.on("GET", "/runs", {"items": []})
    stub.on("GET", "/plans", {"items": []})
