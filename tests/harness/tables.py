"""Server-side printing: the ``meta.k8s.io/v1 Table`` that ``kubectl get`` asks for.

Custom resources are printed with their CRD's ``additionalPrinterColumns`` (a JSONPath subset:
dotted fields, ``[N]`` and ``[?(@.key=="value")]``), pods like kubectl prints them, and anything
else as name and age.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

from tests.harness import kinds

_STEP = re.compile(r"\[\?\(@\.(\w+)\s*==\s*[\"']([^\"']*)[\"']\)\]|\[(\d+)\]|\.([\w-]+)")


def jsonpath(obj: Any, path: str) -> Any:
    """Evaluate the JSONPath subset printer columns use; None when any step is missing."""
    value = obj
    for match in _STEP.finditer(path.strip().strip("{}")):
        key, wanted, index, field = match.groups()
        if field is not None:
            value = value.get(field) if isinstance(value, dict) else None
        elif index is not None:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else None
        else:
            items = [i for i in value or [] if isinstance(i, dict) and str(i.get(key)) == wanted]
            value = items[0] if items else None
        if value is None:
            return None
    return value


def age(timestamp: str | None) -> str:
    """A human duration like kubectl's: 42s, 5m12s, 3h, 2d."""
    if not timestamp:
        return "<unknown>"
    then = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    seconds = max(0, int((datetime.datetime.now(datetime.UTC) - then).total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 600:
        return f"{seconds // 60}m{seconds % 60}s"
    if seconds < 3 * 3600:
        return f"{seconds // 60}m"
    if seconds < 2 * 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _column(name: str, type_: str = "string", description: str = "", priority: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "type": type_,
        "format": "name" if name == "Name" else "",
        "description": description,
        "priority": priority,
    }


def _pod_cells(pod: dict[str, Any]) -> list[Any]:
    status = pod.get("status", {})
    statuses = status.get("containerStatuses") or []
    containers = pod.get("spec", {}).get("containers") or []
    ready = sum(1 for s in statuses if s.get("ready"))
    shown = status.get("reason") or status.get("phase") or "Pending"
    for s in statuses:
        state = s.get("state", {})
        if "waiting" in state and state["waiting"].get("reason"):
            shown = state["waiting"]["reason"]
        elif "terminated" in state and state["terminated"].get("reason"):
            shown = state["terminated"]["reason"]
    if pod["metadata"].get("deletionTimestamp"):
        shown = "Terminating"
    restarts = sum(int(s.get("restartCount", 0)) for s in statuses)
    return [f"{ready}/{len(containers)}", shown, restarts]


def table(kind: kinds.Kind, items: list[dict[str, Any]], resource_version: int) -> dict[str, Any]:
    """Render objects as a Table; each row carries its full object for ``-o wide`` and labels."""
    if kind.printer_columns:
        columns = [_column("Name", description="Name of the object")] + [
            _column(c["name"], c.get("type", "string"), c.get("description", ""), c.get("priority", 0))
            for c in kind.printer_columns
        ]
    elif kind.key == ("", "v1", "pods"):
        columns = [
            _column("Name"),
            _column("Ready"),
            _column("Status"),
            _column("Restarts", "integer"),
            _column("Age"),
        ]
    elif kind.key == ("", "v1", "namespaces"):
        columns = [_column("Name"), _column("Status"), _column("Age")]
    else:
        columns = [_column("Name"), _column("Age")]
    rows = []
    for obj in items:
        meta = obj["metadata"]
        cells: list[Any] = [meta["name"]]
        if kind.printer_columns:
            for col in kind.printer_columns:
                value = jsonpath(obj, col["jsonPath"])
                if col.get("type") == "date":
                    value = age(value) if value else "<unknown>"
                cells.append("<none>" if value is None and col.get("type") != "integer" else value)
        elif kind.key == ("", "v1", "pods"):
            cells += [*_pod_cells(obj), age(meta.get("creationTimestamp"))]
        elif kind.key == ("", "v1", "namespaces"):
            cells += [obj.get("status", {}).get("phase", "Active"), age(meta.get("creationTimestamp"))]
        else:
            cells.append(age(meta.get("creationTimestamp")))
        rows.append({"cells": cells, "object": obj})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": str(resource_version)},
        "columnDefinitions": columns,
        "rows": rows,
    }
