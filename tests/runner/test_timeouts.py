"""A run that must stop early: the wall-clock timeout and SIGTERM both kill the kernel at once."""

from __future__ import annotations

import signal
import time

import pytest

from p2n import events

pytestmark = pytest.mark.runner

SLOW = "import time\nprint('sleeping', flush=True)\ntime.sleep(120)"


def test_timeout_kills_the_kernel_and_keeps_artifacts(notebook, start_runner):
    run = start_runner(notebook("print('first')", SLOW, "print('never')"), "--timeout-seconds", "5")
    started = time.monotonic()
    code = run.finish(timeout=60)
    elapsed = time.monotonic() - started
    assert code == events.RUNNER_EXIT_TIMEOUT
    assert elapsed < 5 + 10, f"timeout took {elapsed:.1f}s"
    run.assert_well_formed()
    assert run.terminal().data.code == "E_RUN_TIMEOUT"
    assert run.logs().splitlines() == ["first", "sleeping"]
    assert (run.out_dir / "notebook.ipynb").exists()


def test_sigterm_mid_cell_cancels_with_partial_artifacts(notebook, start_runner):
    run = start_runner(notebook("print('first')", SLOW, "print('never')"))
    run.wait_for(lambda e: isinstance(e, events.LogLine) and e.data.text == "sleeping")
    run.proc.send_signal(signal.SIGTERM)
    assert run.finish(timeout=30) == events.RUNNER_EXIT_CANCELLED
    run.assert_well_formed()
    terminal = run.terminal()
    assert (terminal.data.stage, terminal.data.code) == ("run_cancelled", "E_CANCELLED")
    assert run.logs().splitlines() == ["first", "sleeping"]
    assert (run.out_dir / "notebook.ipynb").exists()
