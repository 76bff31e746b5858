"""The operator's only door to the Kubernetes API: plain HTTP (urllib3) with kopf's credentials.

kopf watches the resources and patches the object a handler is about; everything else the
operator reads or writes (the Plan of a Run, the sandbox pod, its log, the NetworkPolicy, status
patches from pod events) goes through :class:`Kube`. Calls are synchronous; handlers run them in a
thread. Credentials are found the way kopf finds its own (the pod's service account, else
``KUBECONFIG``), so both always talk to the same server as the same user. The `kubernetes` client
is not used: importing it loads every model class of the API (about 90 MiB of the operator's
memory) for the dozen JSON calls made here. An HTTP error never leaves this module: 404 becomes
None or ``errors.NotFound``, other failures ``errors.ClusterError``. A create that meets 409
returns the existing object after checking who owns it, so a retried handler never makes a
second pod.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import kopf
import urllib3

from p2n import errors, resources

_MERGE_PATCH = "application/merge-patch+json"
_PLURALS = {"Paper": "papers", "Plan": "plans", "Run": "runs"}
_CORE = "/api/v1"
_P2N = f"/apis/{resources.GROUP}/{resources.VERSION}"
_NETWORKING = "/apis/networking.k8s.io/v1"
_TIMEOUT = 30.0
# Connections kept to the API server: as many as threads may call it at once (effects.BLOCKING_THREADS).
_POOL_SIZE = 32

Login = Callable[[], kopf.ConnectionInfo | None]


def _default_login() -> kopf.ConnectionInfo | None:
    """The pod's service account in a cluster, else the kubeconfig (``KUBECONFIG``), as kopf does."""
    cfg = kopf.OperatorSettings()
    return kopf.login_with_service_account(settings=cfg) or kopf.login_with_kubeconfig(settings=cfg)


class _Answer:
    """An HTTP status with its reason, as a Kubernetes ``Status`` error describes it."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason


def _translated(answer: _Answer, what: str) -> errors.P2NError:
    if answer.status == 404:
        return errors.NotFound(f"{what} not found")
    return errors.ClusterError(f"{what}: Kubernetes API answered {answer.status} {answer.reason}")


class Kube:
    """Typed-error wrapper over the API calls the operator makes; objects travel as plain dicts."""

    def __init__(self, login: Login = _default_login) -> None:
        self._login = login
        self._lock = threading.Lock()
        self._connect()

    def _connect(self) -> None:
        info = self._login()
        if info is None or not info.server:
            raise errors.ClusterError("no Kubernetes credentials found (service account or KUBECONFIG)")
        context = info.as_ssl_context() if info.server.startswith("https") else None
        pool = urllib3.PoolManager(maxsize=_POOL_SIZE, ssl_context=context)
        with self._lock:
            self._server = info.server.rstrip("/")
            self._auth = info.as_http_headers()
            self._pool = pool

    def close(self) -> None:
        self._pool.clear()

    def _request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        stream: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        """One call; a 401 logs in again once (a rotated service-account token)."""
        url = f"{self._server}{path}" + (f"?{urlencode(query)}" if query else "")
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            headers = {"Accept": "application/json", **self._auth}
            if data is not None:
                headers["Content-Type"] = content_type
            try:
                response = self._pool.request(
                    method,
                    url,
                    body=data,
                    headers=headers,
                    preload_content=not stream,
                    timeout=urllib3.Timeout(connect=_TIMEOUT, read=None if stream else _TIMEOUT),
                    retries=False,
                )
            except urllib3.exceptions.HTTPError as exc:
                raise errors.ClusterError(f"{what}: the Kubernetes API is unreachable ({exc})") from exc
            if response.status == 401 and attempt == 1:
                response.release_conn()
                self._connect()
                continue
            break
        if response.status >= 400:
            reason = response.reason or ""
            response.release_conn()
            raise _Failure(_Answer(response.status, reason))
        return response

    def _json(self, method: str, path: str, what: str, **kwargs: Any) -> dict[str, Any]:
        response = self._request(method, path, what, **kwargs)
        result: dict[str, Any] = json.loads(response.data)
        return result

    # --- P2N objects ---------------------------------------------------------------------------

    def find_object(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A Paper, Plan or Run as a dict, or None when it does not exist."""
        what = f"{kind} {namespace}/{name}"
        try:
            return self._json("GET", _p2n_path(namespace, _PLURALS[kind], name), what)
        except _Failure as exc:
            if exc.answer.status == 404:
                return None
            raise _translated(exc.answer, what) from exc

    def list_objects(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        what = f"{kind} list in {namespace}"
        try:
            listing = self._json("GET", _p2n_path(namespace, _PLURALS[kind]), what)
        except _Failure as exc:
            raise _translated(exc.answer, what) from exc
        return [dict(item) for item in listing.get("items", [])]

    def patch_status(self, kind: str, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """JSON-merge-patch the status subresource of a P2N object."""
        what = f"{kind} {namespace}/{name} status"
        path = _p2n_path(namespace, _PLURALS[kind], name) + "/status"
        try:
            return self._json("PATCH", path, what, body={"status": dict(patch)}, content_type=_MERGE_PATCH)
        except _Failure as exc:
            raise _translated(exc.answer, what) from exc

    def config_map_value(self, namespace: str, name: str, key: str) -> str:
        what = f"ConfigMap {namespace}/{name}"
        try:
            data = self._json("GET", _core_path(namespace, "configmaps", name), what).get("data") or {}
        except _Failure as exc:
            raise _translated(exc.answer, what) from exc
        if key not in data:
            raise errors.NotFound(f"ConfigMap {namespace}/{name} has no key {key!r}")
        return str(data[key])

    # --- pods ------------------------------------------------------------------------------------

    def find_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        what = f"pod {namespace}/{name}"
        try:
            return self._json("GET", _core_path(namespace, "pods", name), what)
        except _Failure as exc:
            if exc.answer.status == 404:
                return None
            raise _translated(exc.answer, what) from exc

    def list_pods(self, namespace: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        label_selector = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
        what = f"pods in {namespace}"
        try:
            listing = self._json(
                "GET", _core_path(namespace, "pods"), what, query={"labelSelector": label_selector}
            )
        except _Failure as exc:
            raise _translated(exc.answer, what) from exc
        return list(listing.get("items") or [])

    def create_pod(self, manifest: Mapping[str, Any], owner_uid: str) -> dict[str, Any]:
        """Create the pod, or return the existing one of the same name if ``owner_uid`` owns it.

        A 409 means an earlier attempt (before a crash or a retry) already created it: that pod is
        adopted. A pod of that name owned by someone else is an error, never silently reused.
        """
        meta = manifest["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        what = f"pod {namespace}/{name}"
        try:
            return self._json("POST", _core_path(namespace, "pods"), what, body=dict(manifest))
        except _Failure as exc:
            if exc.answer.status != 409:
                raise _translated(exc.answer, what) from exc
        existing = self.find_pod(namespace, name)
        if existing is None:
            raise errors.ClusterError(f"pod {namespace}/{name} conflicted on create but does not exist")
        owners = existing.get("metadata", {}).get("ownerReferences") or []
        if not any(ref.get("uid") == owner_uid and ref.get("controller") for ref in owners):
            raise errors.ClusterError(f"pod {namespace}/{name} exists and belongs to another owner")
        return existing

    def delete_pod(self, namespace: str, name: str, grace_seconds: int | None = None) -> None:
        """Delete gracefully (SIGTERM, then SIGKILL after the grace period); a missing pod is fine."""
        options: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if grace_seconds is not None:
            options["gracePeriodSeconds"] = grace_seconds
        what = f"pod {namespace}/{name}"
        try:
            self._request("DELETE", _core_path(namespace, "pods", name), what, body=options)
        except _Failure as exc:
            if exc.answer.status != 404:
                raise _translated(exc.answer, what) from exc

    def pod_log(self, namespace: str, name: str, container: str) -> LogStream:
        """The pod's log as lines, following it until the container exits (close it when done)."""
        what = f"log of pod {namespace}/{name}"
        try:
            response = self._request(
                "GET",
                _core_path(namespace, "pods", name) + "/log",
                what,
                query={"container": container, "follow": "true"},
                stream=True,
            )
        except _Failure as exc:
            raise _translated(exc.answer, what) from exc
        return LogStream(response)

    # --- network policy --------------------------------------------------------------------------

    def apply_network_policy(self, manifest: Mapping[str, Any]) -> None:
        """Create the NetworkPolicy, or replace its spec when one of that name exists."""
        meta = manifest["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        what = f"NetworkPolicy {namespace}/{name}"
        collection = f"{_NETWORKING}/namespaces/{quote(namespace)}/networkpolicies"
        try:
            self._request("POST", collection, what, body=dict(manifest))
            return
        except _Failure as exc:
            if exc.answer.status != 409:
                raise _translated(exc.answer, what) from exc
        try:
            self._request(
                "PATCH",
                f"{collection}/{quote(name)}",
                what,
                body={"spec": manifest["spec"]},
                content_type=_MERGE_PATCH,
            )
        except _Failure as exc:
            raise _translated(exc.answer, what) from exc


class _Failure(Exception):
    """An HTTP error answer inside this module (translated before it leaves)."""

    def __init__(self, answer: _Answer) -> None:
        super().__init__(f"{answer.status} {answer.reason}")
        self.answer = answer


def _core_path(namespace: str, plural: str, name: str | None = None) -> str:
    path = f"{_CORE}/namespaces/{quote(namespace)}/{plural}"
    return f"{path}/{quote(name)}" if name is not None else path


def _p2n_path(namespace: str, plural: str, name: str | None = None) -> str:
    path = f"{_P2N}/namespaces/{quote(namespace)}/{plural}"
    return f"{path}/{quote(name)}" if name is not None else path


class LogStream:
    """A followed pod log. Iterate for lines (without newline); ``close()`` from any thread ends it."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self._response = response
        self._closed = False

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(Exception):
            self._response.close()
        with contextlib.suppress(Exception):
            self._response.release_conn()

    def __iter__(self) -> Iterator[bytes]:
        pending = b""
        try:
            for chunk in self._response.stream(64 * 1024, decode_content=True):
                pending += chunk
                *complete, pending = pending.split(b"\n")
                yield from complete
        except (urllib3.exceptions.HTTPError, OSError, ValueError, AttributeError) as exc:
            # Closing the stream from another thread ends the read with one of these; a dropped
            # connection is reported, and the caller reconciles with events.jsonl afterwards.
            if not self._closed:
                raise errors.ClusterError(f"pod log stream failed: {exc}") from exc
        finally:
            self.close()
        if pending:
            yield pending
