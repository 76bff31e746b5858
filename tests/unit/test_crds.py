"""The CRDs in crds/: generated from the models, structural, documented, and what the apiserver accepts."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel, Field
from tests.unit import crd_validation

from p2n import crds, resources

KINDS = [info.kind for info in crds.KINDS]
# Keys of JSONSchemaProps the apiserver knows; anything else (propertyNames, const, $ref...) is
# rejected or silently dropped.
_SCHEMA_KEYS = {
    "description", "type", "format", "title", "default", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems", "uniqueItems",
    "multipleOf", "enum", "maxProperties", "minProperties", "required", "items", "allOf", "oneOf",
    "anyOf", "not", "properties", "additionalProperties", "nullable", "example", "externalDocs",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string", "x-kubernetes-list-map-keys", "x-kubernetes-list-type",
    "x-kubernetes-map-type", "x-kubernetes-validations",
}  # fmt: skip
# Value validations only: a oneOf/anyOf branch may not carry structure of its own.
_BRANCH_FORBIDDEN = {"description", "type", "default", "additionalProperties", "nullable", "items"}
# Short names of built-in kinds and of widespread add-ons (Tekton's pr/tr, cert-manager, Argo...).
_TAKEN_SHORT_NAMES = {
    "cm", "cs", "ds", "ep", "ev", "hpa", "ing", "limits", "netpol", "no", "ns", "pc", "pdb", "po", "psp",
    "pv", "pvc", "quota", "rc", "rs", "sa", "sc", "sts", "svc", "deploy", "crd", "crds", "csr", "cj",
    "pr", "prs", "tr", "trs", "cert", "certs", "app", "apps", "wf", "ks", "hr",
}  # fmt: skip


@pytest.fixture(scope="module")
def loaded() -> dict[str, dict[str, Any]]:
    return crd_validation.load_crds()


def _schema(loaded: dict[str, dict[str, Any]], kind: str) -> dict[str, Any]:
    return crd_validation.openapi_schema(loaded[kind])


def _walk(node: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every schema node with its path (properties by name, items as [], map values as *)."""
    found = [(path, node)]
    for name, sub in node.get("properties", {}).items():
        found += _walk(sub, f"{path}.{name}" if path else name)
    if isinstance(node.get("items"), dict):
        found += _walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        found += _walk(node["additionalProperties"], f"{path}.*")
    return found


# --- the files are the models ---------------------------------------------------------------------


def test_crd_files_match_the_models() -> None:
    diffs = crds.drift(crd_validation.CRD_DIR)
    assert not diffs, "crds/ drifted from p2n.resources; run `python -m p2n.crds --write crds/`:\n" + "".join(
        diffs
    )


def test_crd_dir_holds_exactly_the_generated_files() -> None:
    assert sorted(p.name for p in crd_validation.CRD_DIR.glob("*.yaml")) == sorted(crds.generate())


def test_check_fails_on_drift_and_write_repairs_it(tmp_path: Path) -> None:
    assert crds.main(["--write", str(tmp_path)]) == 0
    assert crds.main(["--check", str(tmp_path)]) == 0
    runs = tmp_path / "runs.p2n.dev.yaml"
    runs.write_text(runs.read_text().replace("maximum: 25", "maximum: 600"))
    assert crds.main(["--check", str(tmp_path)]) == 1
    (tmp_path / "plans.p2n.dev.yaml").unlink()
    assert crds.main(["--check", str(tmp_path)]) == 1
    assert crds.main(["--write", str(tmp_path)]) == 0
    assert crds.main(["--check", str(tmp_path)]) == 0


def test_module_entry_point_checks_the_repository(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "p2n.crds", "--check", str(crd_validation.CRD_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    printed = subprocess.run(
        [sys.executable, "-m", "p2n.crds"], capture_output=True, text=True, timeout=60, check=True
    )
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(printed.stdout)] == [
        info.crd_name for info in crds.KINDS
    ]


# --- what the apiserver requires --------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_crd_is_a_valid_kubernetes_manifest(loaded: dict[str, dict[str, Any]], kind: str) -> None:
    kubernetes_validate.validate(loaded[kind], kubernetes_validate.latest_version(), strict=True)


@pytest.mark.parametrize("kind", KINDS)
def test_crd_names_and_version(loaded: dict[str, dict[str, Any]], kind: str) -> None:
    crd = loaded[kind]
    spec = crd["spec"]
    plural = spec["names"]["plural"]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["metadata"]["name"] == f"{plural}.p2n.dev"
    assert spec["group"] == resources.GROUP
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == kind
    assert spec["names"]["listKind"] == f"{kind}List"
    assert spec["names"]["singular"] == kind.lower()
    assert spec["names"]["categories"] == ["p2n"]
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == (resources.VERSION, True, True)
    assert version["subresources"] == {"status": {}}


def test_short_names_are_unique_and_free(loaded: dict[str, dict[str, Any]]) -> None:
    names = [n for crd in loaded.values() for n in crd["spec"]["names"]["shortNames"]]
    plurals = {crd["spec"]["names"]["plural"] for crd in loaded.values()}
    assert len(names) == len(set(names))
    assert not set(names) & (_TAKEN_SHORT_NAMES | plurals | {"p2n"})


_COLUMNS = {
    "Paper": [
        ("Phase", ".status.phase"),
        ("Claims", ".status.claimCount"),
        ("Title", ".status.title"),
        ("Age", ".metadata.creationTimestamp"),
    ],
    "Plan": [
        ("Paper", ".spec.paperRef.name"),
        ("Claim", ".spec.claimId"),
        ("Phase", ".status.phase"),
        ("Metric", ".status.plan.metric"),
        ("Target", ".status.plan.target"),
        ("Age", ".metadata.creationTimestamp"),
    ],
    "Run": [
        ("Plan", ".spec.planRef.name"),
        ("Seed", ".spec.seed"),
        ("Phase", ".status.phase"),
        ("Metric", ".status.metric"),
        ("Claimed", ".status.claimed"),
        ("Observed", ".status.observed"),
        ("Gap", ".status.gapPercent"),
        ("Verdict", ".status.verdict"),
        ("Age", ".metadata.creationTimestamp"),
    ],
}
_COLUMN_TYPES = {"string": "string", "integer": "integer", "number": "number", "boolean": "boolean"}


@pytest.mark.parametrize("kind", KINDS)
def test_printer_columns_read_existing_fields(loaded: dict[str, dict[str, Any]], kind: str) -> None:
    columns = loaded[kind]["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [(c["name"], c["jsonPath"]) for c in columns] == _COLUMNS[kind]
    schema = _schema(loaded, kind)
    for column in columns:
        if column["jsonPath"] == ".metadata.creationTimestamp":
            assert column["type"] == "date"
            continue
        node = schema
        for part in column["jsonPath"].strip(".").split("."):
            node = node["properties"][part]
        assert column["type"] == _COLUMN_TYPES[node["type"]], column


@pytest.mark.parametrize("kind", KINDS)
def test_schema_is_structural(loaded: dict[str, dict[str, Any]], kind: str) -> None:
    schema = _schema(loaded, kind)
    assert schema["properties"]["metadata"] == {"type": "object"}, "metadata may only be type: object"
    for path, node in _walk(schema):
        assert set(node) <= _SCHEMA_KEYS, (path, set(node) - _SCHEMA_KEYS)
        if node.get("x-kubernetes-int-or-string"):
            assert "type" not in node, path
        else:
            assert node.get("type") in {"object", "array", "string", "integer", "number", "boolean"}, path
        assert node.get("additionalProperties", True) is not False, path
        assert not ("properties" in node and "additionalProperties" in node), path
        for key in ("exclusiveMinimum", "exclusiveMaximum"):
            assert isinstance(node.get(key, True), bool), (path, key)
        for branch in node.get("oneOf", []) + node.get("anyOf", []):
            assert not set(branch) & _BRANCH_FORBIDDEN, (path, branch)
            assert set(branch.get("required", [])) <= set(node["properties"]), (path, branch)
        if node.get("type") == "object" and not node.get("x-kubernetes-preserve-unknown-fields"):
            assert "properties" in node or "additionalProperties" in node or path == "metadata", path


@pytest.mark.parametrize("kind", KINDS)
def test_defaults_are_valid_for_their_field(loaded: dict[str, dict[str, Any]], kind: str) -> None:
    defaults = [(path, node) for path, node in _walk(_schema(loaded, kind)) if "default" in node]
    assert defaults
    for path, node in defaults:
        assert not path.startswith("metadata"), path
        assert crd_validation.schema_errors(node, node["default"]) == [], path


@pytest.mark.parametrize("kind", KINDS)
def test_map_lists_are_keyed_by_required_scalars(loaded: dict[str, dict[str, Any]], kind: str) -> None:
    for path, node in _walk(_schema(loaded, kind)):
        if node.get("type") != "array":
            continue
        assert node["x-kubernetes-list-type"] in {"atomic", "map", "set"}, path
        if node["x-kubernetes-list-type"] == "map":
            items = node["items"]
            for key in node["x-kubernetes-list-map-keys"]:
                assert key in items["required"] or "default" in items["properties"][key], (path, key)
                assert items["properties"][key]["type"] in {"string", "integer", "boolean"}, (path, key)


def test_conditions_are_a_map_list_keyed_by_type(loaded: dict[str, dict[str, Any]]) -> None:
    for kind in KINDS:
        conditions = _schema(loaded, kind)["properties"]["status"]["properties"]["conditions"]
        assert conditions["x-kubernetes-list-type"] == "map"
        assert conditions["x-kubernetes-list-map-keys"] == ["type"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_field_is_documented_for_kubectl_explain(loaded: dict[str, dict[str, Any]], kind: str) -> None:
    schema = _schema(loaded, kind)
    assert schema["description"].strip()
    undocumented = [
        f"{path}.{name}" if path else name
        for path, node in _walk(schema)
        for name, prop in node.get("properties", {}).items()
        if not str(prop.get("description", "")).strip() and (path, name) != ("", "metadata")
    ]
    assert undocumented == []


@pytest.mark.parametrize("kind", KINDS)
def test_json_schema_leftovers_are_gone(loaded: dict[str, dict[str, Any]], kind: str) -> None:
    for path, node in _walk(_schema(loaded, kind)):
        assert not {"title", "anyOf", "$ref", "$defs", "const", "propertyNames"} & set(node), path


@pytest.mark.parametrize("kind", KINDS)
def test_cel_rules_compile(loaded: dict[str, dict[str, Any]], kind: str) -> None:
    rules = [r for _, node in _walk(_schema(loaded, kind)) for r in node.get("x-kubernetes-validations", [])]
    for rule in rules:
        assert crd_validation.evaluate_rule(rule["rule"], {}) in (True, False)


@pytest.mark.parametrize("kind", ["Plan", "Run"])
def test_resource_maps_allow_only_cpu_memory_storage(loaded: dict[str, dict[str, Any]], kind: str) -> None:
    resources_schema = _schema(loaded, kind)["properties"]["spec"]["properties"]["resources"]
    for field in ("requests", "limits"):
        node = resources_schema["properties"][field]
        (rule,) = node["x-kubernetes-validations"]
        assert "E_GPU_REQUESTED" in rule["message"]
        assert "propertyNames" not in node
        assert node["additionalProperties"]["x-kubernetes-int-or-string"] is True
        assert crd_validation.evaluate_rule(
            rule["rule"], {"cpu": "1", "memory": "1Gi", "ephemeral-storage": 1}
        )
        for device in ("nvidia.com/gpu", "amd.com/gpu", "hugepages-2Mi", "CPU"):
            assert not crd_validation.evaluate_rule(rule["rule"], {"cpu": "1", device: "1"}), device


def test_paper_source_is_exactly_one_of(loaded: dict[str, dict[str, Any]]) -> None:
    source = _schema(loaded, "Paper")["properties"]["spec"]["properties"]["source"]
    assert source["oneOf"] == [{"required": ["url"]}, {"required": ["text"]}, {"required": ["configMapRef"]}]
    for value, ok in [
        ({"url": "https://example.org/p.pdf"}, True),
        ({"text": "x"}, True),
        ({"configMapRef": {"name": "paper"}}, True),
        ({}, False),
        ({"url": "s3://b/p.pdf", "configMapRef": {"name": "paper"}}, False),
    ]:
        errors = crd_validation.schema_errors(source, value, ("spec", "source"))
        assert (errors == []) is ok, (value, errors)
        assert all(e.path == "spec.source" for e in errors)


def test_timeouts_are_capped_at_25_minutes(loaded: dict[str, dict[str, Any]]) -> None:
    for kind in ("Plan", "Run"):
        timeout = _schema(loaded, kind)["properties"]["spec"]["properties"]["timeoutMinutes"]
        assert (timeout["minimum"], timeout["maximum"]) == (1, resources.MAX_TIMEOUT_MINUTES)


# --- the status schema accepts what the operator writes ----------------------------------------------

_NOW = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def _conditions() -> list[resources.Condition]:
    conditions = resources.set_condition([], "Ready", "True", "Succeeded", "done", 3, now=_NOW)
    return resources.set_condition(conditions, "Degraded", "False", "AsExpected", "", 3, now=_NOW)


def _statuses() -> dict[str, BaseModel]:
    common: dict[str, Any] = {
        "observed_generation": 3,
        "conditions": _conditions(),
        "reason": "E_RUN_TIMEOUT",
        "message": "x" * 200,
    }
    return {
        "Paper": resources.PaperStatus(
            **common,
            phase="Ready",
            title="Linear Discriminant Analysis on the Iris Flowers",
            document_sha256="a" * 64,
            document_uri="s3://p2n/default/papers/iris-lda/paper.md",
            pages=1,
            claim_count=2,
            claims=[
                resources.Claim(
                    id=f"iris-accuracy-{i}",
                    metric="accuracy",
                    value=0.98,
                    unit="fraction",
                    decimals=1,
                    higher_is_better=True,
                    dataset="iris",
                    model="LDA",
                    protocol="10-fold stratified cross-validation",
                    citation=resources.Citation(page=1, quote="LDA reaches 98.0%."),
                )
                for i in (1, 2)
            ],
        ),
        "Plan": resources.PlanStatus(
            **common,
            phase="AwaitingApproval",
            plan=resources.PlanSummary(
                dataset="iris", model="LDA", protocol="10-fold CV", metric="accuracy", target=0.98
            ),
            plan_hash="sha256:" + "b" * 64,
            env_hash="c" * 64,
            notebook_uri="s3://p2n/default/plans/iris-lda-cv/notebook.ipynb",
            approved_by="alice@example.org",
            approved_at=_NOW,
        ),
        "Run": resources.RunStatus(
            **common,
            phase="Succeeded",
            pod="p2n-run-iris-lda-cv-seed-1",
            queue_position=0,
            started_at=_NOW,
            completed_at=_NOW,
            progress=100.0,
            metric="accuracy",
            observed=0.9733,
            claimed=0.98,
            gap_percent=-0.68,
            verdict="reproduced",
            artifacts=resources.RunArtifacts(
                metrics="s3://p2n/m.json", events="s3://p2n/e.jsonl", logs="s3://p2n/l.txt", notebook="s3://n"
            ),
            env_hash="c" * 64,
        ),
    }


@pytest.mark.parametrize("kind", KINDS)
def test_status_schema_accepts_what_the_models_write(kind: str) -> None:
    status = _statuses()[kind]
    wire = status.model_dump(mode="json", by_alias=True, exclude_none=True)
    unset_fields = set(type(status).model_fields) - status.model_fields_set
    assert not unset_fields - {"phase"}, f"fill every field of {kind} status: {unset_fields}"
    assert crd_validation.validate_status(kind, wire) == []
    assert crd_validation.validate_status(kind, {}) == []
    assert (
        crd_validation.validate_status(
            kind, type(status)().model_dump(mode="json", by_alias=True, exclude_none=True)
        )
        == []
    )


@pytest.mark.parametrize("kind", KINDS)
def test_status_schema_agrees_with_the_models_on_bad_values(kind: str) -> None:
    wire = _statuses()[kind].model_dump(mode="json", by_alias=True, exclude_none=True)
    for field, value in [("phase", "Exploded"), ("observedGeneration", -1)]:
        bad = {**wire, field: value}
        errors = crd_validation.validate_status(kind, bad)
        assert [e.path for e in errors] == [f"status.{field}"], errors
        with pytest.raises(ValueError, match=field):
            type(_statuses()[kind]).model_validate(bad)


def test_duplicate_condition_types_are_rejected() -> None:
    condition = _conditions()[0].model_dump(mode="json", by_alias=True)
    errors = crd_validation.validate_status("Run", {"conditions": [condition, condition]})
    assert [e.path for e in errors] == ["status.conditions[1]"]


def test_condition_times_are_rfc3339() -> None:
    condition = _conditions()[0].model_dump(mode="json", by_alias=True)
    assert crd_validation.validate_status("Run", {"conditions": [condition]}) == []
    errors = crd_validation.validate_status(
        "Run", {"conditions": [{**condition, "lastTransitionTime": "noon"}]}
    )
    assert [e.path for e in errors] == ["status.conditions[0].lastTransitionTime"]


# --- the generator refuses what it cannot translate faithfully ---------------------------------------


class _Undocumented(BaseModel):
    """A model with a field lacking a description."""

    name: str


class _Union(BaseModel):
    """A model with a union the apiserver cannot express."""

    value: int | str = Field(description="Either.")


class _Exclusive(BaseModel):
    """Open bounds and a constant."""

    fraction: float = Field(gt=0, lt=1, description="Strictly between 0 and 1.")
    kind: Literal["X"] = Field(default="X", description="Always X.")
    extra: dict[str, Any] | None = Field(default=None, description="Anything.")


def test_generator_requires_descriptions_and_refuses_unions() -> None:
    with pytest.raises(crds.SchemaError, match="description"):
        crds.structural_schema(_Undocumented)
    with pytest.raises(crds.SchemaError, match="union"):
        crds.structural_schema(_Union)


def test_generator_translates_json_schema_to_openapi() -> None:
    schema = crds.structural_schema(_Exclusive)
    fraction = schema["properties"]["fraction"]
    assert (fraction["minimum"], fraction["exclusiveMinimum"]) == (0, True)
    assert (fraction["maximum"], fraction["exclusiveMaximum"]) == (1, True)
    assert schema["properties"]["kind"]["enum"] == ["X"]
    assert schema["properties"]["extra"] == {
        "description": "Anything.",
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    assert crd_validation.schema_errors(fraction, 0) != []
    assert crd_validation.schema_errors(fraction, 0.5) == []


def test_repeated_keys_are_rejected_like_the_models_do() -> None:
    claims = _statuses()["Paper"].wire()["claims"]
    errors = crd_validation.validate_status("Paper", {"claims": [claims[0], claims[0]]})
    assert [e.path for e in errors] == ["status.claims[1]"]
    dataset = {"name": "iris", "url": "s3://b/iris.csv", "target": "species"}
    paper = {
        "apiVersion": "p2n.dev/v1alpha1",
        "kind": "Paper",
        "metadata": {"name": "p"},
        "spec": {"source": {"text": "x"}, "datasets": [dataset, dataset]},
    }
    assert [e.path for e in crd_validation.validate(paper)] == ["spec.datasets[1]"]
    paper["spec"]["datasets"] = [dataset, {**dataset, "name": "iris-2"}]
    assert crd_validation.validate(paper) == []
