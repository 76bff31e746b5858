"""Label and field selectors as the API server evaluates them on list and watch requests."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]

_SET_EXPR = re.compile(r"^\s*(!?)([\w./-]+)\s*(?:(in|notin)\s*\(([^)]*)\))?\s*$")
_EQ_EXPR = re.compile(r"^\s*([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)\s*$")


class SelectorError(ValueError):
    """The selector does not parse (HTTP 400)."""


def _split(selector: str) -> list[str]:
    """Split on commas outside of parentheses."""
    parts, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def labels(selector: str | None) -> Predicate:
    """A predicate over objects for a label selector such as ``a=b,c!=d,e in (f,g),!h``."""
    if not selector:
        return lambda _: True
    checks: list[Callable[[dict[str, str]], bool]] = []
    for term in _split(selector):
        eq = _EQ_EXPR.match(term)
        if eq:
            key, op, value = eq.groups()
            if op == "!=":
                checks.append(lambda lab, k=key, v=value: lab.get(k) != v)
            else:
                checks.append(lambda lab, k=key, v=value: lab.get(k) == v)
            continue
        st = _SET_EXPR.match(term)
        if not st:
            raise SelectorError(f"unable to parse requirement: {term!r}")
        negate, key, op, values = st.groups()
        if op:
            allowed = {v.strip() for v in values.split(",") if v.strip()}
            if op == "in":
                checks.append(lambda lab, k=key, a=allowed: lab.get(k) in a)
            else:
                checks.append(lambda lab, k=key, a=allowed: lab.get(k) not in a)
        elif negate:
            checks.append(lambda lab, k=key: k not in lab)
        else:
            checks.append(lambda lab, k=key: k in lab)

    def predicate(obj: dict[str, Any]) -> bool:
        lab = obj.get("metadata", {}).get("labels") or {}
        return all(check(lab) for check in checks)

    return predicate


def _field(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def fields(selector: str | None) -> Predicate:
    """A predicate for a field selector such as ``metadata.name=x,involvedObject.uid=y``."""
    if not selector:
        return lambda _: True
    checks: list[Predicate] = []
    for term in _split(selector):
        eq = _EQ_EXPR.match(term)
        if not eq:
            raise SelectorError(f"invalid field selector: {term!r}")
        path, op, value = eq.groups()
        if op == "!=":
            checks.append(lambda obj, p=path, v=value: _field(obj, p) != v)
        else:
            checks.append(lambda obj, p=path, v=value: _field(obj, p) == v)
    return lambda obj: all(check(obj) for check in checks)
