"""Presigned URLs work over plain HTTP, so a sandbox can move artifacts without credentials."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from p2n import errors, storage
from p2n.storage import keys, s3


def test_presigned_put_then_get_over_http(s3_storage: s3.S3Storage) -> None:
    key = keys.run_artifact("ns", "run-a", "0b6f2c1e-6a9d-4c57-9a55-2f1d3e4c5b6a", "metrics.json")
    put_url = s3_storage.presign_put(key)

    with httpx.Client(trust_env=False) as client:
        uploaded = client.put(put_url, content=b'{"accuracy": 0.5}')
        assert uploaded.status_code == 200, uploaded.text
        assert s3_storage.get_bytes(key) == b'{"accuracy": 0.5}'

        fetched = client.get(s3_storage.presign_get(key))
        assert fetched.status_code == 200
        assert fetched.content == b'{"accuracy": 0.5}'


def test_presigned_get_of_an_object_put_through_the_storage(s3_storage: s3.S3Storage) -> None:
    key = keys.plan_notebook("ns", "plan-a")
    s3_storage.put_bytes(key, b"{}", "application/x-ipynb+json")

    response = httpx.get(s3_storage.presign_get(key, ttl=120), trust_env=False)
    assert response.status_code == 200
    assert response.content == b"{}"


def test_presigned_urls_carry_a_sigv4_signature_and_the_ttl(s3_storage: s3.S3Storage) -> None:
    default = parse_qs(urlsplit(s3_storage.presign_get("k.txt")).query)
    assert default["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert default["X-Amz-Expires"] == ["3600"]
    assert default["X-Amz-Signature"][0]

    short = parse_qs(urlsplit(s3_storage.presign_put("k.txt", ttl=300)).query)
    assert short["X-Amz-Expires"] == ["300"]


@pytest.mark.parametrize("ttl", [0, -5, 7 * 24 * 3600 + 1])
def test_presign_ttl_out_of_range_is_invalid(s3_storage: s3.S3Storage, ttl: int) -> None:
    with pytest.raises(errors.InvalidInput):
        s3_storage.presign_get("k.txt", ttl=ttl)


def test_local_presigned_urls_are_file_uris_it_can_read(tmp_path: Path) -> None:
    local = storage.LocalStorage(tmp_path / "store")
    local.put_bytes("runs/ns/r/logs.txt", b"hello")

    url = local.presign_get("runs/ns/r/logs.txt")
    assert url.startswith("file:///")
    assert local.get_bytes(url) == b"hello"
    assert local.presign_put("runs/ns/r/new.txt") == local.uri("runs/ns/r/new.txt")
    assert local.path(url) == tmp_path.resolve() / "store" / "runs/ns/r/logs.txt"
    assert local.path(url).read_bytes() == b"hello"
