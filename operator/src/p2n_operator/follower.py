"""Follow a sandbox pod's log: runner events into PostgreSQL in batches, progress into status.

The follower waits for the pod to start without calling the API: the operator's in-memory view,
fed by the pod watch, wakes it. The runner prints one JSON event per line; a reader thread turns
the followed log into events and the daemon coroutine ingests them every quarter second
(duplicates by seq are dropped by the database, so following the log again after an operator
restart is harmless). Progress reaches the Run's status at most once per
``P2N_STATUS_INTERVAL_SECONDS``. Nothing here decides the outcome: events.jsonl from storage is
ingested again when the Run ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time

import kopf

from p2n import db, errors, events, resources
from p2n_operator import effects, kube, metrics, podspec, runtime, steps

EVENT_BATCH_SECONDS = 0.25
# How often a follower waiting for its pod to start checks whether it was stopped.
POD_WAIT_SECONDS = 1.0
_log = logging.getLogger(__name__)


async def follow(
    rt: runtime.Runtime, namespace: str, name: str, uid: str, stopped: kopf.DaemonStopped
) -> None:
    """Follow the sandbox's log while the Run is unfinished, ingesting events in batches.

    ``uid`` is the Run's ``metadata.uid``: the events go to this instance's history row, never to
    that of an earlier Run of the same name.
    """
    pod_name = podspec.pod_name_for(name)
    try:
        while not stopped:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(POD_WAIT_SECONDS):
                    await rt.view.wait_started(namespace, pod_name)
                    break
    finally:
        rt.view.release(namespace, pod_name)
    if stopped:
        return
    recording = rt.recording.get(f"{namespace}/{name}")
    if recording is not None:
        # The Run's history row, written while its pod was created, must exist before its events.
        with contextlib.suppress(Exception):
            await asyncio.shield(recording)
    try:
        stream = await effects.blocking(rt.kube.pod_log, namespace, pod_name, podspec.CONTAINER_NAME)
    except errors.NotFound:
        return
    lines: queue.SimpleQueue[events.Event | None] = queue.SimpleQueue()
    reader = threading.Thread(
        target=_read_events, args=(stream, lines), name=f"log-{namespace}-{name}", daemon=True
    )
    reader.start()
    try:
        done = False
        while not done:
            batch: list[events.Event] = []
            with contextlib.suppress(queue.Empty):
                while True:
                    item = lines.get_nowait()
                    if item is None:
                        done = True
                        break
                    batch.append(item)
            if batch:
                await _ingest(rt, namespace, name, uid, batch)
            if not done:
                await asyncio.sleep(EVENT_BATCH_SECONDS)
    finally:
        stream.close()


def _read_events(stream: kube.LogStream, sink: queue.SimpleQueue[events.Event | None]) -> None:
    try:
        for line in stream:
            event = steps.parse_event(line)
            if event is not None:
                sink.put(event)
    except errors.P2NError as exc:
        _log.warning("log stream ended: %s", exc)
    finally:
        sink.put(None)


async def _ingest(
    rt: runtime.Runtime, namespace: str, name: str, uid: str, batch: list[events.Event]
) -> None:
    key = f"{namespace}/{name}"
    for event in batch:
        if isinstance(event, events.StageUpdate):
            rt.last_stage[key] = event.data
    try:
        metrics.ingested(
            await effects.blocking(rt.history.ingest_events, db.cluster_run_id(namespace, name, uid), batch)
        )
    except errors.P2NError as exc:
        # The run's events.jsonl is ingested when it ends, so nothing is lost for good.
        _log.warning("event ingestion for %s deferred: %s", key, exc)
    progress = [e for e in batch if isinstance(e, events.Progress)]
    if progress and rt.throttle.due(key, time.monotonic()):
        await _patch_progress(rt, namespace, name, progress[-1].data.percent)


async def _patch_progress(rt: runtime.Runtime, namespace: str, name: str, percent: float) -> None:
    async with rt.run_lock(namespace, name):
        obj = await effects.blocking(rt.kube.find_object, "Run", namespace, name)
        if obj is None:
            return
        phase = (obj.get("status") or {}).get("phase")
        if phase in resources.TERMINAL_RUN_PHASES or (obj.get("status") or {}).get("progress") == percent:
            return
        await effects.blocking(rt.kube.patch_status, "Run", namespace, name, {"progress": percent})
