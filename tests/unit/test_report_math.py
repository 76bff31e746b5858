"""Gap and verdict: precision as stated, direction of the metric, tolerance, and seeds' intervals."""

from __future__ import annotations

import pytest

from p2n import resources
from p2n.pipeline import report


def claim(
    value: float, *, decimals: int | None = 1, unit: str = "fraction", higher: bool = True
) -> resources.Claim:
    return resources.Claim(
        id="c-1",
        metric="accuracy" if higher else "rmse",
        value=value,
        unit=unit,
        decimals=decimals,
        higher_is_better=higher,
        citation=resources.Citation(page=1, quote="q"),
    )


def test_gap_percent_formula() -> None:
    assert report.gap_percent(0.97, 0.98) == pytest.approx(-1.0204, abs=1e-4)
    assert report.gap_percent(1.0, 0.0) == pytest.approx(1e11)
    assert report.gap_percent(-2.0, -4.0) == pytest.approx(50.0)


def test_stated_precision_is_honoured() -> None:
    c = claim(0.989)
    assert report.assess_run(c, 0.9888, tolerance_percent=0).verdict == "reproduced"
    assert report.assess_run(c, 0.9884, tolerance_percent=0).verdict == "not_reproduced"


def test_tolerance_widens_the_band() -> None:
    c = claim(0.989)
    assert report.assess_run(c, 0.980, tolerance_percent=0).verdict == "not_reproduced"
    assert report.assess_run(c, 0.980, tolerance_percent=1.0).verdict == "reproduced"


def test_direction_aware() -> None:
    higher = claim(0.90)
    assert report.assess_run(higher, 0.95, tolerance_percent=0).verdict == "reproduced"
    lower = claim(54.57, decimals=2, unit="", higher=False)
    assert report.assess_run(lower, 50.0, tolerance_percent=0).verdict == "reproduced"
    assert report.assess_run(lower, 54.574, tolerance_percent=0).verdict == "reproduced"
    assert report.assess_run(lower, 56.0, tolerance_percent=0).verdict == "not_reproduced"
    assert report.assess_run(lower, 56.0, tolerance_percent=0).gap_percent == pytest.approx(2.6205, abs=1e-3)


def test_no_value_is_inconclusive() -> None:
    result = report.assess_runs(claim(0.98), [None, None])
    assert result.verdict == "inconclusive"
    assert result.observed is None
    assert result.gap_percent is None


def test_prediction_interval_over_seeds() -> None:
    c = claim(0.995, decimals=3, unit="")
    seeds = [0.99518, 0.99581, 0.99119]
    single = report.assess_run(c, seeds[2], tolerance_percent=0)
    assert single.verdict == "not_reproduced"
    many = report.assess_runs(c, seeds, tolerance_percent=0)
    assert many.verdict == "reproduced"
    assert many.interval is not None
    low, high = many.interval
    assert low < c.value < high
    assert many.seeds_observed == 3


def test_claim_beyond_the_interval_is_not_reproduced() -> None:
    c = claim(0.997, decimals=1)
    result = report.assess_runs(c, [0.9508, 0.9530, 0.9519], tolerance_percent=1.0)
    assert result.verdict == "not_reproduced"


def test_too_wide_an_interval_is_inconclusive() -> None:
    c = claim(0.80, decimals=2, unit="")
    result = report.assess_runs(c, [0.60, 0.95, 0.70], tolerance_percent=0)
    assert result.verdict == "inconclusive"


def test_failed_seeds_are_left_out() -> None:
    result = report.assess_runs(claim(0.98), [0.98, None])
    assert result.verdict == "reproduced"
    assert result.seeds_observed == 1


def test_t_quantiles() -> None:
    assert report.t_quantile_975(2) == pytest.approx(4.303)
    assert report.t_quantile_975(1000) == pytest.approx(1.96)
