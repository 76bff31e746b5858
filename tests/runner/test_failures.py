"""Runs that fail: each ends with run_error, its typed code and exit status, and kept artifacts."""

from __future__ import annotations

import pytest

from p2n import events

pytestmark = pytest.mark.runner


def test_error_cell_reports_run_error_with_traceback(notebook, start_runner):
    run = start_runner(notebook("print('before')", "def boom():\n    1 / 0\nboom()", "print('never')"))
    assert run.finish() == events.RUNNER_EXIT_NOTEBOOK_ERROR
    run.assert_well_formed()
    terminal = run.terminal()
    assert (terminal.data.stage, terminal.data.code) == ("run_error", "E_NOTEBOOK_ERROR")
    assert "ZeroDivisionError" in (terminal.data.message or "")
    logs = run.logs()
    assert "Traceback" in logs
    assert "boom()" in logs
    assert "ZeroDivisionError: division by zero" in logs
    assert "\x1b[" not in logs
    assert "never" not in logs
    assert (run.out_dir / "notebook.ipynb").exists()


def test_os_exit_in_a_cell_is_a_dead_kernel(notebook, start_runner):
    run = start_runner(notebook("print('alive', flush=True)", "import os\nos._exit(3)", "print('never')"))
    assert run.finish(timeout=60) == events.RUNNER_EXIT_KERNEL_DIED
    run.assert_well_formed()
    assert run.terminal().data.code == "E_KERNEL_DIED"
    assert "exit status 3" in (run.terminal().data.message or "")
    assert "alive" in run.logs()


def test_gpu_request_is_refused_before_any_cell_runs(notebook, start_runner, tmp_path):
    marker = tmp_path / "ran"
    run = start_runner(
        notebook(f"open({str(marker)!r}, 'w')", "import torch\nmodel = torch.nn.Linear(2, 2).cuda()")
    )
    assert run.finish() == events.RUNNER_EXIT_GPU_REQUESTED
    run.assert_well_formed()
    assert run.terminal().data.code == "E_GPU_REQUESTED"
    assert ".cuda()" in (run.terminal().data.message or "")
    assert not marker.exists()
    assert "seed_check" not in {e.data.stage for e in run.events if isinstance(e, events.StageUpdate)}


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        (("x = 1",), "no metrics.json"),
        (
            ("import json, os\njson.dump({'loss': 1.0}, open(os.environ['P2N_METRICS_PATH'], 'w'))",),
            "'accuracy'",
        ),
    ],
    ids=["no-file", "other-metric"],
)
def test_missing_target_metric(notebook, start_runner, cells, message):
    run = start_runner(notebook(*cells), "--target-metric", "accuracy")
    assert run.finish() == events.RUNNER_EXIT_METRICS_MISSING
    assert run.terminal().data.code == "E_METRICS_MISSING"
    assert message in (run.terminal().data.message or "")


def test_invalid_notebook_is_invalid_input(tmp_path, start_runner):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not a notebook")
    run = start_runner(bad)
    assert run.finish() == events.RUNNER_EXIT_INVALID_INPUT
    run.assert_well_formed()
    assert run.terminal().data.code == "E_INVALID_INPUT"
