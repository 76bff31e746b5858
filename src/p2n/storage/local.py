"""Storage in a local directory: the default for ``p2n reproduce`` and for tests without S3.

Objects are files under one root directory, written atomically (a hidden temporary file renamed
into place), so a reader never sees half an object and an upload over the size limit leaves
nothing behind. URIs are ``file:///abs/path``. There is no server to sign URLs, so the
"presigned" URLs of this backend are those ``file://`` URIs: usable only by processes on this
machine, which is where a local sandbox runs.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from p2n import errors
from p2n.storage import backend

_log = logging.getLogger(__name__)
_FILE_MODE = 0o644


@contextlib.contextmanager
def _translated(action: str, key: str) -> Iterator[None]:
    try:
        yield
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        if action == "read":
            raise errors.NotFound(f"no object {key!r} in local storage") from exc
        raise errors.StorageError(f"local storage {action} of {key!r} failed: {exc.strerror}") from exc
    except OSError as exc:
        raise errors.StorageError(f"local storage {action} of {key!r} failed: {exc.strerror}") from exc


def _iter_file(fh: BinaryIO, key: str, max_bytes: int | None, chunk_size: int) -> Iterator[bytes]:
    with fh, _translated("read", key):
        total = 0
        while chunk := fh.read(chunk_size):
            total += len(chunk)
            backend.check_limit(total, max_bytes, f"object {key!r}")
            yield chunk


class LocalStorage:
    """Objects as files under ``root`` (created if missing)."""

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        with _translated("setup", str(self.root)):
            self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStorage(root={str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / backend.check_key(key)

    def path(self, key_or_uri: str) -> Path:
        """The file holding an object, for local consumers that take paths (the local sandbox)."""
        return self._path(self._key(key_or_uri))

    def _key(self, key_or_uri: str) -> str:
        if not backend.is_uri(key_or_uri):
            return backend.check_key(key_or_uri)
        parts = urlsplit(key_or_uri)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise errors.InvalidInput(f"local storage cannot read {parts.scheme}:// URIs")
        try:
            relative = Path(unquote(parts.path)).relative_to(self.root)
        except ValueError as exc:
            raise errors.InvalidInput("file URI is outside the storage root") from exc
        return backend.check_key(relative.as_posix())

    def _write(self, key: str, write: Callable[[BinaryIO], object]) -> str:
        path = self._path(key)
        with _translated("write", key):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as fh:
                    write(fh)
                os.chmod(tmp, _FILE_MODE)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        _log.debug("stored object %s", key)
        return self.uri(key)

    def put_bytes(self, key: str, data: bytes, content_type: str = backend.DEFAULT_CONTENT_TYPE) -> str:
        return self._write(key, lambda fh: fh.write(data))

    def put_stream(
        self,
        key: str,
        fileobj: BinaryIO,
        max_bytes: int | None = None,
        content_type: str = backend.DEFAULT_CONTENT_TYPE,
    ) -> str:
        return self._write(key, lambda fh: backend.read_limited(fileobj, fh, max_bytes, f"upload to {key!r}"))

    def get_bytes(self, key_or_uri: str, max_bytes: int | None = None) -> bytes:
        return b"".join(self.open_stream(key_or_uri, max_bytes=max_bytes))

    def open_stream(
        self, key_or_uri: str, max_bytes: int | None = None, chunk_size: int = backend.CHUNK_SIZE
    ) -> Iterator[bytes]:
        key = self._key(key_or_uri)
        with _translated("read", key):
            fh = self._path(key).open("rb")
        try:
            backend.check_limit(os.fstat(fh.fileno()).st_size, max_bytes, f"object {key!r}")
        except BaseException:
            fh.close()
            raise
        return _iter_file(fh, key, max_bytes, chunk_size)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        with _translated("delete", key):
            path.unlink(missing_ok=True)
        # Drop directories the object leaves empty, so listings and disk usage stay tidy.
        parent = path.parent
        while parent != self.root:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def list(self, prefix: str = "") -> builtins.list[str]:
        backend.check_prefix(prefix)
        base = self.root / prefix.rpartition("/")[0]
        found: builtins.list[str] = []
        with _translated("list", prefix):
            for directory, subdirs, files in os.walk(base):
                subdirs[:] = [name for name in subdirs if not name.startswith(".")]
                for name in files:
                    if name.startswith("."):
                        continue
                    key = Path(directory, name).relative_to(self.root).as_posix()
                    if key.startswith(prefix):
                        found.append(key)
        return sorted(found)

    def uri(self, key: str) -> str:
        return self._path(key).as_uri()

    def presign_get(self, key: str, ttl: int | None = None) -> str:
        return self.uri(key)

    def presign_put(self, key: str, ttl: int | None = None) -> str:
        return self.uri(key)
