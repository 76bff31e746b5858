"""``p2n sandbox NOTEBOOK``: run any notebook in the local sandbox and report how it ended.

Live output goes to stderr as the cells print (log lines, progress, stages); the summary, or with
``--json`` the whole result, goes to stdout. The exit status is the runner's exit code for the
outcome (``p2n.events.RUNNER_EXIT_CODES``), so scripts can branch on it.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from p2n import events, sandbox


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox", help="run a notebook in the local sandbox", description=__doc__.splitlines()[0]
    )
    parser.add_argument("notebook", help="notebook path, http(s) URL or s3:// URI")
    parser.add_argument(
        "--out", type=Path, default=None, help="artifact directory (default ./p2n-sandbox/RUN_ID)"
    )
    parser.add_argument("--run-id", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout-seconds", type=int, default=600, help="wall-clock timeout (max 1500)")
    parser.add_argument("--memory-mb", type=int, default=2048)
    parser.add_argument("--cpus", type=float, default=1.0)
    parser.add_argument("--target-metric", default=None, help="metric metrics.json must contain")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    run_id = args.run_id or f"sandbox-{uuid.uuid4().hex[:8]}"
    out = args.out or Path("p2n-sandbox") / run_id
    defaults = sandbox.notebook_defaults(args.timeout_seconds)
    limits = defaults.model_copy(update={"memory_mb": args.memory_mb, "cpus": args.cpus})
    result = sandbox.run_notebook(
        args.notebook,
        out,
        run_id=run_id,
        seed=args.seed,
        timeout_seconds=args.timeout_seconds,
        limits=limits,
        target_metric=args.target_metric,
        on_event=None if args.json else _show,
    )
    if args.json:
        print(result.model_dump_json(indent=2))
    else:
        _summarize(result)
    return result.exit_code


def _show(event: events.Event) -> None:
    if isinstance(event, events.LogLine):
        sys.stderr.write(f"{event.data.text}\n")
    elif isinstance(event, events.Progress):
        sys.stderr.write(f"[{event.data.percent:5.1f}%] {event.data.msg}\n")
    elif isinstance(event, events.StageUpdate):
        detail = f" {event.data.seeds}" if event.data.seeds else ""
        sys.stderr.write(f"== {event.data.stage}{detail}\n")
    elif isinstance(event, events.MetricUpdate):
        sys.stderr.write(
            f"metric {event.data.metric}={event.data.value} ({event.data.split}, step {event.data.step})\n"
        )
    sys.stderr.flush()


def _summarize(result: sandbox.SandboxResult) -> None:
    print(f"outcome: {result.outcome} (exit {result.exit_code})")
    if result.error:
        print(f"error: {result.error['code']}: {result.error['message']}")
    if result.metrics is not None:
        print(f"metrics: {json.dumps(result.metrics, sort_keys=True)}")
    for name, path in result.artifacts.items():
        print(f"artifact {name}: {path}")
    for note in result.limits_not_applied:
        print(f"limit not applied: {note}")
