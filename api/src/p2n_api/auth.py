"""Who is calling, and may they do this: bearer tokens checked by TokenReview, actions by SubjectAccessReview.

Every route but the health probes depends on :func:`p2n_api.deps.authorized`, which asks an
:class:`Authenticator` for the caller behind the ``Authorization: Bearer`` header (401 when there is
none or it is not valid) and then whether that caller may do the route's exact verb on the p2n.dev
resource in the namespace (403 when denied). Two modes (``P2N_AUTH_MODE``):

- ``kubernetes``: TokenReview authenticates, SubjectAccessReview authorizes, as the API server
  itself would. Token reviews are cached for a few seconds (bounded size, keyed by a hash of the
  token, never the token itself) so a burst of requests costs one review; access reviews are not
  cached, so a revoked permission takes effect on the next request, and on every SSE reconnect.
- ``static``: ``P2N_STATIC_TOKENS="token=user,..."`` for a laptop; every listed user may do everything.

Tokens never reach a log or a response.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import time
from collections import OrderedDict
from typing import Protocol

from p2n import errors, resources, settings
from p2n_api import kube

TOKEN_CACHE_SECONDS = 10.0
TOKEN_CACHE_SIZE = 4096


@dataclasses.dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Action:
    """What a request does, as a SubjectAccessReview's resourceAttributes."""

    verb: str
    resource: str
    namespace: str
    name: str | None = None

    def attributes(self) -> dict[str, str]:
        attrs = {
            "group": resources.GROUP,
            "version": resources.VERSION,
            "resource": self.resource,
            "verb": self.verb,
            "namespace": self.namespace,
        }
        if self.name:
            attrs["name"] = self.name
        return attrs


class Authenticator(Protocol):
    async def authenticate(self, token: str) -> Principal | None:
        """The caller behind a bearer token, or None when the token is not valid."""
        ...

    async def authorize(self, principal: Principal, action: Action) -> bool:
        """Whether ``principal`` may do ``action``."""
        ...


class StaticTokens:
    """Tokens and users from ``P2N_STATIC_TOKENS``; every known user may do everything."""

    def __init__(self, spec: str) -> None:
        self._users: dict[str, str] = {}
        for pair in spec.split(","):
            token, sep, user = pair.strip().partition("=")
            if not pair.strip():
                continue
            if not sep or not token or not user:
                raise errors.InvalidInput("P2N_STATIC_TOKENS must be comma-separated token=user pairs")
            self._users[token] = user

    async def authenticate(self, token: str) -> Principal | None:
        for known, user in self._users.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return Principal(username=user, uid=user)
        return None

    async def authorize(self, principal: Principal, action: Action) -> bool:
        return True


class KubernetesReviews:
    """TokenReview (cached briefly) and SubjectAccessReview (every time) against the API server."""

    def __init__(
        self, cluster: kube.Kube, *, ttl: float = TOKEN_CACHE_SECONDS, max_entries: int = TOKEN_CACHE_SIZE
    ) -> None:
        self._cluster = cluster
        self._ttl = ttl
        self._max_entries = max_entries
        self._cache: OrderedDict[bytes, tuple[float, Principal | None]] = OrderedDict()

    async def authenticate(self, token: str) -> Principal | None:
        key = hashlib.sha256(token.encode()).digest()
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        user = await self._cluster.review_token(token)
        principal = (
            Principal(
                username=str(user.get("username", "")),
                uid=str(user.get("uid", "")),
                groups=tuple(str(g) for g in user.get("groups") or ()),
            )
            if user is not None and user.get("username")
            else None
        )
        self._cache[key] = (now + self._ttl, principal)
        self._cache.move_to_end(key)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)
        return principal

    async def authorize(self, principal: Principal, action: Action) -> bool:
        user = {"username": principal.username, "uid": principal.uid, "groups": list(principal.groups)}
        return await self._cluster.review_access(user, action.attributes())


def authenticator_for(config: settings.Settings, cluster: kube.Kube | None) -> Authenticator:
    if config.auth_mode == "static":
        spec = config.static_tokens.get_secret_value() if config.static_tokens else ""
        return StaticTokens(spec)
    if cluster is None:
        raise errors.ClusterError("kubernetes auth mode needs a Kubernetes API connection")
    return KubernetesReviews(cluster)


def bearer_token(header: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header; Unauthorized when it is missing or malformed."""
    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise errors.Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    return token


async def check(authenticator: Authenticator, header: str | None, action: Action) -> Principal:
    """Authenticate the header's token and authorize ``action``; 401/403 as typed errors."""
    principal = await authenticator.authenticate(bearer_token(header))
    if principal is None:
        raise errors.Unauthorized("the bearer token is not valid")
    if not await authenticator.authorize(principal, action):
        target = f"{action.resource}/{action.name}" if action.name else action.resource
        raise errors.Forbidden(
            f"{principal.username} may not {action.verb} {target} in namespace {action.namespace}"
        )
    return principal
