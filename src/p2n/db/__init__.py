"""Run history in PostgreSQL: runs, their events, metric series and reports.

    from p2n import db

    with db.Database.connect(settings) as history:   # migrated; embedded server if no URL
        run_id = db.cluster_run_id("ns", "run-a", uid)
        history.upsert_run(db.RunRecord(run_id=run_id, namespace="ns", name="run-a"))
        history.ingest_events(run_id, batch)
        history.events_after(run_id, after_seq=41)

psycopg lives in :mod:`p2n.db.postgres` only; the records are plain pydantic models.
"""

from __future__ import annotations

from p2n.db import records, schema
from p2n.db.postgres import Database, create_database, drop_database
from p2n.db.records import (
    MetricPoint,
    ReportRecord,
    RunRecord,
    cluster_run_id,
    cluster_run_uid,
    new_local_run_id,
)

__all__ = [
    "Database",
    "MetricPoint",
    "ReportRecord",
    "RunRecord",
    "cluster_run_id",
    "cluster_run_uid",
    "create_database",
    "drop_database",
    "new_local_run_id",
    "records",
    "schema",
]
