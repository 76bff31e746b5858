"""Turn a paper (PDF, text or markdown; bytes, a file, an http(s) or s3 URL) into pages of text.

Page numbers are kept because every claim cites the page its quote is on. The document's sha256
identifies it across runs, and a copy goes to storage so a run can always be traced back to the
exact bytes it read. Sizes are checked while reading, never after: an oversized document fails
with ``E_PAYLOAD_TOO_LARGE`` before it is held in memory.

    >>> doc = parse(b"# A title\\n\\nLDA achieved an accuracy of 98.0%.", filename="p.md")
    >>> (doc.title, doc.page_count, doc.media_type)
    ('A title', 1, 'text/markdown')
"""

from __future__ import annotations

import hashlib
import io
import re
import urllib.parse
from pathlib import Path
from typing import Literal

import httpx
import pypdf
from pydantic import BaseModel, ConfigDict, Field

from p2n import errors, resources, storage, telemetry
from p2n.settings import Settings
from p2n.storage import keys

MediaType = Literal["application/pdf", "text/markdown", "text/plain"]

PAGE_BREAK = "\f"
_FETCH_TIMEOUT_SECONDS = 30.0


class Page(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int = Field(ge=1, description="1-based page number, as cited.")
    text: str


class Document(BaseModel):
    """An ingested paper: its identity, where its bytes are stored, and its text per page."""

    model_config = ConfigDict(frozen=True)

    sha256: str = Field(pattern=r"^[a-f0-9]{64}$")
    size_bytes: int = Field(ge=0)
    media_type: MediaType
    filename: str
    title: str | None = None
    pages: tuple[Page, ...]
    uri: str | None = Field(default=None, description="Where the original bytes are stored.")

    @property
    def page_count(self) -> int:
        return len(self.pages)

    @property
    def text(self) -> str:
        return "\n\n".join(page.text for page in self.pages)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def media_type_of(data: bytes, filename: str) -> MediaType:
    """PDFs are recognised by their magic bytes, markdown by its extension; the rest is text."""
    if data[:5] == b"%PDF-":
        return "application/pdf"
    if filename.lower().endswith((".md", ".markdown")):
        return "text/markdown"
    return "text/plain"


def parse(data: bytes, *, filename: str = "paper.txt", title: str | None = None) -> Document:
    """Split a document into pages (PDF pages, or form-feed separated text) and find its title."""
    media_type = media_type_of(data, filename)
    texts = _pdf_pages(data) if media_type == "application/pdf" else _text_pages(data)
    pages = tuple(Page(number=i, text=text) for i, text in enumerate(texts, start=1))
    return Document(
        sha256=sha256_hex(data),
        size_bytes=len(data),
        media_type=media_type,
        filename=filename,
        title=title or _title_of(pages, media_type),
        pages=pages,
    )


def _text_pages(data: bytes) -> list[str]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise errors.InvalidInput("the document is neither a PDF nor UTF-8 text") from exc
    text = text.replace("\r\n", "\n")
    return [page.strip("\n") for page in text.split(PAGE_BREAK)] or [""]


def _pdf_pages(data: bytes) -> list[str]:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        return [page.extract_text() or "" for page in reader.pages]
    except (pypdf.errors.PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise errors.InvalidInput(f"the PDF could not be read: {exc}") from exc


def _title_of(pages: tuple[Page, ...], media_type: MediaType) -> str | None:
    first = pages[0].text if pages else ""
    if media_type == "text/markdown":
        heading = re.search(r"^#\s+(.+?)\s*$", first, flags=re.MULTILINE)
        if heading:
            return heading.group(1)
    for line in first.splitlines():
        if line.strip():
            return line.strip().lstrip("#").strip()[:512] or None
    return None


def check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise errors.PayloadTooLarge(
            f"the document is larger than {max_bytes} bytes", details={"max_bytes": max_bytes}
        )


def read_file(path: Path, *, max_bytes: int) -> bytes:
    try:
        check_size(path.stat().st_size, max_bytes)
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise errors.NotFound(f"no such file: {path}") from exc
    except IsADirectoryError as exc:
        raise errors.InvalidInput(f"not a file: {path}") from exc


def fetch_http(url: str, *, max_bytes: int, transport: httpx.BaseTransport | None = None) -> bytes:
    """GET a document, counting bytes as they arrive so a huge body is cut off early."""
    chunks: list[bytes] = []
    received = 0
    try:
        with (
            httpx.Client(
                timeout=_FETCH_TIMEOUT_SECONDS, follow_redirects=True, transport=transport
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code == 404:
                raise errors.NotFound(f"{_public(url)} returned 404")
            if response.status_code >= 400:
                raise errors.InvalidInput(f"{_public(url)} returned HTTP {response.status_code}")
            length = response.headers.get("content-length")
            if length and length.isdigit():
                check_size(int(length), max_bytes)
            for chunk in response.iter_bytes():
                received += len(chunk)
                check_size(received, max_bytes)
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise errors.InvalidInput(f"could not fetch {_public(url)}: {type(exc).__name__}") from exc
    return b"".join(chunks)


def _public(url: str) -> str:
    """The URL without its query string, which may carry a presigned signature."""
    return url.split("?", 1)[0]


def filename_of(location: str) -> str:
    """The last path segment of a path or URL (query string dropped), as the user named the file."""
    name = urllib.parse.unquote(_public(location).rstrip("/").rsplit("/", 1)[-1])
    return name or "paper"


def read_location(location: str, *, settings: Settings, store: storage.Storage | None = None) -> bytes:
    """Bytes of a local path, http(s) URL or s3 URI (read through ``store``), within the size limit."""
    max_bytes = settings.max_document_bytes
    if location.startswith(("http://", "https://")):
        return fetch_http(location, max_bytes=max_bytes)
    if location.startswith("s3://"):
        if store is None:
            raise errors.InvalidInput("an s3:// document needs an S3 storage backend")
        return store.get_bytes(location, max_bytes=max_bytes)
    return read_file(Path(location), max_bytes=max_bytes)


def save(document: Document, data: bytes, *, store: storage.Storage, namespace: str, paper: str) -> Document:
    """Keep the original bytes in storage; the returned document carries their URI."""
    uri = store.put_bytes(keys.paper_document(namespace, paper, document.filename), data, document.media_type)
    return document.model_copy(update={"uri": uri})


@telemetry.traced("p2n.paper.ingest")
def ingest(
    source: resources.PaperSource,
    *,
    settings: Settings,
    store: storage.Storage,
    namespace: str,
    paper: str,
    title: str | None = None,
    config_map_text: str | None = None,
) -> Document:
    """Read a Paper's source, split it into pages and store the bytes (the operator's entry point).

    ``config_map_text`` is the value of ``source.configMapRef`` already read by the caller, which
    owns the Kubernetes client.
    """
    if source.url is not None:
        data = read_location(source.url, settings=settings, store=store)
        filename = keys.safe_filename(filename_of(source.url), default="paper")
    else:
        text = source.text if source.text is not None else config_map_text
        if text is None:
            raise errors.InvalidInput("source.configMapRef was given but its text was not read")
        data = text.encode("utf-8")
        check_size(len(data), settings.max_document_bytes)
        filename = source.config_map_ref.key if source.config_map_ref else "paper.md"
    document = parse(data, filename=filename, title=title)
    return save(document, data, store=store, namespace=namespace, paper=paper)
