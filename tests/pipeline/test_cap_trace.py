"""An LLM cap hit is visible in the trace: ``policy.cap.exceeded`` on the step's span, which fails."""

from __future__ import annotations

import json

import pytest
from tests.pipeline.openai_stub import OpenAIStub, Reply
from tests.pipeline.test_openai_provider import GOOD_CLAIMS, PAPER, extraction

from p2n import errors, settings
from p2n.pipeline import extract

pytestmark = pytest.mark.pipeline


def test_token_cap_is_a_span_event(
    spans, openai_stub: OpenAIStub, openai_settings: settings.Settings
) -> None:
    openai_stub.queue(Reply(text=json.dumps(GOOD_CLAIMS), total_tokens=900))
    with pytest.raises(errors.CapExceeded):
        extract.extract_claims(PAPER, settings=openai_settings, extraction=extraction(max_tokens=500))
    (span,) = [s for s in spans.get_finished_spans() if s.name == "p2n.paper.extract"]
    assert not span.status.is_ok
    cap, exception = span.events
    assert cap.name == "policy.cap.exceeded"
    assert cap.attributes["tokens_used"] == 900
    assert cap.attributes["max_tokens"] == 500
    assert exception.name == "exception"
    assert exception.attributes["exception.type"].endswith("CapExceeded")
