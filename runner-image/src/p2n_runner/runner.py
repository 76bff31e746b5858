"""One run from start to exit code: input, policy, kernel, cells, deadline, SIGTERM, artifacts.

Every outcome, including the ones that stop a cell midway (timeout, SIGTERM, a dead kernel), ends
the same way: the kernel is killed, the notebook's last events are drained, the executed notebook
and ``metrics.json`` are saved next to the logs, the artifacts are published, and a terminal stage
(``run_complete``, ``run_error`` or ``run_cancelled``, with the code and exit status) is the last
event. The exit status comes from ``p2n.events.RUNNER_EXIT_CODES``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

import pydantic

from p2n_runner import artifacts, execution, outcome, policy, sources
from p2n_runner import emitter as emitter_mod
from p2n_runner import options as options_mod

# Events a notebook may report through P2N_EVENTS_PATH; stages belong to the runner alone.
NOTEBOOK_EVENTS = frozenset({"metric_update", "sample_pred", "log_line"})
_METADATA_KEYS = frozenset({"seq", "ts", "event"})


def run(opts: options_mod.Options) -> int:
    return asyncio.run(_Run(opts).main())


class _Run:
    def __init__(self, opts: options_mod.Options) -> None:
        self.opts = opts
        self.work_dir = opts.work_dir
        self.staging = opts.out_dir.resolve() if opts.out_dir else self.work_dir / ".p2n-artifacts"
        self.scratch = self.work_dir / ".p2n"
        self.notebook_events = self.scratch / "notebook-events.jsonl"
        self.notebook_metrics = self.scratch / "metrics.json"
        self.execution: execution.Execution | None = None
        self.stop = asyncio.Event()

    async def main(self) -> int:
        for directory in (self.work_dir, self.staging, self.scratch):
            directory.mkdir(parents=True, exist_ok=True)
        # The kernel's sockets are named relative to the work dir, so runner and kernel share it as cwd.
        os.chdir(self.work_dir)
        for stale in (self.notebook_events, self.notebook_metrics):
            stale.unlink(missing_ok=True)
        _point_tool_dirs_at(self.work_dir)
        emitter = emitter_mod.Emitter(
            run_id=self.opts.run_id,
            events_path=self.staging / artifacts.EVENTS,
            logs_path=self.staging / artifacts.LOGS,
            max_bytes=self.opts.max_artifact_bytes,
        )
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop.set)
        emitter.stage(
            "run_start",
            message=f"notebook {sources.describe(self.opts.notebook)}, seed {self.opts.seed}, "
            f"timeout {self.opts.timeout_seconds}s",
        )
        try:
            result = await self._supervise(emitter)
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            result = outcome.Outcome("E_INTERNAL", f"runner failure: {type(exc).__name__}: {exc}")
        return self._finish(emitter, result)

    async def _supervise(self, emitter: emitter_mod.Emitter) -> outcome.Outcome:
        """Run the notebook under the deadline, stopping at once on SIGTERM."""
        tail_stop = asyncio.Event()
        tail = asyncio.create_task(
            execution.tail(self.notebook_events, lambda line: self._forward(emitter, line), tail_stop)
        )
        work = asyncio.create_task(self._execute(emitter))
        stopped = asyncio.create_task(self.stop.wait())
        try:
            done, _ = await asyncio.wait(
                {work, stopped}, timeout=self.opts.timeout_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            if work in done and not self.stop.is_set():
                return work.result()
            if self.stop.is_set():
                result = outcome.Outcome("E_CANCELLED", "cancelled by SIGTERM; partial artifacts kept")
            else:
                result = outcome.Outcome(
                    "E_RUN_TIMEOUT",
                    f"the run exceeded its {self.opts.timeout_seconds}s timeout; kernel killed",
                )
            work.cancel()
            if self.execution is not None:
                await self.execution.kill()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await work
            return result
        finally:
            stopped.cancel()
            if self.execution is not None:
                await self.execution.close()
            tail_stop.set()
            await tail

    async def _execute(self, emitter: emitter_mod.Emitter) -> outcome.Outcome:
        try:
            nb = sources.load(self.opts.notebook)
            try:
                policy.check_notebook(nb)
            except policy.GpuRequested as exc:
                raise outcome.Failure("E_GPU_REQUESTED", str(exc)) from exc
            self.execution = execution.Execution(
                nb,
                emitter,
                seed=self.opts.seed,
                work_dir=self.work_dir,
                kernel_env=self._kernel_env(),
                max_output_chars=self.opts.max_artifact_bytes,
            )
            seeds = await self.execution.start()
            emitter.stage("seed_check", seeds=seeds, message=f"seed {self.opts.seed}")
            await self.execution.run_cells()
        except outcome.Failure as failure:
            return outcome.Outcome.of(failure)
        return outcome.Outcome()

    def _kernel_env(self) -> dict[str, str]:
        return {
            "P2N_RUN_ID": self.opts.run_id,
            "P2N_SEED": str(self.opts.seed),
            "P2N_EVENTS_PATH": str(self.notebook_events),
            "P2N_METRICS_PATH": str(self.notebook_metrics),
            "MPLBACKEND": "Agg",
        }

    def _forward(self, emitter: emitter_mod.Emitter, line: bytes) -> None:
        """One line of ``P2N_EVENTS_PATH``: canonical ``{event, data}``, flat, or a bare metric."""
        try:
            raw = json.loads(line)
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            name = raw.get("event") or ("metric_update" if "metric" in raw else None)
            if name not in NOTEBOOK_EVENTS:
                raise ValueError(f"event {name!r} is not one a notebook may report")
            data = raw["data"] if isinstance(raw.get("data"), dict) else raw
            emitter.forward(name, {k: v for k, v in data.items() if k not in _METADATA_KEYS or k == "ts"})
        except (ValueError, pydantic.ValidationError) as exc:
            reason = str(exc).splitlines()[0][:200]
            emitter.system(f"[p2n] ignored a line of P2N_EVENTS_PATH: {reason}", level="warning")

    def _finish(self, emitter: emitter_mod.Emitter, result: outcome.Outcome) -> int:
        if self.execution is not None:
            try:
                self.execution.write_notebook(self.staging / artifacts.NOTEBOOK)
            except OSError as exc:
                emitter.system(f"[p2n] could not save the executed notebook: {exc.strerror}", level="error")
        result = self._check_metrics(result)
        if emitter.dropped_bytes:
            emitter.system(
                f"[p2n] {emitter.dropped_bytes} characters of output were dropped by the artifact cap",
                level="warning",
                code=emitter_mod.TOO_LARGE,
            )
        targets: dict[str, dict[str, Any]] = {}
        if self.opts.artifact_urls:
            try:
                targets = artifacts.parse_urls(self.opts.artifact_urls)
            except outcome.Failure as failure:
                result = result if not result.ok else outcome.Outcome.of(failure)
        emitter.flush_partial()
        emitter.close_logs()
        upload_errors = artifacts.upload(self.staging, _without(targets, artifacts.EVENTS)) if targets else []
        if upload_errors and result.ok:
            result = outcome.Outcome("E_STORAGE", "; ".join(upload_errors))
        emitter.stage(
            result.stage,
            code=None if result.ok else result.code,
            message=result.message or None,
            exit_code=result.exit_code,
        )
        emitter.close()
        if artifacts.EVENTS in targets:
            failed = artifacts.upload(self.staging, {artifacts.EVENTS: targets[artifacts.EVENTS]})
            if failed:
                print("; ".join(failed), file=sys.stderr)
                return result.exit_code if not result.ok else outcome.Outcome("E_STORAGE").exit_code
        if targets and self.opts.out_dir is None:
            shutil.rmtree(self.staging, ignore_errors=True)
        return result.exit_code

    def _check_metrics(self, result: outcome.Outcome) -> outcome.Outcome:
        """Copy the notebook's metrics.json verbatim; a missing target metric fails a clean run."""
        source = self.notebook_metrics
        if source.exists():
            shutil.copyfile(source, self.staging / artifacts.METRICS)
        target = self.opts.target_metric
        if not result.ok or not target:
            return result
        if not source.exists():
            return outcome.Outcome(
                "E_METRICS_MISSING", f"the notebook wrote no metrics.json (target {target!r})"
            )
        try:
            metrics = json.loads(source.read_bytes())
        except ValueError:
            return outcome.Outcome("E_METRICS_MISSING", "metrics.json is not valid JSON")
        if find_metric(metrics, target) is None:
            return outcome.Outcome("E_METRICS_MISSING", f"metrics.json has no numeric {target!r}")
        return result


def find_metric(metrics: Any, name: str) -> float | None:
    """``{name: v}``, ``{"metrics": {name: v}}`` or ``{"metric": name, "value": v}``; finite numbers only."""
    if not isinstance(metrics, dict):
        return None
    candidates = [metrics.get(name)]
    if isinstance(metrics.get("metrics"), dict):
        candidates.append(metrics["metrics"].get(name))
    if metrics.get("metric") == name:
        candidates.append(metrics.get("value"))
    for value in candidates:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def _without(targets: dict[str, dict[str, Any]], name: str) -> dict[str, dict[str, Any]]:
    return {key: value for key, value in targets.items() if key != name}


def _point_tool_dirs_at(work_dir: Path) -> None:
    """Jupyter, IPython and matplotlib write state under HOME by default; keep it in the work dir."""
    defaults = {
        "JUPYTER_RUNTIME_DIR": work_dir / ".p2n" / "jupyter-runtime",
        "JUPYTER_DATA_DIR": work_dir / ".p2n" / "jupyter-data",
        "IPYTHONDIR": work_dir / ".p2n" / "ipython",
        "MPLCONFIGDIR": work_dir / ".p2n" / "matplotlib",
    }
    for name, path in defaults.items():
        if name not in os.environ:
            os.environ[name] = str(path)
