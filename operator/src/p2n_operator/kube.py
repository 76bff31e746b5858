"""The operator's only door to the Kubernetes API (the ``kubernetes`` client is imported here only).

kopf watches the resources and patches the object a handler is about; everything else the
operator reads or writes (the Plan of a Run, the sandbox pod, its log, the NetworkPolicy, status
patches from pod events) goes through :class:`Kube`. Calls are synchronous; handlers run them in a
thread. ``ApiException`` never leaves this module: 404 becomes None or ``errors.NotFound``, other
failures ``errors.ClusterError``. A create that meets 409 returns the existing object after
checking who owns it, so a retried handler never makes a second pod.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

import kubernetes
import urllib3
from kubernetes.client.exceptions import ApiException

from p2n import errors, resources

_MERGE_PATCH = "application/merge-patch+json"
_PLURALS = {"Paper": "papers", "Plan": "plans", "Run": "runs"}
_TIMEOUT = 30.0
# Connections kept to the API server: as many as threads may call it at once (effects.BLOCKING_THREADS).
_POOL_SIZE = 32


def _translated(exc: ApiException, what: str) -> errors.P2NError:
    if exc.status == 404:
        return errors.NotFound(f"{what} not found")
    return errors.ClusterError(f"{what}: Kubernetes API answered {exc.status} {exc.reason}")


class Kube:
    """Typed-error wrapper over the API calls the operator makes; objects travel as plain dicts."""

    def __init__(self, api_client: Any | None = None) -> None:
        self._client = api_client or _default_client()
        # Typed as Any: the client accepts plain dicts for bodies and returns them for custom
        # objects, which its annotations (model classes only) do not say.
        self._core: Any = kubernetes.client.CoreV1Api(self._client)
        self._custom: Any = kubernetes.client.CustomObjectsApi(self._client)
        self._networking: Any = kubernetes.client.NetworkingV1Api(self._client)

    def close(self) -> None:
        self._client.close()

    @staticmethod
    def _json(response: Any) -> dict[str, Any]:
        """The body of a ``_preload_content=False`` call as plain JSON.

        Core objects are read raw, not through the client's models: those validate strictly and
        would turn a field the server left out into an error here.
        """
        result: dict[str, Any] = json.loads(response.data)
        return result

    # --- P2N objects ---------------------------------------------------------------------------

    def find_object(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """A Paper, Plan or Run as a dict, or None when it does not exist."""
        try:
            obj = self._custom.get_namespaced_custom_object(
                resources.GROUP, resources.VERSION, namespace, _PLURALS[kind], name, _request_timeout=_TIMEOUT
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise _translated(exc, f"{kind} {namespace}/{name}") from exc
        return dict(obj)

    def list_objects(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        try:
            listing = self._custom.list_namespaced_custom_object(
                resources.GROUP, resources.VERSION, namespace, _PLURALS[kind], _request_timeout=_TIMEOUT
            )
        except ApiException as exc:
            raise _translated(exc, f"{kind} list in {namespace}") from exc
        return [dict(item) for item in listing.get("items", [])]

    def patch_status(self, kind: str, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """JSON-merge-patch the status subresource of a P2N object."""
        try:
            obj = self._custom.patch_namespaced_custom_object_status(
                resources.GROUP,
                resources.VERSION,
                namespace,
                _PLURALS[kind],
                name,
                {"status": dict(patch)},
                _content_type=_MERGE_PATCH,
                _request_timeout=_TIMEOUT,
            )
        except ApiException as exc:
            raise _translated(exc, f"{kind} {namespace}/{name} status") from exc
        return dict(obj)

    def config_map_value(self, namespace: str, name: str, key: str) -> str:
        try:
            response = self._core.read_namespaced_config_map(
                name, namespace, _preload_content=False, _request_timeout=_TIMEOUT
            )
        except ApiException as exc:
            raise _translated(exc, f"ConfigMap {namespace}/{name}") from exc
        data = self._json(response).get("data") or {}
        if key not in data:
            raise errors.NotFound(f"ConfigMap {namespace}/{name} has no key {key!r}")
        return str(data[key])

    # --- pods ------------------------------------------------------------------------------------

    def find_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            response = self._core.read_namespaced_pod(
                name, namespace, _preload_content=False, _request_timeout=_TIMEOUT
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise _translated(exc, f"pod {namespace}/{name}") from exc
        return self._json(response)

    def list_pods(self, namespace: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        label_selector = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
        try:
            response = self._core.list_namespaced_pod(
                namespace, label_selector=label_selector, _preload_content=False, _request_timeout=_TIMEOUT
            )
        except ApiException as exc:
            raise _translated(exc, f"pods in {namespace}") from exc
        return list(self._json(response).get("items") or [])

    def create_pod(self, manifest: Mapping[str, Any], owner_uid: str) -> dict[str, Any]:
        """Create the pod, or return the existing one of the same name if ``owner_uid`` owns it.

        A 409 means an earlier attempt (before a crash or a retry) already created it: that pod is
        adopted. A pod of that name owned by someone else is an error, never silently reused.
        """
        meta = manifest["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        try:
            response = self._core.create_namespaced_pod(
                namespace, dict(manifest), _preload_content=False, _request_timeout=_TIMEOUT
            )
            return self._json(response)
        except ApiException as exc:
            if exc.status != 409:
                raise _translated(exc, f"pod {namespace}/{name}") from exc
        existing = self.find_pod(namespace, name)
        if existing is None:
            raise errors.ClusterError(f"pod {namespace}/{name} conflicted on create but does not exist")
        owners = existing.get("metadata", {}).get("ownerReferences") or []
        if not any(ref.get("uid") == owner_uid and ref.get("controller") for ref in owners):
            raise errors.ClusterError(f"pod {namespace}/{name} exists and belongs to another owner")
        return existing

    def delete_pod(self, namespace: str, name: str, grace_seconds: int | None = None) -> None:
        """Delete gracefully (SIGTERM, then SIGKILL after the grace period); a missing pod is fine."""
        body = kubernetes.client.V1DeleteOptions(grace_period_seconds=grace_seconds)
        try:
            self._core.delete_namespaced_pod(
                name, namespace, body=body, _preload_content=False, _request_timeout=_TIMEOUT
            )
        except ApiException as exc:
            if exc.status != 404:
                raise _translated(exc, f"pod {namespace}/{name}") from exc

    def pod_log(self, namespace: str, name: str, container: str) -> LogStream:
        """The pod's log as lines, following it until the container exits (close it when done)."""
        try:
            response: urllib3.HTTPResponse = self._core.read_namespaced_pod_log(
                name, namespace, container=container, follow=True, _preload_content=False
            )
        except ApiException as exc:
            raise _translated(exc, f"log of pod {namespace}/{name}") from exc
        return LogStream(response)

    # --- network policy --------------------------------------------------------------------------

    def apply_network_policy(self, manifest: Mapping[str, Any]) -> None:
        """Create the NetworkPolicy, or replace it when one of that name exists."""
        meta = manifest["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        try:
            self._networking.create_namespaced_network_policy(
                namespace, dict(manifest), _preload_content=False, _request_timeout=_TIMEOUT
            )
            return
        except ApiException as exc:
            if exc.status != 409:
                raise _translated(exc, f"NetworkPolicy {namespace}/{name}") from exc
        try:
            self._networking.patch_namespaced_network_policy(
                name,
                namespace,
                {"spec": manifest["spec"]},
                _content_type=_MERGE_PATCH,
                _preload_content=False,
                _request_timeout=_TIMEOUT,
            )
        except ApiException as exc:
            raise _translated(exc, f"NetworkPolicy {namespace}/{name}") from exc


class LogStream:
    """A followed pod log. Iterate for lines (without newline); ``close()`` from any thread ends it."""

    def __init__(self, response: urllib3.HTTPResponse) -> None:
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


def _default_client() -> Any:
    """In-cluster credentials when running in a pod, else the kubeconfig (``KUBECONFIG``)."""
    config = kubernetes.client.Configuration()
    config.connection_pool_maxsize = _POOL_SIZE
    loader: Any = kubernetes.config
    try:
        loader.load_incluster_config(client_configuration=config)
    except kubernetes.config.ConfigException:
        # The client reads KUBECONFIG once at import; read it again at connection time.
        loader.load_kube_config(config_file=os.environ.get("KUBECONFIG"), client_configuration=config)
    return kubernetes.client.ApiClient(config)
