"""Fixtures of the API tier: the real app served by uvicorn on loopback, against the emulated cluster,
the session's PostgreSQL and moto S3 (helpers in ``tests/api/support.py``).

- ``api_server`` (module): the running server (Kubernetes auth: TokenReview/SubjectAccessReview
  answered by the harness ``access`` tables); ``support.serve(...)`` starts more (static tokens...).
- ``api`` (function): a :class:`support.ApiClient` whose fresh token may do everything in a fresh
  namespace (``api.namespace``); ``api.as_token(...)`` for other callers.
- ``fake_run`` (function): ``fake_run(count)`` -> a :class:`support.FakeRun` (no operator needed).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.api import support
from tests.harness import cluster
from tests.harness.fixtures import _kubelet_session, access, faults, kube, kubelet, namespace  # noqa: F401

import p2n.db
from p2n import settings
from p2n.storage import s3


@pytest.fixture(scope="module")
def bucket_settings(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> settings.Settings:
    """S3 settings with a bucket of the module's own on the session's moto server."""
    config = settings.Settings(
        home=tmp_path_factory.mktemp("p2n-home"),
        s3_bucket=f"p2n-api-{secrets.token_hex(6)}",
        s3_prefix="p2n",
        s3_endpoint_url=moto_endpoint,
        s3_region="us-east-1",
        s3_access_key_id="AKIAP2NTESTKEY000001",
        s3_secret_access_key="p2nTestSecretKey/0000000000000000000000",
    )
    s3.S3Storage.from_settings(config).ensure_bucket()
    return config


@pytest.fixture(scope="module")
def api_config(bucket_settings: settings.Settings, postgres_database: str) -> settings.Settings:
    return support.api_settings(
        bucket_settings, postgres_database, max_body_bytes=256 * 1024, max_document_bytes=128 * 1024
    )


@pytest.fixture(scope="module")
def api_server(
    kube: cluster.Cluster,  # noqa: F811
    api_config: settings.Settings,
    db: p2n.db.Database,
) -> Iterator[support.ServerThread]:
    with support.serve(kube, api_config, db, heartbeat=1.0) as server:
        yield server


@pytest.fixture
def api(api_server: support.ServerThread, access: Any, namespace: str) -> Iterator[support.ApiClient]:  # noqa: F811
    """A client whose token (user ``tester``) may do everything on p2n.dev in ``namespace``."""
    token = f"tok-{secrets.token_hex(8)}"
    access.add_token(token, "tester", groups=["p2n-users"])
    access.allow("tester", "*", "*", namespace=namespace)
    with support.ApiClient(api_server.url, token, namespace) as client:
        yield client


@pytest.fixture
def fake_run(
    kube: cluster.Cluster,  # noqa: F811
    kubelet: Any,  # noqa: F811
    namespace: str,  # noqa: F811
    tmp_path: Path,
) -> Callable[..., support.FakeRun]:
    def make(count: int = 50) -> support.FakeRun:
        run = support.FakeRun(kube, namespace, tmp_path / f"gate-{secrets.token_hex(3)}", count)
        run.start()
        return run

    return make
