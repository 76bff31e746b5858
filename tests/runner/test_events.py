"""A notebook that succeeds: ordered events, live log lines, forwarded metrics, complete artifacts."""

from __future__ import annotations

import json

import nbformat
import pytest

from p2n import events

pytestmark = pytest.mark.runner


def test_happy_path_events_and_artifacts(notebook, start_runner, report_cell):
    nb = notebook(
        report_cell,
        "print('hello')\nimport sys\nprint('oops', file=sys.stderr)",
        "report(accuracy=0.75)\nprint('done')",
    )
    run = start_runner(nb, "--seed", "7", "--target-metric", "accuracy")
    assert run.finish() == events.RUNNER_EXIT_OK
    run.assert_well_formed()

    stages = [e.data.stage for e in run.events if isinstance(e, events.StageUpdate)]
    assert stages == ["run_start", "seed_check", "run_complete"]
    assert run.terminal().data.exit_code == 0
    percents = [e.data.percent for e in run.events if isinstance(e, events.Progress)]
    assert percents == pytest.approx([100 / 3, 200 / 3, 100.0])
    logs = {(e.data.stream, e.data.text) for e in run.events if isinstance(e, events.LogLine)}
    assert {("stdout", "hello"), ("stderr", "oops"), ("stdout", "done")} <= logs
    metric = next(e for e in run.events if isinstance(e, events.MetricUpdate))
    assert (metric.data.metric, metric.data.value) == ("accuracy", 0.75)
    assert metric.seq < run.terminal().seq

    assert run.artifact_json("metrics.json") == {"accuracy": 0.75}
    assert run.logs().splitlines() == ["hello", "oops", "done"]
    executed = nbformat.read(str(run.out_dir / "notebook.ipynb"), as_version=4)
    assert [c.execution_count for c in executed.cells] == [1, 2, 3]
    assert executed.cells[2].outputs[0]["text"] == "done\n"


def test_log_line_streams_while_the_cell_is_still_running(notebook, start_runner, tmp_path):
    flag = tmp_path / "seen-by-test"
    nb = notebook(
        "import os, time\n"
        "print('waiting for the test', flush=True)\n"
        "deadline = time.monotonic() + 30\n"
        f"while not os.path.exists({str(flag)!r}):\n"
        "    if time.monotonic() > deadline:\n"
        "        raise RuntimeError('the log line was not streamed before the cell ended')\n"
        "    time.sleep(0.05)\n"
        "print('released')"
    )
    run = start_runner(nb)
    run.wait_for(
        lambda e: isinstance(e, events.LogLine) and e.data.text == "waiting for the test", timeout=60
    )
    # The cell is blocked until this file exists, so the line above left the runner mid-cell.
    flag.touch()
    assert run.finish() == events.RUNNER_EXIT_OK
    assert run.log_texts() == ["waiting for the test", "released"]


def test_notebook_events_are_forwarded_in_every_accepted_form(notebook, start_runner):
    lines = [
        {"event": "metric_update", "data": {"metric": "loss", "value": 0.5, "step": 1, "split": "train"}},
        {"event": "sample_pred", "text": "a cat"},
        {"metric": "loss", "value": 0.25, "step": 2},
        {"event": "stage_update", "data": {"stage": "run_complete", "run_id": "fake"}},
        "not json",
    ]
    body = "\\n".join(json.dumps(line) if isinstance(line, dict) else line for line in lines)
    nb = notebook(f"import os\nopen(os.environ['P2N_EVENTS_PATH'], 'a').write('{body}\\n')")
    run = start_runner(nb)
    assert run.finish() == 0
    run.assert_well_formed()
    metrics = [
        (e.data.step, e.data.value, e.data.split) for e in run.events if isinstance(e, events.MetricUpdate)
    ]
    assert metrics == [(1, 0.5, "train"), (2, 0.25, "test")]
    assert [e.data.text for e in run.events if isinstance(e, events.SamplePred)] == ["a cat"]
    warnings = [t for t in run.log_texts() if "ignored a line of P2N_EVENTS_PATH" in t]
    assert len(warnings) == 2  # the forged stage and the non-JSON line
    assert [e.data.stage for e in run.events if isinstance(e, events.StageUpdate)][-1] == "run_complete"
