"""``python -m p2n_operator``: the P2N operator process.

    python -m p2n_operator [--namespace NS ...] [--all-namespaces] [--liveness URL] [--peering NAME]
                           [--metrics-port PORT]

Configuration comes from the environment (``P2N_*``, see ``p2n.settings``); flags override the
watched namespaces (default ``P2N_WATCH_NAMESPACES``, else all), the liveness endpoint (default
http://0.0.0.0:8080/healthz; ``--liveness ''`` disables it), the Prometheus ``/metrics`` port
(default ``P2N_OPERATOR_METRICS_PORT``, 9090; 0 disables it) and peering. Without ``--peering``
(or ``P2N_OPERATOR_PEERING``) the operator runs standalone: run one replica. With it, replicas
coordinate through kopf's peering objects (their CRD must be installed) so only one is active.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from p2n import logs, settings, telemetry
from p2n_operator import service


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="p2n-operator", description="The P2N Kubernetes operator.")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--namespace", "-n", action="append", default=[], help="watch this namespace (repeatable)"
    )
    scope.add_argument("--all-namespaces", "-A", action="store_true", help="watch every namespace")
    parser.add_argument(
        "--liveness", default=service.DEFAULT_LIVENESS, help="liveness endpoint URL ('' = off)"
    )
    parser.add_argument(
        "--metrics-port", type=int, default=None, help="port of /metrics (default 9090; 0 = off)"
    )
    parser.add_argument("--peering", default=None, help="kopf peering name (default: standalone)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides: dict[str, object] = {}
    if args.peering:
        overrides["operator_peering"] = args.peering
    if args.metrics_port is not None:
        overrides["operator_metrics_port"] = args.metrics_port
    if args.all_namespaces:
        overrides["watch_namespaces"] = ""
    cfg = settings.Settings(**overrides)  # type: ignore[arg-type]
    logs.configure(cfg)
    tracing = telemetry.configure_tracing(cfg, service="p2n-operator")
    try:
        service.run(cfg, namespaces=args.namespace, liveness=args.liveness or None)
    finally:
        if tracing is not None:
            tracing.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
