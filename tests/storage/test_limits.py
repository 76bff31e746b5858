"""Size limits: an upload over the limit stores nothing, a download over the limit reads nothing."""

from __future__ import annotations

import io

import pytest

from p2n import errors, storage

LIMIT = 64 * 1024


def test_upload_over_the_limit_stores_nothing(store: storage.Storage) -> None:
    with pytest.raises(errors.PayloadTooLarge) as caught:
        store.put_stream("papers/ns/p/document/big.pdf", io.BytesIO(b"x" * (LIMIT + 1)), max_bytes=LIMIT)

    assert caught.value.code == "E_PAYLOAD_TOO_LARGE"
    assert caught.value.http_status == 413
    assert not store.exists("papers/ns/p/document/big.pdf")
    assert store.list("papers/") == []


def test_upload_over_the_limit_keeps_the_previous_object(store: storage.Storage) -> None:
    store.put_bytes("doc.pdf", b"previous")
    with pytest.raises(errors.PayloadTooLarge):
        store.put_stream("doc.pdf", io.BytesIO(b"x" * (LIMIT * 3)), max_bytes=LIMIT)
    assert store.get_bytes("doc.pdf") == b"previous"


def test_upload_at_the_limit_is_accepted(store: storage.Storage) -> None:
    store.put_stream("doc.pdf", io.BytesIO(b"y" * LIMIT), max_bytes=LIMIT)
    assert store.get_bytes("doc.pdf") == b"y" * LIMIT


def test_download_over_the_limit_is_refused(store: storage.Storage) -> None:
    store.put_bytes("logs.txt", b"z" * (LIMIT + 1))

    with pytest.raises(errors.PayloadTooLarge):
        store.get_bytes("logs.txt", max_bytes=LIMIT)
    # A stream refuses before its first chunk, so nothing partial is ever handed out.
    with pytest.raises(errors.PayloadTooLarge):
        store.open_stream("logs.txt", max_bytes=LIMIT)


def test_download_at_the_limit_is_allowed(store: storage.Storage) -> None:
    store.put_bytes("logs.txt", b"z" * LIMIT)
    assert store.get_bytes("logs.txt", max_bytes=LIMIT) == b"z" * LIMIT
    assert b"".join(store.open_stream("logs.txt", max_bytes=LIMIT)) == b"z" * LIMIT
