"""The openai provider through the real ``openai`` client against the local stub server over HTTP:
structured outputs, streamed tokens, tool calls, caps and malformed answers."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from tests.pipeline.openai_stub import OpenAIStub, Reply

from p2n import errors, events, resources, settings
from p2n.pipeline import extract, ingest, local, planning, storybook

pytestmark = pytest.mark.pipeline

PAPER = ingest.parse(
    b"# Iris with LDA\n\nLDA achieved a training accuracy of 98.0% on the iris data (resubstitution).\f"
    b"Under 10-fold cross-validation LDA reaches 97.3% on iris.",
    filename="paper.txt",
)
GOOD_CLAIMS = {
    "claims": [
        {
            "metric": "training accuracy",
            "value_as_written": "98.0",
            "percent": True,
            "dataset": "Iris",
            "model": "LDA",
            "protocol": "resubstitution",
            "page": 1,
            "quote": "LDA achieved a training accuracy of 98.0% on the iris data (resubstitution).",
        },
        {
            "metric": "accuracy",
            "value_as_written": "97.3",
            "percent": True,
            "dataset": "iris",
            "model": "LDA",
            "protocol": "10-fold cross-validation",
            "page": 2,
            "quote": "Under 10-fold cross-validation LDA reaches 97.3% on iris.",
        },
    ]
}


def extraction(**caps: int) -> resources.ExtractionSpec:
    return resources.ExtractionSpec(provider="openai", model="stub-model", **caps)


def test_claims_as_structured_output_with_streamed_tokens(
    openai_stub: OpenAIStub, openai_settings: settings.Settings
) -> None:
    text = json.dumps(GOOD_CLAIMS)
    openai_stub.queue(Reply(text=text, chunks=5))
    tokens: list[events.Token] = []
    claims = extract.extract_claims(
        PAPER, settings=openai_settings, extraction=extraction(), on_token=tokens.append
    )
    assert [(c.id, c.metric, c.value, c.decimals, c.citation.page) for c in claims] == [
        ("iris-accuracy-1", "accuracy", 0.98, 1, 1),
        ("iris-accuracy-2", "accuracy", 0.973, 1, 2),
    ]
    assert "".join(t.data.text for t in tokens) == text
    assert [t.seq for t in tokens] == list(range(len(tokens)))
    request = openai_stub.requests[0]
    assert request["stream"] is True
    assert request["model"] == "stub-model"
    assert request["text"]["format"]["type"] == "json_schema"
    assert request["tools"][0]["name"] == "read_page"


def test_tool_calls_are_answered_then_the_answer_is_used(
    openai_stub: OpenAIStub, openai_settings: settings.Settings
) -> None:
    openai_stub.queue(Reply(calls=[("read_page", {"page": 2})]), Reply(text=json.dumps(GOOD_CLAIMS)))
    claims = extract.extract_claims(PAPER, settings=openai_settings, extraction=extraction(max_tool_calls=1))
    assert len(claims) == 2
    outputs = [
        item for item in openai_stub.requests[1]["input"] if item.get("type") == "function_call_output"
    ]
    assert outputs == [{"type": "function_call_output", "call_id": "call_1_0", "output": PAPER.pages[1].text}]


def test_tool_call_cap(
    openai_stub: OpenAIStub, openai_settings: settings.Settings, caplog: pytest.LogCaptureFixture
) -> None:
    openai_stub.queue(
        Reply(calls=[("read_page", {"page": 1})]),
        Reply(calls=[("read_page", {"page": 2})]),
        Reply(text=json.dumps(GOOD_CLAIMS)),
    )
    with caplog.at_level(logging.WARNING), pytest.raises(errors.CapExceeded) as caught:
        extract.extract_claims(PAPER, settings=openai_settings, extraction=extraction(max_tool_calls=1))
    assert caught.value.code == "E_CAP_EXCEEDED"
    assert caught.value.details["trace_label"] == "policy.cap.exceeded"
    assert caught.value.details["tool_calls"] == 2
    assert any(getattr(r, "trace_label", None) == "policy.cap.exceeded" for r in caplog.records)
    assert len(openai_stub.requests) == 2


def test_token_cap(openai_stub: OpenAIStub, openai_settings: settings.Settings) -> None:
    openai_stub.queue(Reply(text=json.dumps(GOOD_CLAIMS), total_tokens=900))
    with pytest.raises(errors.CapExceeded, match="900 tokens > cap 500"):
        extract.extract_claims(PAPER, settings=openai_settings, extraction=extraction(max_tokens=500))
    assert openai_stub.requests[0]["max_output_tokens"] == 500


@pytest.mark.parametrize(
    "text",
    [
        "this is not JSON",
        json.dumps({"claims": [{"metric": "accuracy"}]}),
        json.dumps({"claims": [{**GOOD_CLAIMS["claims"][0], "value_as_written": "ninety-eight"}]}),
        json.dumps({"claims": [], "extra": 1}),
    ],
)
def test_malformed_output_is_a_typed_error(
    openai_stub: OpenAIStub, openai_settings: settings.Settings, text: str
) -> None:
    openai_stub.queue(Reply(text=text))
    with pytest.raises(errors.LlmError, match="does not match the ClaimList schema"):
        extract.extract_claims(PAPER, settings=openai_settings, extraction=extraction())


def test_made_up_quotes_are_dropped(openai_stub: OpenAIStub, openai_settings: settings.Settings) -> None:
    invented = {
        **GOOD_CLAIMS["claims"][0],
        "quote": "LDA achieved 99.9% on iris.",
        "value_as_written": "99.9",
    }
    openai_stub.queue(Reply(text=json.dumps({"claims": [invented, GOOD_CLAIMS["claims"][1]]})))
    claims = extract.extract_claims(PAPER, settings=openai_settings, extraction=extraction())
    assert [c.value for c in claims] == [0.973]
    openai_stub.queue(Reply(text=json.dumps({"claims": [invented]})))
    with pytest.raises(errors.NoClaims):
        extract.extract_claims(PAPER, settings=openai_settings, extraction=extraction())


def test_api_errors_are_translated(openai_stub: OpenAIStub, openai_settings: settings.Settings) -> None:
    openai_stub.queue(Reply(status=400, text="model not allowed"))
    with pytest.raises(errors.LlmError, match="OpenAI API error 400: model not allowed"):
        extract.extract_claims(PAPER, settings=openai_settings, extraction=extraction())
    bad_key = openai_settings.model_copy(update={"openai_api_key": settings.SecretStr("sk-wrong")})
    with pytest.raises(errors.LlmError, match="401") as caught:
        extract.extract_claims(PAPER, settings=bad_key, extraction=extraction())
    assert "sk-wrong" not in str(caught.value)


def test_auto_uses_openai_only_with_a_key(
    openai_stub: OpenAIStub, openai_settings: settings.Settings
) -> None:
    openai_stub.queue(Reply(text=json.dumps(GOOD_CLAIMS)))
    extract.extract_claims(PAPER, settings=openai_settings)
    assert len(openai_stub.requests) == 1
    offline = openai_settings.model_copy(update={"openai_api_key": None})
    assert len(extract.extract_claims(PAPER, settings=offline)) == 2
    assert len(openai_stub.requests) == 1


def test_openai_planner_is_checked_by_the_same_catalog(
    openai_stub: OpenAIStub, openai_settings: settings.Settings
) -> None:
    claim = extract.normalize([extract.ClaimDraft(**GOOD_CLAIMS["claims"][1])], PAPER)[0]
    spec = resources.PlanSpec(
        paper_ref=resources.ObjectRef(name="p"),
        claim_id=claim.id,
        planner=resources.PlannerSpec(provider="openai"),
    )
    draft = {
        "dataset": "iris",
        "model_family": "lda",
        "hyperparameters": {},
        "standardize": False,
        "features": None,
        "protocol": "10-fold cross-validation",
        "needs_gpu": False,
    }
    openai_stub.queue(Reply(text=json.dumps(draft)))
    plan = planning.plan(claim, settings=openai_settings, spec=spec, document_text=PAPER.text)
    assert (plan.provider, plan.model.estimator, plan.protocol.folds) == (
        "openai",
        "LinearDiscriminantAnalysis",
        10,
    )
    assert "Under 10-fold" in openai_stub.requests[0]["input"][0]["content"]
    openai_stub.queue(Reply(text=json.dumps({**draft, "dataset": "imagenet", "needs_gpu": True})))
    with pytest.raises(errors.GpuRequested):
        planning.plan(claim, settings=openai_settings, spec=spec)
    openai_stub.queue(Reply(text=json.dumps({**draft, "model_family": "transformer"})))
    with pytest.raises(errors.UnsupportedPlan):
        planning.plan(claim, settings=openai_settings, spec=spec)


def test_openai_storybook_is_held_to_grade_three(
    openai_stub: OpenAIStub, openai_settings: settings.Settings
) -> None:
    claim = extract.normalize([extract.ClaimDraft(**GOOD_CLAIMS["claims"][0])], PAPER)[0]
    page = {"title": "Hi", "body": "The cat sat. The dog ran.", "alt_text": "A cat.", "visual_hint": "A cat."}
    book = {"title": "A Test", "pages": [page] * 6, "glossary": [{"term": "data", "meaning": "Facts."}]}
    openai_stub.queue(Reply(text=json.dumps(book)))
    written = storybook.write(claim, settings=openai_settings, provider="openai")
    assert written.provider == "openai"
    assert len(written.pages) == 6
    assert written.grade_level <= 3.9
    hard = {
        **page,
        "body": "Multivariate discriminant methodologies necessitate comprehensive regularization.",
    }
    openai_stub.queue(Reply(text=json.dumps({**book, "pages": [hard] * 6})))
    with pytest.raises(errors.LlmError, match="grade"):
        storybook.write(claim, settings=openai_settings, provider="openai")
    openai_stub.queue(Reply(text=json.dumps({**book, "pages": [page] * 3})))
    with pytest.raises(errors.LlmError, match="StoryDraft"):
        storybook.write(claim, settings=openai_settings, provider="openai")


def test_local_reproduction_with_the_openai_provider(
    openai_stub: OpenAIStub, openai_settings: settings.Settings, tmp_path: Path
) -> None:
    paper = tmp_path / "iris.txt"
    paper.write_bytes(PAPER.pages[0].text.encode() + b"\f" + PAPER.pages[1].text.encode())
    draft = {
        "dataset": "iris",
        "model_family": "lda",
        "hyperparameters": {"solver": "svd"},
        "standardize": False,
        "features": None,
        "protocol": "resubstitution",
        "needs_gpu": False,
    }
    openai_stub.queue(Reply(text=json.dumps(GOOD_CLAIMS)), Reply(text=json.dumps(draft)))
    seen: list[events.Event] = []
    options = local.Options(provider="openai", record_history=False)
    result = local.reproduce(
        str(paper), tmp_path / "out", settings=openai_settings, options=options, on_event=seen.append
    )
    assert result.error is None
    assert result.claim is not None
    assert result.claim.id == "iris-accuracy-1"
    assert result.plan is not None
    assert result.plan["provider"] == "openai"
    assert result.plan["model"]["params"] == {"solver": "svd"}
    assert (result.observed, result.verdict) == (0.98, "reproduced")
    assert any(isinstance(e, events.Token) for e in seen)
    assert any(isinstance(e, events.MetricUpdate) for e in seen)


def test_cap_exceeded_ends_the_local_reproduction_with_a_typed_error(
    openai_stub: OpenAIStub, openai_settings: settings.Settings, tmp_path: Path
) -> None:
    paper = tmp_path / "iris.txt"
    paper.write_bytes(PAPER.pages[0].text.encode())
    openai_stub.queue(Reply(text=json.dumps(GOOD_CLAIMS), total_tokens=10_000))
    options = local.Options(provider="openai", record_history=False)
    result = local.reproduce(str(paper), tmp_path / "out", settings=openai_settings, options=options)
    assert result.error is not None
    assert result.error.code == "E_CAP_EXCEEDED"
    assert json.loads((tmp_path / "out" / "report.json").read_text())["error"]["code"] == "E_CAP_EXCEEDED"
