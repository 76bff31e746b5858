"""The dashboard's static files: served with their types and a strict CSP, nothing outside the folder."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from p2n_api import failures
from p2n_api.routes import dashboard


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    failures.install(app)
    app.include_router(dashboard.router)
    return TestClient(app)


def test_index_is_served_at_the_root_with_a_strict_policy(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<script type="module" src="/ui/js/app.js">' in response.text


def test_modules_are_served_as_javascript(client: TestClient) -> None:
    response = client.get("/ui/js/app.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"


@pytest.mark.parametrize("path", ["/ui/../main.py", "/ui/%2e%2e/main.py", "/ui/js", "/ui/nothing.js"])
def test_nothing_outside_the_static_folder_is_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "E_NOT_FOUND"


def test_every_module_import_resolves_to_a_served_file(client: TestClient) -> None:
    # No build step: a typo in an import path would only show in a browser, so check them all here.
    pending = ["js/app.js"]
    seen: set[str] = set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        response = client.get(f"/ui/{current}")
        assert response.status_code == 200, current
        base = current.rsplit("/", 1)[0]
        for target in re.findall(r'^import .* from "(\.{1,2}/[^"]+)";$', response.text, re.M):
            parts = f"{base}/{target}".split("/")
            resolved: list[str] = []
            for part in parts:
                if part == "..":
                    resolved.pop()
                elif part != ".":
                    resolved.append(part)
            pending.append("/".join(resolved))
    assert {"js/sse.js", "js/logpane.js", "js/views/run.js", "js/views/story.js"} <= seen
    # Nothing is loaded from another origin.
    index = client.get("/").text
    assert "http://" not in index
    assert "https://" not in index
