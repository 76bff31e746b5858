"""Fixtures of the storage tests: the same behaviour is checked on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2n import storage


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> storage.Storage:
    """A fresh, empty storage of each backend: a temporary directory, or a new bucket on moto."""
    if request.param == "local":
        return storage.LocalStorage(tmp_path / "store")
    backend: storage.Storage = request.getfixturevalue("s3_storage")
    return backend
