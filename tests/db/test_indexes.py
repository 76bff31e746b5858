"""The schema has the indexes the API's queries need: no sort and no full scan on the hot paths."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

import p2n.db

QUERIES = {
    "history per namespace": (
        "SELECT * FROM runs WHERE namespace = 'ns' ORDER BY created_at DESC, run_id DESC LIMIT 50"
    ),
    "history per paper": (
        "SELECT * FROM runs WHERE namespace = 'ns' AND paper = 'p' "
        "ORDER BY created_at DESC, run_id DESC LIMIT 50"
    ),
    "history per plan": (
        "SELECT * FROM runs WHERE namespace = 'ns' AND plan = 'p' "
        "ORDER BY created_at DESC, run_id DESC LIMIT 50"
    ),
    "run by name": (
        "SELECT * FROM runs WHERE namespace = 'ns' AND name = 'r' "
        "ORDER BY created_at DESC, run_id DESC LIMIT 1"
    ),
    "events after seq": (
        "SELECT seq, event, ts, data FROM run_events WHERE run_id = 'ns/r' AND seq > 41 "
        "ORDER BY seq LIMIT 1000"
    ),
    "metric series": (
        "SELECT * FROM metric_series WHERE run_id = 'ns/r' AND metric = 'loss' "
        "ORDER BY metric, split, step, seq"
    ),
    "reports per plan": (
        "SELECT * FROM reports WHERE namespace = 'ns' AND plan = 'p' "
        "ORDER BY created_at DESC, report_id DESC LIMIT 50"
    ),
}


EXPECTED_INDEX = {
    "history per namespace": "runs_namespace_history",
    "history per paper": "runs_paper_history",
    "history per plan": "runs_plan_history",
    "run by name": "runs_by_name",
    "events after seq": "run_events_pkey",
    "metric series": "metric_series_by_metric",
    "reports per plan": "reports_plan_history",
}


@pytest.fixture(scope="module")
def conn(db: p2n.db.Database, postgres_database: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(postgres_database, autocommit=True) as connection:
        # With sequential scans priced out, the planner shows whether an index can serve the query.
        connection.execute("SET enable_seqscan = off")
        yield connection


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_query_is_served_by_an_index_in_order(
    conn: psycopg.Connection[tuple[object, ...]], name: str
) -> None:
    plan = "\n".join(str(row[0]) for row in conn.execute(f"EXPLAIN {QUERIES[name]}").fetchall())  # type: ignore[arg-type]
    assert EXPECTED_INDEX[name] in plan, plan
    assert "Seq Scan" not in plan, plan
    assert "Sort" not in plan, plan
