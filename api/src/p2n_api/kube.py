"""The API's one adapter to the Kubernetes API server: p2n.dev objects, pod logs, token and access reviews.

The facade is asynchronous and relays long-lived streams (watches, ``follow``-ed pod logs) to many
clients, so it talks to the API server with ``httpx.AsyncClient`` and uses the `kubernetes` package
only to read the connection settings (in-cluster service account, else ``KUBECONFIG``), exactly as
kubectl would find them. Failures are translated here into :mod:`p2n.errors`; nothing above this
module sees an HTTP status of the API server or a vendor exception.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import httpx

from p2n import errors, redact, resources

CORE = "/api/v1"
P2N = f"/apis/{resources.GROUP}/{resources.VERSION}"
PLURALS: dict[str, str] = {"Paper": "papers", "Plan": "plans", "Run": "runs"}
_MERGE_PATCH = "application/merge-patch+json"


class Kube:
    """Calls to one API server: ``Kube(base_url, token=..)``, or :meth:`from_environment`.

    ``token`` may be a callable so a rotated service-account token is re-read before each call.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | Callable[[], str | None] | None = None,
        verify: ssl.SSLContext | bool = True,
        cert: tuple[str, str] | None = None,
        timeout: float = 15.0,
    ) -> None:
        self._token = token
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            verify=verify,
            cert=cert,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=20),
        )
        self._streams = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            verify=verify,
            cert=cert,
            # Watches and followed logs stay open for as long as a run lasts.
            timeout=httpx.Timeout(timeout, read=None),
        )

    @classmethod
    def from_environment(cls) -> Kube:
        """Connection settings as kubectl finds them: the pod's service account, else ``KUBECONFIG``."""
        import kubernetes

        config = kubernetes.client.Configuration()
        try:
            kubernetes.config.load_incluster_config(client_configuration=config)  # type: ignore[no-untyped-call]
        except kubernetes.config.ConfigException:
            try:
                # Read KUBECONFIG now: the client reads it once, when it is first imported.
                kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=os.environ.get("KUBECONFIG"), client_configuration=config
                )
            except (kubernetes.config.ConfigException, OSError) as exc:
                raise errors.ClusterError(f"no Kubernetes configuration found: {exc}") from exc
        verify: ssl.SSLContext | bool = bool(config.verify_ssl)
        if config.verify_ssl and config.ssl_ca_cert:
            verify = ssl.create_default_context(cafile=config.ssl_ca_cert)
        cert = (config.cert_file, config.key_file) if config.cert_file and config.key_file else None

        def token() -> str | None:
            value = config.get_api_key_with_prefix("authorization")
            return str(value).removeprefix("Bearer ").strip() if value else None

        return cls(str(config.host), token=token, verify=verify, cert=cert)

    async def close(self) -> None:
        await self._client.aclose()
        await self._streams.aclose()

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        token = self._token() if callable(self._token) else self._token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(extra or {})
        return headers

    async def _call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        content = json.dumps(body).encode() if body is not None else None
        try:
            response = await self._client.request(
                method,
                path,
                content=content,
                params=params,
                headers=self._headers({"Content-Type": content_type} if content is not None else None),
            )
        except httpx.HTTPError as exc:
            raise errors.ClusterError(
                f"the Kubernetes API is unreachable ({what}): {type(exc).__name__}"
            ) from exc
        if response.status_code >= 400:
            raise _translated(response.status_code, _message(response.content), what)
        result: dict[str, Any] = response.json()
        return result

    # --- p2n.dev objects -----------------------------------------------------------------------

    @staticmethod
    def _path(kind: str, namespace: str, name: str | None = None) -> str:
        base = f"{P2N}/namespaces/{namespace}/{PLURALS[kind]}"
        return f"{base}/{name}" if name else base

    async def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        return await self._call("GET", self._path(kind, namespace, name), f"{kind} {name}")

    async def list(
        self, kind: str, namespace: str, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        params = {"labelSelector": label_selector} if label_selector else None
        body = await self._call("GET", self._path(kind, namespace), f"{kind} list", params=params)
        items: list[dict[str, Any]] = body.get("items") or []
        return items

    async def create(self, kind: str, namespace: str, manifest: Mapping[str, Any]) -> dict[str, Any]:
        name = manifest.get("metadata", {}).get("name", "")
        return await self._call("POST", self._path(kind, namespace), f"{kind} {name}", body=manifest)

    async def patch(self, kind: str, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON merge patch of the object (never of its status: that is the operator's)."""
        return await self._call(
            "PATCH",
            self._path(kind, namespace, name),
            f"{kind} {name}",
            body=patch,
            content_type=_MERGE_PATCH,
        )

    async def delete(self, kind: str, namespace: str, name: str) -> None:
        await self._call(
            "DELETE",
            self._path(kind, namespace, name),
            f"{kind} {name}",
            body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
        )

    async def watch(
        self, kind: str, namespace: str, name: str, resource_version: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The object each time it changes (ADDED/MODIFIED), until it is deleted or the watch ends."""
        params = {"watch": "true", "fieldSelector": f"metadata.name={name}", "allowWatchBookmarks": "false"}
        if resource_version:
            params["resourceVersion"] = resource_version
        async for line in self._lines(self._path(kind, namespace), params, f"watch of {kind} {name}"):
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("type") in ("ADDED", "MODIFIED"):
                yield event["object"]
            elif event.get("type") in ("DELETED", "ERROR"):
                return

    async def get_pod(self, namespace: str, name: str) -> dict[str, Any]:
        return await self._call("GET", f"{CORE}/namespaces/{namespace}/pods/{name}", f"pod {name}")

    async def pod_log(self, namespace: str, pod: str, *, follow: bool) -> AsyncIterator[bytes]:
        """The pod's log, line by line; with ``follow`` until the container ends."""
        params = {"follow": "true" if follow else "false"}
        async for line in self._lines(
            f"{CORE}/namespaces/{namespace}/pods/{pod}/log", params, f"log of {pod}"
        ):
            yield line

    async def _lines(self, path: str, params: Mapping[str, str], what: str) -> AsyncIterator[bytes]:
        try:
            async with self._streams.stream("GET", path, params=params, headers=self._headers()) as response:
                if response.status_code >= 400:
                    raise _translated(response.status_code, _message(await response.aread()), what)
                pending = b""
                async for chunk in response.aiter_bytes():
                    pending += chunk
                    *complete, pending = pending.split(b"\n")
                    for line in complete:
                        yield line
                if pending:
                    yield pending
        except httpx.HTTPError as exc:
            raise errors.ClusterError(
                f"the Kubernetes API stream broke ({what}): {type(exc).__name__}"
            ) from exc

    # --- authentication and authorization ------------------------------------------------------

    async def review_token(self, token: str) -> dict[str, Any] | None:
        """The TokenReview's user (username, uid, groups) of a bearer token, or None if it is not valid."""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        result = await self._call(
            "POST", "/apis/authentication.k8s.io/v1/tokenreviews", "token review", body=body
        )
        status = result.get("status") or {}
        if not status.get("authenticated"):
            return None
        user: dict[str, Any] = status.get("user") or {}
        return user

    async def review_access(self, user: Mapping[str, Any], attributes: Mapping[str, str]) -> bool:
        """Whether a SubjectAccessReview allows ``user`` the action in ``attributes``."""
        spec: dict[str, Any] = {
            "user": user.get("username", ""),
            "uid": user.get("uid", ""),
            "groups": list(user.get("groups") or []),
            "resourceAttributes": dict(attributes),
        }
        if user.get("extra"):
            spec["extra"] = user["extra"]
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
        result = await self._call(
            "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", "access review", body=body
        )
        return bool((result.get("status") or {}).get("allowed"))

    async def ping(self) -> None:
        """Raise ClusterError unless the API server answers (for readiness)."""
        await self._call("GET", "/version", "version")


def _message(content: bytes) -> str:
    try:
        body = json.loads(content)
    except ValueError:
        return redact.redact(content[:200].decode(errors="replace"))
    return redact.redact(str(body.get("message", ""))) if isinstance(body, dict) else ""


def _translated(status: int, message: str, what: str) -> errors.P2NError:
    if status == 404:
        return errors.NotFound(f"{what} not found")
    if status == 409:
        return errors.Conflict(f"{what}: {message or 'already exists'}")
    if status in (400, 422):
        return errors.InvalidInput(f"{what}: {message}")
    if status == 401:
        return errors.ClusterError(f"the Kubernetes API rejected the facade's credentials ({what})")
    if status == 403:
        # The facade's own service account lacks a permission: a deployment fault, not the caller's.
        return errors.ClusterError(f"the facade is not allowed to access {what}: {message}")
    return errors.ClusterError(f"the Kubernetes API failed ({what}): HTTP {status} {message}")
