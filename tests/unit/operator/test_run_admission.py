"""Per-namespace admission: first come first served within the concurrency limit; resource caps."""

from __future__ import annotations

import decimal

import pytest
from tests.unit.operator.operator_builders import make_plan, make_run

from p2n import errors
from p2n_operator import policy, quantity


def _waiting(*pairs):
    return [policy.Waiting(name=name, created=created) for name, created in pairs]


def test_oldest_waiting_runs_fill_the_free_slots():
    waiting = _waiting(
        ("c", "2026-01-01T00:00:03Z"), ("a", "2026-01-01T00:00:01Z"), ("b", "2026-01-01T00:00:02Z")
    )
    decision = policy.admission(waiting, active=0, limit=2)
    assert decision.start == ("a", "b")
    assert decision.positions == {"c": 1}


def test_no_run_starts_when_the_namespace_is_full():
    waiting = _waiting(("a", "2026-01-01T00:00:01Z"), ("b", "2026-01-01T00:00:02Z"))
    decision = policy.admission(waiting, active=3, limit=2)
    assert decision.start == ()
    assert decision.positions == {"a": 1, "b": 2}


def test_ties_on_creation_time_are_broken_by_name():
    waiting = _waiting(("b", "2026-01-01T00:00:01Z"), ("a", "2026-01-01T00:00:01Z"))
    assert policy.admission(waiting, active=1, limit=2).start == ("a",)


@pytest.mark.parametrize(
    ("text", "value"),
    [("500m", "0.5"), ("2", "2"), ("1.5", "1.5"), ("1Ki", "1024"), ("1G", "1000000000"), (".5", "0.5")],
)
def test_quantities_parse_exactly(text, value):
    assert quantity.parse(text) == decimal.Decimal(value)


def test_malformed_quantity_is_invalid_input():
    with pytest.raises(errors.InvalidInput):
        quantity.parse("lots")


def test_request_above_its_limit_is_invalid(cfg):
    run = make_run(spec={"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}})
    with pytest.raises(errors.InvalidInput):
        policy.sandbox_resources(run.spec, make_plan().spec, cfg)


def test_default_request_never_exceeds_a_smaller_limit(cfg):
    run = make_run(spec={"resources": {"limits": {"cpu": "250m"}}})
    res = policy.sandbox_resources(run.spec, make_plan().spec, cfg)
    assert res["requests"]["cpu"] == "250m"
    assert res["limits"]["cpu"] == "250m"


@pytest.mark.parametrize("name", ["cpu", "memory", "ephemeral-storage"])
def test_each_ceiling_is_enforced(cfg, name):
    run = make_run(spec={"resources": {"requests": {name: "100Gi" if name != "cpu" else "64"}}})
    with pytest.raises(errors.CapExceeded) as info:
        policy.sandbox_resources(run.spec, make_plan().spec, cfg)
    assert info.value.details["resource"] == name
