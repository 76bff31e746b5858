"""Admission of custom resources against the CRDs in ``crds/``, as the apiserver does it.

No kube-apiserver runs here, so the tests reproduce its three steps on a CRD's ``openAPIV3Schema``:
defaulting, OpenAPI validation (done with ``jsonschema`` after translating the few
Kubernetes-specific keys, with unknown fields rejected as ``kubectl apply``'s strict field validation
does) and the CEL ``x-kubernetes-validations`` rules (evaluated with ``cel-python``). Errors name
the field the way the apiserver does: ``spec.timeoutMinutes``, ``spec.datasets[0].name``.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
CRD_DIR = ROOT / "crds"
# metadata.name of a custom resource must be a DNS-1123 subdomain.
_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
_CEL = celpy.Environment()


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def load_crds(directory: Path = CRD_DIR) -> dict[str, dict[str, Any]]:
    """Kind -> CRD, for every YAML file in ``directory``."""
    found = {}
    for path in sorted(directory.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text(encoding="utf-8"))
        found[crd["spec"]["names"]["kind"]] = crd
    return found


def openapi_schema(crd: dict[str, Any]) -> dict[str, Any]:
    (version,) = [v for v in crd["spec"]["versions"] if v["storage"]]
    return version["schema"]["openAPIV3Schema"]


def to_jsonschema(node: dict[str, Any]) -> dict[str, Any]:
    """An equivalent draft-4 JSON Schema (OpenAPI 3.0 uses draft-4's boolean exclusive bounds)."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: to_jsonschema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            out[key] = to_jsonschema(value)
        elif key in ("oneOf", "anyOf", "allOf"):
            out[key] = [to_jsonschema(branch) for branch in value]
        elif not key.startswith("x-kubernetes-") and key != "nullable":
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    if node.get("nullable") and "type" in out:
        out["type"] = [*([out["type"]] if isinstance(out["type"], str) else out["type"]), "null"]
    if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


def _join(path: Iterator[Any] | list[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def schema_errors(schema: dict[str, Any], value: Any, prefix: tuple[Any, ...] = ()) -> list[FieldError]:
    """OpenAPI validation with the apiserver's field paths and wording."""
    validator = jsonschema.Draft4Validator(
        to_jsonschema(schema), format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    found = []
    for err in validator.iter_errors(value):
        path = [*prefix, *err.absolute_path]
        if err.validator == "required":
            for name in err.validator_value:
                if name not in err.instance:
                    found.append(FieldError(_join([*path, name]), "Required value"))
        elif err.validator == "additionalProperties":
            for name in sorted(set(err.instance) - set(err.schema.get("properties", {}))):
                found.append(FieldError(_join([*path, name]), f'unknown field "{_join([*path, name])}"'))
        elif err.validator == "oneOf":
            found.append(FieldError(_join(path), "must validate one and only one schema (oneOf)"))
        else:
            found.append(FieldError(_join(path), f"Invalid value: {err.instance!r}: {err.message}"))
    return found


@functools.cache
def _program(rule: str) -> celpy.Runner:
    return _CEL.program(_CEL.compile(rule))


def evaluate_rule(rule: str, value: Any) -> bool:
    """One CEL rule with ``self`` bound to ``value``; an evaluation error counts as a failure."""
    result = _program(rule).evaluate({"self": celpy.json_to_cel(value)})
    return isinstance(result, celpy.celtypes.BoolType) and bool(result)


def _type_matches(schema: dict[str, Any], value: Any) -> bool:
    expected = schema.get("type")
    return (
        (expected == "object" and isinstance(value, dict))
        or (expected == "array" and isinstance(value, list))
        or expected not in ("object", "array")
    )


def rule_errors(schema: dict[str, Any], value: Any, path: tuple[Any, ...] = ()) -> list[FieldError]:
    """CEL rules and list-type uniqueness, on every node whose value has the schema's type."""
    if not _type_matches(schema, value):
        return []
    found = [
        FieldError(_join(list(path)), rule.get("message") or f"failed rule: {rule['rule']}")
        for rule in schema.get("x-kubernetes-validations", [])
        if not evaluate_rule(rule["rule"], value)
    ]
    if isinstance(value, dict):
        extra = schema.get("additionalProperties")
        for name, sub in value.items():
            sub_schema = schema.get("properties", {}).get(name, extra if isinstance(extra, dict) else None)
            if sub_schema is not None:
                found += rule_errors(sub_schema, sub, (*path, name))
    elif isinstance(value, list) and "items" in schema:
        found += _duplicates(schema, value, path)
        for index, item in enumerate(value):
            found += rule_errors(schema["items"], item, (*path, index))
    return found


def _duplicates(schema: dict[str, Any], items: list[Any], path: tuple[Any, ...]) -> list[FieldError]:
    list_type = schema.get("x-kubernetes-list-type")
    if list_type not in ("map", "set"):
        return []
    keys = schema.get("x-kubernetes-list-map-keys", [])
    seen: set[str] = set()
    found = []
    for index, item in enumerate(items):
        key = (
            repr([item.get(k) for k in keys]) if list_type == "map" and isinstance(item, dict) else repr(item)
        )
        if key in seen:
            found.append(FieldError(_join([*path, index]), f"Duplicate value: {key}"))
        seen.add(key)
    return found


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """A copy of ``value`` with the schema's defaults filled in, as the apiserver stores it."""
    value = copy.deepcopy(value)
    _default_in_place(schema, value)
    return value


def _default_in_place(schema: dict[str, Any], value: Any) -> None:
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                _default_in_place(sub, value[name])
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            _default_in_place(schema["items"], item)


def validate(obj: dict[str, Any], crds: dict[str, dict[str, Any]] | None = None) -> list[FieldError]:
    """Admission of a create request: apiVersion/kind, metadata.name, spec (status is ignored)."""
    crds = load_crds() if crds is None else crds
    kind = obj.get("kind")
    if kind not in crds:
        return [FieldError("kind", f"no CRD for kind {kind!r}")]
    crd = crds[kind]
    group = crd["spec"]["group"]
    served = [f"{group}/{v['name']}" for v in crd["spec"]["versions"] if v["served"]]
    if obj.get("apiVersion") not in served:
        return [FieldError("apiVersion", f"{obj.get('apiVersion')!r} is not one of {served}")]
    name = (obj.get("metadata") or {}).get("name")
    found = schema_errors({"type": "string", "pattern": _NAME, "maxLength": 253}, name, ("metadata", "name"))
    schema = openapi_schema(crd)
    request = apply_defaults(schema, {k: v for k, v in obj.items() if k != "status"})
    return found + schema_errors(schema, request) + rule_errors(schema, request)


def validate_status(
    kind: str, status: dict[str, Any], crds: dict[str, dict[str, Any]] | None = None
) -> list[FieldError]:
    """Admission of a write to the status subresource."""
    crds = load_crds() if crds is None else crds
    schema = openapi_schema(crds[kind])["properties"]["status"]
    status = apply_defaults(schema, status)
    return schema_errors(schema, status, ("status",)) + rule_errors(schema, status, ("status",))
