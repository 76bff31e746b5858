"""The SSE relay of a Run's events: replay from PostgreSQL, then live from the sandbox's pod log.

Every frame is ``id: <seq>`` / ``event: <name>`` / ``data: <json>`` (:func:`p2n.events.to_sse`), so
a client resuming with ``Last-Event-ID`` gets exactly the events after it, once each.

Design (why it is shaped like this):

- **One upstream per run.** A :class:`RunFeed` follows the Run (watch) and its pod's log
  (``follow``) once, whatever the number of clients, and keeps the encoded frames in a bounded,
  seq-ordered buffer. Clients are cursors into that buffer: per client the state is the last seq
  sent and a suspended generator, nothing else, so 200 clients cost one pod-log stream.
- **No gap, no duplicate.** The buffer is complete from the run's first event (the log is read
  from its start; a log rotated by the kubelet is backfilled from the database) until it is trimmed;
  a client behind the trimmed part, or resuming a finished run, reads PostgreSQL
  (``Database.events_after``) first. Everything is deduplicated by seq.
- **A clean end.** A client's stream ends after the terminal ``stage_update``. When a run ends
  without one reaching the log (pod killed, cancelled before it started), the feed waits for the
  Run's terminal phase (the operator has then stored every event), reads what the log missed from
  the database, and adds the terminal stage the Run's status implies, numbered after the last event.
- **Resources follow clients.** The feed stops when its last client leaves; heartbeats (comment
  lines) keep idle connections alive through proxies, and the ``retry:`` hint paces reconnects.
- **Observable.** Clients connected, feeds and events relayed are Prometheus metrics
  (:mod:`p2n_api.metrics`); each client's stream is one ``p2n.run.events`` span.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import dataclasses
import logging
import weakref
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio.to_thread
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from p2n import db, errors, events, resources, telemetry
from p2n_api import kube, metrics

RETRY_MILLISECONDS = 3000
HEARTBEAT_SECONDS = 15.0
BUFFER_FRAMES = 4096
REPLAY_PAGE = 500
_RECONNECT_SECONDS = 0.5
_RETRY = f"retry: {RETRY_MILLISECONDS}\n\n".encode()

_log = logging.getLogger(__name__)
# Every live Hub (an app has one; tests run several): the feeds gauge sums them when scraped.
_HUBS: weakref.WeakSet[Hub] = weakref.WeakSet()
metrics.SSE_FEEDS.set_function(lambda: sum(hub.feeds for hub in list(_HUBS)))

_STAGE_FOR_PHASE: dict[str, events.Stage] = {
    "Succeeded": "run_complete",
    "Failed": "run_error",
    "TimedOut": "run_error",
    "Cancelled": "run_cancelled",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Frame:
    """One event, encoded once for every client."""

    seq: int
    terminal: bool
    data: bytes


def frame_of(event: events.Event) -> Frame:
    terminal = isinstance(event, events.StageUpdate) and event.data.stage in events.TERMINAL_STAGES
    return Frame(event.seq, terminal, events.to_sse(event).encode())


def closing_stage(run: dict[str, Any], seq: int) -> events.StageUpdate:
    """The terminal stage a finished Run's status implies, for a stream that lacks one."""
    status = run.get("status") or {}
    phase = str(status.get("phase") or "Cancelled")
    name = str(run.get("metadata", {}).get("name", ""))
    stage = _STAGE_FOR_PHASE.get(phase, "run_error")
    code = status.get("reason") if stage != "run_complete" else None
    return events.stage(seq, stage, name, code=code, message=status.get("message"))


def run_id_of(run: Mapping[str, Any]) -> str:
    """The history id of this instance of the Run (a recreated Run of the same name has another)."""
    meta = run["metadata"]
    return db.cluster_run_id(str(meta["namespace"]), str(meta["name"]), str(meta.get("uid") or ""))


def deleted_run(namespace: str, name: str, uid: str, phase: str = "Cancelled") -> dict[str, Any]:
    """A stand-in for a Run that no longer exists, so its stream still ends with a terminal stage."""
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": uid},
        "status": {"phase": phase, "reason": "E_CANCELLED", "message": "the Run was deleted"},
    }


def is_finished(run: dict[str, Any]) -> bool:
    return (run.get("status") or {}).get("phase") in resources.TERMINAL_RUN_PHASES


class RunFeed:
    """The shared upstream of one Run: its events as frames, in seq order, for any number of clients."""

    def __init__(self, cluster: kube.Kube, history: db.Database, namespace: str, name: str, uid: str) -> None:
        self._cluster = cluster
        self._history = history
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.run_id = db.cluster_run_id(namespace, name, uid)
        self._frames: list[Frame] = []
        self._seqs: list[int] = []
        self.last_seq = -1
        # Frames at or below this seq were dropped from the buffer (clients behind it read the database).
        self.trimmed_through = -1
        self.done = False
        self.changed = asyncio.Event()
        self.clients = 0
        self._run: dict[str, Any] | None = None
        self._pod_known = asyncio.Event()
        self._finished = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._main(), name=f"sse-feed-{self.run_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # --- reading (clients) ---------------------------------------------------------------------

    def frames_after(self, seq: int) -> list[Frame]:
        return self._frames[bisect.bisect_right(self._seqs, seq) :]

    # --- writing (the upstream task) -----------------------------------------------------------

    def _publish(self, batch: list[events.Event]) -> None:
        fresh = [e for e in batch if e.seq > self.last_seq]
        if not fresh:
            return
        fresh.sort(key=lambda e: e.seq)
        for event in fresh:
            if event.seq <= self.last_seq:
                continue
            self._frames.append(frame_of(event))
            self._seqs.append(event.seq)
            self.last_seq = event.seq
        if len(self._frames) > 2 * BUFFER_FRAMES:
            cut = len(self._frames) - BUFFER_FRAMES
            self.trimmed_through = self._seqs[cut - 1]
            del self._frames[:cut], self._seqs[:cut]
        self._wake()

    def _wake(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    async def _stored(self, after: int, below: int | None = None) -> list[events.Event]:
        found: list[events.Event] = []
        while True:
            page = await anyio.to_thread.run_sync(self._history.events_after, self.run_id, after, REPLAY_PAGE)
            found += [e for e in page if below is None or e.seq < below]
            if len(page) < REPLAY_PAGE or (below is not None and page[-1].seq >= below):
                return found
            after = page[-1].seq

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        watcher = loop.create_task(self._watch_run())
        follower = loop.create_task(self._follow_log())
        try:
            await self._finished.wait()
            # The operator stored every event before it wrote the terminal phase: what the log has
            # not delivered yet is read from the database.
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            self._publish(await self._stored(self.last_seq))
            run = self._run or {}
            if not (self._frames and self._frames[-1].terminal) and is_finished(run):
                self._publish([closing_stage(run, self.last_seq + 1)])
        except errors.P2NError as exc:
            _log.warning("event feed of run %s stopped: %s", self.run_id, exc, extra={"run": self.run_id})
        except Exception as exc:
            # Clients must still get a clean end (they resume from the database on reconnect).
            _log.error(
                "event feed of run %s failed: %s: %s",
                self.run_id,
                type(exc).__name__,
                exc,
                extra={"run": self.run_id},
            )
        finally:
            for task in (follower, watcher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self.done = True
            self._wake()

    def _observe(self, run: dict[str, Any]) -> None:
        self._run = run
        if (run.get("status") or {}).get("pod"):
            self._pod_known.set()
        if is_finished(run):
            self._finished.set()
            self._pod_known.set()

    async def _watch_run(self) -> None:
        """Track the Run's phase and pod through a watch, re-established whenever it ends."""
        while not self._finished.is_set():
            try:
                run = await self._cluster.get("Run", self.namespace, self.name)
                if run.get("metadata", {}).get("uid") != self.uid:
                    raise errors.NotFound(f"run {self.run_id} was deleted and recreated")
                self._observe(run)
                version = run.get("metadata", {}).get("resourceVersion")
                async for changed in self._cluster.watch("Run", self.namespace, self.name, version):
                    self._observe(changed)
                    if self._finished.is_set():
                        return
            except errors.NotFound:
                # The Run is gone (a Run recreated under its name is another run): nothing more
                # will happen to it.
                self._observe(deleted_run(self.namespace, self.name, self.uid))
                return
            except errors.P2NError as exc:
                _log.info("watch of run %s interrupted: %s", self.run_id, exc)
            await asyncio.sleep(_RECONNECT_SECONDS)

    async def _follow_log(self) -> None:
        """Relay the pod's log until the container ends; reconnect (deduplicated by seq) if it breaks.

        Cancelled as soon as the Run is finished: the rest of its events then come from the database.
        """
        await self._pod_known.wait()
        pod = str((self._run or {}).get("status", {}).get("pod") or "")
        while pod:
            try:
                async for line in self._cluster.pod_log(self.namespace, pod, follow=True):
                    event = _parse(line)
                    if event is None:
                        continue
                    if self.last_seq < 0 < event.seq:
                        # The log does not start at the first event (rotated): the rest is stored.
                        self._publish(await self._stored(-1, below=event.seq))
                    self._publish([event])
                if await self._pod_ended(pod):
                    return
            except (errors.NotFound, errors.InvalidInput) as exc:
                # No pod (yet, or any more), or its container has not started: check again shortly.
                _log.debug("log of %s not available yet: %s", pod, exc)
            except errors.P2NError as exc:
                _log.info("log of %s interrupted: %s", pod, exc)
            await asyncio.sleep(_RECONNECT_SECONDS)

    async def _pod_ended(self, pod: str) -> bool:
        try:
            found = await self._cluster.get_pod(self.namespace, pod)
        except errors.NotFound:
            return True
        return (found.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _parse(line: bytes) -> events.Event | None:
    line = line.strip()
    if not line.startswith(b"{"):
        return None
    try:
        return events.parse_line(line)
    except ValueError:
        return None


class Hub:
    """The feeds of the runs being watched; a feed lives while it has clients."""

    def __init__(
        self, cluster: kube.Kube, history: db.Database, heartbeat: float = HEARTBEAT_SECONDS
    ) -> None:
        self._cluster = cluster
        self._history = history
        self.heartbeat = heartbeat
        self._feeds: dict[str, RunFeed] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        _HUBS.add(self)

    @property
    def feeds(self) -> int:
        return len(self._feeds)

    def subscribe(self, namespace: str, name: str, uid: str) -> RunFeed:
        key = db.cluster_run_id(namespace, name, uid)
        feed = self._feeds.get(key)
        if feed is None or feed.done:
            feed = RunFeed(self._cluster, self._history, namespace, name, uid)
            self._feeds[key] = feed
            feed.start()
        feed.clients += 1
        return feed

    def unsubscribe(self, feed: RunFeed) -> None:
        feed.clients -= 1
        if feed.clients <= 0 and self._feeds.get(feed.run_id) is feed:
            del self._feeds[feed.run_id]
            if not feed.done:
                task = asyncio.get_running_loop().create_task(feed.stop())
                self._stopping.add(task)
                task.add_done_callback(self._stopping.discard)

    async def close(self) -> None:
        feeds, self._feeds = list(self._feeds.values()), {}
        for feed in feeds:
            await feed.stop()
        for task in list(self._stopping):
            await task

    async def terminal_seq(self, run: dict[str, Any]) -> int | None:
        """The seq of the run's terminal event once it is known: the stored one, or, for a finished run
        whose stream lacks one, the one the relay adds after the last stored event."""
        run_id = run_id_of(run)
        last = await anyio.to_thread.run_sync(self._history.last_seq, run_id)
        if last is None:
            return 0 if is_finished(run) else None
        (event,) = await anyio.to_thread.run_sync(self._history.events_after, run_id, last - 1, 1)
        if frame_of(event).terminal:
            return last
        return last + 1 if is_finished(run) else None

    async def replay(self, run_id: str, after: int) -> AsyncIterator[list[events.Event]]:
        """Stored events after ``after``, page by page."""
        while True:
            page = await anyio.to_thread.run_sync(self._history.events_after, run_id, after, REPLAY_PAGE)
            if page:
                yield page
                after = page[-1].seq
            if len(page) < REPLAY_PAGE:
                return

    def stream(self, run: dict[str, Any], after: int) -> AsyncIterator[bytes]:
        """One client's frames: ``retry`` hint, stored events, then live ones, until the terminal stage."""
        if is_finished(run):
            return self._replay_finished(run, after)
        # Per idle client only the names and the cursor are kept, not the Run object.
        meta = run["metadata"]
        return self._live(str(meta["namespace"]), str(meta["name"]), str(meta["uid"]), after)

    async def _replay_finished(self, run: dict[str, Any], after: int) -> AsyncIterator[bytes]:
        """A finished run, from the database alone (even after its pod is gone)."""
        run_id = run_id_of(run)
        yield _RETRY
        async for page in self.replay(run_id, after):
            chunk, after, ended = _chunk([frame_of(e) for e in page])
            yield chunk
            if ended:
                return
        metrics.EVENTS_RELAYED.inc()
        yield frame_of(closing_stage(run, after + 1)).data

    async def _live(self, namespace: str, name: str, uid: str, after: int) -> AsyncIterator[bytes]:
        yield _RETRY
        feed = self.subscribe(namespace, name, uid)
        try:
            async for chunk in self._follow(feed, after):
                yield chunk
        finally:
            self.unsubscribe(feed)

    async def _follow(self, feed: RunFeed, cursor: int) -> AsyncIterator[bytes]:
        while True:
            if cursor < feed.trimmed_through:
                async for page in self.replay(feed.run_id, cursor):
                    page = [e for e in page if e.seq <= feed.trimmed_through]
                    if not page:
                        break
                    chunk, cursor, ended = _chunk([frame_of(e) for e in page])
                    yield chunk
                    if ended:
                        return
                cursor = max(cursor, feed.trimmed_through)
                continue
            frames = feed.frames_after(cursor)
            if frames:
                chunk, cursor, ended = _chunk(frames)
                yield chunk
                if ended:
                    return
                continue
            if feed.done:
                return
            changed = feed.changed
            try:
                async with asyncio.timeout(self.heartbeat):
                    await changed.wait()
            except TimeoutError:
                yield b": heartbeat\n\n"


def _chunk(frames: list[Frame]) -> tuple[bytes, int, bool]:
    """The frames up to and including the first terminal one, the last seq sent, and whether it ended."""
    for index, frame in enumerate(frames):
        if frame.terminal:
            frames = frames[: index + 1]
            metrics.EVENTS_RELAYED.inc(len(frames))
            return b"".join(f.data for f in frames), frame.seq, True
    metrics.EVENTS_RELAYED.inc(len(frames))
    return b"".join(f.data for f in frames), frames[-1].seq, False


class EventStream(StreamingResponse):
    """A ``text/event-stream`` response that closes its generator as soon as the client goes away.

    Closing it runs the generator's ``finally`` (leaving the feed) at once, instead of whenever the
    garbage collector finalizes a suspended generator. While it streams, the client is counted in
    :data:`p2n_api.metrics.SSE_CLIENTS` and the stream is a ``p2n.run.events`` span with
    ``attributes`` (the run).
    """

    def __init__(self, content: AsyncIterator[bytes], attributes: Mapping[str, str] | None = None) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"},
        )
        self._content = content
        self._attributes = dict(attributes or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics.SSE_CLIENTS.inc()
        try:
            with telemetry.span("p2n.run.events", self._attributes):
                await super().__call__(scope, receive, send)
        finally:
            metrics.SSE_CLIENTS.dec()
            aclose = getattr(self._content, "aclose", None)
            if aclose is not None:
                await aclose()


def last_event_id(header: str | None, query: int | None) -> int:
    """The resume point: the ``Last-Event-ID`` header, else a ``last_event_id`` query value, else -1."""
    if header is not None and header.strip():
        try:
            value = int(header.strip())
        except ValueError as exc:
            raise errors.InvalidInput(
                "Last-Event-ID must be an event id (an integer)", details={"field": "Last-Event-ID"}
            ) from exc
        if value < -1:
            raise errors.InvalidInput("Last-Event-ID must be >= -1", details={"field": "Last-Event-ID"})
        return value
    return -1 if query is None else query
