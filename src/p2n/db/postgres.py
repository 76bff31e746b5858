"""Run history in PostgreSQL: the only module that imports psycopg (and psycopg_pool).

The operator and the API write runs and their events here and read them back for history pages
and for SSE clients resuming with ``Last-Event-ID``. Event ingestion is the hot path: in one
transaction, a batch is streamed with one ``COPY`` into a per-connection temporary staging table
and merged with one statement that drops duplicates by ``(run_id, seq)`` (across batches and
inside the batch) and copies ``metric_update`` values into the metric series. The number of
statements per batch is fixed; nothing is done per event.

Every psycopg error is translated here: a missing referenced run becomes ``errors.NotFound``,
anything else ``errors.DatabaseError`` with a redacted message. Nothing above sees psycopg.

    db = Database.connect(settings)          # migrates; embedded PostgreSQL if no URL is set
    db.upsert_run(records.RunRecord(run_id="ns/run-a", namespace="ns", name="run-a"))
    db.ingest_events("ns/run-a", [events.progress(seq=0, percent=10)])
    db.events_after("ns/run-a", after_seq=-1)
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Self

import psycopg
import psycopg.conninfo
import psycopg.errors
import psycopg.rows
import psycopg.sql
import psycopg.types.json
import psycopg_pool

from p2n import errors, events, redact, settings
from p2n.db import records, schema

_log = logging.getLogger(__name__)

EMBEDDED_DATABASE = "p2n"
MAX_PAGE = 10_000
_COPY_CHUNK_ROWS = 1000

# The staging table lives in each connection's temporary schema and empties itself at the end of
# every transaction (committed or rolled back), so a failed batch leaves nothing for the next one
# and no dead rows pile up in a table that autovacuum never visits.
_CREATE_STAGING = """
CREATE TEMPORARY TABLE IF NOT EXISTS p2n_staged_events (
    seq   bigint NOT NULL,
    event text NOT NULL,
    ts    double precision NOT NULL,
    data  jsonb NOT NULL
) ON COMMIT DELETE ROWS
"""
_COPY_STAGING = "COPY p2n_staged_events (seq, event, ts, data) FROM STDIN"
_MERGE_STAGED = """
WITH unique_staged AS (
    SELECT DISTINCT ON (seq) seq, event, ts, data FROM p2n_staged_events ORDER BY seq
), inserted AS (
    INSERT INTO run_events (run_id, seq, event, ts, data)
    SELECT %(run_id)s, seq, event, ts, data FROM unique_staged
    ON CONFLICT (run_id, seq) DO NOTHING
    RETURNING seq, event, data
), metrics AS (
    INSERT INTO metric_series (run_id, seq, metric, split, step, value, ts)
    SELECT %(run_id)s, seq, data->>'metric', data->>'split', (data->>'step')::bigint,
           (data->>'value')::double precision, (data->>'ts')::double precision
    FROM inserted WHERE event = 'metric_update'
)
SELECT count(*) FROM inserted
"""

_UPSERT_RUN = """
INSERT INTO runs (
    run_id, namespace, name, paper, plan, claim, metric, seed, phase, observed, claimed,
    gap_percent, verdict, reason, message, plan_hash, env_hash, artifacts, created_at,
    started_at, completed_at
) VALUES (
    %(run_id)s, %(namespace)s, %(name)s, %(paper)s, %(plan)s, %(claim)s, %(metric)s, %(seed)s,
    %(phase)s, %(observed)s, %(claimed)s, %(gap_percent)s, %(verdict)s, %(reason)s, %(message)s,
    %(plan_hash)s, %(env_hash)s, %(artifacts)s, COALESCE(%(created_at)s::timestamptz, now()),
    %(started_at)s, %(completed_at)s
)
ON CONFLICT (run_id) DO UPDATE SET
    namespace = EXCLUDED.namespace, name = EXCLUDED.name, paper = EXCLUDED.paper,
    plan = EXCLUDED.plan, claim = EXCLUDED.claim, metric = EXCLUDED.metric, seed = EXCLUDED.seed,
    phase = EXCLUDED.phase, observed = EXCLUDED.observed, claimed = EXCLUDED.claimed,
    gap_percent = EXCLUDED.gap_percent, verdict = EXCLUDED.verdict, reason = EXCLUDED.reason,
    message = EXCLUDED.message, plan_hash = EXCLUDED.plan_hash, env_hash = EXCLUDED.env_hash,
    artifacts = EXCLUDED.artifacts, started_at = EXCLUDED.started_at,
    completed_at = EXCLUDED.completed_at, updated_at = now()
RETURNING *
"""

_UPSERT_REPORT = """
INSERT INTO reports (
    report_id, namespace, paper, plan, claim, metric, observed, claimed, gap_percent, verdict,
    body, json_uri, html_uri, created_at
) VALUES (
    %(report_id)s, %(namespace)s, %(paper)s, %(plan)s, %(claim)s, %(metric)s, %(observed)s,
    %(claimed)s, %(gap_percent)s, %(verdict)s, %(body)s, %(json_uri)s, %(html_uri)s,
    COALESCE(%(created_at)s::timestamptz, now())
)
ON CONFLICT (report_id) DO UPDATE SET
    namespace = EXCLUDED.namespace, paper = EXCLUDED.paper, plan = EXCLUDED.plan,
    claim = EXCLUDED.claim, metric = EXCLUDED.metric, observed = EXCLUDED.observed,
    claimed = EXCLUDED.claimed, gap_percent = EXCLUDED.gap_percent, verdict = EXCLUDED.verdict,
    body = EXCLUDED.body, json_uri = EXCLUDED.json_uri, html_uri = EXCLUDED.html_uri,
    updated_at = now()
"""

_SELECT_REPORTS = """
SELECT r.*, COALESCE(
    (SELECT array_agg(rr.run_id ORDER BY rr.run_id) FROM report_runs rr WHERE rr.report_id = r.report_id),
    ARRAY[]::text[]
) AS run_ids
FROM reports r
"""


@contextlib.contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except psycopg.errors.ForeignKeyViolation as exc:
        raise errors.NotFound(
            redact.redact(f"{action}: a referenced run is not in the history ({exc.diag.message_detail})")
        ) from exc
    except psycopg.Error as exc:
        raise errors.DatabaseError(
            redact.redact(f"database {action} failed: {type(exc).__name__}: {exc}".strip())
        ) from exc


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.execute(_CREATE_STAGING)


def _without_nul(value: Any) -> Any:
    """PostgreSQL text and jsonb cannot hold NUL characters; they become U+FFFD."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    return value


def _copy_chunks(stream: Iterable[events.Event]) -> Iterator[str]:
    """COPY text-format rows (tab-separated, backslashes escaped), a bounded number per chunk."""
    lines: list[str] = []
    for event in stream:
        if isinstance(event, events.MetricUpdate) and not math.isfinite(event.data.value):
            raise errors.InvalidInput(
                f"metric_update seq {event.seq}: value {event.data.value} cannot be stored (not finite)"
            )
        data = event.data.model_dump_json()
        if "\\u0000" in data:
            data = json.dumps(_without_nul(event.data.model_dump(mode="json")), separators=(",", ":"))
        # Compact JSON holds no raw tab, newline or carriage return, so doubling backslashes is
        # the only escaping COPY's text format needs here.
        escaped = data.replace("\\", "\\\\")
        lines.append(f"{event.seq}\t{event.event}\t{event.ts!r}\t{escaped}\n")
        if len(lines) == _COPY_CHUNK_ROWS:
            yield "".join(lines)
            lines.clear()
    if lines:
        yield "".join(lines)


def _check_page(limit: int, offset: int = 0) -> None:
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise errors.InvalidInput(f"limit must be 1..{MAX_PAGE} and offset >= 0")


def _history_filter(
    namespace: str, paper: str | None, plan: str | None
) -> tuple[psycopg.sql.Composable, list[Any]]:
    """The WHERE clause of a history query, with only the filters given (so indexes apply)."""
    conditions: list[psycopg.sql.Composable] = [psycopg.sql.SQL("namespace = %s")]
    params: list[Any] = [namespace]
    for column, value in (("paper", paper), ("plan", plan)):
        if value is not None:
            conditions.append(psycopg.sql.SQL("{} = %s").format(psycopg.sql.Identifier(column)))
            params.append(value)
    return psycopg.sql.SQL(" AND ").join(conditions), params


def create_database(admin_url: str, name: str, *, exist_ok: bool = False) -> str:
    """Create database ``name`` on the server of ``admin_url``; return a connection string for it."""
    with _translated("create database"), psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None or not exist_ok:
            try:
                conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
            except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                # Another process created it between our check and our CREATE.
                if not exist_ok:
                    raise
    return psycopg.conninfo.make_conninfo(admin_url, dbname=name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name`` (disconnecting its sessions); a missing database is not an error."""
    with _translated("drop database"), psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            psycopg.sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(psycopg.sql.Identifier(name))
        )


class Database:
    """A pool of connections to the run history. Thread-safe; close it (or use ``with``) when done."""

    def __init__(
        self,
        url: str,
        *,
        pool_min: int = 1,
        pool_max: int = 10,
        timeout: float = 30.0,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        redact.guard_loggers("psycopg")
        self._on_close = on_close
        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection[Any]] = psycopg_pool.ConnectionPool(
            url,
            min_size=pool_min,
            max_size=max(pool_max, pool_min, 1),
            open=False,
            kwargs={"autocommit": True},
            configure=_configure,
            timeout=timeout,
            name="p2n",
        )
        try:
            with _translated("connection"):
                self._pool.open(wait=True, timeout=timeout)
        except BaseException:
            self._pool.close()
            raise

    @classmethod
    def connect(cls, config: settings.Settings, *, migrate: bool = True) -> Self:
        """The history configured by ``config``, migrated; an embedded server when no URL is set."""
        if config.database_url is not None:
            database = cls(
                config.database_url.get_secret_value(),
                pool_min=config.db_pool_min,
                pool_max=config.db_pool_max,
            )
        else:
            database = cls._embedded(config.home / "postgres", config)
        if migrate:
            try:
                database.migrate()
            except BaseException:
                database.close()
                raise
        return database

    @classmethod
    def _embedded(cls, data_dir: Path, config: settings.Settings) -> Self:
        from p2n.db import embedded

        admin_url = embedded.acquire(data_dir)
        try:
            url = create_database(admin_url, EMBEDDED_DATABASE, exist_ok=True)
            return cls(
                url,
                pool_min=config.db_pool_min,
                pool_max=config.db_pool_max,
                on_close=lambda: embedded.release(data_dir),
            )
        except BaseException:
            embedded.release(data_dir)
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pool; an embedded server is released (and stopped by its last holder)."""
        self._pool.close()
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()

    @contextlib.contextmanager
    def _connection(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        with _translated(action), self._pool.connection() as conn:
            yield conn

    def ping(self) -> None:
        """Raise DatabaseError unless the database answers (for readiness probes)."""
        with self._connection("ping") as conn:
            conn.execute("SELECT 1")

    def migrate(self) -> list[int]:
        """Apply the shipped migrations not yet applied; return their versions (empty when current).

        Safe to run from several processes at once: a transaction-scoped advisory lock serializes
        them, and the later ones find nothing left to do.
        """
        applied_now: list[int] = []
        with self._connection("migration") as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (schema.ADVISORY_LOCK_KEY,))
            conn.execute(schema.CREATE_MIGRATIONS_TABLE)
            rows = conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
            applied = {int(version): str(checksum) for version, checksum in rows}
            for migration in schema.migrations():
                if migration.version in applied:
                    if applied[migration.version] != migration.checksum:
                        raise errors.DatabaseError(
                            f"migration {migration.version}_{migration.name} was changed after it was applied"
                        )
                    continue
                # Migration files hold several statements; without parameters psycopg sends them
                # as one simple query.
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
                applied_now.append(migration.version)
        if applied_now:
            _log.info("applied database migrations %s", applied_now)
        return applied_now

    def applied_migrations(self) -> list[int]:
        with self._connection("migration lookup") as conn:
            rows = conn.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
        return [int(row[0]) for row in rows]

    # --- runs ------------------------------------------------------------------------------------

    def upsert_run(self, run: records.RunRecord) -> records.RunRecord:
        """Insert or replace a run (``created_at`` is kept from the first insert); return it as stored."""
        params = _without_nul(run.model_dump())
        params["artifacts"] = psycopg.types.json.Jsonb(params["artifacts"])
        with (
            self._connection("run upsert") as conn,
            conn.cursor(row_factory=psycopg.rows.dict_row) as cur,
        ):
            row = cur.execute(_UPSERT_RUN, params).fetchone()
        return records.RunRecord.model_validate(row)

    def get_run(self, run_id: str) -> records.RunRecord:
        with (
            self._connection("run lookup") as conn,
            conn.cursor(row_factory=psycopg.rows.dict_row) as cur,
        ):
            row = cur.execute("SELECT * FROM runs WHERE run_id = %s", (run_id,)).fetchone()
        if row is None:
            raise errors.NotFound(f"run {run_id!r} is not in the history")
        return records.RunRecord.model_validate(row)

    def latest_run(self, namespace: str, name: str) -> records.RunRecord:
        """The newest history row of the Run ``namespace/name`` (raises NotFound when there is none).

        A Run deleted and recreated under the same name has one row per instance; once the
        object is gone, its name still finds the history of the last instance.
        """
        with (
            self._connection("run lookup") as conn,
            conn.cursor(row_factory=psycopg.rows.dict_row) as cur,
        ):
            row = cur.execute(
                "SELECT * FROM runs WHERE namespace = %s AND name = %s "
                "ORDER BY created_at DESC, run_id DESC LIMIT 1",
                (namespace, name),
            ).fetchone()
        if row is None:
            raise errors.NotFound(f"run {namespace}/{name} is not in the history")
        return records.RunRecord.model_validate(row)

    def delete_run(self, run_id: str) -> bool:
        """Delete a run with its events and metric series; False when it was not there."""
        with self._connection("run deletion") as conn:
            cur = conn.execute("DELETE FROM runs WHERE run_id = %s", (run_id,))
            return cur.rowcount > 0

    def run_history(
        self,
        namespace: str,
        *,
        paper: str | None = None,
        plan: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[records.RunRecord]:
        """Runs of a namespace, optionally of one paper and/or plan, newest first."""
        _check_page(limit, offset)
        where, params = _history_filter(namespace, paper, plan)
        query = psycopg.sql.SQL(
            "SELECT * FROM runs WHERE {} ORDER BY created_at DESC, run_id DESC LIMIT %s OFFSET %s"
        ).format(where)
        with (
            self._connection("run history") as conn,
            conn.cursor(row_factory=psycopg.rows.dict_row) as cur,
        ):
            rows = cur.execute(query, [*params, limit, offset]).fetchall()
        return [records.RunRecord.model_validate(row) for row in rows]

    # --- events ----------------------------------------------------------------------------------

    def ingest_events(self, run_id: str, batch: Iterable[events.Event]) -> int:
        """Store a batch of a run's events; return how many were new.

        Events whose ``(run_id, seq)`` is already stored, or repeated inside the batch, are
        dropped, so a producer may resend freely after a failure. ``metric_update`` events also
        land in the metric series. Raises NotFound when the run is not in the history.
        """
        chunks = _copy_chunks(batch)
        first = next(chunks, None)
        if first is None:
            return 0
        with self._connection("event ingestion") as conn, conn.transaction(), conn.cursor() as cur:
            with cur.copy(_COPY_STAGING) as copy:
                copy.write(first)
                for chunk in chunks:
                    copy.write(chunk)
            result = cur.execute(_MERGE_STAGED, {"run_id": run_id}).fetchone()
        return int(result[0]) if result else 0

    def events_after(self, run_id: str, after_seq: int = -1, limit: int = 1000) -> list[events.Event]:
        """The run's events with ``seq > after_seq``, in seq order (an SSE resume from Last-Event-ID)."""
        _check_page(limit)
        with self._connection("event query") as conn:
            rows = conn.execute(
                "SELECT seq, event, ts, data FROM run_events WHERE run_id = %s AND seq > %s "
                "ORDER BY seq LIMIT %s",
                (run_id, after_seq, limit),
            ).fetchall()
        return [
            events.EVENT_ADAPTER.validate_python({"seq": seq, "event": name, "ts": ts, "data": data})
            for seq, name, ts, data in rows
        ]

    def last_seq(self, run_id: str) -> int | None:
        """The highest stored seq of a run, or None when it has no events."""
        with self._connection("event query") as conn:
            row = conn.execute("SELECT max(seq) FROM run_events WHERE run_id = %s", (run_id,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def metric_series(self, run_id: str, metric: str | None = None) -> list[records.MetricPoint]:
        """The run's metric values, by metric, split, step and seq; optionally of one metric."""
        query = (
            "SELECT seq, metric, split, step, value, ts FROM metric_series WHERE run_id = %(run_id)s "
            "AND (%(metric)s::text IS NULL OR metric = %(metric)s) ORDER BY metric, split, step, seq"
        )
        with (
            self._connection("metric query") as conn,
            conn.cursor(row_factory=psycopg.rows.dict_row) as cur,
        ):
            rows = cur.execute(query, {"run_id": run_id, "metric": metric}).fetchall()
        return [records.MetricPoint.model_validate(row) for row in rows]

    # --- reports ---------------------------------------------------------------------------------

    def save_report(self, report: records.ReportRecord) -> records.ReportRecord:
        """Insert or replace a report and the runs it aggregates (NotFound if a run is unknown)."""
        params = _without_nul(report.model_dump(exclude={"run_ids", "updated_at"}))
        params["body"] = psycopg.types.json.Jsonb(params["body"])
        with self._connection("report save") as conn, conn.transaction():
            conn.execute(_UPSERT_REPORT, params)
            conn.execute("DELETE FROM report_runs WHERE report_id = %s", (report.report_id,))
            conn.execute(
                "INSERT INTO report_runs (report_id, run_id) SELECT %s, unnest(%s::text[]) "
                "ON CONFLICT DO NOTHING",
                (report.report_id, report.run_ids),
            )
        return self.get_report(report.report_id)

    def get_report(self, report_id: str) -> records.ReportRecord:
        with (
            self._connection("report lookup") as conn,
            conn.cursor(row_factory=psycopg.rows.dict_row) as cur,
        ):
            row = cur.execute(_SELECT_REPORTS + " WHERE r.report_id = %s", (report_id,)).fetchone()
        if row is None:
            raise errors.NotFound(f"report {report_id!r} does not exist")
        return records.ReportRecord.model_validate(row)

    def reports(
        self, namespace: str, *, paper: str | None = None, plan: str | None = None, limit: int = 50
    ) -> list[records.ReportRecord]:
        """Reports of a namespace, optionally of one paper and/or plan, newest first."""
        _check_page(limit)
        where, params = _history_filter(namespace, paper, plan)
        query = psycopg.sql.SQL(
            _SELECT_REPORTS + " WHERE {} ORDER BY created_at DESC, report_id DESC LIMIT %s"
        ).format(where)
        with (
            self._connection("report history") as conn,
            conn.cursor(row_factory=psycopg.rows.dict_row) as cur,
        ):
            rows = cur.execute(query, [*params, limit]).fetchall()
        return [records.ReportRecord.model_validate(row) for row in rows]
