"""Running the operator: kopf with P2N's settings, a fresh handler registry and the liveness endpoint.

``python -m p2n_operator`` calls :func:`run`; tests call it too (in a thread, with a stop flag),
so a test can kill the operator mid-run and start it again in the same process.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

import kopf

from p2n import settings
from p2n_operator import handlers

DEFAULT_LIVENESS = "http://0.0.0.0:8080/healthz"


def registry() -> kopf.OperatorRegistry:
    """A registry holding every P2N handler (kopf's global registry is left alone)."""
    fresh = kopf.OperatorRegistry()
    handlers.register(fresh)
    return fresh


def _add_login(target: kopf.OperatorRegistry) -> None:
    """kopf's own credential loading: the pod's ServiceAccount in a cluster, else ``KUBECONFIG``."""

    @kopf.on.login(registry=target)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)


def namespaces_from(cfg: settings.Settings, given: Sequence[str]) -> list[str]:
    """Namespaces to watch: the flags, else ``P2N_WATCH_NAMESPACES``; empty means cluster-wide."""
    if given:
        return list(given)
    return [ns.strip() for ns in cfg.watch_namespaces.split(",") if ns.strip()]


def run(
    cfg: settings.Settings,
    *,
    namespaces: Sequence[str] = (),
    liveness: str | None = DEFAULT_LIVENESS,
    stop_flag: threading.Event | None = None,
    ready_flag: threading.Event | None = None,
    operator_registry: kopf.OperatorRegistry | None = None,
) -> None:
    """Run the operator until ``stop_flag`` is set (or forever); blocks the calling thread.

    Without ``operator_registry``, a fresh registry with every handler and a login handler is used;
    a caller passing its own registry brings its own login handler.
    """
    watched = namespaces_from(cfg, namespaces)
    if operator_registry is None:
        operator_registry = registry()
        _add_login(operator_registry)
    operator_settings = kopf.OperatorSettings()
    handlers.configure_kopf(operator_settings, cfg)
    asyncio.run(
        kopf.operator(
            registry=operator_registry,
            settings=operator_settings,
            standalone=cfg.operator_peering is None,
            peering_name=cfg.operator_peering,
            clusterwide=not watched,
            namespaces=watched,
            liveness_endpoint=liveness,
            memo=kopf.Memo(settings=cfg),
            stop_flag=stop_flag,
            ready_flag=ready_flag,
        )
    )
