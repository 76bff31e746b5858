"""A kubeconfig file pointing at the emulated API server, readable by kopf, the client and kubectl."""

from __future__ import annotations

from pathlib import Path

import yaml

CONTEXT = "p2n-harness"


def write(
    path: Path,
    server_url: str,
    namespace: str = "default",
    token: str = "harness-admin",  # noqa: S107 - the emulated server accepts any token.
) -> Path:
    """Write a kubeconfig with one cluster, user and context (plain HTTP, bearer token)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT, "cluster": {"server": server_url}}],
        "users": [{"name": CONTEXT, "user": {"token": token}}],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
