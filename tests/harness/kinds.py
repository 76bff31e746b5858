"""The resource types the emulated API server knows, with what discovery and printing need of them.

Built-in kinds P2N touches are declared here; custom resources are registered from CRD objects
(read from ``crds/`` at start-up, or created through the API like ``kubectl apply -f crds/`` does).
"""

from __future__ import annotations

import dataclasses
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclasses.dataclass(frozen=True)
class Kind:
    """One served resource: ``group/version/plural`` with its kind, scope and subresources."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    printer_columns: tuple[dict[str, Any], ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.group, self.version, self.plural)

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def create_only(self) -> bool:
        """Review kinds (TokenReview, SubjectAccessReview) are answered, never stored."""
        return self.verbs == ("create",)

    def discovery(self) -> list[dict[str, Any]]:
        """APIResource entries for the main resource and each of its subresources."""
        main = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        subs = [
            {
                "name": f"{self.plural}/{sub}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind if sub == "status" else "Pod",
                "verbs": ["get", "patch", "update"] if sub == "status" else ["get"],
            }
            for sub in self.subresources
        ]
        return [main, *subs]


BUILTINS: tuple[Kind, ...] = (
    Kind(
        "", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",), subresources=("status",)
    ),
    Kind(
        "",
        "v1",
        "pods",
        "Pod",
        short_names=("po",),
        categories=("all",),
        subresources=("status", "log"),
    ),
    Kind("", "v1", "events", "Event", short_names=("ev",)),
    Kind("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    Kind("", "v1", "secrets", "Secret"),
    Kind("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",)),
    Kind("events.k8s.io", "v1", "events", "Event", short_names=("ev",)),
    Kind("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", short_names=("netpol",)),
    Kind(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        subresources=("status",),
    ),
    Kind("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", namespaced=False, verbs=("create",)),
    Kind(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        namespaced=False,
        verbs=("create",),
    ),
)


def from_crd(crd: dict[str, Any]) -> list[Kind]:
    """The served versions of a CustomResourceDefinition object, one Kind each."""
    spec = crd["spec"]
    names = spec["names"]
    result = []
    for version in spec.get("versions", []):
        if not version.get("served", True):
            continue
        result.append(
            Kind(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames", ())),
                categories=tuple(names.get("categories", ())),
                subresources=("status",) if "status" in version.get("subresources", {}) else (),
                printer_columns=tuple(version.get("additionalPrinterColumns", ())),
            )
        )
    return result
