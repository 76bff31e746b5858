"""Spec and status models of the custom resources Paper, Plan and Run (group p2n.dev, v1alpha1).

These models are the single source of truth: ``p2n.crds`` generates the CRD YAMLs in ``crds/``
from them and a test fails when the files drift. Field names on the wire are camelCase, as in
Kubernetes; Python attributes are snake_case. Specs forbid unknown fields (a typo is an error, not
a silently ignored setting); statuses ignore them, so an older reader survives a newer writer.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from p2n import errors

GROUP = "p2n.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
MAX_TIMEOUT_MINUTES = 25
APPROVED_BY_ANNOTATION = f"{GROUP}/approved-by"
# The W3C traceparent of the API span that created (or approved) the object; the operator's spans
# about the object join that trace. Like kopf's own p2n.dev/ keys it is left out of the diffs the
# operator reacts to, so writing it never causes a reconcile.
TRACEPARENT_ANNOTATION = f"{GROUP}/traceparent"

DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Kubernetes resource quantities such as 500m, 2, 1.5, 512Mi, 1G.
QUANTITY = r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
CONDITION_REASON = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
CLAIM_ID = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
SOURCE_URL = r"^(https?|s3)://\S+$"

ResourceName: TypeAlias = Literal["cpu", "memory", "ephemeral-storage"]
ALLOWED_RESOURCE_NAMES: tuple[str, ...] = ("cpu", "memory", "ephemeral-storage")
Provider: TypeAlias = Literal["auto", "openai", "offline"]
PaperPhase: TypeAlias = Literal["Pending", "Ingesting", "Extracting", "Ready", "Failed"]
PlanPhase: TypeAlias = Literal["Pending", "Planning", "AwaitingApproval", "Ready", "Failed"]
RunPhase: TypeAlias = Literal["Pending", "Queued", "Running", "Succeeded", "Failed", "Cancelled", "TimedOut"]
TERMINAL_RUN_PHASES: frozenset[str] = frozenset({"Succeeded", "Failed", "Cancelled", "TimedOut"})
Verdict: TypeAlias = Literal["reproduced", "not_reproduced", "inconclusive"]

Name = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS1123_SUBDOMAIN)]


def _quantity_string(value: Any) -> Any:
    # YAML `cpu: 2` arrives as an integer; Kubernetes quantities are int-or-string, kept as strings here.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Quantity = Annotated[
    str,
    Field(
        pattern=QUANTITY,
        max_length=32,
        json_schema_extra={"x-kubernetes-int-or-string": True, "minimum": 0},
    ),
    BeforeValidator(_quantity_string),
]


def _utc(value: datetime) -> datetime:
    # Kubernetes timestamps are RFC 3339 with an offset; a naive time is taken to be UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Timestamp = Annotated[datetime, AfterValidator(_utc)]


def _unique(items: list[Any], key: str) -> list[Any]:
    # Lists keyed by a field are map lists in the CRD: the apiserver rejects a repeated key.
    seen: set[Any] = set()
    for item in items:
        value = getattr(item, key)
        if value in seen:
            raise ValueError(f"duplicate {key} {value!r}: each {key} may appear once")
        seen.add(value)
    return items


class _Model(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are errors."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", validate_assignment=True
    )

    def wire(self) -> dict[str, Any]:
        """The JSON-ready form written to Kubernetes: camelCase, no unset optionals."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class _Status(_Model):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", validate_assignment=True
    )


# --- shared pieces -----------------------------------------------------------------------------


class ObjectRef(_Model):
    """A reference to another P2N object in the same namespace."""

    name: Name = Field(description="Name of the referenced object in the same namespace.")


class ConfigMapKeyRef(_Model):
    name: Name = Field(description="Name of a ConfigMap in the Paper's namespace.")
    key: str = Field(
        default="paper.md",
        min_length=1,
        max_length=253,
        pattern=r"^[-._a-zA-Z0-9]+$",
        description="Key of the ConfigMap whose value is the paper text.",
    )


class ResourceSpec(_Model):
    """CPU, memory and ephemeral storage for the sandbox; GPUs and other devices are never allowed."""

    requests: dict[ResourceName, Quantity] = Field(
        default_factory=dict,
        description="Minimum resources (cpu, memory, ephemeral-storage) requested for the sandbox pod.",
    )
    limits: dict[ResourceName, Quantity] = Field(
        default_factory=dict,
        description="Maximum resources (cpu, memory, ephemeral-storage); capped by operator policy.",
    )

    @field_validator("requests", "limits", mode="before")
    @classmethod
    def _no_gpus(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key in value:
                if "gpu" in str(key).lower():
                    raise ValueError(
                        f"E_GPU_REQUESTED: GPU resource {key!r} requested; the sandbox is CPU-only"
                    )
        return value


class Condition(_Status):
    """A standard Kubernetes condition, keyed by ``type``."""

    type: str = Field(min_length=1, max_length=316, description="Type of condition in CamelCase, e.g. Ready.")
    status: Literal["True", "False", "Unknown"] = Field(description="Status of the condition.")
    reason: str = Field(
        default="Unknown",
        max_length=1024,
        pattern=CONDITION_REASON,
        description="Machine-readable CamelCase reason for the last transition.",
    )
    message: str = Field(default="", max_length=32768, description="Human-readable details.")
    last_transition_time: Timestamp = Field(description="When the status last changed.")
    observed_generation: int = Field(
        default=0, ge=0, description="metadata.generation the condition was set for."
    )


def set_condition(
    conditions: list[Condition],
    type_: str,
    status: Literal["True", "False", "Unknown"],
    reason: str,
    message: str,
    generation: int,
    now: datetime | None = None,
) -> list[Condition]:
    """Return conditions with ``type_`` set; the transition time moves only when the status changes."""
    now = now or datetime.now(UTC)
    previous = next((cond for cond in conditions if cond.type == type_), None)
    updated = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=(
            previous.last_transition_time if previous and previous.status == status else now
        ),
        observed_generation=generation,
    )
    if previous is None:
        return [*conditions, updated]
    return [updated if cond.type == type_ else cond for cond in conditions]


class _CommonStatus(_Status):
    observed_generation: int | None = Field(
        default=None, ge=0, description="The metadata.generation this status reflects."
    )
    conditions: list[Condition] = Field(
        default_factory=list, description="Standard conditions (Ready, ...), one per type."
    )
    reason: str | None = Field(
        default=None, max_length=64, description="Typed error code (E_...) when the object failed."
    )
    message: str | None = Field(default=None, max_length=32768, description="Human-readable detail.")

    @field_validator("conditions")
    @classmethod
    def _one_condition_per_type(cls, value: list[Condition]) -> list[Condition]:
        return _unique(value, "type")


# --- Paper ---------------------------------------------------------------------------------------


class PaperSource(_Model):
    """Where the paper comes from: exactly one of url, text or configMapRef."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        json_schema_extra={
            "oneOf": [{"required": ["url"]}, {"required": ["text"]}, {"required": ["configMapRef"]}]
        },
    )

    url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=SOURCE_URL,
        description="http(s) or s3 URL of a PDF, text or markdown document.",
    )
    text: str | None = Field(
        default=None, min_length=1, max_length=1_000_000, description="The paper's text inline."
    )
    config_map_ref: ConfigMapKeyRef | None = Field(
        default=None, description="A ConfigMap key holding the paper's text."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> PaperSource:
        given = [n for n in ("url", "text", "config_map_ref") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                f"source needs exactly one of url, text, configMapRef (got {len(given)}: {given or 'none'})"
            )
        return self


class ExtractionSpec(_Model):
    provider: Provider = Field(
        default="auto", description="auto uses openai when a key is configured, else offline."
    )
    model: str | None = Field(default=None, max_length=128, description="LLM model for the openai provider.")
    max_tokens: int = Field(
        default=20000, ge=1, le=400000, description="Token cap per paper (E_CAP_EXCEEDED)."
    )
    max_tool_calls: int = Field(default=8, ge=0, le=100, description="Tool-call cap per paper.")
    max_claims: int = Field(default=50, ge=1, le=500, description="At most this many claims are kept.")


class DatasetRef(_Model):
    """A CSV data set the paper evaluates on, downloadable by the plan."""

    name: str = Field(
        min_length=1, max_length=63, pattern=r"^[a-z0-9][-_a-z0-9]*$", description="Name the paper uses."
    )
    url: str = Field(max_length=2048, pattern=SOURCE_URL, description="http(s) or s3 URL of the CSV file.")
    target: str = Field(min_length=1, max_length=256, description="Name of the label/target column.")


class PaperSpec(_Model):
    """Desired state of a Paper: the document to read and how to extract its claims."""

    source: PaperSource = Field(description="The document: exactly one of url, text, configMapRef.")
    title: str | None = Field(
        default=None, max_length=512, description="Title; read from the document if unset."
    )
    extraction: ExtractionSpec = Field(
        default_factory=ExtractionSpec, description="How claims are extracted."
    )
    datasets: list[DatasetRef] = Field(
        default_factory=list, max_length=16, description="CSV data sets referenced by the paper."
    )

    @field_validator("datasets")
    @classmethod
    def _one_dataset_per_name(cls, value: list[DatasetRef]) -> list[DatasetRef]:
        return _unique(value, "name")


class Citation(_Status):
    page: int = Field(ge=1, description="1-based page of the document the quote is on.")
    quote: str = Field(max_length=4000, description="The exact sentence or table row the claim rests on.")


class Claim(_Status):
    id: str = Field(pattern=CLAIM_ID, max_length=63, description="Stable id of the claim within the paper.")
    metric: str = Field(
        max_length=64, description="Normalized metric name: accuracy, error_rate, f1, auc, r2, rmse, mae..."
    )
    value: float = Field(description="Claimed value; percentages are normalized to fractions.")
    unit: str = Field(
        default="", max_length=32, description="'fraction' when given in %, otherwise as written."
    )
    decimals: int | None = Field(
        default=None, ge=0, le=12, description="Decimals stated in the paper, in the unit as written."
    )
    higher_is_better: bool = Field(description="Whether larger values of the metric are better.")
    dataset: str | None = Field(default=None, max_length=256, description="Data set the claim is on.")
    model: str | None = Field(default=None, max_length=256, description="Model or method the claim is about.")
    protocol: str | None = Field(default=None, max_length=256, description="Evaluation protocol as stated.")
    citation: Citation = Field(description="Where in the document the claim is stated.")


class PaperStatus(_CommonStatus):
    """Observed state of a Paper, written by the operator: ingestion result and extracted claims."""

    phase: PaperPhase = Field(default="Pending", description="Lifecycle phase.")
    title: str | None = Field(default=None, max_length=512, description="Title as read from the document.")
    document_sha256: str | None = Field(
        default=None, pattern=r"^[a-f0-9]{64}$", description="sha256 of the ingested document."
    )
    document_uri: str | None = Field(
        default=None, max_length=2048, description="Where the document is stored."
    )
    pages: int | None = Field(default=None, ge=0, description="Number of pages (1 for text).")
    claim_count: int | None = Field(default=None, ge=0, description="Number of claims extracted.")
    claims: list[Claim] = Field(default_factory=list, description="Quantitative claims with citations.")

    @field_validator("claims")
    @classmethod
    def _one_claim_per_id(cls, value: list[Claim]) -> list[Claim]:
        return _unique(value, "id")


# --- Plan ----------------------------------------------------------------------------------------


class PlannerSpec(_Model):
    provider: Provider = Field(default="auto", description="auto uses openai when a key is configured.")
    model: str | None = Field(default=None, max_length=128, description="LLM model for the openai provider.")


class ApprovalSpec(_Model):
    required: bool = Field(
        default=False,
        description="Stop at AwaitingApproval until the annotation p2n.dev/approved-by is set.",
    )


class PlanOverrides(_Model):
    """User corrections to what the planner would choose."""

    dataset: str | None = Field(default=None, max_length=256, description="Data set to use instead.")
    model: str | None = Field(default=None, max_length=256, description="Model family to use instead.")
    protocol: str | None = Field(
        default=None, max_length=256, description="Evaluation protocol to use instead."
    )
    folds: int | None = Field(default=None, ge=2, le=100, description="Folds for k-fold protocols.")
    test_size: float | None = Field(default=None, gt=0, lt=1, description="Hold-out fraction.")
    hyperparameters: dict[str, Any] | None = Field(
        default=None, description="Model hyper-parameters by name (scalar values)."
    )


class PlanSpec(_Model):
    """Desired state of a Plan: which claim of which Paper to reproduce, and within which limits."""

    paper_ref: ObjectRef = Field(description="The Paper whose claim is reproduced.")
    claim_id: str = Field(
        pattern=CLAIM_ID, max_length=63, description="Id of the claim in the Paper's status."
    )
    planner: PlannerSpec = Field(default_factory=PlannerSpec, description="Which planner to use.")
    approval: ApprovalSpec = Field(default_factory=ApprovalSpec, description="Human in the loop.")
    overrides: PlanOverrides | None = Field(default=None, description="Corrections to the planner's choices.")
    resources: ResourceSpec | None = Field(
        default=None, description="Sandbox resources for Runs of this plan."
    )
    timeout_minutes: int = Field(
        default=10, ge=1, le=MAX_TIMEOUT_MINUTES, description="Wall-clock limit per Run (hard cap 25)."
    )


class PlanSummary(_Status):
    dataset: str = Field(max_length=256, description="Data set the notebook loads.")
    model: str = Field(max_length=256, description="Model family and main hyper-parameters.")
    protocol: str = Field(max_length=256, description="Evaluation protocol.")
    metric: str = Field(max_length=64, description="Target metric.")
    target: float = Field(description="The claimed value to compare with.")


class PlanStatus(_CommonStatus):
    """Observed state of a Plan, written by the operator: the chosen plan and its notebook."""

    phase: PlanPhase = Field(default="Pending", description="Lifecycle phase.")
    plan: PlanSummary | None = Field(default=None, description="What will be run.")
    plan_hash: str | None = Field(default=None, max_length=128, description="Stable hash of the full plan.")
    env_hash: str | None = Field(default=None, max_length=128, description="Stable hash of the package set.")
    notebook_uri: str | None = Field(
        default=None, max_length=2048, description="Where the notebook is stored."
    )
    approved_by: str | None = Field(default=None, max_length=253, description="Who approved the plan.")
    approved_at: Timestamp | None = Field(default=None, description="When the plan was approved.")


# --- Run -----------------------------------------------------------------------------------------


class RunSpec(_Model):
    """Desired state of a Run: the Plan to execute, with which seed and limits."""

    plan_ref: ObjectRef = Field(description="The Plan to execute.")
    seed: int = Field(default=0, ge=0, le=2**31 - 1, description="Seed for random, numpy and torch.")
    resources: ResourceSpec | None = Field(default=None, description="Overrides the Plan's resources.")
    timeout_minutes: int | None = Field(
        default=None, ge=1, le=MAX_TIMEOUT_MINUTES, description="Overrides the Plan's timeout (hard cap 25)."
    )
    cancel: bool = Field(default=False, description="Set to true to cancel the Run.")


class RunArtifacts(_Status):
    metrics: str | None = Field(default=None, max_length=2048, description="URI of metrics.json.")
    events: str | None = Field(default=None, max_length=2048, description="URI of events.jsonl.")
    logs: str | None = Field(default=None, max_length=2048, description="URI of logs.txt.")
    notebook: str | None = Field(default=None, max_length=2048, description="URI of the executed notebook.")


class RunStatus(_CommonStatus):
    """Observed state of a Run, written by the operator: sandbox progress, result and verdict."""

    phase: RunPhase = Field(default="Pending", description="Lifecycle phase.")
    pod: str | None = Field(default=None, max_length=253, description="Name of the sandbox pod.")
    queue_position: int | None = Field(default=None, ge=0, description="Position while Queued.")
    started_at: Timestamp | None = Field(default=None, description="When the sandbox started.")
    completed_at: Timestamp | None = Field(default=None, description="When the Run reached a terminal phase.")
    progress: float | None = Field(default=None, ge=0, le=100, description="Percent of cells executed.")
    metric: str | None = Field(default=None, max_length=64, description="The metric compared.")
    observed: float | None = Field(default=None, description="Value the notebook measured.")
    claimed: float | None = Field(default=None, description="Value the paper claims.")
    gap_percent: float | None = Field(default=None, description="(observed - claimed) / |claimed| x 100.")
    verdict: Verdict | None = Field(default=None, description="reproduced, not_reproduced or inconclusive.")
    artifacts: RunArtifacts | None = Field(default=None, description="Where the run's artifacts are stored.")
    env_hash: str | None = Field(default=None, max_length=128, description="Package-set hash of the run.")


# --- whole objects -------------------------------------------------------------------------------


class ObjectMeta(BaseModel):
    """The part of metadata P2N reads; everything else passes through untouched."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    name: Name | None = None
    namespace: Name | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class _Object(_Model):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", validate_assignment=True
    )
    api_version: Literal["p2n.dev/v1alpha1"] = "p2n.dev/v1alpha1"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)


class Paper(_Object):
    kind: Literal["Paper"] = "Paper"
    spec: PaperSpec
    status: PaperStatus | None = None


class Plan(_Object):
    kind: Literal["Plan"] = "Plan"
    spec: PlanSpec
    status: PlanStatus | None = None


class Run(_Object):
    kind: Literal["Run"] = "Run"
    spec: RunSpec
    status: RunStatus | None = None


KINDS: dict[str, type[_Object]] = {"Paper": Paper, "Plan": Plan, "Run": Run}


def error_from_validation(exc: ValidationError) -> errors.P2NError:
    """Translate a pydantic error at a boundary into a typed P2N error naming the first bad field."""
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
    field = ".".join(str(p) for p in first.get("loc", ()) if p is not None)
    msg = str(first.get("msg", "invalid"))
    match = re.search(r"(E_[A-Z_]+): (.*)", msg)
    if match:
        coded = errors.from_code(match.group(1), f"{field}: {match.group(2)}" if field else match.group(2))
        coded.details["field"] = field
        return coded
    return errors.InvalidInput(f"{field}: {msg}" if field else msg, details={"field": field})
