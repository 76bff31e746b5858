"""The planted-secrets scan: known fake secrets must never appear in any log output of the test session.

``tests/conftest.py`` plants :data:`PLANTED` values into the environment every test and every
subprocess server inherits (``AWS_SECRET_ACCESS_KEY``, ``P2N_STATIC_TOKENS``), installs a
:class:`Scanner` on the root logger for the whole session, and at the end also reads the stderr logs
that subprocess servers left under the session's temporary directory (``*.log``). A hit fails the
session, naming the secret's kind and where it was seen (never the value).

Records are checked as a deployment would emit them: formatted, then passed through
:func:`p2n.redact.redact` (every P2N handler carries ``RedactingFilter``). So a secret the redaction
rules recognize (``Authorization: Bearer ...``, ``X-Amz-Signature=...``) passes; one they cannot
recognize (a bare secret key in a message) is a leak.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

from p2n import redact

# Fake, but shaped like the real thing, so that the redaction rules get their chance.
PLANTED_BEARER_TOKEN = "p2nPlantedBearer0a1b2c3d4e5f60718293a4b5c6d7e8f9"
PLANTED_AWS_SECRET_KEY = "p2nPlantedAwsSecret/Zx9Yw8Vu7Ts6Rq5Po4Nm3L"
PLANTED_OPENAI_KEY = "sk-p2nplanted-0123456789abcdefABCDEF0123"
PLANTED_SIGNATURE = "5eed0f2a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e"

PLANTED: dict[str, str] = {
    "bearer token": PLANTED_BEARER_TOKEN,
    "AWS secret access key": PLANTED_AWS_SECRET_KEY,
    "OpenAI API key": PLANTED_OPENAI_KEY,
    "presigned URL signature": PLANTED_SIGNATURE,
}

# What the session's processes inherit (only where nothing is set already).
PLANTED_ENVIRONMENT: dict[str, str] = {
    "AWS_SECRET_ACCESS_KEY": PLANTED_AWS_SECRET_KEY,
    "P2N_STATIC_TOKENS": f"{PLANTED_BEARER_TOKEN}=planted-user",
}


@dataclasses.dataclass(frozen=True)
class Finding:
    secret: str  # the kind (a key of the secrets mapping), never the value
    source: str  # logger name or file path

    def __str__(self) -> str:
        return f"{self.secret} in {self.source}"


def findings_in(text: str, source: str, secrets: Mapping[str, str]) -> list[Finding]:
    """The secrets (by kind) that ``text`` shows after redaction."""
    shown = redact.redact(text)
    return [Finding(kind, source) for kind, value in secrets.items() if value and value in shown]


class Scanner(logging.Handler):
    """A root handler that checks every record it formats; it keeps the findings, not the messages."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        super().__init__(logging.NOTSET)
        self.secrets = dict(secrets)
        self.findings: list[Finding] = []
        self.records = 0
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a record that cannot be formatted is not output either
            return
        self.records += 1
        self.findings.extend(findings_in(text, f"logger {record.name}", self.secrets))

    def scan_files(self, paths: Iterable[Path]) -> None:
        """Check log files written by subprocess servers (their captured stderr)."""
        for path in paths:
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            self.findings.extend(findings_in(text, str(path), self.secrets))

    def report(self) -> str:
        unique = sorted({str(f) for f in self.findings})
        return "planted secrets reached log output:\n" + "\n".join(f"  - {line}" for line in unique)
