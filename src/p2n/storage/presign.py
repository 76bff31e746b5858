"""AWS Signature Version 4 query signing of one S3 object URL (a presigned GET or PUT).

botocore presigns through its generic request pipeline (endpoint rules, serializers, event hooks),
about 0.2–0.5 ms a URL; the operator makes five for every sandbox pod, on its event loop. For the
case that needs none of that pipeline (a path-style endpoint and static keys: MinIO, Ceph, moto)
:func:`presigned_url` computes the same signature directly, as the SigV4 specification describes
it, with the signing key derived once per day. Anything else stays with botocore (``s3``).

The URLs it returns carry a signature: like every presigned URL, never log them.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
import threading
from urllib.parse import quote, urlsplit

_ALGORITHM = "AWS4-HMAC-SHA256"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _encoded(value: str, safe: str = "-_.~") -> str:
    return quote(value, safe=safe)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


@dataclasses.dataclass
class Signer:
    """Presigns object URLs of one path-style endpoint with one static key pair."""

    endpoint_url: str
    region: str
    access_key_id: str
    secret_access_key: str = dataclasses.field(repr=False)
    _keys: dict[str, bytes] = dataclasses.field(default_factory=dict, repr=False)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def _signing_key(self, day: str) -> bytes:
        with self._lock:
            key = self._keys.get(day)
            if key is None:
                key = _hmac(("AWS4" + self.secret_access_key).encode(), day)
                for part in (self.region, "s3", "aws4_request"):
                    key = _hmac(key, part)
                self._keys = {day: key}
            return key

    def presigned_url(
        self, method: str, bucket: str, key: str, expires: int, now: datetime.datetime | None = None
    ) -> str:
        """``method`` (GET or PUT) on ``bucket``/``key``, valid for ``expires`` seconds from ``now``."""
        parts = urlsplit(self.endpoint_url)
        # The signed host leaves out the scheme's default port, as botocore does; the URL keeps it.
        host = parts.hostname or ""
        if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
            host = f"{host}:{parts.port}"
        path = f"{parts.path.rstrip('/')}/{_encoded(bucket)}/{_encoded(key, safe='/~')}"
        moment = (now or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
        stamp, day = moment.strftime("%Y%m%dT%H%M%SZ"), moment.strftime("%Y%m%d")
        scope = f"{day}/{self.region}/s3/aws4_request"
        params = {
            "X-Amz-Algorithm": _ALGORITHM,
            "X-Amz-Credential": f"{self.access_key_id}/{scope}",
            "X-Amz-Date": stamp,
            "X-Amz-Expires": str(expires),
            "X-Amz-SignedHeaders": "host",
        }
        query = "&".join(f"{_encoded(k)}={_encoded(v)}" for k, v in sorted(params.items()))
        canonical = f"{method}\n{path}\n{query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD"
        to_sign = f"{_ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        signature = hmac.new(self._signing_key(day), to_sign.encode(), hashlib.sha256).hexdigest()
        return f"{parts.scheme}://{parts.netloc}{path}?{query}&X-Amz-Signature={signature}"
