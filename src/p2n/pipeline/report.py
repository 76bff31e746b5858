"""Claimed vs observed: the gap, the verdict, and the report as JSON.

``gap_percent = (observed - claimed) / max(|claimed|, 1e-9) * 100``. The verdict is direction-aware
(for a lower-is-better metric a smaller observed value is no shortfall) and forgiving only as far
as the paper's own precision and a configurable tolerance allow: a claim of 98.9% is met by
98.88%, because the paper could not have written that number any other way. With several seeds the
verdict also accepts a claim that lies inside the 95% prediction interval of the seeds' results
(as CORE-Bench does), and calls the evidence ``inconclusive`` when that interval is too wide to
decide or no run produced a number.

``assess_run`` is for one Run (the operator's Run status); ``assess_runs`` aggregates several
seeds of one Plan. The HTML rendering lives in ``report_html``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from p2n import resources, telemetry

DEFAULT_TOLERANCE_PERCENT = 1.0
DEFAULT_MAX_INTERVAL_PERCENT = 10.0
_EPSILON = 1e-9
# Two-sided 95% Student t quantiles by degrees of freedom; beyond 30 the normal 1.96 is close enough.
_T975: dict[int, float] = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    11: 2.201,
    12: 2.179,
    13: 2.160,
    14: 2.145,
    15: 2.131,
    16: 2.120,
    17: 2.110,
    18: 2.101,
    19: 2.093,
    20: 2.086,
    21: 2.080,
    22: 2.074,
    23: 2.069,
    24: 2.064,
    25: 2.060,
    26: 2.056,
    27: 2.052,
    28: 2.048,
    29: 2.045,
    30: 2.042,
}


def gap_percent(observed: float, claimed: float) -> float:
    return (observed - claimed) / max(abs(claimed), _EPSILON) * 100.0


def precision_allowance(claim: resources.Claim) -> float:
    """Half a unit of the last digit the paper wrote, in the claim's (normalized) value units."""
    if claim.decimals is None:
        return 0.0
    half_unit = 0.5 * 10.0 ** (-claim.decimals)
    return half_unit / 100.0 if claim.unit == "fraction" else half_unit


def allowance(claim: resources.Claim, tolerance_percent: float) -> float:
    """How far below the claim (in its direction) an observation may fall and still reproduce it."""
    # A hair of slack so that 0.9800000000000001 vs 0.98 never depends on float rounding.
    return max(precision_allowance(claim), abs(claim.value) * tolerance_percent / 100.0) + 1e-12


def t_quantile_975(degrees_of_freedom: int) -> float:
    return _T975.get(degrees_of_freedom, 1.96)


class Assessment(BaseModel):
    """The comparison of one claim with what one or several runs observed."""

    model_config = ConfigDict(frozen=True)

    metric: str
    claimed: float
    observed: float | None = Field(description="The run's value, or the mean over successful seeds.")
    gap_percent: float | None
    verdict: resources.Verdict
    reason: str
    higher_is_better: bool
    allowance: float = Field(description="Shortfall tolerated from precision and tolerance, in value units.")
    tolerance_percent: float
    seeds_observed: int = 0
    std: float | None = None
    interval: tuple[float, float] | None = Field(
        default=None, description="95% prediction interval over seeds."
    )


def _shortfall(claim: resources.Claim, observed: float) -> float:
    """How much worse than claimed the observation is (negative when it is better)."""
    return claim.value - observed if claim.higher_is_better else observed - claim.value


def assess_run(
    claim: resources.Claim, observed: float | None, *, tolerance_percent: float = DEFAULT_TOLERANCE_PERCENT
) -> Assessment:
    """Gap and verdict for a single run (``observed`` None when the run produced no number)."""
    return assess_runs(claim, [observed], tolerance_percent=tolerance_percent)


@telemetry.traced("p2n.run.report")
def assess_runs(
    claim: resources.Claim,
    observations: Sequence[float | None],
    *,
    tolerance_percent: float = DEFAULT_TOLERANCE_PERCENT,
    max_interval_percent: float = DEFAULT_MAX_INTERVAL_PERCENT,
) -> Assessment:
    """Aggregate the seeds of one plan into one verdict (failed seeds are given as None)."""
    values = [v for v in observations if v is not None and math.isfinite(v)]
    allowed = allowance(claim, tolerance_percent)
    base: dict[str, Any] = {
        "metric": claim.metric,
        "claimed": claim.value,
        "higher_is_better": claim.higher_is_better,
        "allowance": allowed,
        "tolerance_percent": tolerance_percent,
        "seeds_observed": len(values),
    }
    if not values:
        return Assessment(
            **base, observed=None, gap_percent=None, verdict="inconclusive", reason="no run produced a value"
        )
    mean = statistics.fmean(values)
    gap = gap_percent(mean, claim.value)
    direction = "higher" if claim.higher_is_better else "lower"
    if len(values) == 1 or statistics.stdev(values) == 0.0:
        std = 0.0 if len(values) > 1 else None
        if _shortfall(claim, mean) <= allowed:
            reason = (
                f"observed {mean:.6g} is as good as claimed {claim.value:.6g} ({direction} is better)"
                if _shortfall(claim, mean) <= 0
                else f"observed {mean:.6g} is within {allowed:.3g} of claimed {claim.value:.6g}"
            )
            return Assessment(
                **base, observed=mean, gap_percent=gap, verdict="reproduced", reason=reason, std=std
            )
        return Assessment(
            **base,
            observed=mean,
            gap_percent=gap,
            verdict="not_reproduced",
            reason=f"observed {mean:.6g} falls short of claimed {claim.value:.6g} by more than {allowed:.3g}",
            std=std,
        )
    std = statistics.stdev(values)
    n = len(values)
    half_width = t_quantile_975(n - 1) * std * math.sqrt(1.0 + 1.0 / n)
    low, high = mean - half_width, mean + half_width
    interval = (low, high)
    better_end = high if claim.higher_is_better else low
    inside = low - allowed <= claim.value <= high + allowed
    too_wide = (high - low) > abs(claim.value) * max_interval_percent / 100.0
    extra = {"observed": mean, "gap_percent": gap, "std": std, "interval": interval}
    if _shortfall(claim, mean) <= allowed and not (inside and too_wide):
        return Assessment(
            **base, **extra, verdict="reproduced", reason=f"the mean over {n} seeds meets the claim"
        )
    if inside:
        if too_wide:
            return Assessment(
                **base,
                **extra,
                verdict="inconclusive",
                reason=f"the 95% prediction interval [{low:.4g}, {high:.4g}] is too wide to decide",
            )
        return Assessment(
            **base,
            **extra,
            verdict="reproduced",
            reason=f"claimed {claim.value:.6g} lies in the 95% prediction interval [{low:.4g}, {high:.4g}]",
        )
    return Assessment(
        **base,
        **extra,
        verdict="not_reproduced",
        reason=f"claimed {claim.value:.6g} is beyond the best end {better_end:.4g} "
        "of the seeds' 95% prediction interval",
    )


# --- the report document -------------------------------------------------------------------------


class ErrorBody(BaseModel):
    code: str
    message: str


class PaperInfo(BaseModel):
    title: str | None
    sha256: str
    source: str
    pages: int
    uri: str | None = None


class RunResult(BaseModel):
    seed: int
    phase: resources.RunPhase
    observed: float | None = None
    artifacts: dict[str, str] = Field(default_factory=dict, description="Artifact name -> path or URI.")
    error: ErrorBody | None = None
    duration_seconds: float | None = None


class Report(BaseModel):
    """What ``report.json`` holds and ``p2n reproduce --json`` prints."""

    paper: PaperInfo
    claims: list[resources.Claim]
    claim: resources.Claim | None = None
    plan: dict[str, Any] | None = None
    notebook: str | None = Field(default=None, description="Path or URI of the materialized notebook.")
    runs: list[RunResult] = Field(default_factory=list)
    metric: str | None = None
    claimed: float | None = None
    observed: float | None = None
    gap_percent: float | None = None
    verdict: resources.Verdict | None = None
    assessment: Assessment | None = None
    storybook: dict[str, Any] | None = Field(default=None, description="Kid mode, when asked for.")
    error: ErrorBody | None = None
    generated_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def to_json(self) -> str:
        return self.model_dump_json(indent=2)


def plan_for_report(plan: BaseModel) -> dict[str, Any]:
    """The plan as shown in reports: everything but an embedded data set's bytes."""
    body: dict[str, Any] = plan.model_dump(mode="json")
    dataset = body.get("dataset")
    if isinstance(dataset, dict) and dataset.get("data_gzip_base64"):
        dataset["data_gzip_base64"] = f"<{len(dataset['data_gzip_base64'])} base64 characters>"
    return body


def with_assessment(report: Report, assessment: Assessment) -> Report:
    return report.model_copy(
        update={
            "assessment": assessment,
            "metric": assessment.metric,
            "claimed": assessment.claimed,
            "observed": assessment.observed,
            "gap_percent": assessment.gap_percent,
            "verdict": assessment.verdict,
        }
    )
