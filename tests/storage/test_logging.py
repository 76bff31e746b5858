"""Presigned URL signatures and S3 credentials never reach a log, even with botocore at DEBUG."""

from __future__ import annotations

import io
import logging
import re
from urllib.parse import parse_qs, urlsplit

import pytest

from p2n import errors, settings
from p2n.storage import s3

_SIGNATURE_IN_TEXT = re.compile(r"(?i)signature[\"']?\s*[:=]\s*['\"]?[0-9a-f]{64}")


def _captured_text(caplog: pytest.LogCaptureFixture) -> str:
    handler_format = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(handler_format.format(record) for record in caplog.records)


def test_s3_operations_log_no_signature_or_credential(
    s3_settings: settings.Settings, caplog: pytest.LogCaptureFixture
) -> None:
    assert s3_settings.s3_access_key_id is not None
    assert s3_settings.s3_secret_access_key is not None
    access_key = s3_settings.s3_access_key_id.get_secret_value()
    secret_key = s3_settings.s3_secret_access_key.get_secret_value()

    with caplog.at_level(logging.DEBUG):
        for name in ("botocore", "boto3", "s3transfer", "urllib3", "p2n"):
            caplog.set_level(logging.DEBUG, logger=name)
        store = s3.S3Storage.from_settings(s3_settings)
        store.put_bytes("runs/ns/r/metrics.json", b"{}")
        store.put_stream("runs/ns/r/logs.txt", io.BytesIO(b"line\n" * 100))
        store.get_bytes("runs/ns/r/metrics.json")
        b"".join(store.open_stream("runs/ns/r/logs.txt"))
        store.list("runs/")
        store.exists("runs/ns/r/none")
        with pytest.raises(errors.NotFound):
            store.get_bytes("runs/ns/r/none")
        presigned = [store.presign_get("runs/ns/r/metrics.json"), store.presign_put("runs/ns/r/events.jsonl")]
        store.delete("runs/ns/r/metrics.json")

    text = _captured_text(caplog)
    # The capture really holds botocore's request-level debug output (this test could fail).
    assert any(record.name == "botocore.auth" for record in caplog.records)
    assert any(record.name == "botocore.endpoint" for record in caplog.records)

    signatures = [parse_qs(urlsplit(url).query)["X-Amz-Signature"][0] for url in presigned]
    for secret in [*signatures, *presigned, access_key, secret_key]:
        assert secret not in text
    assert not _SIGNATURE_IN_TEXT.search(text)
    assert "Authorization': b'***'" in text


def test_storage_errors_do_not_carry_credentials(s3_settings: settings.Settings) -> None:
    # Nothing listens on port 9 of loopback: the connection is refused.
    unreachable = s3_settings.model_copy(update={"s3_endpoint_url": "http://127.0.0.1:9"})
    store = s3.S3Storage.from_settings(unreachable)

    with pytest.raises(errors.StorageError) as caught:
        store.get_bytes("k.txt")

    assert s3_settings.s3_access_key_id is not None
    message = str(caught.value)
    assert "k.txt" in message
    assert s3_settings.s3_access_key_id.get_secret_value() not in message
