"""The request body limit, enforced while the body streams in: a huge upload is cut off, not buffered.

A declared ``Content-Length`` over the limit is refused before any byte is read; a chunked body is
counted as it arrives and refused the moment it passes the limit. Either way the client gets 413
``E_PAYLOAD_TOO_LARGE`` in the usual envelope, whatever the route was doing with the body.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from p2n import errors
from p2n_api import failures


class TooLarge(errors.PayloadTooLarge):
    """Raised from ``receive`` so that whatever reads the body stops reading."""


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _error(self) -> TooLarge:
        return TooLarge(
            f"the request body is larger than the limit of {self.max_bytes} bytes",
            details={"limit": self.max_bytes},
        )

    async def _refuse(self, send: Send) -> None:
        exc = self._error()
        body = json.dumps(failures.envelope(exc.code, exc.message, exc.details)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._refuse(send)
                    return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise self._error()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # Whatever the app answers after the cut-off (a parse error...), the answer is 413.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._refuse(send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if exceeded and not started:
                await self._refuse(send)
                return
            raise
