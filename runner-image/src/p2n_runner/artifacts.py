"""Where the run's artifacts go: a directory, or presigned PUT URLs (no storage credentials here).

The four artifacts are ``metrics.json``, ``events.jsonl``, ``logs.txt`` and ``notebook.ipynb``. With
a directory they are written there as the run goes (so a killed run still leaves its partial logs);
with URLs they are staged in the work directory and each is sent with one plain HTTP PUT at the end,
retried on connection errors and 5xx. A URL may be given as a string or as
``{"url": ..., "headers": {...}}`` when the signature covers headers. URLs never reach the logs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from p2n_runner import outcome

METRICS = "metrics.json"
EVENTS = "events.jsonl"
LOGS = "logs.txt"
NOTEBOOK = "notebook.ipynb"
NAMES: tuple[str, ...] = (METRICS, EVENTS, LOGS, NOTEBOOK)
CONTENT_TYPES: dict[str, str] = {
    METRICS: "application/json",
    EVENTS: "application/x-ndjson",
    LOGS: "text/plain; charset=utf-8",
    NOTEBOOK: "application/x-ipynb+json",
}
_ATTEMPTS = 3
_PUT_TIMEOUT_SECONDS = 60.0


def parse_urls(value: str) -> dict[str, dict[str, Any]]:
    """``--artifact-urls``: inline JSON or a path to a JSON file mapping name -> URL (or {url, headers})."""
    text = value if value.lstrip().startswith("{") else _read(value)
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise outcome.Failure("E_INVALID_INPUT", "--artifact-urls is not a JSON object") from exc
    if not isinstance(raw, dict):
        raise outcome.Failure("E_INVALID_INPUT", "--artifact-urls is not a JSON object")
    unknown = sorted(set(raw) - set(NAMES))
    if unknown:
        raise outcome.Failure("E_INVALID_INPUT", f"unknown artifact names in --artifact-urls: {unknown}")
    targets: dict[str, dict[str, Any]] = {}
    for name, target in raw.items():
        spec = {"url": target} if isinstance(target, str) else target
        if not isinstance(spec, dict) or not str(spec.get("url", "")).startswith(("http://", "https://")):
            raise outcome.Failure("E_INVALID_INPUT", f"artifact URL for {name} must be http(s)")
        targets[name] = {"url": spec["url"], "headers": dict(spec.get("headers") or {})}
    return targets


def upload(staging: Path, targets: dict[str, dict[str, Any]]) -> list[str]:
    """PUT each staged artifact to its URL; returns one safe message per artifact that failed."""
    import httpx

    failures: list[str] = []
    with httpx.Client(timeout=_PUT_TIMEOUT_SECONDS) as client:
        for name, target in targets.items():
            path = staging / name
            if not path.exists():
                continue
            headers = {"Content-Type": CONTENT_TYPES[name], **target["headers"]}
            error = _put(client, target["url"], path.read_bytes(), headers)
            if error:
                failures.append(f"upload of {name} failed: {error}")
    return failures


def _put(client: Any, url: str, body: bytes, headers: dict[str, str]) -> str | None:
    import httpx

    error = ""
    for attempt in range(_ATTEMPTS):
        try:
            response = client.put(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        else:
            if response.status_code < 300:
                return None
            error = f"HTTP {response.status_code}"
            if response.status_code < 500:
                return error
        if attempt + 1 < _ATTEMPTS:
            time.sleep(0.5 * (attempt + 1))
    return error


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as exc:
        raise outcome.Failure("E_INVALID_INPUT", f"cannot read --artifact-urls file: {exc.strerror}") from exc
