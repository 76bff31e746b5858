"""The operator's process-wide collaborators, built once at startup and handed to every handler.

kopf passes a ``memo`` to each handler; ``memo.runtime`` is the :class:`Runtime` made by the
startup handler from the settings the entrypoint put in ``memo.settings``. Keeping them here (not
in module globals) lets a test start, kill and restart the operator in one process.
"""

from __future__ import annotations

import asyncio
import dataclasses

from p2n import db, events, settings, storage
from p2n_operator import kube, ledger, reconcile


@dataclasses.dataclass
class Runtime:
    config: settings.Settings
    kube: kube.Kube
    store: storage.Storage
    history: db.Database
    throttle: reconcile.ProgressThrottle
    # The last stage_update the runner printed, per Run (``<namespace>/<name>``), read from its log.
    last_stage: dict[str, events.StageData] = dataclasses.field(default_factory=dict)
    # Queued Runs and sandbox pods per namespace, fed by kopf's watches and the operator's writes.
    view: ledger.Ledger = dataclasses.field(default_factory=ledger.Ledger)
    # History writes of Runs whose pod is being created, per Run: the follower awaits them before
    # it ingests (an event row needs its run row), so the pod need not wait for the write.
    recording: dict[str, asyncio.Future[db.RunRecord]] = dataclasses.field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = dataclasses.field(default_factory=dict)
    _policy_locks: dict[str, asyncio.Lock] = dataclasses.field(default_factory=dict)
    _run_locks: dict[str, asyncio.Lock] = dataclasses.field(default_factory=dict)

    @classmethod
    def start(cls, cfg: settings.Settings) -> Runtime:
        return cls(
            config=cfg,
            kube=kube.Kube(),
            store=storage.from_settings(cfg),
            history=db.Database.connect(cfg),
            throttle=reconcile.ProgressThrottle(cfg.status_interval_seconds),
        )

    def close(self) -> None:
        self.history.close()
        self.kube.close()

    def namespace_lock(self, namespace: str) -> asyncio.Lock:
        """Serializes admission within a namespace, so it never over-commits."""
        return self._locks.setdefault(namespace, asyncio.Lock())

    def policy_lock(self, namespace: str) -> asyncio.Lock:
        """Serializes applying the namespace's sandbox NetworkPolicy (one write for a burst of Runs)."""
        return self._policy_locks.setdefault(namespace, asyncio.Lock())

    def run_lock(self, namespace: str, name: str) -> asyncio.Lock:
        """Serializes the reconciliation of one Run (its handlers, timer, pod events, the queue)."""
        return self._run_locks.setdefault(f"{namespace}/{name}", asyncio.Lock())

    def drop_run_lock(self, namespace: str, name: str) -> None:
        """Forget the lock of a finished Run (a late reconcile of it finds it terminal and stops)."""
        key = f"{namespace}/{name}"
        lock = self._run_locks.get(key)
        if lock is not None and not lock.locked():
            del self._run_locks[key]
