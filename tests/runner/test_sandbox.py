"""The local sandbox around the runner: what a notebook can see and use, and how runs end."""

from __future__ import annotations

import json
import socket

import pytest

from p2n import cli, events, sandbox

pytestmark = pytest.mark.runner

SECRET = "s3cr3t-parent-token-value"


def test_notebook_cannot_read_the_parents_secrets(notebook, tmp_path, monkeypatch):
    monkeypatch.setenv("P2N_TEST_SECRET_TOKEN", SECRET)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    nb = notebook(
        "import os, pathlib\n"
        "print(sorted(os.environ))\n"
        f"print(any({SECRET!r} in v for v in os.environ.values()))\n"
        "print(pathlib.Path.home() == pathlib.Path.cwd())"
    )
    seen: list[events.Event] = []
    result = sandbox.run_notebook(
        nb, tmp_path / "out", run_id="secrets", timeout_seconds=60, on_event=seen.append
    )
    assert result.outcome == "succeeded", result.error
    lines = [e.data.text for e in seen if isinstance(e, events.LogLine)]
    names = set(json.loads(lines[0].replace("'", '"')))
    assert not {"P2N_TEST_SECRET_TOKEN", "AWS_SECRET_ACCESS_KEY"} & names
    assert lines[1:] == ["False", "True"]
    assert SECRET not in result.artifacts["logs.txt"].read_text()


def test_allocating_far_beyond_the_memory_limit_fails_cleanly(notebook, tmp_path):
    nb = notebook(
        "import numpy as np\nprint('allocating', flush=True)\n",
        "block = np.ones(2 * 1024**3 // 8)\nprint(block.sum())",
    )
    limits = sandbox.notebook_defaults(60).model_copy(update={"memory_mb": 300})
    result = sandbox.run_notebook(nb, tmp_path / "out", run_id="oom", timeout_seconds=60, limits=limits)
    assert result.outcome == "failed"
    assert result.error is not None
    assert result.error["code"] == "E_OOM_KILLED", result.error
    assert "memory" in result.error["message"]
    assert result.exit_code == events.RUNNER_EXIT_OOM_KILLED
    assert "allocating" in result.artifacts["logs.txt"].read_text()
    assert set(result.artifacts) >= {"events.jsonl", "logs.txt", "notebook.ipynb"}


def test_notebook_has_no_network_to_the_host(notebook, tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        nb = notebook(
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
            "    print('reached the host')\n"
            "except OSError as exc:\n"
            "    print('isolated', type(exc).__name__)"
        )
        result = sandbox.run_notebook(nb, tmp_path / "out", run_id="net", timeout_seconds=60)
    if any(note.startswith("network") for note in result.limits_not_applied):
        pytest.skip(f"no network namespace on this machine: {result.limits_not_applied}")
    assert result.outcome == "succeeded"
    assert result.artifacts["logs.txt"].read_text().startswith("isolated")


def test_sandbox_timeout_and_metrics(notebook, tmp_path, report_cell):
    ok = sandbox.run_notebook(
        notebook(report_cell, "report(f1=0.9)"), tmp_path / "ok", run_id="m", seed=3, target_metric="f1",
        timeout_seconds=60,
    )  # fmt: skip
    assert (ok.outcome, ok.exit_code, ok.metrics) == ("succeeded", 0, {"f1": 0.9})
    assert ok.seeds is not None
    assert ok.seeds["random"] == 3
    assert sorted(ok.artifacts) == sorted(sandbox.ARTIFACT_NAMES)
    assert not (tmp_path / "ok" / ".sandbox-work").exists()

    slow = sandbox.run_notebook(
        notebook("import time\ntime.sleep(60)"), tmp_path / "slow", run_id="t", timeout_seconds=3
    )
    assert (slow.outcome, slow.exit_code) == ("timed_out", events.RUNNER_EXIT_TIMEOUT)
    assert slow.error == {
        "code": "E_RUN_TIMEOUT",
        "message": "the run exceeded its 3s timeout; kernel killed",
    }


def test_cli_exit_status_reflects_the_outcome(notebook, tmp_path, capsys):
    failing = notebook("raise ValueError('bad input')")
    code = cli.main(
        ["sandbox", str(failing), "--out", str(tmp_path / "cli"), "--json", "--timeout-seconds", "60"]
    )
    assert code == events.RUNNER_EXIT_NOTEBOOK_ERROR
    result = json.loads(capsys.readouterr().out)
    assert result["outcome"] == "failed"
    assert result["error"]["code"] == "E_NOTEBOOK_ERROR"
    assert "ValueError" in result["error"]["message"]

    code = cli.main(["sandbox", str(notebook("print('hi')")), "--out", str(tmp_path / "cli2")])
    captured = capsys.readouterr()
    assert code == 0
    assert "outcome: succeeded (exit 0)" in captured.out
    assert "hi" in captured.err.splitlines()
