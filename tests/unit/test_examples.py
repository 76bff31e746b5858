"""The manifests in examples/: the CRDs and the models accept the valid ones and reject the invalid ones
for the same field, so `kubectl apply` and the API/CLI (pydantic) never disagree about a manifest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError
from tests.unit import crd_validation

from p2n import errors, resources, settings
from p2n.pipeline import extract, ingest

EXAMPLES = crd_validation.ROOT / "examples"
VALID = sorted(EXAMPLES.glob("*.yaml"))
INVALID_DIR = EXAMPLES / "invalid"
# File -> (the field the apiserver and the models name, the typed error the models translate to).
INVALID: dict[str, tuple[str, type[errors.P2NError]]] = {
    "run-missing-planref.yaml": ("spec.planRef", errors.InvalidInput),
    "plan-timeout-600.yaml": ("spec.timeoutMinutes", errors.InvalidInput),
    "run-timeout-600.yaml": ("spec.timeoutMinutes", errors.InvalidInput),
    "paper-two-sources.yaml": ("spec.source", errors.InvalidInput),
    "run-gpu.yaml": ("spec.resources.limits", errors.GpuRequested),
    "run-unknown-field.yaml": ("spec.timeoutMinute", errors.InvalidInput),
    "paper-ftp-url.yaml": ("spec.source.url", errors.InvalidInput),
    "plan-bad-claim-id.yaml": ("spec.claimId", errors.InvalidInput),
}


def _load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), path
    return document


def test_the_sample_manifests_exist() -> None:
    names = {p.name for p in VALID}
    assert {"paper-text.yaml", "paper-url.yaml", "plan.yaml", "plan-approval.yaml", "run.yaml"} <= names


def test_every_invalid_example_has_an_expectation() -> None:
    assert sorted(p.name for p in INVALID_DIR.glob("*.yaml")) == sorted(INVALID)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_is_admitted_by_the_crd(path: Path) -> None:
    assert crd_validation.validate(_load(path)) == []


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_example_parses_and_crd_defaults_match_model_defaults(path: Path) -> None:
    document = _load(path)
    model = resources.KINDS[document["kind"]]
    parsed = model.model_validate(document)
    schema = crd_validation.openapi_schema(crd_validation.load_crds()[document["kind"]])
    stored = crd_validation.apply_defaults(schema, document)
    assert model.model_validate(stored) == parsed
    assert parsed.metadata.name == document["metadata"]["name"]


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_example_is_rejected_by_the_crd_naming_the_field(name: str) -> None:
    field, _ = INVALID[name]
    found = crd_validation.validate(_load(INVALID_DIR / name))
    assert [e.path for e in found] == [field], found
    if name == "run-gpu.yaml":
        assert "E_GPU_REQUESTED" in found[0].message


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_example_is_rejected_by_the_models_naming_the_field(name: str) -> None:
    field, error_class = INVALID[name]
    document = _load(INVALID_DIR / name)
    with pytest.raises(ValidationError) as caught:
        resources.KINDS[document["kind"]].model_validate(document)
    error = resources.error_from_validation(caught.value)
    assert type(error) is error_class
    assert error.message.startswith(f"{field}: "), error.message


def test_gpu_example_is_a_gpu_error_everywhere() -> None:
    document = _load(INVALID_DIR / "run-gpu.yaml")
    with pytest.raises(ValidationError) as caught:
        resources.Run.model_validate(document)
    error = resources.error_from_validation(caught.value)
    assert isinstance(error, errors.GpuRequested)
    assert error.code == "E_GPU_REQUESTED"
    assert error.http_status == 422
    assert "nvidia.com/gpu" in error.message


def test_examples_reference_each_other() -> None:
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for path in VALID:
        document = _load(path)
        by_kind.setdefault(document["kind"], {})[document["metadata"]["name"]] = document
    for plan in by_kind["Plan"].values():
        assert plan["spec"]["paperRef"]["name"] in by_kind["Paper"]
    for run in by_kind["Run"].values():
        assert run["spec"]["planRef"]["name"] in by_kind["Plan"]
    approval = [p for p in by_kind["Plan"].values() if p["spec"].get("approval", {}).get("required")]
    assert approval, "one example Plan waits for approval"


def test_example_plans_name_claims_the_offline_extractor_finds() -> None:
    paper = _load(EXAMPLES / "paper-text.yaml")
    spec = resources.PaperSpec.model_validate(paper["spec"])
    assert spec.source.text is not None
    document = ingest.parse(spec.source.text.encode(), filename="paper.md", title=spec.title)
    claims = extract.extract_claims(
        document, settings=settings.Settings(), extraction=resources.ExtractionSpec(provider="offline")
    )
    found = {claim.id: claim for claim in claims}
    plans = [_load(path) for path in VALID if _load(path)["kind"] == "Plan"]
    assert plans
    for plan in plans:
        assert plan["spec"]["paperRef"]["name"] == paper["metadata"]["name"]
        claim = found[plan["spec"]["claimId"]]
        assert (claim.dataset, claim.metric, claim.value) == ("iris", "accuracy", 0.98)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["spec"].update(seed=-1), "spec.seed"),
        (lambda d: d["spec"].update(seed=2**31), "spec.seed"),
        (lambda d: d["spec"].update(timeoutMinutes=0), "spec.timeoutMinutes"),
        (lambda d: d["spec"]["planRef"].update(name="Not_A_Name"), "spec.planRef.name"),
        (lambda d: d["spec"]["resources"]["limits"].update(cpu="lots"), "spec.resources.limits.cpu"),
        (lambda d: d["spec"]["resources"]["limits"].update(cpu=0.5), "spec.resources.limits.cpu"),
        (lambda d: d["spec"].update(cancel=None), "spec.cancel"),
        (lambda d: d["spec"]["resources"]["requests"].update({"amd.com/gpu": 1}), "spec.resources.requests"),
    ],
    ids=["negative-seed", "huge-seed", "zero-timeout", "bad-ref", "bad-quantity", "float-quantity",
         "null-bool", "amd-gpu"],
)  # fmt: skip
def test_run_variants_are_rejected_by_both(mutate: Any, field: str) -> None:
    document = _load(EXAMPLES / "run.yaml")
    mutate(document)
    assert [e.path for e in crd_validation.validate(document)] == [field]
    with pytest.raises(ValidationError) as caught:
        resources.Run.model_validate(document)
    assert resources.error_from_validation(caught.value).message.startswith(f"{field}: ")


def test_integer_quantities_are_accepted_by_both() -> None:
    document = _load(EXAMPLES / "run.yaml")
    document["spec"]["resources"]["limits"]["cpu"] = 2
    assert crd_validation.validate(document) == []
    assert resources.Run.model_validate(document).spec.resources is not None
    assert resources.Run.model_validate(document).spec.resources.limits["cpu"] == "2"


def test_wrong_api_version_or_name_is_rejected() -> None:
    document = _load(EXAMPLES / "run.yaml")
    assert [e.path for e in crd_validation.validate({**document, "apiVersion": "p2n.dev/v1"})] == [
        "apiVersion"
    ]
    bad_name = {**document, "metadata": {"name": "Run_1"}}
    assert [e.path for e in crd_validation.validate(bad_name)] == ["metadata.name"]
