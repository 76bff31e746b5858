"""Objects round-trip through both backends, addressed by key or by the URI the backend returned."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from p2n import errors, settings, storage
from p2n.storage import s3


def test_put_then_get_by_key_and_by_uri(store: storage.Storage) -> None:
    uri = store.put_bytes("runs/ns/run-a/metrics.json", b'{"accuracy": 0.91}', "application/json")

    assert uri == store.uri("runs/ns/run-a/metrics.json")
    assert store.get_bytes("runs/ns/run-a/metrics.json") == b'{"accuracy": 0.91}'
    assert store.get_bytes(uri) == b'{"accuracy": 0.91}'
    assert b"".join(store.open_stream(uri)) == b'{"accuracy": 0.91}'


def test_uri_scheme_matches_the_backend(store: storage.Storage, tmp_path: Path) -> None:
    uri = store.uri("papers/ns/p/document/paper.pdf")
    if isinstance(store, storage.LocalStorage):
        assert uri == (tmp_path / "store" / "papers/ns/p/document/paper.pdf").as_uri()
    else:
        assert isinstance(store, s3.S3Storage)
        assert uri == f"s3://{store.bucket}/p2n/papers/ns/p/document/paper.pdf"


def test_put_replaces_an_existing_object(store: storage.Storage) -> None:
    store.put_bytes("a/b.txt", b"first")
    store.put_bytes("a/b.txt", b"second")
    assert store.get_bytes("a/b.txt") == b"second"


def test_put_stream_round_trips_more_than_one_chunk(store: storage.Storage) -> None:
    payload = bytes(range(256)) * (3 * 4096 + 17)  # about 3 MiB, not a multiple of the chunk size
    store.put_stream("big/blob.bin", io.BytesIO(payload))

    chunks = list(store.open_stream("big/blob.bin", chunk_size=1024 * 1024))
    assert len(chunks) >= 3
    assert b"".join(chunks) == payload
    assert store.get_bytes("big/blob.bin") == payload


def test_empty_object(store: storage.Storage) -> None:
    store.put_bytes("empty.txt", b"")
    assert store.exists("empty.txt")
    assert store.get_bytes("empty.txt") == b""


def test_missing_object_is_not_found(store: storage.Storage) -> None:
    with pytest.raises(errors.NotFound):
        store.get_bytes("runs/ns/none/metrics.json")
    # open_stream fails at the call, not at the first chunk, so callers can answer 404 up front.
    with pytest.raises(errors.NotFound):
        store.open_stream("runs/ns/none/metrics.json")


def test_exists_and_delete(store: storage.Storage) -> None:
    store.put_bytes("x/y/z.txt", b"z")
    assert store.exists("x/y/z.txt")
    assert not store.exists("x/y/other.txt")

    store.delete("x/y/z.txt")
    assert not store.exists("x/y/z.txt")
    store.delete("x/y/z.txt")  # deleting again is not an error
    assert store.list("x/") == []


def test_list_by_prefix_is_sorted_and_relative(store: storage.Storage) -> None:
    for key in [
        "runs/ns/r2/logs.txt",
        "runs/ns/r1/metrics.json",
        "runs/ns/r1/logs.txt",
        "plans/ns/p/plan.json",
    ]:
        store.put_bytes(key, b"-")

    assert store.list("runs/ns/r1/") == ["runs/ns/r1/logs.txt", "runs/ns/r1/metrics.json"]
    assert store.list("runs/ns/r") == [
        "runs/ns/r1/logs.txt",
        "runs/ns/r1/metrics.json",
        "runs/ns/r2/logs.txt",
    ]
    assert store.list() == sorted(
        ["plans/ns/p/plan.json", "runs/ns/r1/logs.txt", "runs/ns/r1/metrics.json", "runs/ns/r2/logs.txt"]
    )
    assert store.list("nothing/") == []


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "a/../b",
        "../b",
        "a//b",
        "a/./b",
        ".hidden",
        "a/.part",
        "a\\b",
        "a\x00b",
        "a\nb",
        "k" * 1025,
    ],
)
def test_invalid_keys_are_rejected(store: storage.Storage, key: str) -> None:
    with pytest.raises(errors.InvalidInput):
        store.put_bytes(key, b"x")
    with pytest.raises(errors.InvalidInput):
        store.get_bytes(key)


def test_local_storage_rejects_uris_it_does_not_own(tmp_path: Path) -> None:
    local = storage.LocalStorage(tmp_path / "store")
    (tmp_path / "outside.txt").write_bytes(b"secret")

    for uri in [
        "s3://bucket/key",
        "https://example.com/key",
        (tmp_path / "outside.txt").as_uri(),
        (tmp_path / "store" / ".." / "outside.txt").as_uri(),
        "file://otherhost/x",
    ]:
        with pytest.raises(errors.InvalidInput):
            local.get_bytes(uri)


def test_s3_storage_rejects_uris_outside_its_bucket_and_prefix(s3_storage: s3.S3Storage) -> None:
    s3_storage.put_bytes("k.txt", b"x")
    assert s3_storage.get_bytes(f"s3://{s3_storage.bucket}/p2n/k.txt") == b"x"

    for uri in [
        "s3://another-bucket/p2n/k.txt",
        f"s3://{s3_storage.bucket}/k.txt",
        f"s3://{s3_storage.bucket}/p2nother/k.txt",
        "file:///tmp/k.txt",
        "https://example.com/k.txt",
    ]:
        with pytest.raises(errors.InvalidInput):
            s3_storage.get_bytes(uri)


def test_local_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    local = storage.LocalStorage(tmp_path / "store")
    local.put_bytes("a/b.txt", b"1")
    local.put_stream("a/c.txt", io.BytesIO(b"2"))
    assert sorted(p.name for p in (tmp_path / "store" / "a").iterdir()) == ["b.txt", "c.txt"]


def test_backends_satisfy_the_storage_protocol(s3_storage: s3.S3Storage, tmp_path: Path) -> None:
    assert isinstance(s3_storage, storage.Storage)
    assert isinstance(storage.LocalStorage(tmp_path), storage.Storage)


def test_from_settings_selects_the_backend(s3_settings: settings.Settings, tmp_path: Path) -> None:
    selected = storage.from_settings(s3_settings)
    assert isinstance(selected, s3.S3Storage)
    assert selected.bucket == s3_settings.s3_bucket

    local = storage.from_settings(settings.Settings(home=tmp_path / "home"))
    assert isinstance(local, storage.LocalStorage)
    assert local.root == (tmp_path / "home" / "artifacts").resolve()

    explicit = storage.from_settings(
        settings.Settings(home=tmp_path / "home", storage_dir=tmp_path / "elsewhere")
    )
    assert isinstance(explicit, storage.LocalStorage)
    assert explicit.root == (tmp_path / "elsewhere").resolve()


def test_s3_stream_above_the_multipart_threshold(s3_storage: s3.S3Storage) -> None:
    # boto3 switches to a multipart upload above 8 MiB; the object must come back whole.
    payload = bytes(range(256)) * (9 * 4096 + 1)
    s3_storage.put_stream("big/multipart.bin", io.BytesIO(payload), max_bytes=10 * 1024 * 1024)
    assert s3_storage.get_bytes("big/multipart.bin") == payload


def test_local_storage_does_not_load_boto3(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from p2n import settings, storage\n"
        f"store = storage.from_settings(settings.Settings(home=Path({str(tmp_path)!r})))\n"
        "store.put_bytes('k.txt', b'x')\n"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, 'boto3 loaded'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "P2N_S3_BUCKET": ""})
