"""Storage in an S3-compatible bucket (AWS S3, MinIO, moto): the only module that imports boto3.

Objects live under ``s3://<bucket>/<prefix>``. Presigned GET/PUT URLs let the sandbox read its
notebook and write its artifacts without holding credentials. Every botocore/boto3 error is
translated here into the P2N error tree, so nothing above this module sees a vendor exception.

Signatures, credentials and presigned URLs must never reach a log: botocore logs canonical
requests, signatures and Authorization headers at DEBUG, so its loggers are guarded with the
redacting filter of :mod:`p2n.redact` as soon as a client exists, and this module itself logs
keys only, never URLs.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
import logging
import tempfile
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import urlsplit

import boto3
import boto3.exceptions
import botocore.config
import botocore.exceptions

from p2n import errors, redact, settings
from p2n.storage import backend, presign

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_log = logging.getLogger(__name__)

MAX_PRESIGN_TTL = 7 * 24 * 3600
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})
_VENDOR_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3")
_SPOOL_IN_MEMORY_BYTES = 8 * 1024 * 1024


def _error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextlib.contextmanager
def _translated(action: str, key: str) -> Iterator[None]:
    try:
        yield
    except botocore.exceptions.ClientError as exc:
        code = _error_code(exc)
        if code in _NOT_FOUND_CODES:
            raise errors.NotFound(f"no object {key!r} in S3 storage") from exc
        if code == "EntityTooLarge":
            raise errors.PayloadTooLarge(f"S3 refused {key!r} as too large") from exc
        message = exc.response.get("Error", {}).get("Message", "")
        raise errors.StorageError(
            redact.redact(f"S3 {action} of {key!r} failed: {code} {message}".strip())
        ) from exc
    except (botocore.exceptions.BotoCoreError, boto3.exceptions.Boto3Error) as exc:
        raise errors.StorageError(redact.redact(f"S3 {action} of {key!r} failed: {exc}")) from exc


# One boto3 session per process: it caches the parsed service models, which makes each new
# client cheap. Creating clients from one session is not thread-safe, hence the lock.
_session_lock = threading.Lock()


@functools.cache
def _shared_session() -> boto3.session.Session:
    return boto3.session.Session()


def _normalized_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{backend.check_key(prefix)}/" if prefix else ""


class S3Storage:
    """Objects in ``bucket`` under ``prefix``; credentials default to the boto3 chain when not given."""

    def __init__(
        self,
        bucket: str,
        *,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        presign_ttl: int = 3600,
    ) -> None:
        if not bucket or "/" in bucket:
            raise errors.InvalidInput(f"invalid S3 bucket name: {bucket!r}")
        self.bucket = bucket
        self.prefix = _normalized_prefix(prefix)
        self.presign_ttl = self._check_ttl(presign_ttl)
        config = botocore.config.Config(
            signature_version="s3v4",
            # MinIO and moto serve buckets as paths, not as virtual hosts.
            s3={"addressing_style": "path" if endpoint_url else "auto"},
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=5,
            read_timeout=60,
        )
        with _translated("setup", bucket), _session_lock:
            # Credentials go to the client, never to the shared session, so storages with different
            # credentials cannot affect each other.
            self._client: S3Client = _shared_session().client(
                "s3",
                region_name=region,
                endpoint_url=endpoint_url,
                aws_access_key_id=access_key_id,
                aws_secret_access_key=secret_access_key,
                config=config,
            )
        self._region = region
        # Presigning without botocore's request pipeline where nothing in it applies: a path-style
        # endpoint (not IPv6) and static keys. AWS itself and refreshable credentials stay with botocore.
        self._signer = (
            presign.Signer(endpoint_url, region, access_key_id, secret_access_key)
            if endpoint_url and access_key_id and secret_access_key and "[" not in endpoint_url
            else None
        )
        redact.guard_loggers(*_VENDOR_LOGGERS)

    @classmethod
    def from_settings(cls, config: settings.Settings) -> S3Storage:
        if not config.s3_bucket:
            raise errors.InvalidInput("P2N_S3_BUCKET is not set")
        return cls(
            config.s3_bucket,
            prefix=config.s3_prefix,
            endpoint_url=config.s3_endpoint_url,
            region=config.s3_region,
            access_key_id=config.s3_access_key_id.get_secret_value() if config.s3_access_key_id else None,
            secret_access_key=(
                config.s3_secret_access_key.get_secret_value() if config.s3_secret_access_key else None
            ),
            presign_ttl=config.presign_ttl_seconds,
        )

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r}, prefix={self.prefix!r})"

    @staticmethod
    def _check_ttl(ttl: int) -> int:
        if not 1 <= ttl <= MAX_PRESIGN_TTL:
            raise errors.InvalidInput(f"presigned URL lifetime must be 1..{MAX_PRESIGN_TTL} seconds")
        return ttl

    def _object_key(self, key: str) -> str:
        return f"{self.prefix}{backend.check_key(key)}"

    def _key(self, key_or_uri: str) -> str:
        if not backend.is_uri(key_or_uri):
            return backend.check_key(key_or_uri)
        parts = urlsplit(key_or_uri)
        if parts.scheme != "s3":
            raise errors.InvalidInput(f"S3 storage cannot read {parts.scheme}:// URIs")
        object_key = parts.path.lstrip("/")
        # Only this storage's bucket and prefix: a URI from a resource spec must not turn P2N's
        # credentials into a reader of arbitrary buckets.
        if parts.netloc != self.bucket or not object_key.startswith(self.prefix):
            raise errors.InvalidInput("S3 URI is outside this storage's bucket and prefix")
        return backend.check_key(object_key[len(self.prefix) :])

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (for local MinIO/moto set-ups and tests)."""
        with _translated("bucket check", self.bucket):
            try:
                self._client.head_bucket(Bucket=self.bucket)
                return
            except botocore.exceptions.ClientError as exc:
                if _error_code(exc) not in _NOT_FOUND_CODES | {"NoSuchBucket"}:
                    raise
            if self._region == "us-east-1":
                self._client.create_bucket(Bucket=self.bucket)
            else:
                self._client.create_bucket(
                    Bucket=self.bucket,
                    CreateBucketConfiguration={"LocationConstraint": self._region},  # type: ignore[typeddict-item]
                )

    def put_bytes(self, key: str, data: bytes, content_type: str = backend.DEFAULT_CONTENT_TYPE) -> str:
        object_key = self._object_key(key)
        with _translated("upload", key):
            self._client.put_object(Bucket=self.bucket, Key=object_key, Body=data, ContentType=content_type)
        _log.debug("stored object %s (%d bytes)", key, len(data))
        return self.uri(key)

    def put_stream(
        self,
        key: str,
        fileobj: BinaryIO,
        max_bytes: int | None = None,
        content_type: str = backend.DEFAULT_CONTENT_TYPE,
    ) -> str:
        object_key = self._object_key(key)
        # Spool first (memory, then disk) so that an upload over the limit stores nothing at all.
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY_BYTES) as spool:
            size = backend.read_limited(fileobj, spool, max_bytes, f"upload to {key!r}")
            spool.seek(0)
            with _translated("upload", key):
                self._client.upload_fileobj(
                    spool, self.bucket, object_key, ExtraArgs={"ContentType": content_type}
                )
        _log.debug("stored object %s (%d bytes)", key, size)
        return self.uri(key)

    def _get_object(self, key: str, max_bytes: int | None) -> Any:
        with _translated("download", key):
            response = self._client.get_object(Bucket=self.bucket, Key=self._object_key(key))
        body = response["Body"]
        try:
            backend.check_limit(int(response.get("ContentLength", 0)), max_bytes, f"object {key!r}")
        except errors.PayloadTooLarge:
            body.close()
            raise
        return body

    def get_bytes(self, key_or_uri: str, max_bytes: int | None = None) -> bytes:
        key = self._key(key_or_uri)
        body = self._get_object(key, max_bytes)
        with contextlib.closing(body), _translated("download", key):
            data: bytes = body.read() if max_bytes is None else body.read(max_bytes + 1)
        backend.check_limit(len(data), max_bytes, f"object {key!r}")
        return data

    def open_stream(
        self, key_or_uri: str, max_bytes: int | None = None, chunk_size: int = backend.CHUNK_SIZE
    ) -> Iterator[bytes]:
        key = self._key(key_or_uri)
        return self._iter_body(key, self._get_object(key, max_bytes), max_bytes, chunk_size)

    @staticmethod
    def _iter_body(key: str, body: Any, max_bytes: int | None, chunk_size: int) -> Iterator[bytes]:
        with contextlib.closing(body), _translated("download", key):
            total = 0
            for chunk in body.iter_chunks(chunk_size):
                total += len(chunk)
                backend.check_limit(total, max_bytes, f"object {key!r}")
                yield chunk

    def exists(self, key: str) -> bool:
        object_key = self._object_key(key)
        with _translated("lookup", key):
            try:
                self._client.head_object(Bucket=self.bucket, Key=object_key)
            except botocore.exceptions.ClientError as exc:
                if _error_code(exc) in _NOT_FOUND_CODES:
                    return False
                raise
        return True

    def delete(self, key: str) -> None:
        object_key = self._object_key(key)
        with _translated("delete", key):
            self._client.delete_object(Bucket=self.bucket, Key=object_key)
        _log.debug("deleted object %s", key)

    def list(self, prefix: str = "") -> builtins.list[str]:
        backend.check_prefix(prefix)
        found: builtins.list[str] = []
        with _translated("list", prefix):
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=f"{self.prefix}{prefix}"
            )
            for page in pages:
                found.extend(item["Key"][len(self.prefix) :] for item in page.get("Contents", []))
        return sorted(found)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._object_key(key)}"

    def _presign(self, method: str, key: str, ttl: int | None) -> str:
        object_key = self._object_key(key)
        expires = self._check_ttl(ttl) if ttl is not None else self.presign_ttl
        if self._signer is not None:
            verb = "PUT" if method == "put_object" else "GET"
            return self._signer.presigned_url(verb, self.bucket, object_key, expires)
        with _translated("presign", key):
            url: str = self._client.generate_presigned_url(
                ClientMethod=method,
                Params={"Bucket": self.bucket, "Key": object_key},
                ExpiresIn=expires,
            )
        return url

    def presign_get(self, key: str, ttl: int | None = None) -> str:
        return self._presign("get_object", key, ttl)

    def presign_put(self, key: str, ttl: int | None = None) -> str:
        return self._presign("put_object", key, ttl)
