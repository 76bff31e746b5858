"""``python -m bench`` (``make bench``): run the benchmarks, print the table, write the JSON.

    python -m bench                      # all five, 5 repeats each where repeats apply
    python -m bench --only execution     # one benchmark (written to results/<date>-execution.json)
    python -m bench --quick              # smoke run: 1 repeat, small counts, nothing written

A benchmark that cannot run here (its part missing) or that fails reports its reason in the table;
the others still run.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import sys
import tempfile
import time
import traceback
from pathlib import Path

from bench import context, figures, report

# Key -> (module, title); the modules are imported only when their benchmark runs.
BENCHMARKS: dict[str, tuple[str, str]] = {
    "execution": ("bench.execution", "1. Notebook execution"),
    "control-plane": ("bench.control_plane", "2. Control plane"),
    "relay": ("bench.relay", "3. SSE relay"),
    "ingestion": ("bench.ingestion", "4. Event ingestion"),
    "operator-memory": ("bench.operator_memory", "5. Operator memory"),
}


def _run_one(key: str, ctx: context.Context) -> figures.Result:
    module_name, title = BENCHMARKS[key]
    started = time.perf_counter()
    try:
        result: figures.Result = importlib.import_module(module_name).run(ctx)
    except context.Unavailable as exc:
        result = figures.Result(key=key, title=title, unavailable=str(exc))
    except ImportError as exc:
        result = figures.Result(key=key, title=title, unavailable=f"cannot import {exc.name or exc}")
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        result = figures.Result(
            key=key, title=title, unavailable=f"failed: {type(exc).__name__}: {_first_line(exc)}"[:300]
        )
    result.seconds = time.perf_counter() - started
    context.say(f"{key}: done in {result.seconds:.0f}s")
    return result


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.splitlines()[0] if __doc__ else ""
    )
    parser.add_argument(
        "--only", action="append", choices=list(BENCHMARKS), help="run only these (repeatable)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="repeats per measurement (default 5)")
    parser.add_argument("--quick", action="store_true", help="smoke run with tiny counts; writes no results")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    keys = args.only or list(BENCHMARKS)
    started = datetime.datetime.now(datetime.UTC)
    host = report.machine()
    with tempfile.TemporaryDirectory(prefix="p2n-bench-") as scratch:
        ctx = context.Context(repeats=max(1, args.repeats), quick=args.quick, scratch=Path(scratch))
        results = [_run_one(key, ctx) for key in keys]
    print(report.table(results))
    if not (args.quick or args.no_write):
        path = report.write(report.document(results, started, host), started, args.only or ())
        print(f"\nresults written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
