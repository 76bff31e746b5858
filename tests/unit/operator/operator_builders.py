"""Builders of Run/Plan/Paper objects as the operator sees them (parsed from the API's dicts)."""

from __future__ import annotations

from typing import Any

from p2n import resources


def make_run(name: str = "run-a", spec: dict[str, Any] | None = None, **status: Any) -> resources.Run:
    return resources.Run.model_validate(
        {
            "metadata": {"name": name, "namespace": "research", "uid": f"uid-{name}", "generation": 1},
            "spec": {"planRef": {"name": "plan-a"}, **(spec or {})},
            "status": status or None,
        }
    )


def make_plan(name: str = "plan-a", spec: dict[str, Any] | None = None, **status: Any) -> resources.Plan:
    return resources.Plan.model_validate(
        {
            "metadata": {"name": name, "namespace": "research", "uid": f"uid-{name}"},
            "spec": {"paperRef": {"name": "paper-a"}, "claimId": "c1", **(spec or {})},
            "status": status or None,
        }
    )


def make_paper(phase: str) -> resources.Paper:
    return resources.Paper.model_validate(
        {"metadata": {"name": "paper-a"}, "spec": {"source": {"text": "x"}}, "status": {"phase": phase}}
    )


READY_PLAN_STATUS: dict[str, Any] = {
    "phase": "Ready",
    "plan": {
        "dataset": "iris",
        "model": "logreg",
        "protocol": "holdout",
        "metric": "accuracy",
        "target": 0.9,
    },
    "planHash": "p" * 16,
    "envHash": "e" * 16,
    "notebook_uri": "s3://bucket/ns/plans/plan-a/notebook.ipynb",
}
