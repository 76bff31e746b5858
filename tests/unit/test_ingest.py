"""Ingest: pages with numbers, sha256, media types, size limits while reading, storage."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from p2n import errors, resources, settings, storage
from p2n.pipeline import ingest

PAPERS = Path(__file__).resolve().parents[2] / "examples" / "papers"


def test_pdf_pages_keep_their_numbers() -> None:
    data = (PAPERS / "wine-knn.pdf").read_bytes()
    document = ingest.parse(data, filename="wine-knn.pdf")
    assert document.media_type == "application/pdf"
    assert document.page_count == 3
    assert [p.number for p in document.pages] == [1, 2, 3]
    assert "Table 1" in document.pages[1].text
    assert document.sha256 == hashlib.sha256(data).hexdigest()
    assert document.title == "Z-Scoring Matters: Nearest Neighbours on the Wine Data"


def test_text_and_markdown() -> None:
    md = ingest.parse(b"# Title here\n\nBody.", filename="p.md")
    assert (md.media_type, md.title, md.page_count) == ("text/markdown", "Title here", 1)
    txt = ingest.parse(b"First line\fSecond page", filename="p.txt")
    assert (txt.media_type, txt.page_count, txt.pages[1].text) == ("text/plain", 2, "Second page")


def test_broken_inputs_are_typed_errors() -> None:
    with pytest.raises(errors.InvalidInput):
        ingest.parse(b"%PDF-1.7 not really a pdf", filename="x.pdf")
    with pytest.raises(errors.InvalidInput):
        ingest.parse(b"\xff\xfe\x00binary", filename="x.txt")


def test_file_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.md"
    path.write_bytes(b"x" * 2048)
    with pytest.raises(errors.PayloadTooLarge):
        ingest.read_file(path, max_bytes=1024)
    with pytest.raises(errors.NotFound):
        ingest.read_file(tmp_path / "missing.md", max_bytes=1024)


def test_http_size_limit_is_checked_while_streaming() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=iter([b"x" * 700, b"y" * 700]))

    with pytest.raises(errors.PayloadTooLarge):
        ingest.fetch_http("https://papers.test/p.md", max_bytes=1024, transport=httpx.MockTransport(handler))
    assert ingest.fetch_http(
        "https://papers.test/p.md", max_bytes=4096, transport=httpx.MockTransport(handler)
    )


def test_http_errors_do_not_leak_query_strings() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(403))
    with pytest.raises(errors.InvalidInput) as caught:
        ingest.fetch_http(
            "https://papers.test/p.md?X-Amz-Signature=secret", max_bytes=4096, transport=transport
        )
    assert "secret" not in str(caught.value)


def test_ingest_inline_text_is_stored(tmp_path: Path) -> None:
    config = settings.Settings(home=tmp_path, openai_api_key=None)
    store = storage.LocalStorage(tmp_path / "store")
    source = resources.PaperSource(text="# Inline\n\nLDA achieved an accuracy of 98.0% on iris.")
    document = ingest.ingest(source, settings=config, store=store, namespace="default", paper="inline")
    assert document.uri is not None
    assert store.get_bytes(document.uri) == source.text.encode()  # type: ignore[union-attr]
    assert document.title == "Inline"


def test_inline_text_size_limit(tmp_path: Path) -> None:
    config = settings.Settings(home=tmp_path, max_document_bytes=1024, openai_api_key=None)
    source = resources.PaperSource(text="x" * 2000)
    with pytest.raises(errors.PayloadTooLarge):
        ingest.ingest(source, settings=config, store=storage.LocalStorage(tmp_path), namespace="d", paper="p")
