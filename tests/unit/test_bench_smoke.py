"""The benchmark framework's arithmetic and output, without running any benchmark."""

from __future__ import annotations

import datetime
import json
import math

import pytest
from bench import figures, report


def test_ratio_is_taken_per_repeat_between_paired_samples() -> None:
    figure = figures.compared("f", [2.0, 3.0, 12.0], [1.0, 2.0, 4.0], "s")

    assert figure.ratio is not None
    assert (figure.ratio.median, figure.ratio.low, figure.ratio.high) == (2.0, 1.5, 3.0)
    assert (figure.value.median, figure.baseline and figure.baseline.median) == (3.0, 2.0)


def test_paired_samples_must_have_the_same_length() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        figures.paired_ratios([1.0, 2.0], [1.0])


def test_a_zero_baseline_sample_gives_an_infinite_ratio() -> None:
    assert figures.paired_ratios([1.0], [0.0]) == [math.inf]


@pytest.mark.parametrize(
    ("op", "checked", "expected"),
    [("<=", 1.15, True), ("<=", 1.16, False), (">=", 0.5, True), (">=", 0.49, False)],
)
def test_target_bounds_in_both_directions(op: figures.Comparison, checked: float, expected: bool) -> None:
    bound = 1.15 if op == "<=" else 0.5
    assert figures.Target("ratio", op, bound).met_by(checked) is expected


def test_a_value_target_checks_the_value_not_the_ratio() -> None:
    target = figures.Target("value", "<=", 100, unit="ms")
    fast = figures.compared("p99", [90.0], [10.0], "ms", target)
    slow = figures.compared("p99", [110.0], [200.0], "ms", target)

    assert (fast.met, slow.met) == (True, False)


def test_percentile_interpolates_between_ranks() -> None:
    samples = [float(n) for n in range(1, 101)]

    assert figures.percentile(samples, 50) == pytest.approx(50.5)
    assert figures.percentile(samples, 99) == pytest.approx(99.01)
    assert figures.percentile([7.0], 99) == 7.0


def test_table_shows_each_ratio_next_to_its_target_and_unavailable_reasons() -> None:
    target = figures.Target("ratio", "<=", 1.15)
    results = [
        figures.Result("a", "1. A", figures=[figures.compared("x", [1.0, 1.2], [1.0, 1.0], "s", target)]),
        figures.Result("b", "2. B", unavailable="the operator is not in the tree"),
    ]

    lines = report.table(results).splitlines()

    assert "1.10 [1.00–1.20]×" in lines[2]
    assert "≤ 1.15×" in lines[2]
    assert "| yes" in lines[2]
    assert "not available: the operator is not in the tree" in lines[3]
    assert len({len(line) for line in lines}) == 1


def test_results_are_written_as_json_named_by_date(tmp_path) -> None:
    started = datetime.datetime(2026, 11, 22, 3, 0, tzinfo=datetime.UTC)
    results = [figures.Result("b", "2. B", unavailable="missing")]

    full = report.write(report.document(results, started, {"cpus": 2}), started, directory=tmp_path)
    partial = report.write(report.document(results, started, {"cpus": 2}), started, ["b"], directory=tmp_path)

    assert (full.name, partial.name) == ("2026-11-22.json", "2026-11-22-b.json")
    doc = json.loads(full.read_text())
    assert doc["benchmarks"][0] == {
        "key": "b",
        "title": "2. B",
        "method": "",
        "status": "not available",
        "reason": "missing",
        "seconds": 0.0,
        "figures": [],
        "details": {},
    }
