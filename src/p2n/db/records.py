"""The rows of the run history as pydantic models: what the operator, API and CLI read and write.

These models are the boundary of :mod:`p2n.db`: callers never see database rows or driver types.
A run is identified by a text ``run_id``: ``"<namespace>/<name>/<uid>"`` for one instance of a
Run resource in a cluster (:func:`cluster_run_id`), a generated id for a local run
(:func:`new_local_run_id`).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from p2n import errors, resources

LOCAL_NAMESPACE = "local"


class RunRecord(BaseModel):
    """One execution of a plan with one seed, as kept in the history."""

    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(min_length=1, max_length=512)
    namespace: str = Field(min_length=1, max_length=253)
    name: str = Field(min_length=1, max_length=253)
    paper: str | None = None
    plan: str | None = None
    claim: str | None = None
    metric: str | None = None
    seed: int = 0
    phase: resources.RunPhase = "Pending"
    observed: float | None = None
    claimed: float | None = None
    gap_percent: float | None = None
    verdict: resources.Verdict | None = None
    reason: str | None = Field(default=None, description="Typed error code when the run failed.")
    message: str | None = None
    plan_hash: str | None = None
    env_hash: str | None = None
    artifacts: dict[str, str] = Field(default_factory=dict, description="Artifact name -> storage URI.")
    created_at: datetime | None = Field(default=None, description="Set by the database on first insert.")
    started_at: datetime | None = None
    completed_at: datetime | None = None
    updated_at: datetime | None = Field(default=None, description="Set by the database on every write.")


class MetricPoint(BaseModel):
    """One value of a metric series, taken from a ``metric_update`` event."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seq: int
    metric: str
    split: str
    step: int
    value: float
    ts: float


class ReportRecord(BaseModel):
    """A report on one claim: the runs it aggregates, the verdict, and the full report body."""

    model_config = ConfigDict(extra="forbid")

    report_id: str = Field(min_length=1, max_length=512)
    namespace: str = Field(min_length=1, max_length=253)
    paper: str | None = None
    plan: str | None = None
    claim: str | None = None
    metric: str | None = None
    observed: float | None = None
    claimed: float | None = None
    gap_percent: float | None = None
    verdict: resources.Verdict | None = None
    run_ids: list[str] = Field(default_factory=list)
    body: dict[str, Any] = Field(default_factory=dict, description="The report as JSON.")
    json_uri: str | None = None
    html_uri: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


def cluster_run_id(namespace: str, name: str, uid: str) -> str:
    """The history id of one instance of a Run resource: ``"<namespace>/<name>/<uid>"``.

    The name alone is not enough: a Run deleted and recreated under the same name (``kubectl
    delete`` then ``apply`` of one manifest) is another run, and must not inherit the old one's
    events (their seqs would collide and be dropped as duplicates) nor its metric series. The
    uid (``metadata.uid``, 36 chars) tells the instances apart; namespace and name keep the id
    readable in logs and let :meth:`p2n.db.Database.latest_run` find a deleted Run by name.
    """
    if not uid:
        raise errors.InvalidInput(f"run {namespace}/{name} has no uid")
    return f"{namespace}/{name}/{uid}"


def cluster_run_uid(run_id: str) -> str:
    """The Run's uid inside a :func:`cluster_run_id` (names and namespaces never contain ``/``)."""
    return run_id.rpartition("/")[2]


def new_local_run_id(now: datetime | None = None) -> str:
    """A fresh id for a run started by ``p2n reproduce``/``p2n sandbox``: sortable by time, then random.

    It is also a valid Kubernetes name, so it can be used in storage keys as the run name.
    """
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"run-{stamp}-{secrets.token_hex(4)}"
