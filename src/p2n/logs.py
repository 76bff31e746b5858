"""Structured logs of P2N's services: one JSON object per line, redacted, tagged with what it is about.

Every service logs the same shape, so one query finds a run's lines across the API and the
operator: ``{"ts", "level", "logger", "message", "run"|"plan"|"paper"|"pod", "trace_id",
"span_id", "exception"}``. The object a line is about comes from ``extra={"run": "ns/name"}``
(or ``plan``/``paper``/``pod``), or from kopf's ``k8s_ref``; the trace ids come from the current
OpenTelemetry span, so a log line leads to its trace. Output always passes
:class:`p2n.redact.RedactingFilter`: tokens, keys and presigned URL signatures never reach it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from p2n import redact, settings, telemetry

OBJECT_FIELDS = ("run", "plan", "paper", "pod")
_KINDS = {"Run": "run", "Plan": "plan", "Paper": "paper", "Pod": "pod"}
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Loggers that configure their own handlers (uvicorn's dictConfig); they are routed to the root.
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
# Request logs of the HTTP clients would carry presigned URLs and tokens at DEBUG level.
NOISY_LOGGERS = ("urllib3", "kubernetes", "botocore", "httpx", "httpcore", "aiohttp.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring for its fields)."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in OBJECT_FIELDS:
            value = getattr(record, field, None)
            if isinstance(value, str) and value:
                body[field] = value
        ref = getattr(record, "k8s_ref", None)
        if isinstance(ref, dict) and ref.get("name"):
            field = _KINDS.get(str(ref.get("kind")), "object")
            body.setdefault(field, f"{ref.get('namespace') or ''}/{ref['name']}".lstrip("/"))
        body.update(telemetry.current_ids())
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            body["exception"] = redact.redact(record.exc_text)
        return json.dumps(body, ensure_ascii=False, default=str)


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time (as :data:`logging.lastResort` does)."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        logging.Handler.__init__(self, level)

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr


def handler(cfg: settings.Settings) -> logging.Handler:
    """A redacting stderr handler in the configured format (json or text)."""
    out = StderrHandler()
    out.addFilter(redact.RedactingFilter())
    out.setFormatter(JsonFormatter() if cfg.log_format == "json" else logging.Formatter(TEXT_FORMAT))
    return out


def configure(cfg: settings.Settings) -> None:
    """Route the process's logs (uvicorn's included) through one redacting stderr handler.

    Idempotent: a handler installed by an earlier call is replaced; handlers others installed on
    the root logger (a test harness's, say) are kept.
    """
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing, StderrHandler):
            root.removeHandler(existing)
    root.addHandler(handler(cfg))
    root.setLevel(cfg.log_level.upper())
    for name in SERVER_LOGGERS:
        server = logging.getLogger(name)
        for existing in list(server.handlers):
            server.removeHandler(existing)
        server.propagate = True
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
