"""Resource models: camelCase wire form, strict specs, tolerant statuses, standard condition semantics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from p2n import errors, resources

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


# --- conditions ---------------------------------------------------------------------------------------


def test_set_condition_adds_a_new_type_with_the_current_time() -> None:
    (ready,) = resources.set_condition([], "Ready", "False", "Pending", "waiting", 1, now=T0)
    assert (ready.type, ready.status, ready.reason, ready.message) == ("Ready", "False", "Pending", "waiting")
    assert (ready.last_transition_time, ready.observed_generation) == (T0, 1)


def test_transition_time_stays_while_the_status_does_not_change() -> None:
    first = resources.set_condition([], "Ready", "False", "Pending", "waiting", 1, now=T0)
    second = resources.set_condition(first, "Ready", "False", "Planning", "asking the planner", 2, now=T1)
    (ready,) = second
    assert ready.last_transition_time == T0
    assert (ready.reason, ready.message, ready.observed_generation) == ("Planning", "asking the planner", 2)


def test_transition_time_moves_when_the_status_changes() -> None:
    first = resources.set_condition([], "Ready", "False", "Pending", "", 1, now=T0)
    (ready,) = resources.set_condition(first, "Ready", "True", "Succeeded", "", 1, now=T1)
    assert (ready.status, ready.last_transition_time) == ("True", T1)


def test_set_condition_keeps_other_types_in_place_and_does_not_mutate() -> None:
    conditions = resources.set_condition([], "Ready", "False", "Pending", "", 1, now=T0)
    conditions = resources.set_condition(conditions, "Approved", "Unknown", "AwaitingApproval", "", 1, now=T0)
    before = [c.model_copy() for c in conditions]
    updated = resources.set_condition(conditions, "Ready", "True", "Succeeded", "", 2, now=T1)
    assert [c.type for c in updated] == ["Ready", "Approved"]
    assert updated[1] == conditions[1]
    assert conditions == before


def test_set_condition_defaults_to_now_in_utc() -> None:
    (ready,) = resources.set_condition([], "Ready", "True", "Succeeded", "", 1)
    assert ready.last_transition_time.tzinfo is not None
    assert abs(datetime.now(UTC) - ready.last_transition_time) < timedelta(days=1)


def test_condition_wire_form() -> None:
    (ready,) = resources.set_condition([], "Ready", "True", "Succeeded", "done", 4, now=T0)
    assert ready.wire() == {
        "type": "Ready",
        "status": "True",
        "reason": "Succeeded",
        "message": "done",
        "lastTransitionTime": "2025-01-01T12:00:00Z",
        "observedGeneration": 4,
    }


@pytest.mark.parametrize("reason", ["", "has space", "E_RUN_TIMEOUT!", "9Lives"])
def test_condition_reason_is_camel_case_like(reason: str) -> None:
    with pytest.raises(ValidationError):
        resources.set_condition([], "Ready", "False", reason, "", 1, now=T0)


# --- wire form ----------------------------------------------------------------------------------------


def test_spec_wire_form_is_camel_case_without_unset_optionals() -> None:
    spec = resources.RunSpec(plan_ref=resources.ObjectRef(name="iris-lda-cv"), seed=3, timeout_minutes=5)
    assert spec.wire() == {
        "planRef": {"name": "iris-lda-cv"},
        "seed": 3,
        "timeoutMinutes": 5,
        "cancel": False,
    }


def test_models_accept_both_wire_and_python_names() -> None:
    by_alias = resources.PlanSpec.model_validate({"paperRef": {"name": "p"}, "claimId": "c-1"})
    by_name = resources.PlanSpec(paper_ref=resources.ObjectRef(name="p"), claim_id="c-1")
    assert by_alias == by_name
    assert by_alias.wire()["timeoutMinutes"] == 10


def test_status_wire_form_round_trips() -> None:
    status = resources.RunStatus(
        phase="Succeeded",
        observed=0.97,
        claimed=0.98,
        gap_percent=-1.02,
        verdict="reproduced",
        started_at=T0,
        artifacts=resources.RunArtifacts(metrics="s3://b/metrics.json"),
    )
    wire = status.wire()
    assert wire["gapPercent"] == -1.02
    assert wire["startedAt"] == "2025-01-01T12:00:00Z"
    assert wire["artifacts"] == {"metrics": "s3://b/metrics.json"}
    assert "pod" not in wire
    assert resources.RunStatus.model_validate(wire) == status


def test_whole_object_wire_form() -> None:
    run = resources.Run(
        metadata=resources.ObjectMeta(name="r1", namespace="default"),
        spec=resources.RunSpec(plan_ref=resources.ObjectRef(name="p")),
    )
    wire = run.wire()
    assert (wire["apiVersion"], wire["kind"]) == ("p2n.dev/v1alpha1", "Run")
    assert wire["metadata"]["name"] == "r1"
    assert wire["apiVersion"] == resources.API_VERSION


# --- strict specs, tolerant statuses -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (resources.RunSpec, {"planRef": {"name": "p"}, "timeoutMinute": 5}),
        (resources.PlanSpec, {"paperRef": {"name": "p"}, "claimId": "c", "approval": {"requried": True}}),
        (
            resources.PaperSpec,
            {"source": {"text": "x"}, "extraction": {"provider": "auto", "temperature": 1}},
        ),
        (resources.ObjectRef, {"name": "p", "namespace": "elsewhere"}),
    ],
)
def test_specs_forbid_unknown_fields(model: type[BaseModel], data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate(data)


@pytest.mark.parametrize("model", [resources.PaperStatus, resources.PlanStatus, resources.RunStatus])
def test_statuses_tolerate_unknown_fields(model: type[BaseModel]) -> None:
    status = model.model_validate({"phase": "Failed", "fieldFromANewerOperator": {"x": 1}, "kopf": {}})
    assert status.model_dump(by_alias=True, exclude_none=True)["phase"] == "Failed"
    assert "fieldFromANewerOperator" not in status.model_dump(by_alias=True)


def test_condition_tolerates_unknown_fields() -> None:
    condition = resources.Condition.model_validate(
        {"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T12:00:00Z", "severity": "Info"}
    )
    assert condition.reason == "Unknown"


def test_whole_objects_ignore_server_fields() -> None:
    paper = resources.Paper.model_validate(
        {
            "apiVersion": "p2n.dev/v1alpha1",
            "kind": "Paper",
            "metadata": {"name": "p", "uid": "123", "resourceVersion": "7", "generation": 2},
            "spec": {"source": {"url": "s3://bucket/p.pdf"}},
            "status": {"phase": "Ready", "claims": []},
        }
    )
    assert paper.status is not None
    assert paper.status.phase == "Ready"
    assert paper.metadata.model_extra == {"uid": "123", "resourceVersion": "7", "generation": 2}


# --- spec rules ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        {},
        {"url": "https://a/p.pdf", "text": "x"},
        {"text": "x", "configMapRef": {"name": "cm"}},
        {"url": "https://a/p.pdf", "text": "x", "configMapRef": {"name": "cm"}},
    ],
)
def test_paper_source_needs_exactly_one(source: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        resources.PaperSource.model_validate(source)


def test_config_map_source_defaults_its_key() -> None:
    source = resources.PaperSource.model_validate({"configMapRef": {"name": "iris"}})
    assert source.config_map_ref is not None
    assert source.config_map_ref.key == "paper.md"


@pytest.mark.parametrize("timeout", [0, resources.MAX_TIMEOUT_MINUTES + 1, 600])
def test_timeouts_are_capped(timeout: int) -> None:
    with pytest.raises(ValidationError, match="timeoutMinutes"):
        resources.PlanSpec.model_validate(
            {"paperRef": {"name": "p"}, "claimId": "c", "timeoutMinutes": timeout}
        )
    with pytest.raises(ValidationError, match="timeoutMinutes"):
        resources.RunSpec.model_validate({"planRef": {"name": "p"}, "timeoutMinutes": timeout})


@pytest.mark.parametrize("key", ["nvidia.com/gpu", "amd.com/gpu", "gpu.intel.com/i915", "NVIDIA.COM/GPU"])
def test_gpu_requests_are_typed_errors(key: str) -> None:
    for field in ("requests", "limits"):
        with pytest.raises(ValidationError) as caught:
            resources.RunSpec.model_validate({"planRef": {"name": "p"}, "resources": {field: {key: "1"}}})
        error = resources.error_from_validation(caught.value)
        assert isinstance(error, errors.GpuRequested)
        assert error.message.startswith(f"resources.{field}: ")


def test_other_devices_are_invalid_input() -> None:
    with pytest.raises(ValidationError) as caught:
        resources.ResourceSpec.model_validate({"limits": {"hugepages-2Mi": "1Gi"}})
    error = resources.error_from_validation(caught.value)
    assert type(error) is errors.InvalidInput
    assert error.details == {"field": "limits.hugepages-2Mi.[key]"}


@pytest.mark.parametrize(("given", "stored"), [(2, "2"), ("500m", "500m"), ("1.5Gi", "1.5Gi"), (0, "0")])
def test_quantities_accept_integers_as_kubernetes_does(given: Any, stored: str) -> None:
    spec = resources.ResourceSpec.model_validate({"requests": {"cpu": given}})
    assert spec.requests == {"cpu": stored}


@pytest.mark.parametrize("given", [True, 0.5, -1, "1 Gi", "lots", "1e3", ""])
def test_bad_quantities_are_rejected(given: Any) -> None:
    with pytest.raises(ValidationError):
        resources.ResourceSpec.model_validate({"limits": {"memory": given}})


def test_error_from_validation_names_the_first_field() -> None:
    with pytest.raises(ValidationError) as caught:
        resources.Run.model_validate({"spec": {"planRef": {"name": "p"}, "seed": -1}})
    error = resources.error_from_validation(caught.value)
    assert type(error) is errors.InvalidInput
    assert error.message.startswith("spec.seed: ")
    assert error.details == {"field": "spec.seed"}


def test_gpu_error_names_its_field_in_details() -> None:
    with pytest.raises(ValidationError) as caught:
        resources.RunSpec.model_validate(
            {"planRef": {"name": "p"}, "resources": {"limits": {"nvidia.com/gpu": 1}}}
        )
    assert resources.error_from_validation(caught.value).to_dict()["details"] == {"field": "resources.limits"}


def test_naive_timestamps_are_taken_as_utc() -> None:
    naive = datetime(2025, 1, 1, 12, 0)
    status = resources.RunStatus(started_at=naive)
    assert status.started_at == T0
    assert status.wire()["startedAt"] == "2025-01-01T12:00:00Z"
    (ready,) = resources.set_condition([], "Ready", "True", "Succeeded", "", 1, now=naive)
    assert ready.wire()["lastTransitionTime"] == "2025-01-01T12:00:00Z"


def _claim(claim_id: str) -> dict[str, Any]:
    return {
        "id": claim_id,
        "metric": "accuracy",
        "value": 0.98,
        "higherIsBetter": True,
        "citation": {"page": 1, "quote": "98.0%"},
    }


@pytest.mark.parametrize(
    ("model", "data", "key"),
    [
        (resources.PaperStatus, {"claims": [_claim("iris-accuracy-1"), _claim("iris-accuracy-1")]}, "id"),
        (
            resources.RunStatus,
            {
                "conditions": [
                    {"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"}
                ]
                * 2
            },
            "type",
        ),
        (
            resources.PaperSpec,
            {
                "source": {"text": "x"},
                "datasets": [{"name": "iris", "url": "s3://b/i.csv", "target": "y"}] * 2,
            },
            "name",
        ),
    ],
)
def test_keyed_lists_reject_repeated_keys(model: type[BaseModel], data: dict[str, Any], key: str) -> None:
    with pytest.raises(ValidationError, match=f"duplicate {key}"):
        model.model_validate(data)
