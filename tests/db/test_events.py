"""Event ingestion: duplicates by (run, seq) are dropped, events come back in seq order, exactly."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator

import pytest

import p2n.db
from p2n import errors, events


def _new_run(db: p2n.db.Database) -> str:
    run_id = p2n.db.new_local_run_id()
    db.upsert_run(p2n.db.RunRecord(run_id=run_id, namespace="local", name=run_id, plan="plan-a"))
    return run_id


def _stream(count: int, start: int = 0) -> list[events.Event]:
    produced: list[events.Event] = []
    for seq in range(start, start + count):
        if seq % 3 == 0:
            produced.append(events.progress(seq=seq, percent=min(100.0, seq), msg=f"cell {seq}"))
        elif seq % 3 == 1:
            produced.append(events.log_line(seq=seq, text=f"line {seq}"))
        else:
            produced.append(events.metric_update(seq=seq, metric="accuracy", value=seq / 1000, step=seq))
    return produced


def test_a_batch_sent_twice_is_stored_once(db: p2n.db.Database) -> None:
    run_id = _new_run(db)
    batch = _stream(50)

    assert db.ingest_events(run_id, batch) == 50
    assert db.ingest_events(run_id, batch) == 0
    assert db.events_after(run_id) == batch


def test_duplicates_inside_one_batch_are_dropped(db: p2n.db.Database) -> None:
    run_id = _new_run(db)
    batch = _stream(10)

    assert db.ingest_events(run_id, [*batch, *batch[2:5], batch[0]]) == 10
    assert [event.seq for event in db.events_after(run_id)] == list(range(10))
    assert len(db.metric_series(run_id)) == 3  # seqs 2, 5, 8


def test_overlapping_batches_store_only_the_new_events(db: p2n.db.Database) -> None:
    run_id = _new_run(db)
    assert db.ingest_events(run_id, _stream(20)) == 20
    assert db.ingest_events(run_id, _stream(20, start=10)) == 10
    assert [event.seq for event in db.events_after(run_id)] == list(range(30))
    assert db.last_seq(run_id) == 29


def test_events_after_a_seq_are_ordered_and_limited(db: p2n.db.Database) -> None:
    run_id = _new_run(db)
    batch = _stream(30)
    # Out of order on the way in, in seq order on the way out.
    db.ingest_events(run_id, list(reversed(batch)))

    assert db.events_after(run_id, after_seq=24) == batch[25:]
    assert db.events_after(run_id, after_seq=9, limit=5) == batch[10:15]
    assert db.events_after(run_id, after_seq=29) == []
    assert db.events_after(run_id, after_seq=-1, limit=1) == batch[:1]


def test_resuming_from_each_last_event_id_has_no_gap_and_no_duplicate(db: p2n.db.Database) -> None:
    run_id = _new_run(db)
    db.ingest_events(run_id, _stream(23))

    received: list[int] = []
    last = -1
    while page := db.events_after(run_id, after_seq=last, limit=4):
        received.extend(event.seq for event in page)
        last = page[-1].seq
    assert received == list(range(23))


def test_events_round_trip_exactly(db: p2n.db.Database) -> None:
    run_id = _new_run(db)
    batch: list[events.Event] = [
        events.stage(0, "run_start", run_id),
        events.stage(1, "seed_check", run_id, seeds={"python": 7, "numpy": 7, "torch": None}),
        events.log_line(2, 'tab\there, newline\nthere, backslash \\ and \\n, quote " and unicode ✓ 😀'),
        events.log_line(
            3, "E_ARTIFACT_TOO_LARGE", stream="system", level="warning", code="E_ARTIFACT_TOO_LARGE"
        ),
        events.metric_update(4, "f1", 0.1 + 0.2, split="val", step=12, ts=1700000000.123456789),
        events.make("sample_pred", 5, {"text": "pred: cat"}, ts=1.5),
        events.make("token", 6, {"text": "\\."}),
        events.stage(7, "run_error", run_id, code="E_NOTEBOOK_ERROR", message="boom", exit_code=3),
    ]
    db.ingest_events(run_id, batch)
    assert db.events_after(run_id) == batch


def test_nul_characters_are_stored_as_replacement_characters(db: p2n.db.Database) -> None:
    run_id = _new_run(db)
    db.ingest_events(
        run_id, [events.log_line(0, "binary\x00output"), events.log_line(1, "escaped \\u0000 text")]
    )

    stored = db.events_after(run_id)
    assert isinstance(stored[0], events.LogLine)
    assert stored[0].data.text == "binary\ufffdoutput"
    assert isinstance(stored[1], events.LogLine)
    assert stored[1].data.text == "escaped \\u0000 text"


def test_metric_updates_populate_the_metric_series(db: p2n.db.Database) -> None:
    run_id = _new_run(db)
    db.ingest_events(
        run_id,
        [
            events.metric_update(0, "loss", 0.9, split="train", step=1, ts=10.0),
            events.log_line(1, "epoch 1"),
            events.metric_update(2, "loss", 0.5, split="train", step=2, ts=11.0),
            events.metric_update(3, "accuracy", 0.8, split="test", step=2, ts=12.0),
        ],
    )
    db.ingest_events(run_id, [events.metric_update(2, "loss", 123.0, split="train", step=2)])  # duplicate seq

    assert db.metric_series(run_id) == [
        p2n.db.MetricPoint(seq=3, metric="accuracy", split="test", step=2, value=0.8, ts=12.0),
        p2n.db.MetricPoint(seq=0, metric="loss", split="train", step=1, value=0.9, ts=10.0),
        p2n.db.MetricPoint(seq=2, metric="loss", split="train", step=2, value=0.5, ts=11.0),
    ]
    assert [point.value for point in db.metric_series(run_id, metric="loss")] == [0.9, 0.5]


def test_events_of_an_unknown_run_are_not_found(db: p2n.db.Database) -> None:
    with pytest.raises(errors.NotFound):
        db.ingest_events("ns/never-created", _stream(3))


def test_a_failed_batch_leaves_nothing_behind_for_the_next(db: p2n.db.Database) -> None:
    # Fill the pool's connections with failed batches, then ingest on each again.
    for _ in range(4):
        with pytest.raises(errors.NotFound):
            db.ingest_events("ns/never-created", _stream(5, start=100))
    run_id = _new_run(db)
    for start in range(0, 20, 5):
        assert db.ingest_events(run_id, _stream(5, start=start)) == 5
    assert [event.seq for event in db.events_after(run_id)] == list(range(20))


def test_non_finite_metric_values_are_invalid(db: p2n.db.Database) -> None:
    run_id = _new_run(db)
    with pytest.raises(errors.InvalidInput):
        db.ingest_events(run_id, [events.progress(0, 1.0), events.metric_update(1, "loss", math.nan)])
    assert db.events_after(run_id) == []


def test_an_empty_batch_stores_nothing(db: p2n.db.Database) -> None:
    run_id = _new_run(db)
    assert db.ingest_events(run_id, []) == 0
    assert db.ingest_events(run_id, iter(())) == 0
    assert db.last_seq(run_id) is None


def test_concurrent_producers_resending_the_same_events_store_each_once(db: p2n.db.Database) -> None:
    run_id = _new_run(db)
    batch = _stream(200)
    stored: list[int] = []
    failures: list[BaseException] = []

    def produce() -> None:
        try:
            for start in range(0, 200, 50):
                stored.append(db.ingest_events(run_id, batch[start : start + 50]))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=produce) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert sum(stored) == 200
    assert db.events_after(run_id, limit=1000) == batch


def test_deleting_a_run_deletes_its_events_and_metrics(db: p2n.db.Database) -> None:
    run_id = _new_run(db)
    db.ingest_events(run_id, _stream(6))

    assert db.delete_run(run_id) is True
    assert db.delete_run(run_id) is False
    assert db.events_after(run_id) == []
    assert db.metric_series(run_id) == []


def test_page_limits_are_validated(db: p2n.db.Database) -> None:
    with pytest.raises(errors.InvalidInput):
        db.events_after("x", limit=0)
    with pytest.raises(errors.InvalidInput):
        db.run_history("ns", limit=100_000)


def test_an_invalid_event_late_in_a_large_batch_stores_nothing(db: p2n.db.Database) -> None:
    run_id = _new_run(db)

    def produced() -> Iterator[events.Event]:
        yield from _stream(2500)
        yield events.metric_update(2500, "loss", math.inf)

    with pytest.raises(errors.InvalidInput):
        db.ingest_events(run_id, produced())
    assert db.events_after(run_id) == []
    # The connection is fine afterwards.
    assert db.ingest_events(run_id, _stream(3)) == 3


def test_a_generator_batch_of_several_copy_chunks(db: p2n.db.Database) -> None:
    run_id = _new_run(db)
    assert db.ingest_events(run_id, iter(_stream(3500))) == 3500
    assert db.last_seq(run_id) == 3499
    assert len(db.events_after(run_id, after_seq=3000)) == 499
