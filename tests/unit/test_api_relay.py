"""Pure pieces of the API: SSE framing and closing stages, resume ids, bearer tokens, static tokens."""

from __future__ import annotations

import asyncio

import pytest

from p2n import errors, events
from p2n_api import auth, failures, sse


def test_frames_are_the_wire_form_and_know_terminal_stages():
    frame = sse.frame_of(events.progress(7, 50.0, "half"))
    assert frame.data == b'id: 7\nevent: progress\ndata: {"percent":50.0,"msg":"half"}\n\n'
    assert not frame.terminal
    assert sse.frame_of(events.stage(9, "run_complete", "r")).terminal
    assert not sse.frame_of(events.stage(1, "seed_check", "r")).terminal


def test_a_chunk_stops_after_the_terminal_frame():
    frames = [sse.frame_of(e) for e in (events.progress(1, 1.0), events.stage(2, "run_error", "r"))]
    frames.append(sse.frame_of(events.progress(3, 2.0)))
    data, last, ended = sse._chunk(frames)
    assert (last, ended) == (2, True)
    assert b"id: 3" not in data


@pytest.mark.parametrize(
    ("phase", "stage", "code"),
    [
        ("Succeeded", "run_complete", None),
        ("Failed", "run_error", "E_NOTEBOOK_ERROR"),
        ("TimedOut", "run_error", "E_NOTEBOOK_ERROR"),
        ("Cancelled", "run_cancelled", "E_NOTEBOOK_ERROR"),
    ],
)
def test_closing_stage_follows_the_run_phase(phase, stage, code):
    run = {"metadata": {"name": "r1"}, "status": {"phase": phase, "reason": "E_NOTEBOOK_ERROR"}}
    closing = sse.closing_stage(run, 12)
    assert (closing.seq, closing.data.stage, closing.data.code, closing.data.run_id) == (
        12,
        stage,
        code,
        "r1",
    )


def test_resume_point():
    assert sse.last_event_id(None, None) == -1
    assert sse.last_event_id(" 41 ", None) == 41
    assert sse.last_event_id(None, 5) == 5
    assert sse.last_event_id("3", 5) == 3
    with pytest.raises(errors.InvalidInput):
        sse.last_event_id("x", None)
    with pytest.raises(errors.InvalidInput):
        sse.last_event_id("-2", None)


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer   ", "Basic abc", "token abc"])
def test_bearer_token_is_required(header):
    with pytest.raises(errors.Unauthorized):
        auth.bearer_token(header)


def test_static_tokens():
    tokens = auth.StaticTokens("t1=alice, t2=bob,")
    assert asyncio.run(tokens.authenticate("t2")) == auth.Principal(username="bob", uid="bob")
    assert asyncio.run(tokens.authenticate("t3")) is None
    with pytest.raises(errors.InvalidInput):
        auth.StaticTokens("just-a-token")


def test_access_review_attributes():
    action = auth.Action(verb="create", resource="runs", namespace="ns1")
    assert action.attributes() == {
        "group": "p2n.dev",
        "version": "v1alpha1",
        "resource": "runs",
        "verb": "create",
        "namespace": "ns1",
    }
    assert auth.Action("get", "papers", "ns1", "p").attributes()["name"] == "p"


def test_validation_error_fields_drop_pydantic_union_tags():
    assert failures._field(("body", "url", "constrained-str")) == "url"
    assert failures._field(("query", "namespace")) == "namespace"
    assert failures._field(("body", "seeds", 0)) == "seeds.0"
    assert failures._field(("body",)) == "body"
