"""Huge output is capped in logs.txt, events.jsonl and the notebook, with a banner; the run goes on."""

from __future__ import annotations

import json

import pytest

from p2n import events

pytestmark = pytest.mark.runner

CAP = 1024 * 1024


def test_50_mb_of_output_is_capped_with_a_banner(notebook, start_runner):
    fifty_mb = "line = 'y' * 999\nfor _ in range(50 * 1024):\n    print(line)"
    run = start_runner(notebook(fifty_mb, "print('after')"), "--max-artifact-bytes", str(CAP))
    assert run.finish(timeout=120) == events.RUNNER_EXIT_OK
    run.assert_well_formed()
    assert run.terminal().data.stage == "run_complete"

    for name in ("logs.txt", "events.jsonl"):
        assert (run.out_dir / name).stat().st_size <= CAP + 4096
    logs = run.logs()
    assert "[p2n] logs.txt truncated at" in logs
    assert "after" not in logs.splitlines()
    warnings = [
        e for e in run.events if isinstance(e, events.LogLine) and e.data.code == "E_ARTIFACT_TOO_LARGE"
    ]
    assert warnings
    assert all(w.data.level == "warning" for w in warnings)
    events_text = (run.out_dir / "events.jsonl").read_text()
    assert "events.jsonl truncated at" in events_text

    executed = json.loads((run.out_dir / "notebook.ipynb").read_text())
    texts = ["".join(o["text"]) for o in executed["cells"][0]["outputs"]]
    assert sum(len(t) for t in texts) <= CAP + 200
    assert "output truncated" in texts[-1]
