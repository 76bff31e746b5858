"""The web dashboard: static HTML, CSS and ES modules served at ``/`` and ``/ui/...``.

There is no build step and nothing is fetched from a CDN, so the dashboard works on an offline
cluster. The files are public (they hold no data); every call they make goes to ``/api/v1`` with the
bearer token the user typed in, so the dashboard is authenticated exactly as the API is. The
Content-Security-Policy allows only this origin's scripts and styles, which keeps injected markup
from running even if a paper's text were ever rendered unescaped.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from p2n import errors

router = APIRouter(tags=["dashboard"], include_in_schema=False)

STATIC_ROOT = Path(__file__).resolve().parent.parent / "static"

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate each time: a new release must not run against old cached modules.
    "Cache-Control": "no-cache",
}


def _file(relative: str) -> FileResponse:
    path = (STATIC_ROOT / relative).resolve()
    if not path.is_relative_to(STATIC_ROOT) or not path.is_file():
        raise errors.NotFound(f"No dashboard file {relative}")
    media_type = _MEDIA_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0]
    return FileResponse(path, media_type=media_type, headers=_HEADERS)


@router.get("/")
async def dashboard_index() -> FileResponse:
    """The dashboard's single page; its routes live in the URL fragment (``/#/papers``)."""
    return _file("index.html")


@router.get("/ui/{path:path}")
async def dashboard_file(path: str) -> FileResponse:
    """A static file of the dashboard (scripts, styles)."""
    return _file(path)
