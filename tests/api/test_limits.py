"""Request body limit (413 while streaming), and no internals in error responses or logs."""

from __future__ import annotations

import logging

import pytest
from tests.api.support import error_of

pytestmark = pytest.mark.api


def test_declared_oversized_body_is_refused_before_reading(api, api_config):
    body = b"x" * (api_config.max_body_bytes + 1)
    response = api.post("/api/v1/papers", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "E_PAYLOAD_TOO_LARGE"
    assert error["details"]["limit"] == api_config.max_body_bytes


def test_chunked_upload_is_cut_off_while_streaming(api, api_config, kube):
    def chunks():
        # No Content-Length: the server can only count the body as it arrives.
        yield b'--xyz\r\nContent-Disposition: form-data; name="name"\r\n\r\nchunked\r\n'
        yield b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
        yield b"Content-Type: application/pdf\r\n\r\n"
        for _ in range(64):
            yield b"y" * (64 * 1024)
        yield b"\r\n--xyz--\r\n"

    response = api.post(
        "/api/v1/papers/upload",
        content=chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "E_PAYLOAD_TOO_LARGE"
    assert kube.find("p2n.dev/v1alpha1", "Paper", "chunked", api.namespace) is None


def test_document_limit_applies_to_uploads(api, api_config):
    data = b"%PDF-1.4\n" + b"0" * (api_config.max_document_bytes + 10)
    response = api.post("/api/v1/papers/upload", files={"file": ("big.pdf", data, "application/pdf")})
    assert response.status_code == 413
    assert error_of(response)["code"] == "E_PAYLOAD_TOO_LARGE"


def test_errors_carry_no_traceback_and_logs_no_token(api, faults, caplog):
    caplog.set_level(logging.DEBUG)
    faults.fail_next(1, code=500, verb="list", resource="papers")
    response = api.get("/api/v1/papers")
    assert response.status_code == 502
    error = error_of(response)
    assert error["code"] == "E_CLUSTER"
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    assert api.token not in caplog.text
