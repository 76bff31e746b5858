"""Where the notebook comes from: a file path, an http(s) URL, or an ``s3://bucket/key`` URI.

The sandbox holds no storage credentials, so an S3 URI is fetched anonymously, path-style, from the
endpoint in ``P2N_S3_ENDPOINT_URL`` (a public or loopback endpoint such as MinIO/moto); on AWS,
pass a presigned https URL instead. Downloads are capped, and any failure is ``E_INVALID_INPUT``.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote, urlsplit

import nbformat

from p2n_runner import outcome

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
_FETCH_TIMEOUT_SECONDS = 60.0


def load(source: str) -> nbformat.NotebookNode:
    """Read and validate the notebook (nbformat v4); raises ``Failure(E_INVALID_INPUT)``."""
    raw = _read_bytes(source)
    try:
        nb: nbformat.NotebookNode = nbformat.reads(raw.decode("utf-8"), as_version=4)  # type: ignore[no-untyped-call]
        nbformat.validate(nb)
    except Exception as exc:
        raise outcome.Failure(
            "E_INVALID_INPUT", f"not a valid notebook: {type(exc).__name__}: {exc}"
        ) from exc
    return nb


def describe(source: str) -> str:
    """The source without query string or credentials, safe to log (presigned signatures stay out)."""
    parts = urlsplit(source)
    if parts.scheme in {"http", "https"}:
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"
    return source


def _read_bytes(source: str) -> bytes:
    scheme = urlsplit(source).scheme
    if scheme in {"http", "https"}:
        return _download(source)
    if scheme == "s3":
        return _download(_s3_url(source))
    if scheme not in {"", "file"}:
        raise outcome.Failure("E_INVALID_INPUT", f"unsupported notebook source scheme {scheme!r}")
    path = Path(urlsplit(source).path if scheme == "file" else source)
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            raise outcome.Failure("E_INVALID_INPUT", f"notebook is {size} bytes, above {MAX_NOTEBOOK_BYTES}")
        return path.read_bytes()
    except OSError as exc:
        raise outcome.Failure("E_INVALID_INPUT", f"cannot read notebook {path}: {exc.strerror}") from exc


def _s3_url(uri: str) -> str:
    parts = urlsplit(uri)
    endpoint = os.environ.get("P2N_S3_ENDPOINT_URL")
    if not endpoint:
        raise outcome.Failure(
            "E_INVALID_INPUT",
            "s3:// notebooks need P2N_S3_ENDPOINT_URL (anonymous read) or a presigned https URL",
        )
    return f"{endpoint.rstrip('/')}/{parts.netloc}/{quote(parts.path.lstrip('/'))}"


def _download(url: str) -> bytes:
    import httpx

    try:
        with httpx.stream("GET", url, timeout=_FETCH_TIMEOUT_SECONDS, follow_redirects=True) as response:
            if response.status_code != 200:
                raise outcome.Failure(
                    "E_INVALID_INPUT", f"fetching {describe(url)} failed: HTTP {response.status_code}"
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_NOTEBOOK_BYTES:
                    raise outcome.Failure(
                        "E_INVALID_INPUT", f"notebook is larger than {MAX_NOTEBOOK_BYTES} bytes"
                    )
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise outcome.Failure(
            "E_INVALID_INPUT", f"fetching {describe(url)} failed: {type(exc).__name__}"
        ) from exc
