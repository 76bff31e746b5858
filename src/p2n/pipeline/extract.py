"""Claims from a document, by the offline rules or by an OpenAI model, as ``resources.Claim``.

Both providers return the same models, checked the same way: metric names are normalized through
the shared vocabulary, percentages become fractions with their stated decimals kept, and every
claim cites a page. The openai provider's answers are additionally held to their own word: a claim
whose quote is not on the page it cites is dropped (the model made it up), and an answer that does
not fit the schema fails with ``E_LLM``. A paper without any quantitative claim is ``E_NO_CLAIMS``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from p2n import errors, llm, resources, telemetry
from p2n.pipeline import claim_rules, ingest, vocabulary
from p2n.settings import Settings

log = logging.getLogger(__name__)

_INSTRUCTIONS = """\
You extract the quantitative claims of a machine-learning paper: every number the authors report
as the result of a model on a data set (accuracy, error rate, F1, AUC, R^2, RMSE, MAE, ...).
Ignore sample counts, hyper-parameters, fold counts and numbers cited from other work.
For each claim give the metric, the number exactly as written (value_as_written, without the %
sign), whether it was given in percent, the data set, the model, the evaluation protocol, the
1-based page and the exact sentence or table row it is stated in (quote, copied verbatim).
Pages are marked '=== page N ==='. Use the read_page tool if you need a page's full text.
Answer with JSON only."""

_READ_PAGE = llm.Tool(
    name="read_page",
    description="Return the full text of one page of the paper.",
    parameters={
        "type": "object",
        "properties": {"page": {"type": "integer", "minimum": 1}},
        "required": ["page"],
        "additionalProperties": False,
    },
)
_PAGE_PREVIEW_CHARS = 6000


class ClaimDraft(BaseModel):
    """One claim as the model states it, before normalization."""

    model_config = ConfigDict(extra="forbid")

    metric: str = Field(min_length=1, max_length=64)
    value_as_written: str = Field(pattern=r"^-?\d+(\.\d+)?$", description="The number as printed, no % sign.")
    percent: bool = Field(description="Whether the paper gives the number in percent.")
    higher_is_better: bool | None = None
    dataset: str | None = None
    model: str | None = None
    protocol: str | None = None
    page: int = Field(ge=1)
    quote: str = Field(min_length=1, max_length=4000)


class ClaimList(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claims: list[ClaimDraft]


def extraction_for(settings: Settings, provider: resources.Provider = "auto") -> resources.ExtractionSpec:
    """Extraction settings for a paper without a spec of its own (CLI use): caps from ``settings``."""
    return resources.ExtractionSpec(
        provider=provider, max_tokens=settings.llm_max_tokens, max_tool_calls=settings.llm_max_tool_calls
    )


@telemetry.traced("p2n.paper.extract")
def extract_claims(
    document: ingest.Document,
    *,
    settings: Settings,
    extraction: resources.ExtractionSpec | None = None,
    dataset_names: Sequence[str] = (),
    on_token: llm.TokenCallback | None = None,
) -> list[resources.Claim]:
    """All claims of a document, in reading order (``E_NO_CLAIMS`` when there is none).

    ``dataset_names`` are the names of the paper's CSV data sets (``PaperSpec.datasets``).
    """
    spec = extraction or extraction_for(settings)
    if llm.choose(spec.provider, settings) == "openai":
        claims = _openai_claims(document, spec, settings, on_token)
    else:
        claims = claim_rules.find_claims(document, max_claims=spec.max_claims, dataset_names=dataset_names)
    if not claims:
        raise errors.NoClaims(f"no quantitative claim found in {document.filename}")
    return claims


def _openai_claims(
    document: ingest.Document,
    spec: resources.ExtractionSpec,
    settings: Settings,
    on_token: llm.TokenCallback | None,
) -> list[resources.Claim]:
    client = llm.structured_client(
        settings,
        caps=llm.Caps(max_tokens=spec.max_tokens, max_tool_calls=spec.max_tool_calls),
        model=spec.model,
        on_token=on_token,
    )
    pages = "\n\n".join(f"=== page {p.number} ===\n{p.text[:_PAGE_PREVIEW_CHARS]}" for p in document.pages)
    answer = client.complete(
        instructions=_INSTRUCTIONS,
        prompt=f"Title: {document.title or '(unknown)'}\n\n{pages}",
        schema=ClaimList,
        schema_name="claims",
        tools=[_READ_PAGE],
        tool_handler=lambda name, args: _read_page(document, name, args),
    )
    return normalize(answer.claims, document, max_claims=spec.max_claims)


def _read_page(document: ingest.Document, name: str, args: dict[str, object]) -> str:
    if name != _READ_PAGE.name:
        raise errors.LlmError(f"the model called an unknown tool {name!r}")
    page = args.get("page")
    if not isinstance(page, int) or not 1 <= page <= document.page_count:
        return f"there is no page {page!r}; the paper has {document.page_count} pages"
    return document.pages[page - 1].text


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def normalize(
    drafts: Sequence[ClaimDraft], document: ingest.Document, *, max_claims: int = 50
) -> list[resources.Claim]:
    """Drafts from a model -> claims: vocabulary names, fractions, decimals, verified quotes, ids."""
    claims: list[resources.Claim] = []
    counters: dict[str, int] = {}
    for draft in drafts:
        metric = vocabulary.metric_named(draft.metric)
        page_ok = 1 <= draft.page <= document.page_count
        if (
            metric is None
            or not page_ok
            or _squash(draft.quote) not in _squash(document.pages[draft.page - 1].text)
        ):
            log.info("dropped a model claim that is unknown or not on its cited page: %s", draft.metric)
            continue
        number = float(draft.value_as_written)
        value = number / 100 if draft.percent else number
        decimals = len(draft.value_as_written.split(".", 1)[1]) if "." in draft.value_as_written else 0
        dataset_match = vocabulary.DATASET_PATTERN.search(draft.dataset or "")
        dataset = vocabulary.dataset_at(dataset_match) if dataset_match else draft.dataset
        stem = f"{(dataset or 'data').lower().replace('_', '-')}-{metric.name.replace('_', '-')}"
        stem = re.sub(r"[^a-z0-9-]+", "-", stem).strip("-")[:50]
        counters[stem] = counters.get(stem, 0) + 1
        claims.append(
            resources.Claim(
                id=f"{stem}-{counters[stem]}",
                metric=metric.name,
                value=round(value, 12),
                unit="fraction" if draft.percent else "",
                decimals=decimals,
                higher_is_better=metric.higher_is_better,
                dataset=dataset,
                model=draft.model,
                protocol=draft.protocol,
                citation=resources.Citation(page=draft.page, quote=re.sub(r"\s+", " ", draft.quote).strip()),
            )
        )
        if len(claims) >= max_claims:
            break
    return claims
