"""Run one notebook through ``p2n-runner`` inside the local sandbox and read its outcome.

This is the local twin of a runner pod: the same program, the same events and exit codes, but
confined by ``spawn`` instead of a pod security context. Events are parsed from the runner's stdout
as they arrive and handed to ``on_event``; the outcome is the runner's exit code, corrected by what
only the sandbox can see (an OOM kill recorded by the memory cgroup, the wall-clock backstop).
"""

from __future__ import annotations

import collections
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict

from p2n import events
from p2n.sandbox import limits as limits_mod
from p2n.sandbox import process

ARTIFACT_NAMES: tuple[str, ...] = ("metrics.json", "events.jsonl", "logs.txt", "notebook.ipynb")
Outcome = Literal["succeeded", "failed", "timed_out", "cancelled"]
_STDERR_TAIL_BYTES = 16 * 1024


class SandboxResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    exit_code: int
    outcome: Outcome
    error: dict[str, str] | None = None
    metrics: dict[str, Any] | None = None
    artifacts: dict[str, Path]
    limits_not_applied: list[str]
    seeds: dict[str, int | str | None] | None = None


def run_notebook(
    notebook: str | Path,
    out_dir: Path,
    *,
    run_id: str,
    seed: int = 0,
    timeout_seconds: int = 600,
    limits: limits_mod.Limits | None = None,
    target_metric: str | None = None,
    on_event: Callable[[events.Event], None] | None = None,
    max_artifact_bytes: int | None = None,
    env: dict[str, str] | None = None,
) -> SandboxResult:
    """Execute ``notebook`` (path, http(s) URL or s3:// URI) in the sandbox; artifacts land in ``out_dir``.

    Ctrl-C (KeyboardInterrupt) while waiting cancels the run: the runner gets SIGTERM and the result
    is ``cancelled`` with the partial artifacts.
    """
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    work = out_dir / ".sandbox-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    staging = work / "artifacts"
    source = str(notebook)
    if "://" not in source:
        local = work / "input.ipynb"
        shutil.copyfile(source, local)
        source = local.name
    argv = [
        sys.executable, "-m", "p2n_runner",
        "--notebook", source,
        "--run-id", run_id,
        "--seed", str(seed),
        "--timeout-seconds", str(timeout_seconds),
        "--out-dir", str(staging),
        "--work-dir", str(work),
    ]  # fmt: skip
    if target_metric:
        argv += ["--target-metric", target_metric]
    if max_artifact_bytes:
        argv += ["--max-artifact-bytes", str(max_artifact_bytes)]
    limits = limits or limits_mod.notebook_defaults(timeout_seconds)
    child_env = dict(env or {})
    if limits.cpus is not None:
        threads = str(max(1, int(limits.cpus)))
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            child_env.setdefault(name, threads)
    proc = process.spawn(argv, env=child_env, limits=limits, cwd=work)
    reader = _EventReader(on_event)
    stderr_tail = _drain_in_background(proc.stderr)
    try:
        reader.consume(proc.stdout)
    except KeyboardInterrupt:
        proc.terminate()
        reader.consume(proc.stdout)
    try:
        code = proc.wait(timeout=process.KILL_GRACE_SECONDS * 2)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    artifacts = _collect(staging, out_dir)
    shutil.rmtree(work, ignore_errors=True)
    error_code, exit_code = _classify(code, proc)
    message = reader.terminal_message or _tail_text(stderr_tail) or f"runner exited with status {code}"
    if error_code == "E_OOM_KILLED" and reader.terminal_code != "E_OOM_KILLED":
        message = (
            f"the sandbox's memory limit ({limits.memory_mb} MiB) was exceeded; the kernel was OOM-killed"
        )
    return SandboxResult(
        exit_code=exit_code,
        outcome=_outcome_of(error_code),
        error=None if error_code == "OK" else {"code": error_code, "message": message},
        metrics=_metrics(artifacts.get("metrics.json")),
        artifacts=artifacts,
        limits_not_applied=proc.limits_not_applied,
        seeds=reader.seeds,
    )


class _EventReader:
    """Parses the runner's stdout line by line as it arrives, remembering the stages it saw."""

    def __init__(self, on_event: Callable[[events.Event], None] | None) -> None:
        self._on_event = on_event
        self.terminal_code: str | None = None
        self.terminal_message: str | None = None
        self.seeds: dict[str, int | str | None] | None = None

    def consume(self, stream: IO[bytes]) -> None:
        for line in stream:
            if not line.strip():
                continue
            try:
                event = events.parse_line(line)
            except pydantic.ValidationError:
                continue
            if isinstance(event, events.StageUpdate):
                if event.data.stage == "seed_check":
                    self.seeds = event.data.seeds
                if event.data.stage in events.TERMINAL_STAGES:
                    self.terminal_code = event.data.code
                    self.terminal_message = event.data.message
            if self._on_event is not None:
                self._on_event(event)


def _classify(code: int, proc: process.SandboxProcess) -> tuple[str, int]:
    """(error code or "OK", exit status) from the runner's status and what the sandbox observed."""
    if proc.oom_killed and code != events.RUNNER_EXIT_OK:
        return "E_OOM_KILLED", events.RUNNER_EXIT_OOM_KILLED
    if code < 0:
        if proc.timed_out:
            return "E_RUN_TIMEOUT", events.RUNNER_EXIT_TIMEOUT
        return ("E_CANCELLED", events.RUNNER_EXIT_CANCELLED) if -code == 15 else ("E_INTERNAL", 128 - code)
    return events.runner_error_code(code), code


def _outcome_of(error_code: str) -> Outcome:
    if error_code == "OK":
        return "succeeded"
    if error_code == "E_RUN_TIMEOUT":
        return "timed_out"
    if error_code == "E_CANCELLED":
        return "cancelled"
    return "failed"


def _collect(staging: Path, out_dir: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for name in ARTIFACT_NAMES:
        source = staging / name
        if source.exists():
            target = out_dir / name
            shutil.move(source, target)
            found[name] = target
    return found


def _metrics(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _drain_in_background(stream: IO[bytes]) -> collections.deque[bytes]:
    """Keep reading stderr so the child never blocks on a full pipe; keep only its tail."""
    tail: collections.deque[bytes] = collections.deque(maxlen=64)

    def drain() -> None:
        for line in stream:
            tail.append(line[-_STDERR_TAIL_BYTES:])

    threading.Thread(target=drain, daemon=True, name="sandbox-stderr").start()
    return tail


def _tail_text(tail: collections.deque[bytes]) -> str:
    return b"".join(tail).decode("utf-8", "replace").strip()[-2000:]
