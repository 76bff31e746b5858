"""Local mode traces a reproduction like the operator traces a Run: one trace per ``reproduce``,
``p2n.run.exec`` for each seed's sandbox and ``p2n.run.nbclient`` timed by the runner's own events;
``p2n reproduce`` exports them over OTLP when an endpoint is configured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from p2n import events, settings
from p2n.pipeline import extract, ingest, local, planning

pytestmark = pytest.mark.pipeline

PAPERS = Path(__file__).resolve().parents[2] / "examples" / "papers"


def _ns(seconds: float) -> int:
    """An event's Unix time in ns, to the microsecond (as spans take it)."""
    return round(seconds * 1_000_000) * 1_000


def test_each_seed_is_an_exec_span_with_the_notebook_inside(
    spans, offline_settings: settings.Settings, tmp_path
):
    seen: list[events.Event] = []
    options = local.Options(seeds=(0,), record_history=False)
    result = local.reproduce(
        str(PAPERS / "iris-lda.md"),
        tmp_path / "out",
        settings=offline_settings,
        options=options,
        on_event=seen.append,
    )
    assert result.verdict == "reproduced"
    finished = spans.get_finished_spans()
    (root,) = [s for s in finished if s.name == "p2n.paper.reproduce"]
    (exec_,) = [s for s in finished if s.name == "p2n.run.exec"]
    (nbclient,) = [s for s in finished if s.name == "p2n.run.nbclient"]
    assert {s.context.trace_id for s in finished} == {root.context.trace_id}
    assert exec_.parent.span_id == root.context.span_id
    assert nbclient.parent.span_id == exec_.context.span_id
    assert exec_.start_time <= nbclient.start_time <= nbclient.end_time <= exec_.end_time
    stages = [e for e in seen if isinstance(e, events.StageUpdate)]
    assert (nbclient.start_time, nbclient.end_time) == (_ns(stages[0].ts), _ns(stages[-1].ts))
    assert [stages[0].data.stage, stages[-1].data.stage] == ["run_start", "run_complete"]
    assert nbclient.attributes["p2n.stage"] == "run_complete"
    assert nbclient.attributes["p2n.exit_code"] == 0
    run = result.runs[0]
    assert exec_.attributes["p2n.seed"] == 0
    assert exec_.attributes["p2n.phase"] == "Succeeded"
    assert exec_.attributes["p2n.run"] == stages[0].data.run_id
    assert (exec_.end_time - exec_.start_time) / 1e9 == pytest.approx(run.duration_seconds, abs=0.01)
    assert exec_.status.is_ok
    assert nbclient.status.is_ok
    steps = {s.name for s in finished if s.parent is not None and s.parent.span_id == root.context.span_id}
    assert {"p2n.paper.ingest", "p2n.paper.extract", "p2n.plan.make", "p2n.run.exec"} <= steps


def test_a_failing_notebook_is_a_failed_exec_and_nbclient(
    spans, offline_settings: settings.Settings, tmp_path
):
    notebook = tmp_path / "broken.ipynb"
    notebook.write_text(
        '{"cells": [{"cell_type": "code", "execution_count": null, "id": "c1", "metadata": {}, '
        '"outputs": [], "source": "raise RuntimeError(\\"boom\\")"}], "metadata": {}, '
        '"nbformat": 4, "nbformat_minor": 5}'
    )
    document = ingest.parse((PAPERS / "iris-lda.md").read_bytes(), filename="iris-lda.md")
    claim = extract.extract_claims(document, settings=offline_settings)[0]
    plan = planning.plan(claim, settings=offline_settings, document_text=document.text)
    spans.clear()
    run, _, _ = local._run_seed(
        notebook, tmp_path / "out", plan, 7, "iris", "iris-plan", lambda _: None, None
    )
    assert run.error is not None
    (exec_,) = [s for s in spans.get_finished_spans() if s.name == "p2n.run.exec"]
    (nbclient,) = [s for s in spans.get_finished_spans() if s.name == "p2n.run.nbclient"]
    assert not exec_.status.is_ok
    assert exec_.attributes["p2n.reason"] == run.error.code == "E_NOTEBOOK_ERROR"
    assert nbclient.attributes["p2n.stage"] == "run_error"
    assert nbclient.status.description == "E_NOTEBOOK_ERROR"


def test_p2n_reproduce_exports_its_spans_when_an_endpoint_is_configured(
    tmp_path: Path, otlp_collector
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("P2N_", "OPENAI_", "OTEL_"))}
    env.update({"P2N_HOME": str(tmp_path / "home"), "P2N_OTLP_ENDPOINT": otlp_collector.url})
    done = subprocess.run(
        [
            str(Path(sys.executable).with_name("p2n")),
            "reproduce",
            str(PAPERS / "iris-lda.md"),
            "--no-history",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # The CLI flushes its batch before it exits.
    body = otlp_collector.received()
    for name in (b"p2n.paper.reproduce", b"p2n.run.exec", b"p2n.run.nbclient", b"p2n-cli"):
        assert name in body
