"""Redaction: what must never be logged is masked, what people need to read survives."""

from __future__ import annotations

import logging

import pytest

from p2n import redact

SIGNATURE = "4f0e8b2a9c1d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"
PRESIGNED = (
    "https://bucket.s3.amazonaws.com/runs/ns/r/metrics.json?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20250101%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20250101T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host"
    f"&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEJr%2F%2F&X-Amz-Signature={SIGNATURE}"
)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig", "eyJhbGciOiJSUzI1NiJ9"),
        ("authorization=Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("curl -H 'Authorization: token ghp_abcdef123456'", "ghp_abcdef123456"),
        ("sent bearer abc.def-ghi_jkl to the API", "abc.def-ghi_jkl"),
        (PRESIGNED, SIGNATURE),
        (PRESIGNED, "AKIAIOSFODNN7EXAMPLE"),
        (PRESIGNED, "IQoJb3JpZ2luX2VjEJr"),
        (
            "https://b.s3.amazonaws.com/k?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1&Signature=vjbyP%2BXz%3D",
            "vjbyP",
        ),
        (
            "{'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20250101/us-east-1/s3/"
            f"aws4_request, SignedHeaders=host, Signature={SIGNATURE}'}}",
            SIGNATURE,
        ),
        (f"botocore.auth Signature:\n{SIGNATURE}", SIGNATURE),
        ("using key sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234", "AbCdEfGhIjKlMnOpQrStUvWx1234"),
        ("OPENAI_API_KEY=sk-abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwx"),
        ("access key AKIAIOSFODNN7EXAMPLE in use", "IOSFODNN7EXAMPLE"),
        ("temporary ASIAIOSFODNN7EXAMPLE", "IOSFODNN7EXAMPLE"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        ('{"client_secret": "s3cr3t-value", "name": "x"}', "s3cr3t-value"),
        ("password: hunter2", "hunter2"),
        ("P2N_STATIC_TOKENS=abc123=alice", "abc123"),
        ("P2N_STATIC_TOKENS=abc123=alice,def456=bob", "def456"),
        ("x-amz-security-token:FQoGZXIvYXdzEJr", "FQoGZXIvYXdzEJr"),
        ("postgresql://p2n:db-pass-123@postgres:5432/p2n", "db-pass-123"),
        ("host=db user=p2n password=db-pass-123 dbname=p2n", "db-pass-123"),
    ],
)
def test_secrets_are_masked(text: str, secret: str) -> None:
    cleaned = redact.redact(text)
    assert secret not in cleaned
    assert redact.MASK in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "run ns/run-a finished: accuracy=0.91 (claimed 0.93), gap 2.1%",
        "llm_max_tokens=20000 token_count=12 max_tokens: 5",
        "stage_update run_start seq=3",
        "GET /api/v1/namespaces/ns/runs/run-a/events?after=41",
        "s3://bucket/runs/ns/run-a/metrics.json",
        "postgresql://postgres:@/postgres?host=/tmp/pg",
        "event: token",
        "",
    ],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert redact.redact(text) == text


def test_presigned_url_keeps_its_shape() -> None:
    cleaned = redact.redact(PRESIGNED)
    assert cleaned.startswith("https://bucket.s3.amazonaws.com/runs/ns/r/metrics.json?")
    assert "X-Amz-Signature=***" in cleaned
    assert "X-Amz-Credential=***" in cleaned
    assert "X-Amz-Expires=3600" in cleaned


def test_vector_store_ids_show_eight_characters() -> None:
    assert redact.redact("attached vs_68a1b2c3d4e5f6a7 to the run") == "attached vs_68a1b*** to the run"
    assert redact.mask_id("vs_68a1b2c3d4e5f6a7") == "vs_68a1b***"
    assert redact.mask_id("short") == "***"


@pytest.mark.parametrize(
    "text", [PRESIGNED, "Authorization: Bearer abc", "password='x' token=\"y\"", "vs_abcdefghijk"]
)
def test_redaction_is_idempotent(text: str) -> None:
    once = redact.redact(text)
    assert redact.redact(once) == once


def test_long_lines_are_handled_in_linear_time() -> None:
    # A pathological line for naive patterns: many word boundaries and no separator.
    line = "a-" * 50_000 + "token"
    assert redact.redact(line) == line


def _record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("p2n.test", logging.INFO, __file__, 1, msg, args, exc_info)


def test_filter_redacts_formatted_message_and_exception_text() -> None:
    try:
        raise RuntimeError(f"upload to {PRESIGNED} failed")
    except RuntimeError as exc:
        record = _record("calling %s with %s", "PUT", "Authorization: Bearer abc.def", exc=exc)

    assert redact.RedactingFilter().filter(record) is True
    rendered = logging.Formatter("%(message)s").format(record)
    assert "abc.def" not in rendered
    assert SIGNATURE not in rendered
    assert "calling PUT with Authorization: ***" in rendered


def test_filter_keeps_records_whose_arguments_do_not_match() -> None:
    record = _record("%d items", "not a number")
    assert redact.RedactingFilter().filter(record) is True
    assert record.msg == "%d items"


def test_guard_loggers_covers_existing_child_loggers(caplog: pytest.LogCaptureFixture) -> None:
    child = logging.getLogger("p2n_redact_test.vendor.auth")
    redact.guard_loggers("p2n_redact_test")
    redact.guard_loggers("p2n_redact_test")  # idempotent

    with caplog.at_level(logging.DEBUG, logger="p2n_redact_test"):
        child.debug("Signature:\n%s", SIGNATURE)
        logging.getLogger("p2n_redact_test").info("key sk-abcdefghijklmnopqrstuvwx")

    assert len(child.filters) == 1
    assert SIGNATURE not in caplog.text
    assert "sk-abcdefghijklmnop" not in caplog.text
    assert [record.getMessage() for record in caplog.records] == ["Signature:\n***", "key sk-***"]
