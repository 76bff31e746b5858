"""The storage interface every backend implements, and the rules all backends share.

Callers hold a :class:`Storage` and never know whether objects live in a local directory or in
S3: keys come from :mod:`p2n.storage.keys`, and the URI a backend returns (``file:///abs/path`` or
``s3://bucket/key``) can be handed back to ``get_bytes``/``open_stream`` later, or to the runner.
Key checks and size-limit reading live here once, so both backends reject the same inputs with
the same errors.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterator
from typing import BinaryIO, Protocol, runtime_checkable

from p2n import errors

CHUNK_SIZE = 1024 * 1024
MAX_KEY_BYTES = 1024
DEFAULT_CONTENT_TYPE = "application/octet-stream"

_BAD_KEY_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")


@runtime_checkable
class Storage(Protocol):
    """Objects addressed by relative keys; see :mod:`p2n.storage.keys` for the layout.

    Missing objects raise ``errors.NotFound``; objects or streams above a ``max_bytes`` limit raise
    ``errors.PayloadTooLarge`` (and nothing is stored); invalid keys or foreign URIs raise
    ``errors.InvalidInput``; anything else the backend reports becomes ``errors.StorageError``.
    """

    def put_bytes(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> str:
        """Store ``data`` under ``key`` (replacing any object there) and return its URI."""
        ...

    def put_stream(
        self,
        key: str,
        fileobj: BinaryIO,
        max_bytes: int | None = None,
        content_type: str = DEFAULT_CONTENT_TYPE,
    ) -> str:
        """Store everything read from ``fileobj``; more than ``max_bytes`` stores nothing."""
        ...

    def get_bytes(self, key_or_uri: str, max_bytes: int | None = None) -> bytes:
        """The object's content; a key or a URI of this storage."""
        ...

    def open_stream(
        self, key_or_uri: str, max_bytes: int | None = None, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        """The object's content in chunks; NotFound/PayloadTooLarge are raised before the first chunk."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing object is not an error."""
        ...

    def list(self, prefix: str = "") -> builtins.list[str]:
        """Keys starting with ``prefix``, sorted."""
        ...

    def uri(self, key: str) -> str:
        """The URI naming ``key`` in this storage (``file://`` or ``s3://``)."""
        ...

    def presign_get(self, key: str, ttl: int | None = None) -> str:
        """A URL that lets its holder read ``key`` without credentials until it expires."""
        ...

    def presign_put(self, key: str, ttl: int | None = None) -> str:
        """A URL that lets its holder write ``key`` without credentials until it expires."""
        ...


def check_key(key: str) -> str:
    """Validate a relative object key: no absolute paths, no ``..``, no empty or hidden segments."""
    if not key or len(key.encode()) > MAX_KEY_BYTES:
        raise errors.InvalidInput(f"storage key must be 1..{MAX_KEY_BYTES} bytes")
    if key.startswith("/") or _BAD_KEY_CHARS.search(key):
        raise errors.InvalidInput(f"invalid storage key: {key!r}")
    for segment in key.split("/"):
        if not segment or segment.startswith("."):
            raise errors.InvalidInput(f"invalid storage key: {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """Validate a listing prefix: like a key, but empty and a trailing ``/`` are allowed."""
    if not prefix:
        return prefix
    check_key(prefix[:-1] if prefix.endswith("/") else prefix)
    return prefix


def check_limit(size: int, max_bytes: int | None, what: str) -> None:
    if max_bytes is not None and size > max_bytes:
        raise errors.PayloadTooLarge(
            f"{what} is larger than the limit of {max_bytes} bytes",
            details={"limit": max_bytes},
        )


def is_uri(value: str) -> bool:
    return "://" in value


class Sink(Protocol):
    """Anything bytes can be written to (files, spooled temporary files, buffers)."""

    def write(self, data: bytes, /) -> object: ...


def read_limited(fileobj: BinaryIO, sink: Sink, max_bytes: int | None, what: str) -> int:
    """Copy ``fileobj`` into ``sink`` in chunks, raising PayloadTooLarge as soon as the limit is passed."""
    total = 0
    while True:
        chunk = fileobj.read(CHUNK_SIZE)
        if not chunk:
            return total
        total += len(chunk)
        check_limit(total, max_bytes, what)
        sink.write(chunk)
