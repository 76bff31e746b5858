"""The planted-secrets scan of the test session (tests/secret_scan.py) detects what it must."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests import secret_scan


def _record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("p2n.somewhere", logging.INFO, __file__, 1, message, args, None)


@pytest.mark.parametrize(("kind", "value"), list(secret_scan.PLANTED.items()))
def test_a_planted_value_in_a_record_is_found(kind: str, value: str) -> None:
    scanner = secret_scan.Scanner(secret_scan.PLANTED)
    # As a bare value (no key name around it), no redaction rule can recognize it... except the
    # sk- rule: an OpenAI key is masked wherever it appears.
    scanner.handle(_record("connecting with %s", value))
    expected = [] if kind == "OpenAI API key" else [secret_scan.Finding(kind, "logger p2n.somewhere")]
    assert scanner.findings == expected


def test_a_leak_in_an_exception_is_found() -> None:
    scanner = secret_scan.Scanner(secret_scan.PLANTED)
    try:
        raise RuntimeError(secret_scan.PLANTED_AWS_SECRET_KEY)
    except RuntimeError:
        record = _record("failed")
        record.exc_info = sys.exc_info()
    scanner.handle(record)
    assert [f.secret for f in scanner.findings] == ["AWS secret access key"]


def test_values_the_redaction_rules_mask_pass() -> None:
    scanner = secret_scan.Scanner(secret_scan.PLANTED)
    scanner.handle(_record("Authorization: Bearer %s", secret_scan.PLANTED_BEARER_TOKEN))
    scanner.handle(_record("GET /k?X-Amz-Signature=%s&x=1", secret_scan.PLANTED_SIGNATURE))
    scanner.handle(_record("aws_secret_access_key=%s", secret_scan.PLANTED_AWS_SECRET_KEY))
    scanner.handle(_record("key %s", secret_scan.PLANTED_OPENAI_KEY))
    assert scanner.findings == []
    assert scanner.records == 4


def test_report_names_the_kind_and_place_but_not_the_value(tmp_path: Path) -> None:
    scanner = secret_scan.Scanner(secret_scan.PLANTED)
    # Not *.log: the session's own scan reads those under the temporary directory, and would fail.
    leaked = tmp_path / "operator.txt"
    leaked.write_text(f"token {secret_scan.PLANTED_BEARER_TOKEN}\nsig {secret_scan.PLANTED_SIGNATURE}\n")
    scanner.scan_files([leaked, tmp_path / "missing.txt"])
    assert {f.secret for f in scanner.findings} == {"bearer token", "presigned URL signature"}
    text = scanner.report()
    assert str(leaked) in text
    assert secret_scan.PLANTED_BEARER_TOKEN not in text


def test_the_session_scan_is_installed(request: pytest.FixtureRequest) -> None:
    from tests import conftest

    scanner = request.config.stash[conftest.SECRET_SCANNER_KEY]
    assert scanner in logging.getLogger().handlers
    assert os.environ["AWS_SECRET_ACCESS_KEY"] in scanner.secrets.values()
    assert logging.getLogger().getEffectiveLevel() <= logging.INFO


@pytest.mark.skipif(not os.environ.get("P2N_TEST_LEAK_ON_PURPOSE"), reason="only inside the session below")
def test_leaks_on_purpose() -> None:
    logging.getLogger("p2n.leaky").warning("using %s", secret_scan.PLANTED_AWS_SECRET_KEY)


def test_a_leak_fails_the_whole_session() -> None:
    """A session whose only test passes but logs a planted value exits non-zero, saying why."""
    argv = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        f"{__file__}::test_leaks_on_purpose",
    ]
    env = {**os.environ, "P2N_TEST_LEAK_ON_PURPOSE": "1"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert "AWS secret access key in logger p2n.leaky" in done.stdout
    assert secret_scan.PLANTED_AWS_SECRET_KEY not in done.stdout.split("planted-secrets scan failed")[1]
