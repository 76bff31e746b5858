"""Run a kopf operator inside the test process, against the emulated cluster.

kopf 1.45's ``kopf.testing`` has only ``KopfRunner`` (a CLI wrapper); this runs ``kopf.operator``
in a thread with its own event loop, a ``ready_flag`` to wait for start-up and a ``stop_flag`` to
end it, so a test can drive the cluster while the operator reconciles:

    with operators.running(kube, registry, namespace=ns, settings=my_settings) as op:
        ...                                # the operator is watching ``ns``
    assert not op.errors                   # exceptions that escaped kopf

The operator logs in with the harness kubeconfig through a login handler added to the registry
(once), so ``KUBECONFIG`` handling of the `kubernetes` client does not matter.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import kopf
from tests.harness import cluster

_LOGIN_ID = "p2n-harness-login"


class OperatorThread:
    """A kopf operator running in a background thread; see :func:`running`."""

    def __init__(self, thread: threading.Thread, stop: threading.Event) -> None:
        self._thread = thread
        self._stop = stop
        self.errors: list[BaseException] = []

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError("the kopf operator did not stop in time")


def fast_settings() -> kopf.OperatorSettings:
    """kopf settings for tests: quick retries, no peering, progress storage under p2n.dev."""
    settings = kopf.OperatorSettings()
    settings.peering.standalone = True
    settings.posting.level = 20
    settings.watching.reconnect_backoff = 0.1
    settings.watching.connect_timeout = 5
    settings.networking.request_timeout = 15
    settings.networking.error_backoffs = [0.1, 0.2, 0.5, 1]
    settings.queueing.idle_timeout = 1.0
    settings.queueing.exit_timeout = 2.0
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="p2n.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="p2n.dev")
    return settings


def _ensure_login(registry: kopf.OperatorRegistry, kube: cluster.Cluster) -> None:
    handlers = registry._activities.get_all_handlers()
    if any(h.id == _LOGIN_ID for h in handlers):
        return

    @kopf.on.login(registry=registry, id=_LOGIN_ID)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(server=kube.url, token="harness-admin", default_namespace="default")


@contextlib.contextmanager
def running(
    kube: cluster.Cluster,
    registry: kopf.OperatorRegistry,
    *,
    namespace: str | None = None,
    settings: kopf.OperatorSettings | None = None,
    memo: Any = None,
    startup_timeout: float = 30,
) -> Iterator[OperatorThread]:
    """Run ``registry``'s handlers on ``namespace`` (or cluster-wide) until the block ends."""
    _ensure_login(registry, kube)
    ready, stop = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def main() -> None:
        try:
            asyncio.run(
                kopf.operator(
                    registry=registry,
                    settings=settings or fast_settings(),
                    standalone=True,
                    clusterwide=namespace is None,
                    namespaces=[namespace] if namespace else (),
                    memo=memo,
                    ready_flag=ready,
                    stop_flag=stop,
                )
            )
        except BaseException as exc:
            errors.append(exc)
            ready.set()

    thread = threading.Thread(target=main, name="kopf-operator", daemon=True)
    operator = OperatorThread(thread, stop)
    operator.errors = errors
    thread.start()
    if not ready.wait(startup_timeout) or errors:
        stop.set()
        raise AssertionError(f"the kopf operator did not start: {errors!r}")
    try:
        yield operator
    finally:
        operator.stop()
