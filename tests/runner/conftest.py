"""Fixtures of the runner tier: tiny notebooks and a live handle on a real ``p2n-runner`` process.

Every test here starts a real ipykernel; keep notebooks to a few cells and timeouts short.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from p2n import events

_WRITE_METRICS = (
    "import json, os\n"
    "def report(**metrics):\n"
    "    with open(os.environ['P2N_EVENTS_PATH'], 'a') as f:\n"
    "        for name, value in metrics.items():\n"
    "            data = {'metric': name, 'value': value}\n"
    "            f.write(json.dumps({'event': 'metric_update', 'data': data}) + '\\n')\n"
    "    with open(os.environ['P2N_METRICS_PATH'], 'w') as f:\n"
    "        json.dump(metrics, f, sort_keys=True)\n"
)


@pytest.fixture
def report_cell() -> str:
    """A first cell defining ``report(**metrics)``: metric events to P2N_EVENTS_PATH, metrics.json."""
    return _WRITE_METRICS


def write_notebook(path: Path, *cells: str, metadata: dict | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata.update(metadata or {})
    nbformat.write(nb, str(path))
    return path


@pytest.fixture
def notebook(tmp_path: Path) -> Callable[..., Path]:
    """``notebook("print(1)", "x = 2")`` writes a notebook with those code cells and returns its path."""
    counter = iter(range(1000))

    def make(*cells: str, metadata: dict | None = None) -> Path:
        return write_notebook(tmp_path / f"nb{next(counter)}.ipynb", *cells, metadata=metadata)

    return make


@dataclass
class RunnerRun:
    """A ``python -m p2n_runner`` process whose stdout events are collected by a reader thread."""

    proc: subprocess.Popen[bytes]
    out_dir: Path
    events: list[events.Event] = field(default_factory=list)
    stderr: bytes = b""
    _new_event: threading.Condition = field(default_factory=threading.Condition)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event = events.parse_line(line)
            with self._new_event:
                self.events.append(event)
                self._new_event.notify_all()

    def wait_for(self, predicate: Callable[[events.Event], bool], timeout: float = 60) -> events.Event:
        """Block until an event matching ``predicate`` has been printed by the runner."""
        with self._new_event:
            found = self._new_event.wait_for(
                lambda: any(predicate(e) for e in self.events) or self.proc.poll() is not None, timeout
            )
            matches = [e for e in self.events if predicate(e)]
        assert found, f"the runner exited first; got {[e.event for e in self.events]}"
        assert matches, f"no matching event; got {[e.event for e in self.events]}"
        return matches[0]

    def finish(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(10)
        assert self.proc.stderr is not None
        self.stderr = self.proc.stderr.read()
        return code

    def terminal(self) -> events.StageUpdate:
        last = self.events[-1]
        assert isinstance(last, events.StageUpdate)
        assert last.data.stage in events.TERMINAL_STAGES
        return last

    def assert_well_formed(self) -> None:
        """seq increases by one from 0, run_start first, a terminal stage last, events.jsonl == stdout."""
        seqs = [e.seq for e in self.events]
        assert seqs == list(range(len(seqs)))
        first = self.events[0]
        assert isinstance(first, events.StageUpdate)
        assert first.data.stage == "run_start"
        self.terminal()
        lines = (self.out_dir / "events.jsonl").read_bytes().splitlines()
        assert [events.parse_line(line) for line in lines] == self.events

    def artifact_json(self, name: str) -> dict:
        return json.loads((self.out_dir / name).read_text())

    def logs(self) -> str:
        return (self.out_dir / "logs.txt").read_text()

    def log_texts(self) -> list[str]:
        return [e.data.text for e in self.events if isinstance(e, events.LogLine)]

    _reader: threading.Thread = field(init=False)


@pytest.fixture
def start_runner(tmp_path: Path) -> Iterator[Callable[..., RunnerRun]]:
    """Start the runner on a notebook; ``out_dir`` defaults to ``tmp_path/out``."""
    started: list[RunnerRun] = []

    def start(
        nb: Path | str,
        *extra: str,
        run_id: str = "run-1",
        out_dir: Path | None = None,
        env: dict | None = None,
    ) -> RunnerRun:
        out = out_dir or tmp_path / f"out{len(started)}"
        argv = [sys.executable, "-m", "p2n_runner", "--notebook", str(nb), "--run-id", run_id]
        if "--artifact-urls" not in extra:
            argv += ["--out-dir", str(out)]
        argv += ["--work-dir", str(tmp_path / f"work{len(started)}"), *extra]
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}
        )
        run = RunnerRun(proc=proc, out_dir=out)
        run._reader = threading.Thread(target=run._read, daemon=True)
        run._reader.start()
        started.append(run)
        return run

    yield start
    for run in started:
        if run.proc.poll() is None:
            run.proc.kill()
            run.proc.wait()
