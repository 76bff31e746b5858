"""A claim factory for the pipeline's unit tests: a plausible iris/LDA claim, any field overridable."""

from __future__ import annotations

from p2n import resources


def make_claim(
    quote: str = "LDA achieved an accuracy of 98.0% (resubstitution).", **fields: object
) -> resources.Claim:
    base: dict[str, object] = {
        "id": "iris-accuracy-1",
        "metric": "accuracy",
        "value": 0.98,
        "unit": "fraction",
        "decimals": 1,
        "higher_is_better": True,
        "dataset": "iris",
        "model": "LDA",
        "protocol": "resubstitution",
        "citation": resources.Citation(page=1, quote=quote),
    }
    base.update(fields)
    return resources.Claim(**base)
