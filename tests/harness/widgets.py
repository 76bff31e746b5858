"""A test-only custom resource, Widget (harness.p2n.dev/v1, status subresource, any spec).

It lets the harness and a minimal kopf operator be tested without depending on P2N's CRD schemas.
"""

from __future__ import annotations

from typing import Any

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.harness.p2n.dev"},
    "spec": {
        "group": "harness.p2n.dev",
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wg"]},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                },
            }
        ],
    },
}
MERGE = {"Content-Type": "application/merge-patch+json"}


def widget(name: str, **spec: object) -> dict[str, Any]:
    """A Widget manifest."""
    return {
        "apiVersion": "harness.p2n.dev/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": dict(spec),
    }
