"""The OpenAPI v3 documents kubectl downloads before ``apply`` (validation) and ``explain``.

kubectl 1.37 refuses to apply without an OpenAPI document, and asks it whether the server accepts
the ``fieldValidation`` query parameter (then it leaves validation to the server). Custom resources
get their CRD's ``openAPIV3Schema`` so ``kubectl explain`` shows its descriptions; built-in kinds get
an open object schema.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from tests.harness import kinds

_FIELD_VALIDATION = {
    "name": "fieldValidation",
    "in": "query",
    "schema": {"type": "string", "uniqueItems": True},
}


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _schema_name(kind: kinds.Kind) -> str:
    reversed_group = ".".join(reversed(kind.group.split("."))) if kind.group else "io.k8s.api.core"
    return f"{reversed_group}.{kind.version}.{kind.kind}"


def index(served: list[kinds.Kind], documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``/openapi/v3``: where each group-version's document lives, with a content hash."""
    paths = {}
    for gv in sorted({_gv_path(k.group, k.version) for k in served}):
        digest = hashlib.sha256(json.dumps(documents[gv], sort_keys=True).encode()).hexdigest()[:16]
        paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
    return {"paths": paths}


def documents(served: list[kinds.Kind], crds: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One OpenAPI v3 document per group-version, keyed like ``apis/p2n.dev/v1alpha1``."""
    crd_schemas: dict[tuple[str, str, str], dict[str, Any]] = {}
    for crd in crds:
        for version in crd["spec"].get("versions", []):
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            if schema:
                crd_schemas[(crd["spec"]["group"], version["name"], crd["spec"]["names"]["kind"])] = schema
    docs: dict[str, dict[str, Any]] = {}
    for kind in served:
        gv = _gv_path(kind.group, kind.version)
        doc = docs.setdefault(
            gv,
            {
                "openapi": "3.0.0",
                "info": {"title": "Kubernetes", "version": "v1.37.0"},
                "paths": {},
                "components": {"schemas": {}},
            },
        )
        schema = copy.deepcopy(crd_schemas.get((kind.group, kind.version, kind.kind)) or {"type": "object"})
        props = schema.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string", "description": "APIVersion of the object."})
        props.setdefault("kind", {"type": "string", "description": "Kind of the object."})
        props.setdefault("metadata", {"type": "object", "description": "Standard object metadata."})
        if (kind.group, kind.version, kind.kind) not in crd_schemas:
            schema["x-kubernetes-preserve-unknown-fields"] = True
        schema["x-kubernetes-group-version-kind"] = [
            {"group": kind.group, "version": kind.version, "kind": kind.kind}
        ]
        name = _schema_name(kind)
        doc["components"]["schemas"][name] = schema
        ref = {"$ref": f"#/components/schemas/{name}"}
        ok = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
        base = f"/{gv}/namespaces/{{namespace}}/{kind.plural}" if kind.namespaced else f"/{gv}/{kind.plural}"
        gvk = {"group": kind.group, "version": kind.version, "kind": kind.kind}

        def op(
            action: str, params: list[dict[str, Any]], gvk: dict[str, str] = gvk, ok: dict[str, Any] = ok
        ) -> dict[str, Any]:
            return {
                "parameters": params,
                "responses": ok,
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
            }

        doc["paths"][base] = {"get": op("list", []), "post": op("post", [_FIELD_VALIDATION])}
        doc["paths"][f"{base}/{{name}}"] = {
            "get": op("get", []),
            "put": op("put", [_FIELD_VALIDATION]),
            "patch": op("patch", [_FIELD_VALIDATION]),
            "delete": op("delete", []),
        }
    return docs
