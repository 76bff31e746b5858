"""Request and response bodies of the REST API, kept apart from the stored Kubernetes objects.

Requests (``*Create``, ``RunRequest``...) say what a caller may set and nothing more: no status, no
image, no command. Responses (``*Public``) say what a caller may see: a Paper's inline text and the
operator's bookkeeping stay out. JSON fields are snake_case, like the event payloads and reports;
nested spec pieces reused from :mod:`p2n.resources` keep their Kubernetes camelCase names.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from p2n import resources

# Run, Plan and Paper names end up in pod names and labels: keep them DNS labels.
Name = Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
# Aliases, because request models have a field called ``resources`` that would shadow the module.
ResourceSpec = resources.ResourceSpec
PlannerSpec = resources.PlannerSpec
PlanOverrides = resources.PlanOverrides
CLAIM_ID = resources.CLAIM_ID
# URLs are ASCII: printable characters without spaces (the same in Python and ECMA regex dialects).
URL_PATTERN = r"^(https?|s3)://[!-~]+$"
MAX_TIMEOUT_MINUTES = resources.MAX_TIMEOUT_MINUTES


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- errors --------------------------------------------------------------------------------------


class ErrorBody(_Body):
    code: str = Field(description="Stable error code (E_...).", examples=["E_NOT_FOUND"])
    message: str = Field(description="What went wrong, for people.")
    details: dict[str, Any] | None = Field(default=None, description="E.g. the invalid field.")


class ErrorEnvelope(_Body):
    error: ErrorBody


# --- health --------------------------------------------------------------------------------------


class Health(_Body):
    status: Literal["ok"] = "ok"


class Readiness(_Body):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(description="Each dependency: ok, or the error code.")


# --- papers --------------------------------------------------------------------------------------


DATASET_NAME = r"^[a-z0-9][-_a-z0-9]*$"
DatasetName = Annotated[str, Field(min_length=1, max_length=63, pattern=DATASET_NAME)]


class DatasetSource(_Body):
    """A CSV data set the paper evaluates on (one entry of the Paper's ``spec.datasets``)."""

    url: str = Field(max_length=2048, pattern=URL_PATTERN)
    target: str = Field(min_length=1, max_length=256, description="Name of the label column.")


class PaperCreate(_Body):
    """A Paper from a URL (http, https or s3) or inline text; upload a PDF with ``/papers/upload``."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"oneOf": [{"required": ["url"]}, {"required": ["text"]}]}
    )

    name: Name | None = Field(default=None, description="Object name; generated when omitted.")
    title: str | None = Field(default=None, max_length=512)
    # Exactly one of url and text, each a string when given (null is not "absent").
    url: Annotated[str, Field(max_length=2048, pattern=URL_PATTERN)] | SkipJsonSchema[None] = None
    text: Annotated[str, Field(min_length=1, max_length=1_000_000)] | SkipJsonSchema[None] = None
    extraction: resources.ExtractionSpec | None = None
    datasets: dict[DatasetName, DatasetSource] = Field(
        default_factory=dict,
        max_length=16,
        description="CSV data sets by the name the paper uses.",
        json_schema_extra={
            "additionalProperties": False,
            "propertyNames": {"pattern": DATASET_NAME, "minLength": 1, "maxLength": 63},
        },
    )

    @field_validator("url", "text", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must be a string when given")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> PaperCreate:
        if (self.url is None) == (self.text is None):
            raise ValueError("give exactly one of url or text")
        return self


class PaperUpload(_Body):
    """The multipart form of ``POST /papers/upload``: the document and optional fields."""

    file: bytes = Field(description="The paper: PDF, text or markdown.")
    name: Name | SkipJsonSchema[None] = Field(
        default=None, description="Object name; generated when omitted."
    )
    title: Annotated[str, Field(max_length=512)] | SkipJsonSchema[None] = None


class PaperUploadFields(_Body):
    """The form fields of an upload besides the file, validated after the caller is authorized."""

    name: Name | None = None
    title: str | None = Field(default=None, max_length=512)


class Citation(_Body):
    page: int
    quote: str


class ClaimPublic(_Body):
    id: str
    metric: str
    value: float
    unit: str
    higher_is_better: bool
    dataset: str | None = None
    model: str | None = None
    protocol: str | None = None
    citation: Citation

    @classmethod
    def of(cls, claim: resources.Claim) -> ClaimPublic:
        return cls(
            id=claim.id,
            metric=claim.metric,
            value=claim.value,
            unit=claim.unit,
            higher_is_better=claim.higher_is_better,
            dataset=claim.dataset,
            model=claim.model,
            protocol=claim.protocol,
            citation=Citation(page=claim.citation.page, quote=claim.citation.quote),
        )


class ClaimList(_Body):
    paper: str
    items: list[ClaimPublic]


class PaperPublic(_Body):
    name: str
    namespace: str
    created_at: datetime | None = None
    title: str | None = None
    source: Literal["url", "text", "configMap"]
    source_url: str | None = None
    phase: resources.PaperPhase = "Pending"
    document_sha256: str | None = None
    pages: int | None = None
    claim_count: int = 0
    reason: str | None = None
    message: str | None = None


class PaperList(_Body):
    items: list[PaperPublic]


# --- plans ---------------------------------------------------------------------------------------


class PlanCreate(_Body):
    name: Name | None = Field(default=None, description="Object name; generated when omitted.")
    paper: Name = Field(description="The Paper whose claim is reproduced.")
    claim_id: str = Field(pattern=CLAIM_ID, max_length=63)
    approval_required: bool = Field(default=False, description="Wait for POST /plans/{name}/approve.")
    planner: PlannerSpec | None = None
    overrides: PlanOverrides | None = None
    resources: ResourceSpec | None = None
    timeout_minutes: int = Field(default=10, ge=1, le=MAX_TIMEOUT_MINUTES)


class PlanSummary(_Body):
    dataset: str
    model: str
    protocol: str
    metric: str
    target: float


class PlanPublic(_Body):
    name: str
    namespace: str
    created_at: datetime | None = None
    paper: str
    claim_id: str
    approval_required: bool
    timeout_minutes: int
    phase: resources.PlanPhase = "Pending"
    plan: PlanSummary | None = None
    plan_hash: str | None = None
    env_hash: str | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    reason: str | None = None
    message: str | None = None


class PlanList(_Body):
    items: list[PlanPublic]


# --- runs ----------------------------------------------------------------------------------------

Seed = Annotated[int, Field(ge=0, le=2**31 - 1)]


class RunRequest(_Body):
    """Start a Plan: one Run with ``seed``, or one Run per entry of ``seeds``."""

    seed: Seed = 0
    seeds: list[Seed] | None = Field(
        default=None, min_length=1, max_length=16, json_schema_extra={"uniqueItems": True}
    )
    timeout_minutes: int | None = Field(default=None, ge=1, le=MAX_TIMEOUT_MINUTES)
    resources: ResourceSpec | None = None

    @model_validator(mode="after")
    def _unique_seeds(self) -> RunRequest:
        if self.seeds is not None and len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must be distinct")
        return self


class RunsCreated(_Body):
    run_id: str = Field(description="Name of the (first) Run created.")
    run_ids: list[str] = Field(description="Names of all Runs created, one per seed.")
    namespace: str


class RunArtifacts(_Body):
    metrics: str | None = None
    events: str | None = None
    logs: str | None = None
    notebook: str | None = None


class RunPublic(_Body):
    name: str
    namespace: str
    uid: str | None = Field(
        default=None, description="Tells apart Runs deleted and recreated under the same name."
    )
    created_at: datetime | None = None
    plan: str
    seed: int
    cancel: bool
    phase: resources.RunPhase = "Pending"
    queue_position: int | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    progress: float | None = None
    metric: str | None = None
    observed: float | None = None
    claimed: float | None = None
    gap_percent: float | None = None
    verdict: resources.Verdict | None = None
    env_hash: str | None = None
    artifacts: RunArtifacts | None = None
    reason: str | None = None
    message: str | None = None


class RunList(_Body):
    items: list[RunPublic]


class CancelAccepted(_Body):
    name: str
    namespace: str
    cancel: Literal[True] = True


class HistoryEntry(_Body):
    run_id: str
    name: str
    plan: str | None = None
    claim: str | None = None
    metric: str | None = None
    seed: int
    phase: resources.RunPhase
    observed: float | None = None
    claimed: float | None = None
    gap_percent: float | None = None
    verdict: resources.Verdict | None = None
    reason: str | None = None
    plan_hash: str | None = None
    env_hash: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None


class RunHistory(_Body):
    paper: str
    items: list[HistoryEntry] = Field(description="Newest first.")


class MetricPoint(_Body):
    seq: int
    metric: str
    split: str
    step: int
    value: float
    ts: float


class MetricSeries(_Body):
    run: str
    points: list[MetricPoint]


# --- reports -------------------------------------------------------------------------------------


class RunOutcome(_Body):
    name: str
    seed: int
    phase: resources.RunPhase
    observed: float | None = None
    reason: str | None = None
    artifacts: dict[str, str] = Field(
        default_factory=dict, description="Artifact name -> presigned download URL (expires)."
    )


class ClaimReport(_Body):
    claim: ClaimPublic
    plan: str | None = None
    metric: str
    claimed: float
    observed: float | None = None
    gap_percent: float | None = None
    verdict: resources.Verdict | None = None
    reason: str | None = None
    runs: list[RunOutcome] = Field(default_factory=list)


class PaperReport(_Body):
    """The paper's claims next to what the runs observed; the headline is the latest assessed claim."""

    paper: str
    namespace: str
    title: str | None = None
    phase: resources.PaperPhase
    document_sha256: str | None = None
    claimed: float | None = None
    observed: float | None = None
    gap_percent: float | None = None
    verdict: resources.Verdict | None = None
    citations: list[Citation] = Field(default_factory=list)
    claims: list[ClaimReport] = Field(default_factory=list)


# --- explain -------------------------------------------------------------------------------------


class ExplainKidRequest(_Body):
    paper: Name
    claim_id: str | None = Field(
        default=None, pattern=resources.CLAIM_ID, max_length=63, description="Default: the first claim."
    )
