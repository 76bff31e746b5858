"""The operator's process-wide collaborators, built once at startup and handed to every handler.

kopf passes a ``memo`` to each handler; ``memo.runtime`` is the :class:`Runtime` made by the
startup handler from the settings the entrypoint put in ``memo.settings``. Keeping them here (not
in module globals) lets a test start, kill and restart the operator in one process.
"""

from __future__ import annotations

import asyncio
import dataclasses

from p2n import db, events, settings, storage
from p2n_operator import kube, reconcile


@dataclasses.dataclass
class Runtime:
    config: settings.Settings
    kube: kube.Kube
    store: storage.Storage
    history: db.Database
    throttle: reconcile.ProgressThrottle
    # The last stage_update the runner printed, per Run (``<namespace>/<name>``), read from its log.
    last_stage: dict[str, events.StageData] = dataclasses.field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = dataclasses.field(default_factory=dict)

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
        """Serializes Run reconciliation within a namespace, so admission never over-commits."""
        return self._locks.setdefault(namespace, asyncio.Lock())
