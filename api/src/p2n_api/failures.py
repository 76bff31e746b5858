"""Every error leaves the API as the typed envelope ``{"error": {"code", "message"}}``.

P2N's own errors keep their code and HTTP status; FastAPI's validation errors become 422
``E_INVALID_INPUT`` naming the first bad field; unknown routes and methods become ``E_NOT_FOUND`` /
``E_INVALID_INPUT``; anything unexpected is a 500 ``E_INTERNAL`` whose details (stack trace, vendor
message) go only to the redacted log, never to the client.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import pydantic
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from p2n import errors, redact, resources

_log = logging.getLogger(__name__)

_PYDANTIC_TAG = re.compile(r"^(constrained-\w+|function-[\w-]+\[.*\]|\w+-or-\w+\[.*\])$")
_HTTP_CODES: dict[int, errors.ErrorCode] = {
    401: "E_UNAUTHORIZED",
    403: "E_FORBIDDEN",
    404: "E_NOT_FOUND",
    413: "E_PAYLOAD_TOO_LARGE",
}


def envelope(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": redact.redact(message)}
    if details:
        body["details"] = details
    return {"error": body}


def error_response(exc: errors.P2NError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, errors.Unauthorized) else None
    return JSONResponse(
        envelope(exc.code, exc.message, exc.details or None), status_code=exc.http_status, headers=headers
    )


def _field(loc: Sequence[Any]) -> str:
    # ("body", "seeds", 0) -> "seeds.0"; the location kind (body/query/path/header) is dropped, and
    # so are the tags pydantic adds for union members ("constrained-str", "function-after[...]").
    parts = [str(p) for p in loc if not _PYDANTIC_TAG.match(str(p))]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        parts = parts[1:]
    return ".".join(parts) or "body"


async def _p2n_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.P2NError)
    if exc.http_status >= 500:
        _log.warning("request failed: %s", exc)
    return error_response(exc)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = list(exc.errors())
    first = problems[0] if problems else {"loc": (), "msg": "invalid request"}
    field = _field(first.get("loc", ()))
    message = str(first.get("msg", "invalid"))
    coded: errors.P2NError = errors.InvalidInput(f"{field}: {message}", details={"field": field})
    # A model validator may raise a coded message (E_GPU_REQUESTED: ...): keep that code.
    for code in ("E_GPU_REQUESTED", "E_POLICY_VIOLATION"):
        if code in message:
            coded = errors.from_code(code, f"{field}: {message.split(code + ': ', 1)[-1]}")
            coded.details["field"] = field
    return JSONResponse(envelope(coded.code, coded.message, coded.details), status_code=422)


def _allowed_methods(request: Request) -> str:
    # Starlette's 405 names the methods of the first matching route only; a path served by several
    # routes (GET and POST /papers) must list all of them.
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE and getattr(route, "methods", None):
            methods |= set(route.methods)
    return ", ".join(sorted(methods))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "E_INTERNAL" if exc.status_code >= 500 else "E_INVALID_INPUT")
    message = str(exc.detail) if exc.status_code < 500 else "internal error"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return JSONResponse(envelope(code, message), status_code=exc.status_code, headers=headers or None)


async def _model_error(_: Request, exc: Exception) -> JSONResponse:
    # A spec model built from valid request fields can still refuse a combination (duplicates...).
    assert isinstance(exc, pydantic.ValidationError)
    return error_response(resources.error_from_validation(exc))


class Guard:
    """The outermost layer: an unexpected exception becomes a 500 envelope and one redacted log line.

    Starlette would answer 500 too, then re-raise for the server to print a traceback; here nothing
    but the exception's type and (redacted) message is logged, and the client learns nothing.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            _log.error("unexpected error: %s: %s", type(exc).__name__, redact.redact(str(exc)))
            if scope["type"] != "http" or started:
                return
            response = JSONResponse(envelope("E_INTERNAL", "internal error"), status_code=500)
            await response(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.P2NError, _p2n_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(pydantic.ValidationError, _model_error)
    app.add_exception_handler(HTTPException, _http_error)
