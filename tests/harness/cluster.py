"""The emulated cluster as tests use it: API server + kubeconfig + CRDs + convenience calls."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from tests.harness import apiserver, kinds, kubeconfig, store
from tests.unit import crd_validation

REPO = Path(__file__).resolve().parents[2]
CRD_DIR = REPO / "crds"
T = TypeVar("T")


def load_crds(directory: Path = CRD_DIR) -> list[dict[str, Any]]:
    """The CustomResourceDefinition documents in ``directory`` (the repo's ``crds/``)."""
    documents: list[dict[str, Any]] = []
    for path in sorted(directory.glob("*.yaml")):
        documents += [
            d
            for d in yaml.safe_load_all(path.read_text())
            if d and d.get("kind") == "CustomResourceDefinition"
        ]
    return documents


def admission(crds: list[dict[str, Any]]) -> Callable[[kinds.Kind, dict[str, Any], bool], dict[str, Any]]:
    """Defaulting and validation of custom resources against their CRD schema, as the apiserver does.

    The schema check, CEL rules and defaults are ``tests/unit/crd_validation.py``'s, shared with the
    CRD unit tests. Unknown fields fail only under ``fieldValidation=Strict`` (kubectl's default).
    """
    by_kind = {(c["spec"]["group"], c["spec"]["names"]["kind"]): c for c in crds}

    def admit(kind: kinds.Kind, obj: dict[str, Any], strict: bool) -> dict[str, Any]:
        crd = by_kind.get((kind.group, kind.kind))
        if crd is None:
            return obj
        found = crd_validation.validate(obj, {kind.kind: crd})
        if not strict:
            found = [e for e in found if not e.message.startswith("unknown field")]
        name = obj.get("metadata", {}).get("name", "")
        if found:
            raise store.ApiError(
                422,
                "Invalid",
                f'{kind.kind}.{kind.group} "{name}" is invalid: ' + "; ".join(str(e) for e in found),
                {
                    "name": name,
                    "group": kind.group,
                    "kind": kind.kind,
                    "causes": [
                        {"reason": "FieldValueInvalid", "message": e.message, "field": e.path} for e in found
                    ],
                },
            )
        schema = crd_validation.openapi_schema(crd)
        defaulted = crd_validation.apply_defaults(schema, {k: v for k, v in obj.items() if k != "status"})
        if "status" in obj:
            defaulted["status"] = obj["status"]
        return defaulted  # type: ignore[no-any-return]

    return admit


class Cluster:
    """A running emulated cluster (the ``kube`` fixture).

    Attributes: ``url``; ``kubeconfig_path``; ``store`` (direct, synchronous access to objects);
    ``access`` (TokenReview/SubjectAccessReview tables); ``faults`` (fault injection).
    """

    def __init__(self, workdir: Path, crds: list[dict[str, Any]] | None = None) -> None:
        self.server = apiserver.ApiServer()
        self.server.start()
        self.url = self.server.url
        self.store = self.server.store
        self.access = self.server.access
        self.faults = self.server.faults
        self.kubeconfig_path = kubeconfig.write(workdir / "kubeconfig.yaml", self.url)
        crd_kind = self.store.kind("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        installed = load_crds() if crds is None else crds
        for crd in installed:
            self.store.create(crd_kind, None, crd)
        self.store.admission = admission(installed)

    def stop(self) -> None:
        self.server.stop()

    # --- namespaces ----------------------------------------------------------------------------

    def create_namespace(self, name: str | None = None, labels: dict[str, str] | None = None) -> str:
        """Create a namespace (a fresh random ``t-xxxxxx`` name by default) and return its name."""
        name = name or f"t-{secrets.token_hex(4)}"
        self.store.create(
            self.kind("v1", "Namespace"), None, {"metadata": {"name": name, "labels": labels or {}}}
        )
        return name

    def purge_namespace(self, name: str) -> None:
        """Remove a namespace and all its objects at once, ignoring finalizers (for teardown)."""
        self.store.purge_namespace(name)

    # --- objects -------------------------------------------------------------------------------

    def kind(self, api_version: str, kind: str) -> kinds.Kind:
        return self.store.kind_of(api_version, kind)

    def create(self, obj: dict[str, Any], namespace: str | None = None) -> dict[str, Any]:
        """Create an object from a manifest dict (apiVersion + kind pick the resource)."""
        return self.store.create(self.kind(obj["apiVersion"], obj["kind"]), namespace, obj)

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        return self.store.get(self.kind(api_version, kind), namespace, name)

    def find(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        return self.store.find(self.kind(api_version, kind), namespace, name)

    def list(
        self, api_version: str, kind: str, namespace: str | None = None, label_selector: str | None = None
    ) -> list[dict[str, Any]]:
        return self.store.list(self.kind(api_version, kind), namespace, label_selector)[0]

    def patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        patch: dict[str, Any],
        namespace: str | None = None,
        *,
        status: bool = False,
    ) -> dict[str, Any]:
        """JSON-merge-patch an object (or its status subresource with ``status=True``)."""
        body = yaml.safe_dump(patch).encode()
        return self.store.patch(
            self.kind(api_version, kind),
            namespace,
            name,
            "application/merge-patch+json",
            body,
            "status" if status else None,
        )

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        return self.store.delete(self.kind(api_version, kind), namespace, name)

    def events_for(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        """Core v1 events whose involvedObject is ``obj`` (by uid), oldest first."""
        meta = obj["metadata"]
        items = self.store.list(
            self.kind("v1", "Event"),
            meta.get("namespace"),
            field_selector=f"involvedObject.uid={meta['uid']}",
        )[0]
        return sorted(items, key=lambda e: e["metadata"]["resourceVersion"].zfill(12))

    def api_client(self) -> Any:
        """A `kubernetes.client.ApiClient` configured from this cluster's kubeconfig."""
        import kubernetes

        config = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(config_file=str(self.kubeconfig_path), client_configuration=config)
        return kubernetes.client.ApiClient(config)

    def compact(self) -> int:
        """Drop the watch history: watches from an older resourceVersion then get 410 Gone."""
        return self.store.compact()


def wait_for(
    probe: Callable[[], T | None], timeout: float = 20.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = probe()
        except store.ApiError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")
        time.sleep(interval)
