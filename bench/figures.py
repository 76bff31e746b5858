"""Figures, targets and the summary statistics every benchmark reports.

A benchmark measures P2N and its baseline in the same process run, interleaving the repeats, and
reports for each figure the median and the min-max spread over the repeats. A ratio is computed per
repeat from the paired samples (P2N's sample over the baseline's sample taken next to it), so the
ratio's spread reflects the noise both sides saw together. A target says which number it bounds
(the ratio or P2N's own value), in which direction and how far.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Comparison = Literal["<=", ">="]
Checked = Literal["ratio", "value"]
_SYMBOLS = {"<=": "≤", ">=": "≥"}


@dataclass(frozen=True)
class Stat:
    """The median and the min-max spread of a figure's samples, in ``unit``."""

    median: float
    low: float
    high: float
    n: int
    unit: str

    @classmethod
    def of(cls, samples: Sequence[float], unit: str) -> Stat:
        if not samples:
            raise ValueError("a statistic needs at least one sample")
        return cls(
            median=statistics.median(samples), low=min(samples), high=max(samples), n=len(samples), unit=unit
        )

    def to_json(self) -> dict[str, Any]:
        return {"median": self.median, "min": self.low, "max": self.high, "n": self.n, "unit": self.unit}


@dataclass(frozen=True)
class Target:
    """A bound on a figure: ``checks`` the ratio or the value, ``op`` the direction, ``basis`` why."""

    checks: Checked
    op: Comparison
    bound: float
    unit: str = "×"
    basis: str = ""

    def met_by(self, number: float) -> bool:
        return number <= self.bound if self.op == "<=" else number >= self.bound

    def describe(self) -> str:
        return f"{_SYMBOLS[self.op]} {_number(self.bound)}{_spaced(self.unit)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "checks": self.checks,
            "op": self.op,
            "bound": self.bound,
            "unit": self.unit,
            "basis": self.basis,
        }


@dataclass(frozen=True)
class Figure:
    """One line of the results table."""

    name: str
    value: Stat
    baseline: Stat | None = None
    ratio: Stat | None = None
    target: Target | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        """Whether the median meets the target; None when the figure has no target."""
        if self.target is None:
            return None
        checked = self.ratio if self.target.checks == "ratio" else self.value
        if checked is None:
            return None
        return self.target.met_by(checked.median)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value.to_json(),
            "baseline": self.baseline.to_json() if self.baseline else None,
            "ratio": self.ratio.to_json() if self.ratio else None,
            "target": self.target.to_json() if self.target else None,
            "met": self.met,
            "note": self.note,
        }


@dataclass
class Result:
    """What one benchmark produced: its figures, or why it could not run."""

    key: str
    title: str
    method: str = ""
    figures: list[Figure] = field(default_factory=list)
    unavailable: str | None = None
    seconds: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "method": self.method,
            "status": "not available" if self.unavailable else "ok",
            "reason": self.unavailable,
            "seconds": round(self.seconds, 1),
            "figures": [figure.to_json() for figure in self.figures],
            "details": self.details,
        }


def paired_ratios(ours: Sequence[float], baseline: Sequence[float]) -> list[float]:
    """Per-repeat ratios of samples taken side by side (``ours[i] / baseline[i]``)."""
    if len(ours) != len(baseline):
        raise ValueError(f"paired samples differ in length: {len(ours)} vs {len(baseline)}")
    return [a / b if b else math.inf for a, b in zip(ours, baseline, strict=True)]


def compared(
    name: str,
    ours: Sequence[float],
    baseline: Sequence[float],
    unit: str,
    target: Target | None = None,
    note: str = "",
) -> Figure:
    """A figure of P2N against its baseline, with the paired ratio."""
    return Figure(
        name=name,
        value=Stat.of(ours, unit),
        baseline=Stat.of(baseline, unit),
        ratio=Stat.of(paired_ratios(ours, baseline), "×"),
        target=target,
        note=note,
    )


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks."""
    if not samples:
        raise ValueError("a percentile needs at least one sample")
    ordered = sorted(samples)
    position = (len(ordered) - 1) * q / 100
    below = math.floor(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def _number(value: float) -> str:
    if math.isinf(value) or math.isnan(value):
        return str(value)
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _spaced(unit: str) -> str:
    return unit if unit in ("×", "%", "") else f" {unit}"


def format_stat(stat: Stat | None) -> str:
    """``median [min–max] unit``, or a dash when there is no such number."""
    if stat is None:
        return "—"
    if stat.n == 1 or stat.low == stat.high:
        return f"{_number(stat.median)}{_spaced(stat.unit)}"
    return f"{_number(stat.median)} [{_number(stat.low)}–{_number(stat.high)}]{_spaced(stat.unit)}"
