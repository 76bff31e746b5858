"""The four patch flavours a Kubernetes API server accepts, applied to plain JSON objects.

kopf sends JSON merge patches (and JSON patches for some list edits), the `kubernetes` client sends
strategic merge patches by default for built-in kinds, and `kubectl apply` sends strategic merge
patches for built-in kinds, merge patches for custom resources, or server-side apply bodies. The
harness must apply each the way the real server does closely enough that the operator cannot tell.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import yaml

MERGE = "application/merge-patch+json"
JSON = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"

# Lists that strategic merge patches merge item by item, keyed by a field (by the list's field name).
# This is the subset of the built-in schemas' patchMergeKey tags that P2N's objects use.
_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "conditions": "type",
    "ownerReferences": "uid",
    "imagePullSecrets": "name",
    "tolerations": "key",
}
# Primitive lists that strategic merge patches union instead of replacing.
_SET_LISTS = frozenset({"finalizers"})


class PatchError(ValueError):
    """The patch body is malformed or cannot be applied (HTTP 422 or 400)."""


def decode(body: bytes) -> Any:
    """A request body: JSON as clients send it (decoded natively, as a real API server does),
    else YAML (server-side apply bodies). PyYAML alone takes about a millisecond per kilobyte,
    which would make every larger object look slow to create or patch."""
    try:
        return json.loads(body)
    except ValueError:
        return yaml.safe_load(body)


def apply(obj: dict[str, Any], content_type: str, body: bytes) -> dict[str, Any]:
    """Return a patched deep copy of ``obj``; ``content_type`` picks the flavour."""
    kind = content_type.split(";")[0].strip().lower()
    try:
        if kind == JSON:
            ops = decode(body)
            return jsonpatch.apply_patch(copy.deepcopy(obj), ops)  # type: ignore[no-any-return]
        doc = decode(body) if body else {}
    except (yaml.YAMLError, jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise PatchError(str(exc)) from exc
    if not isinstance(doc, dict):
        raise PatchError(f"patch body must be an object, got {type(doc).__name__}")
    if kind == MERGE:
        return dict(merge(obj, doc))
    if kind in (STRATEGIC, APPLY):
        # Server-side apply has no field ownership here: the applied configuration wins field by field.
        return dict(strategic(obj, doc))
    raise PatchError(f"unsupported patch content type {content_type!r}")


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def strategic(target: Any, patch: Any, field: str = "") -> Any:
    """A strategic merge patch: merge patch plus keyed list merging and ``$patch`` directives."""
    if isinstance(patch, list):
        return _strategic_list(target, patch, field)
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$setElementOrder/") or key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [item for item in result.get(name, []) if item not in value]
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = strategic(result.get(key), value, key)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _strategic_list(target: Any, patch: list[Any], field: str) -> list[Any]:
    current = copy.deepcopy(target) if isinstance(target, list) else []
    if field in _SET_LISTS:
        return current + [item for item in patch if item not in current]
    key = _MERGE_KEYS.get(field)
    if key is None or not all(isinstance(item, dict) for item in patch):
        return [item for item in copy.deepcopy(patch) if not (isinstance(item, dict) and "$patch" in item)]
    for item in patch:
        if item.get("$patch") == "replace" and len(item) == 1:
            return [i for i in copy.deepcopy(patch) if i is not item]
        index = next((i for i, old in enumerate(current) if old.get(key) == item.get(key)), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del current[index]
        elif index is None:
            current.append(copy.deepcopy(item))
        else:
            current[index] = strategic(current[index], item, field)
    return current
