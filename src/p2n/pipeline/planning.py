"""From one claim to a reproduction plan that the runner image can execute on a CPU, or a refusal.

Planning has two halves. A *draft* names the data set, model family, hyper-parameters,
preprocessing, feature subset and protocol the claim describes; the offline provider reads them
from the claim and its quote with rules, the openai provider asks a model (same ``PlanDraft``
schema). ``build`` then checks the draft against the catalog, applies the user's overrides and
returns a fully explicit ``ReproductionPlan``. Anything the catalog cannot honour raises
``E_UNSUPPORTED_PLAN`` (or ``E_GPU_REQUESTED`` when the paper needs GPUs); nothing is substituted.

The plan is self-contained: a CSV data set given by URL is fetched once here and embedded
(gzip + base64, with its sha256), because the sandbox has no network. ``plan_hash`` covers every
field, so the same plan always materializes to the same notebook bytes.
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import re
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from p2n import errors, llm, resources, telemetry
from p2n.pipeline import catalog, ingest, vocabulary
from p2n.settings import Settings

Scalar = catalog.Scalar
Fetch = Callable[[str], bytes]

DEFAULT_RESOURCES = resources.ResourceSpec(
    requests={"cpu": "500m", "memory": "1Gi"}, limits={"cpu": "1", "memory": "2Gi"}
)
MAX_EMBEDDED_DATA_BYTES = 8 * 1024 * 1024
_STANDARDIZE = re.compile(
    r"z[- ]?scor\w*|standardi[sz]\w*|zero\s+mean\s+and\s+unit\s+variance|feature\s+scaling|scaled\s+features",
    re.IGNORECASE,
)
_NO_STANDARDIZE = re.compile(
    r"raw\s+features|unscaled|without\s+(?:z[- ]?scor\w*|standardi[sz]\w*|scaling)|no\s+scaling",
    re.IGNORECASE,
)
_SUBSET = re.compile(r"\bonly\b|\bsubset\b|\brestricted\s+to\b|\bjust\b", re.IGNORECASE)


class PlanDraft(BaseModel):
    """What a claim describes, before the catalog check; the schema the openai planner fills."""

    model_config = ConfigDict(extra="forbid")

    dataset: str | None = Field(description="Canonical data set name, e.g. iris, wine, breast_cancer.")
    model_family: str | None = Field(description=f"One of: {', '.join(catalog.MODEL_FAMILIES)}, or other.")
    hyperparameters: dict[str, Scalar] = Field(default_factory=dict)
    standardize: bool = Field(description="Whether features are z-scored before the model.")
    features: list[str] | None = Field(default=None, description="Feature subset named by the claim.")
    protocol: str | None = Field(
        description="Evaluation protocol, e.g. '10-fold stratified cross-validation'."
    )
    needs_gpu: bool = Field(description="Whether the paper's setup needs GPUs.")


class DatasetPlan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    source: Literal["sklearn", "csv"]
    task: catalog.Task
    loader: str | None = Field(default=None, description="sklearn.datasets loader for bundled data.")
    url: str | None = Field(default=None, description="Where a CSV data set was fetched from.")
    target: str | None = Field(default=None, description="Label column of a CSV data set.")
    sha256: str | None = None
    data_gzip_base64: str | None = Field(default=None, description="The CSV, embedded for the sandbox.")
    features: tuple[str, ...] | None = Field(default=None, description="Feature subset; None = all.")


class ModelPlan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    family: str
    module: str
    estimator: str
    params: dict[str, Scalar]
    seeded: bool


class ProtocolPlan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: catalog.ProtocolKind
    folds: int | None = None
    repeats: int | None = None
    test_size: float | None = None
    stratified: bool = False
    description: str


# Aliases: inside ReproductionPlan the field ``resources`` shadows the module of the same name.
_ResourceSpec = resources.ResourceSpec
_PlanSummary = resources.PlanSummary


class ReproductionPlan(BaseModel):
    """Everything the notebook does, explicit; two equal plans give byte-identical notebooks."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: int = 1
    claim: resources.Claim
    metric: catalog.MetricName
    target: float
    higher_is_better: bool
    dataset: DatasetPlan
    preprocessing: tuple[Literal["standardize"], ...] = ()
    model: ModelPlan
    protocol: ProtocolPlan
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    timeout_seconds: int = Field(ge=1, le=resources.MAX_TIMEOUT_MINUTES * 60)
    resources: _ResourceSpec
    packages: dict[str, str]
    provider: Literal["offline", "openai"]
    notes: tuple[str, ...] = Field(default=(), description="Interpretations the planner made.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def plan_hash(self) -> str:
        body = self.model_dump(mode="json", exclude={"plan_hash", "env_hash"})
        return "sha256:" + _digest(body)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def env_hash(self) -> str:
        return "sha256:" + _digest(self.packages)

    def summary(self) -> _PlanSummary:
        params = ", ".join(f"{k}={v}" for k, v in sorted(self.model.params.items()))
        scaled = "z-scored " if "standardize" in self.preprocessing else ""
        features = f" [{', '.join(self.dataset.features)}]" if self.dataset.features else ""
        return _PlanSummary(
            dataset=f"{self.dataset.name}{features}"[:256],
            model=f"{scaled}{self.model.estimator}({params})"[:256],
            protocol=self.protocol.description[:256],
            metric=self.metric,
            target=self.target,
        )


def _digest(body: object) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@telemetry.traced("p2n.plan.make")
def plan(
    claim: resources.Claim,
    *,
    settings: Settings,
    spec: resources.PlanSpec | None = None,
    paper: resources.PaperSpec | None = None,
    document_text: str = "",
    fetch: Fetch | None = None,
    on_token: llm.TokenCallback | None = None,
    seed: int = 0,
) -> ReproductionPlan:
    """Plan one claim with the provider ``spec.planner`` selects (the operator's entry point).

    ``document_text`` (the paper's text) lets the planner see needs stated outside the claim's
    sentence, such as GPUs. ``fetch`` reads a CSV data set's URL; the default reads http(s) URLs
    within the document size limit.
    """
    planner = spec.planner if spec else resources.PlannerSpec()
    provider = llm.choose(planner.provider, settings)
    if provider == "openai":
        csv_names = [ref.name for ref in paper.datasets] if paper else []
        draft = _draft_openai(claim, document_text, csv_names, settings, planner, on_token)
    else:
        draft = draft_offline(claim, document_text=document_text)
    return build(
        claim,
        draft,
        provider=provider,
        paper=paper,
        spec=spec,
        fetch=fetch or (lambda url: ingest.fetch_http(url, max_bytes=settings.max_document_bytes)),
        max_data_bytes=min(settings.max_document_bytes, MAX_EMBEDDED_DATA_BYTES),
        seed=seed,
    )


_PLAN_INSTRUCTIONS = f"""\
You plan the reproduction of one quantitative claim of a machine-learning paper with scikit-learn
on a CPU. Fill the JSON schema: dataset (one of {", ".join(catalog.BUNDLED_DATASETS)}, or the
name of a CSV data set listed in the prompt, or the paper's own name for it if it is none of
these), model_family (one of {", ".join(catalog.MODEL_FAMILIES)}, or 'other'), hyperparameters
stated in the paper (scikit-learn parameter names), standardize (true when features are z-scored
or standardized), features (only when the claim uses a named subset of the features), protocol
(e.g. 'resubstitution', 'hold-out 25% test', '10-fold stratified cross-validation',
'leave-one-out') and needs_gpu (true when the paper's setup needs GPUs). Answer with JSON only."""


def _draft_openai(
    claim: resources.Claim,
    document_text: str,
    csv_names: list[str],
    settings: Settings,
    planner: resources.PlannerSpec,
    on_token: llm.TokenCallback | None,
) -> PlanDraft:
    client = llm.structured_client(
        settings,
        caps=llm.Caps(max_tokens=settings.llm_max_tokens, max_tool_calls=settings.llm_max_tool_calls),
        model=planner.model,
        on_token=on_token,
    )
    prompt = (
        f"Claim:\n{claim.model_dump_json(indent=1)}\n\n"
        f"CSV data sets: {', '.join(csv_names) or 'none'}\n\n"
        f"Paper text (may be truncated):\n{document_text[:20000]}"
    )
    return client.complete(
        instructions=_PLAN_INSTRUCTIONS, prompt=prompt, schema=PlanDraft, schema_name="plan_draft"
    )


# --- the offline draft ---------------------------------------------------------------------------


def draft_offline(claim: resources.Claim, *, document_text: str = "") -> PlanDraft:
    """Read the plan's ingredients from the claim's fields and its quote, with rules."""
    quote = claim.citation.quote
    described = " ".join(filter(None, [claim.model, quote]))
    dataset = claim.dataset
    if dataset is None:
        match = vocabulary.DATASET_PATTERN.search(quote)
        dataset = vocabulary.dataset_at(match) if match else None
    family = vocabulary.model_family_of(claim.model or "") or vocabulary.model_family_of(quote)
    return PlanDraft(
        dataset=dataset,
        model_family=family,
        hyperparameters=hyperparameters_in(family, described),
        standardize=bool(_STANDARDIZE.search(described)) and not _NO_STANDARDIZE.search(described),
        features=features_in(dataset, quote),
        protocol=claim.protocol or _protocol_in(quote),
        needs_gpu=bool(vocabulary.GPU_PATTERN.search(quote) or vocabulary.GPU_PATTERN.search(document_text)),
    )


def _protocol_in(text: str) -> str | None:
    match = vocabulary.PROTOCOL_PATTERN.search(text)
    return vocabulary.protocol_name(match.group(0), text) if match else None


_HYPERPARAMETER_RULES: dict[str, tuple[tuple[str, str], ...]] = {
    "knn": (
        ("n_neighbors", r"\bk\s*=\s*(\d+)"),
        ("n_neighbors", r"\b(\d+)[- ]NN\b"),
        ("n_neighbors", r"\b(\d+)\s+(?:nearest\s+)?neighbou?rs\b"),
    ),
    "ridge": (("alpha", r"(?:alpha|α|λ|lambda)\s*=\s*([0-9.]+(?:e-?\d+)?)"),),
    "lasso": (("alpha", r"(?:alpha|α|λ|lambda)\s*=\s*([0-9.]+(?:e-?\d+)?)"),),
    "logistic_regression": (("C", r"\bC\s*=\s*([0-9.]+(?:e-?\d+)?)"),),
    "linear_svm": (("C", r"\bC\s*=\s*([0-9.]+(?:e-?\d+)?)"),),
    "kernel_svm": (
        ("C", r"\bC\s*=\s*([0-9.]+(?:e-?\d+)?)"),
        ("gamma", r"(?:gamma|γ)\s*=\s*([0-9.]+(?:e-?\d+)?|scale|auto)"),
        ("kernel", r"\b(poly)(?:nomial)?\s+kernel"),
        ("kernel", r"\b(sigmoid)\s+kernel"),
    ),
    "decision_tree": (("max_depth", r"(?:max(?:imum)?[_ ]depth|depth)\s*(?:=|of)?\s*(\d+)"),),
    "random_forest": (
        ("n_estimators", r"(\d+)\s+trees"),
        ("n_estimators", r"n_estimators\s*=\s*(\d+)"),
        ("max_depth", r"(?:max(?:imum)?[_ ]depth|depth)\s*(?:=|of)?\s*(\d+)"),
    ),
    "gradient_boosting": (
        ("n_estimators", r"(\d+)\s+(?:trees|boosting\s+rounds|estimators)"),
        ("n_estimators", r"n_estimators\s*=\s*(\d+)"),
        ("learning_rate", r"learning[_ ]rate\s*(?:=|of)\s*([0-9.]+)"),
        ("max_depth", r"(?:max(?:imum)?[_ ]depth|depth)\s*(?:=|of)?\s*(\d+)"),
    ),
    "mlp": (("hidden_layer_sizes", r"(\d+)\s+hidden\s+units"),),
}


def hyperparameters_in(family: str | None, text: str) -> dict[str, Scalar]:
    """Hyper-parameters stated in the text for a model family (first mention of each wins)."""
    found: dict[str, Scalar] = {}
    for name, pattern in _HYPERPARAMETER_RULES.get(family or "", ()):
        if name in found:
            continue
        match = re.search(pattern, text, flags=re.IGNORECASE)
        if match:
            found[name] = _coerce(family or "", name, match.group(1))
    return found


def _coerce(family: str, name: str, raw: object) -> Scalar:
    kind = catalog.HYPERPARAMETERS.get(family, {}).get(name)
    if raw is None or isinstance(raw, bool):
        return raw
    text = str(raw).strip()
    try:
        if kind is int:
            return int(float(text))
        if kind is float:
            return float(text)
        if kind is bool:
            return text.lower() in ("true", "1", "yes")
    except ValueError as exc:
        raise errors.UnsupportedPlan(
            f"hyper-parameter {name}={raw!r} is not a valid {getattr(kind, '__name__', kind)}"
        ) from exc
    return text.lower() if name in ("kernel", "gamma", "weights", "penalty", "criterion") else text


def features_in(dataset: str | None, quote: str) -> list[str] | None:
    """The feature subset a claim names ("using only the petal features ..."), else None = all."""
    bundled = catalog.BUNDLED_DATASETS.get(dataset or "")
    if bundled is None or not bundled.features or not _SUBSET.search(quote):
        return None
    text = quote.lower()
    chosen = [
        name
        for name in bundled.features
        if re.search(rf"\b{re.escape(_plain(name))}\b", text.replace("_", " "))
    ]
    for alias, name in catalog.FEATURE_ALIASES.get(dataset or "", {}).items():
        if alias in text and name not in chosen:
            chosen.append(name)
    if not chosen or len(chosen) == len(bundled.features):
        return None
    return [name for name in bundled.features if name in chosen]


def _plain(feature: str) -> str:
    return re.sub(r"\s*\(.*?\)", "", feature).replace("_", " ").lower()


# --- the catalog check ---------------------------------------------------------------------------


def build(
    claim: resources.Claim,
    draft: PlanDraft,
    *,
    provider: Literal["offline", "openai"],
    paper: resources.PaperSpec | None = None,
    spec: resources.PlanSpec | None = None,
    fetch: Fetch | None = None,
    max_data_bytes: int = MAX_EMBEDDED_DATA_BYTES,
    seed: int = 0,
) -> ReproductionPlan:
    """Check a draft against the catalog, apply overrides, return the explicit plan (or refuse)."""
    overrides = spec.overrides if spec and spec.overrides else resources.PlanOverrides()
    notes: list[str] = []
    dataset_name = _canonical_dataset(overrides.dataset or draft.dataset)
    family = _canonical_family(overrides.model) if overrides.model else draft.model_family
    csv_refs = {ref.name: ref for ref in (paper.datasets if paper else [])}
    available = dataset_name in catalog.BUNDLED_DATASETS or dataset_name in csv_refs
    if not available or family not in catalog.ESTIMATORS:
        what = (
            f"data set {dataset_name or '(none named)'!r}"
            if not available
            else f"model {claim.model or family or '(none named)'!r}"
        )
        if draft.needs_gpu:
            raise errors.GpuRequested(
                f"claim {claim.id} needs GPUs ({what} is out of reach of the CPU-only sandbox)",
                details={"claim": claim.id},
            )
        raise errors.UnsupportedPlan(_unsupported_message(claim, what), details={"claim": claim.id})
    assert family is not None
    assert dataset_name is not None

    metric = claim.metric
    metric_task = catalog.task_of_metric(metric)
    if metric_task is None:
        raise errors.UnsupportedPlan(f"claim {claim.id}: metric {metric!r} cannot be computed offline")
    if dataset_name in csv_refs:
        dataset = _csv_dataset(csv_refs[dataset_name], metric_task, fetch, max_data_bytes)
    else:
        bundled = catalog.BUNDLED_DATASETS[dataset_name]
        dataset = DatasetPlan(
            name=dataset_name,
            source="sklearn",
            task=bundled.task,
            loader=bundled.loader,
            features=tuple(draft.features) if draft.features else None,
        )
    if dataset.task != metric_task:
        raise errors.UnsupportedPlan(
            f"claim {claim.id}: metric {metric} needs a {metric_task} task "
            f"but {dataset_name} is {dataset.task}"
        )
    estimator = catalog.ESTIMATORS[family].get(dataset.task)
    if estimator is None:
        raise errors.UnsupportedPlan(f"claim {claim.id}: model family {family} does not do {dataset.task}")

    params: dict[str, Scalar] = dict(estimator.params)
    for name, value in {**draft.hyperparameters, **(overrides.hyperparameters or {})}.items():
        if name not in catalog.HYPERPARAMETERS.get(family, {}):
            raise errors.UnsupportedPlan(f"hyper-parameter {name!r} is not supported for {family}")
        params[name] = _coerce(family, name, value)
    if estimator.seeded:
        notes.append("random_state follows the run's seed")

    protocol_text = overrides.protocol or draft.protocol
    if not protocol_text:
        raise errors.UnsupportedPlan(
            f"claim {claim.id} states no evaluation protocol; set overrides.protocol",
            details={"claim": claim.id},
        )
    protocol = parse_protocol(protocol_text, task=dataset.task, overrides=overrides, notes=notes)
    if protocol.kind == "loo" and metric in ("auc", "log_loss"):
        raise errors.UnsupportedPlan(f"claim {claim.id}: {metric} is undefined per leave-one-out fold")

    timeout_minutes = spec.timeout_minutes if spec else 10
    return ReproductionPlan(
        claim=claim,
        metric=metric,
        target=claim.value,
        higher_is_better=claim.higher_is_better,
        dataset=dataset,
        preprocessing=("standardize",) if draft.standardize else (),
        model=ModelPlan(
            family=family,
            module=estimator.module,
            estimator=estimator.name,
            params=dict(sorted(params.items())),
            seeded=estimator.seeded,
        ),
        protocol=protocol,
        seed=seed,
        timeout_seconds=timeout_minutes * 60,
        resources=spec.resources if spec and spec.resources else DEFAULT_RESOURCES,
        packages=dict(catalog.RUNNER_PACKAGES),
        provider=provider,
        notes=tuple(notes),
    )


def _unsupported_message(claim: resources.Claim, what: str) -> str:
    bundled = ", ".join(catalog.BUNDLED_DATASETS)
    families = ", ".join(catalog.MODEL_FAMILIES)
    return (
        f"claim {claim.id}: {what} cannot be reproduced offline on a CPU "
        f"(data sets: {bundled}, or a CSV in spec.datasets; models: {families})"
    )


def _canonical_dataset(name: str | None) -> str | None:
    if not name:
        return None
    cleaned = name.strip().lower().replace("-", "_").replace(" ", "_")
    if cleaned in catalog.BUNDLED_DATASETS:
        return cleaned
    match = vocabulary.DATASET_PATTERN.search(name)
    return vocabulary.dataset_at(match) if match else cleaned


def _canonical_family(name: str) -> str:
    cleaned = name.strip().lower().replace("-", "_").replace(" ", "_")
    if cleaned in catalog.ESTIMATORS:
        return cleaned
    family = vocabulary.model_family_of(name)
    if family is None:
        raise errors.UnsupportedPlan(f"overrides.model {name!r} names no known model family")
    return family


def parse_protocol(
    text: str, *, task: catalog.Task, overrides: resources.PlanOverrides, notes: list[str]
) -> ProtocolPlan:
    """A protocol description (from a claim, an LLM or an override) as explicit settings."""
    low = text.lower()
    if ("leave" in low and "one" in low) or "loocv" in low or low.strip() == "loo":
        return ProtocolPlan(kind="loo", description="leave-one-out cross-validation")
    folds_match = re.search(r"(\d+)[- ]fold|(\d+)[- ]?folds|k\s*=\s*(\d+)", low)
    if folds_match or "cross" in low or "fold" in low:
        folds = overrides.folds or (int(next(g for g in folds_match.groups() if g)) if folds_match else None)
        if folds is None:
            raise errors.UnsupportedPlan(
                f"protocol {text!r} does not say how many folds; set overrides.folds"
            )
        stratified = "stratif" in low or task == "classification"
        if task == "classification" and "stratif" not in low:
            notes.append("classification folds are stratified (scikit-learn's default for classifiers)")
        repeats_match = re.search(
            r"(\d+)\s+repe(?:ats|titions)|repeated\s+(\d+)\s+times|(\d+)\s*[x×]\s*\d+", low
        )
        repeats = int(next(g for g in repeats_match.groups() if g)) if repeats_match else None
        kind: catalog.ProtocolKind = "repeated_kfold" if repeats and repeats > 1 else "kfold"
        name = f"{folds}-fold {'stratified ' if stratified else ''}cross-validation, shuffled with the seed"
        return ProtocolPlan(
            kind=kind,
            folds=folds,
            repeats=repeats if kind == "repeated_kfold" else None,
            stratified=stratified,
            description=f"repeated {name} ({repeats} repeats)" if kind == "repeated_kfold" else name,
        )
    if any(w in low for w in ("hold", "held", "test", "split", "validation set")):
        fraction = re.search(r"(\d{1,2}(?:\.\d+)?)\s*%", low)
        test_size = overrides.test_size or (float(fraction.group(1)) / 100 if fraction else None)
        if test_size is None:
            test_size = 0.25
            notes.append("the hold-out fraction is not stated; scikit-learn's default 25% is used")
        stratified = "stratif" in low
        return ProtocolPlan(
            kind="holdout",
            test_size=test_size,
            stratified=stratified,
            description=f"hold-out {test_size:.0%} test{' (stratified)' if stratified else ''}, "
            "split with the seed",
        )
    if "resubstitution" in low or "training" in low or "apparent" in low:
        return ProtocolPlan(kind="resubstitution", description="resubstitution (score on the training data)")
    raise errors.UnsupportedPlan(f"evaluation protocol {text!r} is not supported")


def _csv_dataset(
    ref: resources.DatasetRef, task: catalog.Task, fetch: Fetch | None, max_bytes: int
) -> DatasetPlan:
    if fetch is None:
        raise errors.UnsupportedPlan(f"data set {ref.name} is a CSV URL but no fetcher was given")
    data = fetch(ref.url)
    if len(data) > max_bytes:
        raise errors.PayloadTooLarge(f"data set {ref.name} is larger than {max_bytes} bytes")
    header = data.split(b"\n", 1)[0].decode("utf-8", errors="replace")
    columns = [c.strip().strip('"') for c in next(iter(_csv_rows(header)), [])]
    if ref.target not in columns:
        raise errors.UnsupportedPlan(f"data set {ref.name} has no column {ref.target!r} (columns: {columns})")
    return DatasetPlan(
        name=ref.name,
        source="csv",
        task=task,
        url=ref.url.split("?", 1)[0],
        target=ref.target,
        sha256=hashlib.sha256(data).hexdigest(),
        data_gzip_base64=base64.b64encode(gzip.compress(data, mtime=0)).decode("ascii"),
    )


def _csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))
