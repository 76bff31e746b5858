"""Operator policy: what a Run may ask for, and which waiting Runs may start now.

A Run's spec is user input; the operator's settings are the administrator's ceilings. This module
turns the one into concrete sandbox resources and a deadline without ever exceeding the other,
refuses GPUs outright (E_GPU_REQUESTED) and refuses requests above a ceiling (E_CAP_EXCEEDED)
instead of silently shrinking them, so a user learns why their Run did not start. It never talks
to the cluster: callers hand it the observed state.
"""

from __future__ import annotations

import dataclasses
import decimal
from collections.abc import Iterable, Mapping
from typing import Any

import pydantic

from p2n import errors, resources, settings
from p2n_operator import quantity

_EPHEMERAL_REQUEST = "256Mi"


def run_spec_from(raw: Mapping[str, Any]) -> resources.RunSpec:
    """Validate a raw Run spec; GPU requests become GpuRequested, anything else InvalidInput."""
    refuse_gpus(raw)
    try:
        return resources.RunSpec.model_validate(dict(raw))
    except pydantic.ValidationError as exc:
        raise resources.error_from_validation(exc) from exc


def refuse_gpus(raw: Mapping[str, Any]) -> None:
    """Raise GpuRequested when any resource name in a raw spec mentions a GPU.

    The schema already rejects unknown resource names; this check runs first so that the user
    sees the specific reason rather than a generic validation error.
    """
    res = raw.get("resources") or {}
    if not isinstance(res, Mapping):
        return
    for section in ("requests", "limits"):
        for name in res.get(section) or {}:
            if "gpu" in str(name).lower():
                raise errors.GpuRequested(f"GPU resource {name!r} requested; the sandbox is CPU-only")


def _ceilings(cfg: settings.Settings) -> dict[str, decimal.Decimal]:
    return {
        "cpu": quantity.parse(cfg.max_run_cpu),
        "memory": quantity.parse(cfg.max_run_memory),
        "ephemeral-storage": quantity.parse(cfg.max_run_ephemeral_storage),
    }


def _defaults(cfg: settings.Settings) -> dict[str, str]:
    return {
        "cpu": cfg.default_run_cpu,
        "memory": cfg.default_run_memory,
        "ephemeral-storage": _EPHEMERAL_REQUEST,
    }


def _ceiling_text(cfg: settings.Settings) -> dict[str, str]:
    return {
        "cpu": cfg.max_run_cpu,
        "memory": cfg.max_run_memory,
        "ephemeral-storage": cfg.max_run_ephemeral_storage,
    }


def sandbox_resources(
    run_spec: resources.RunSpec, plan_spec: resources.PlanSpec, cfg: settings.Settings
) -> dict[str, dict[str, str]]:
    """Requests and limits for cpu, memory and ephemeral-storage of one Run's sandbox.

    The Run's resources override the Plan's, per section. A missing request defaults to the
    operator default (never above the limit); a missing limit defaults to the operator ceiling
    for cpu and ephemeral-storage and to the request for memory, so the memory a notebook gets
    does not depend on how busy its node is. Anything above a ceiling raises CapExceeded; a
    request above its limit raises InvalidInput.
    """
    chosen = run_spec.resources or plan_spec.resources or resources.ResourceSpec()
    ceilings = _ceilings(cfg)
    ceiling_text = _ceiling_text(cfg)
    defaults = _defaults(cfg)
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    for name in resources.ALLOWED_RESOURCE_NAMES:
        asked_req = chosen.requests.get(name)  # type: ignore[call-overload]
        asked_lim = chosen.limits.get(name)  # type: ignore[call-overload]
        for asked in (asked_req, asked_lim):
            if asked is not None and quantity.parse(asked) > ceilings[name]:
                raise errors.CapExceeded(
                    f"{name} {asked} is above the operator ceiling {ceiling_text[name]}",
                    details={"resource": name, "asked": asked, "ceiling": ceiling_text[name]},
                )
        request = asked_req or _smallest(defaults[name], asked_lim, ceiling_text[name])
        limit = asked_lim or (request if name == "memory" else ceiling_text[name])
        if quantity.parse(request) > quantity.parse(limit):
            raise errors.InvalidInput(f"{name} request {request} is above its limit {limit}")
        requests[name] = request
        limits[name] = limit
    return {"requests": requests, "limits": limits}


def _smallest(*values: str | None) -> str:
    given = [v for v in values if v is not None]
    return min(given, key=quantity.parse)


def timeout_seconds(
    run_spec: resources.RunSpec, plan_spec: resources.PlanSpec, cfg: settings.Settings
) -> int:
    """The Run's wall-clock limit: Run over Plan, capped by the operator and by the hard cap of 25 min."""
    minutes = run_spec.timeout_minutes or plan_spec.timeout_minutes
    return 60 * min(minutes, cfg.max_timeout_minutes, resources.MAX_TIMEOUT_MINUTES)


@dataclasses.dataclass(frozen=True)
class Waiting:
    """A Run that has no pod yet and wants one; ``created`` is its RFC 3339 creationTimestamp."""

    name: str
    created: str


@dataclasses.dataclass(frozen=True)
class Admission:
    """Which waiting Runs start now (in order) and the 1-based queue position of the others."""

    start: tuple[str, ...]
    positions: Mapping[str, int]


def admission(waiting: Iterable[Waiting], active: int, limit: int) -> Admission:
    """First come, first served: the oldest waiting Runs fill the free slots of the namespace.

    ``active`` counts sandbox pods of the namespace that have not finished. RFC 3339 timestamps
    of one format sort chronologically as strings; the name breaks ties deterministically.
    """
    ordered = sorted(waiting, key=lambda w: (w.created, w.name))
    free = max(0, limit - active)
    start = tuple(w.name for w in ordered[:free])
    positions = {w.name: i + 1 for i, w in enumerate(ordered[free:])}
    return Admission(start=start, positions=positions)
