"""Vendor and OS errors surface as the P2N error tree, never as botocore or OSError exceptions."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2n import errors, settings
from p2n.storage import local, s3


def test_missing_bucket_is_a_storage_error(s3_settings: settings.Settings) -> None:
    store = s3.S3Storage.from_settings(s3_settings.model_copy(update={"s3_bucket": "p2n-no-such-bucket"}))
    with pytest.raises(errors.StorageError) as caught:
        store.put_bytes("k.txt", b"x")
    assert caught.value.code == "E_STORAGE"
    assert "NoSuchBucket" in caught.value.message


def test_unreachable_endpoint_is_a_storage_error(s3_settings: settings.Settings) -> None:
    store = s3.S3Storage.from_settings(
        s3_settings.model_copy(update={"s3_endpoint_url": "http://127.0.0.1:9"})
    )
    with pytest.raises(errors.StorageError):
        store.list()
    with pytest.raises(errors.StorageError):
        store.exists("k.txt")


def test_ensure_bucket_is_idempotent(s3_storage: s3.S3Storage) -> None:
    s3_storage.ensure_bucket()
    s3_storage.ensure_bucket()
    s3_storage.put_bytes("k.txt", b"x")
    assert s3_storage.list() == ["k.txt"]


def test_s3_settings_without_a_bucket_are_invalid(tmp_path: Path) -> None:
    with pytest.raises(errors.InvalidInput):
        s3.S3Storage.from_settings(settings.Settings(home=tmp_path))


def test_local_write_over_a_file_in_the_key_path_is_a_storage_error(tmp_path: Path) -> None:
    store = local.LocalStorage(tmp_path / "store")
    store.put_bytes("a", b"file, not a directory")
    with pytest.raises(errors.StorageError):
        store.put_bytes("a/b.txt", b"x")


def test_local_storage_root_that_cannot_be_created_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(errors.StorageError):
        local.LocalStorage(tmp_path / "file" / "store")
