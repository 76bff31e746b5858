"""Pure pieces of local mode: naming a local paper, choosing the default claim, the CLI seed list."""

from __future__ import annotations

import argparse

import pytest

from p2n import errors, resources
from p2n.cli import reproduce
from p2n.pipeline import local, planning


def make_claim(claim_id: str, dataset: str) -> resources.Claim:
    return resources.Claim(
        id=claim_id,
        metric="accuracy",
        value=0.9,
        higher_is_better=True,
        dataset=dataset,
        model="LDA",
        protocol="resubstitution",
        citation=resources.Citation(page=1, quote="q"),
    )


def plan_one(claim: resources.Claim) -> planning.ReproductionPlan:
    return planning.build(claim, planning.draft_offline(claim), provider="offline")


def test_paper_name_is_a_valid_key_segment() -> None:
    assert local.paper_name("My Paper (v2).PDF", "ab" * 32) == "my-paper-v2-abababab"
    assert local.paper_name("???.md", "0" * 64) == "paper-00000000"


def test_default_claim_is_the_first_the_planner_supports() -> None:
    claims = [make_claim("imagenet-accuracy-1", "imagenet"), make_claim("iris-accuracy-1", "iris")]
    chosen, plan = local.choose_claim(claims, None, plan_one)
    assert chosen.id == "iris-accuracy-1"
    assert plan.dataset.name == "iris"


def test_no_supported_claim_raises_the_first_refusal() -> None:
    claims = [make_claim("imagenet-accuracy-1", "imagenet"), make_claim("mnist-accuracy-1", "mnist")]
    with pytest.raises(errors.UnsupportedPlan, match="imagenet"):
        local.choose_claim(claims, None, plan_one)


def test_an_explicit_claim_is_planned_or_refused_never_swapped() -> None:
    claims = [make_claim("imagenet-accuracy-1", "imagenet"), make_claim("iris-accuracy-1", "iris")]
    with pytest.raises(errors.UnsupportedPlan):
        local.choose_claim(claims, "imagenet-accuracy-1", plan_one)
    with pytest.raises(errors.NotFound, match="iris-accuracy-1"):
        local.choose_claim(claims, "nope", plan_one)


def test_seed_list() -> None:
    assert reproduce.seed_list("0,1,2") == (0, 1, 2)
    for bad in ("a,b", "", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            reproduce.seed_list(bad)
