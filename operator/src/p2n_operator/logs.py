"""Structured logs of the operator: one JSON object per line, tagged with the Run/Plan/Paper it is about.

kopf attaches the object a handler works on to each record (``k8s_ref``); this formatter turns it
into ``"run": "<namespace>/<name>"`` (or ``plan``/``paper``/``pod``) so logs can be filtered by
object. Every record passes ``p2n.redact`` first: presigned URLs (which the sandbox pod's args
contain) and tokens never reach the output.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from p2n import redact, settings

_KINDS = {"Run": "run", "Plan": "plan", "Paper": "paper", "Pod": "pod"}


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", "run"|"plan"|"paper"|"pod", "exception"}``."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        ref = getattr(record, "k8s_ref", None)
        if isinstance(ref, dict) and ref.get("name"):
            field = _KINDS.get(str(ref.get("kind")), "object")
            body[field] = f"{ref.get('namespace') or ''}/{ref['name']}".lstrip("/")
        if record.exc_info:
            body["exception"] = redact.redact(self.formatException(record.exc_info))
        return json.dumps(body, ensure_ascii=False)


def configure(cfg: settings.Settings) -> None:
    """Route all logging to stderr as JSON (or text), redacted, at the configured level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(redact.RedactingFilter())
    if cfg.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(cfg.log_level.upper())
    # Request logs of the HTTP clients would carry presigned URLs and tokens at DEBUG level.
    for noisy in ("urllib3", "kubernetes", "botocore", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))
