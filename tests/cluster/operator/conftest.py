"""The real P2N operator (kopf, in a thread) against the emulated cluster, moto S3 and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import kopf
import pytest
from pydantic import SecretStr
from tests.harness import cluster, operators

from p2n import settings
from p2n_operator import service


@pytest.fixture
def operator_settings(s3_settings: settings.Settings, postgres_database: str) -> settings.Settings:
    """Operator configuration for one test: fresh bucket, the module's database, quick status writes."""
    return s3_settings.model_copy(
        update={
            "database_url": SecretStr(postgres_database),
            "db_pool_max": 4,
            "status_interval_seconds": 0.2,
            "sandbox_grace_seconds": 5,
            "max_concurrent_runs": 4,
            "log_format": "text",
        }
    )


class OperatorControl:
    """Starts and stops the operator on the test's namespace; ``restart()`` kills and starts it again."""

    def __init__(self, kube: cluster.Cluster, namespace: str, cfg: settings.Settings) -> None:
        self.kube = kube
        self.namespace = namespace
        self.cfg = cfg
        self._running: Any = None
        self._context: Any = None

    def start(self) -> None:
        self._context = operators.running(
            self.kube, service.registry(), namespace=self.namespace, memo=kopf.Memo(settings=self.cfg)
        )
        self._running = self._context.__enter__()

    def stop(self) -> None:
        if self._context is not None:
            context, self._context = self._context, None
            context.__exit__(None, None, None)
            assert not self._running.errors, self._running.errors


@pytest.fixture
def start_operator(kube, kubelet, namespace, operator_settings) -> Iterator[Any]:
    """A function ``start(**settings_overrides) -> OperatorControl``; the operator stops after the test."""
    controls: list[OperatorControl] = []

    def start(**overrides: Any) -> OperatorControl:
        control = OperatorControl(kube, namespace, operator_settings.model_copy(update=overrides))
        control.start()
        controls.append(control)
        return control

    yield start
    for control in controls:
        control.stop()


@pytest.fixture
def s3_storage_for() -> Any:
    """Build the storage a given operator configuration writes to (to read its artifacts back)."""
    from p2n import storage

    return storage.from_settings
