"""Fixtures of the pipeline tier: an OpenAI-compatible stub server and helpers to serve files.

``openai_stub`` is a real HTTP server on loopback speaking the subset of the Responses API that
P2N uses (``POST /v1/responses``, streamed as server-sent events or as one JSON body), so the real
``openai`` client is exercised end to end. Each request takes the next scripted reply; the
requests are recorded for assertions. ``file_server`` serves a directory over HTTP for ingest and
CSV data sets.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.pipeline.openai_stub import STUB_API_KEY, OpenAIStub, StubHandler

from p2n import settings


@pytest.fixture(scope="session")
def _openai_server() -> Iterator[OpenAIStub]:
    stub = OpenAIStub()
    handler = type("BoundStubHandler", (StubHandler,), {"stub": stub})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    stub.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield stub
    server.shutdown()
    server.server_close()


@pytest.fixture
def openai_stub(_openai_server: OpenAIStub) -> Iterator[OpenAIStub]:
    _openai_server.reset()
    yield _openai_server
    _openai_server.reset()


@pytest.fixture
def openai_settings(openai_stub: OpenAIStub, tmp_path: Path) -> settings.Settings:
    return settings.Settings(
        home=tmp_path / "home",
        openai_api_key=STUB_API_KEY,
        openai_base_url=openai_stub.url,
        openai_model="stub-model",
        llm_max_tokens=5000,
        llm_max_tool_calls=2,
    )


@pytest.fixture
def offline_settings(tmp_path: Path) -> settings.Settings:
    return settings.Settings(home=tmp_path / "home", openai_api_key=None)


@pytest.fixture(scope="module")
def file_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """(directory, base URL): files written into the directory are served over HTTP on loopback."""
    root = tmp_path_factory.mktemp("served")
    handler = functools.partial(_QuietFiles, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return
