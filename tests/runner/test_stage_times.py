"""The runner's stage timestamps bracket the notebook's execution, because they are the only
clock it gives the trace (the sandbox cannot export spans): ``p2n.run.nbclient`` lasts from
``run_start`` to the terminal stage, in a cluster and in local mode alike."""

from __future__ import annotations

import json

import pytest

from p2n import events

pytestmark = pytest.mark.runner


def _stages(run) -> list[events.StageUpdate]:
    return [e for e in run.events if isinstance(e, events.StageUpdate)]


def test_run_start_and_the_terminal_stage_bracket_every_cell(notebook, start_runner, tmp_path):
    clock = tmp_path / "clock.json"
    nb = notebook(
        f"import json, time\nopen({str(clock)!r}, 'w').write(json.dumps([time.time()]))",
        "time.sleep(0.2)",
        f"json.dump(json.load(open({str(clock)!r})) + [time.time()], open({str(clock)!r}, 'w'))",
    )
    run = start_runner(nb)
    assert run.finish() == events.RUNNER_EXIT_OK
    first_cell, last_cell = json.loads(clock.read_text())
    stages = _stages(run)
    assert stages[0].data.stage == "run_start"
    assert stages[-1].data.stage == "run_complete"
    assert stages[0].ts <= first_cell <= last_cell <= stages[-1].ts
    # Nothing the runner reports happens outside the span it opens and closes.
    assert all(stages[0].ts <= e.ts <= stages[-1].ts for e in run.events)
    assert run.events[0] == stages[0]
    assert run.events[-1] == stages[-1]


def test_a_failing_cell_still_ends_with_a_later_terminal_stage(notebook, start_runner, tmp_path):
    clock = tmp_path / "clock.json"
    nb = notebook(
        f"import json, time\njson.dump(time.time(), open({str(clock)!r}, 'w'))\nraise ValueError('x')"
    )
    run = start_runner(nb)
    assert run.finish() == events.RUNNER_EXIT_NOTEBOOK_ERROR
    stages = _stages(run)
    assert stages[-1].data.stage == "run_error"
    assert stages[-1].data.code == "E_NOTEBOOK_ERROR"
    assert stages[0].ts <= json.loads(clock.read_text()) <= stages[-1].ts
