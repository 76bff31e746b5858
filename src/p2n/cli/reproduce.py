"""``p2n reproduce PAPER``: the whole pipeline on this machine, with progress on stderr.

stdout carries the result only: a short readable summary, or with ``--json`` the report JSON, so
``p2n reproduce paper.md --json | jq .verdict`` works. The exit status is 0 when a verdict was
reached (whatever it is) and 1 when a typed error stopped the reproduction.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from p2n import settings, telemetry
from p2n.pipeline import local, report

EXIT_ERROR = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "reproduce",
        help="reproduce a paper's claim locally and write report.json/report.html",
        description="Ingest PAPER, extract its claims, plan and run one in the local sandbox, report.",
    )
    parser.add_argument("paper", metavar="PAPER", help="PDF, text or markdown file, or an http(s)/s3 URL")
    parser.add_argument(
        "--claim", metavar="ID", help="claim id (default: the first claim the planner supports)"
    )
    parser.add_argument(
        "--seeds", type=seed_list, default=(0,), metavar="0,1,2", help="seeds to run (default 0)"
    )
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="output directory (default ./p2n-out/<paper>)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--provider", choices=("auto", "offline", "openai"), default="auto")
    parser.add_argument(
        "--tolerance", type=float, default=report.DEFAULT_TOLERANCE_PERCENT, metavar="PERCENT",
        help="relative shortfall tolerated beyond the claim's precision (default %(default)s%%)",
    )  # fmt: skip
    parser.add_argument("--no-history", action="store_true", help="do not record the runs in the database")
    parser.add_argument("--kid", action="store_true", help="also write a grade-3 storybook (storybook.json)")
    parser.set_defaults(func=run)


def seed_list(text: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"seeds must be comma-separated integers, not {text!r}") from exc
    if not seeds or any(s < 0 for s in seeds):
        raise argparse.ArgumentTypeError("give at least one non-negative seed")
    return seeds


def _stderr(message: str) -> None:
    print(f"p2n: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    config = settings.get_settings()
    out_dir: Path = args.out or Path("p2n-out") / Path(args.paper.split("?", 1)[0].rstrip("/")).stem
    options = local.Options(
        claim_id=args.claim,
        seeds=args.seeds,
        provider=args.provider,
        tolerance_percent=args.tolerance,
        record_history=not args.no_history,
        storybook=args.kid,
    )
    # Spans are exported only when an OTLP endpoint is configured, as in the services.
    tracing = telemetry.configure_tracing(config, service="p2n-cli")
    try:
        result = local.reproduce(args.paper, out_dir, settings=config, options=options, say=_stderr)
    finally:
        if tracing is not None:
            tracing.shutdown()
    if args.json:
        print(result.to_json())
    else:
        print(summary(result, out_dir))
    return EXIT_ERROR if result.error is not None and result.verdict is None else 0


def summary(result: report.Report, out_dir: Path) -> str:
    """The human-readable result: paper, claim, plan, per-seed values, verdict, where the files are."""
    lines = [f"Paper:    {result.paper.title or result.paper.source}  (sha256 {result.paper.sha256[:12]}…)"]
    lines.append(
        f"Claims:   {len(result.claims)} found" + (f", reproducing {result.claim.id}" if result.claim else "")
    )
    if result.claim is not None:
        lines.append(f'          "{result.claim.citation.quote}" (page {result.claim.citation.page})')
    if result.plan is not None:
        lines.append(
            f"Plan:     {result.plan['model']['estimator']} on {result.plan['dataset']['name']}, "
            f"{result.plan['protocol']['description']}"
        )
    for run in result.runs:
        value = "no value" if run.observed is None else f"{result.metric} = {run.observed:.6g}"
        problem = f"  [{run.error.code}: {run.error.message}]" if run.error else ""
        lines.append(f"Seed {run.seed}:   {run.phase}, {value}{problem}")
    if result.verdict is not None:
        gap = "n/a" if result.gap_percent is None else f"{result.gap_percent:+.2f}%"
        observed = "n/a" if result.observed is None else f"{result.observed:.6g}"
        lines.append(
            f"Verdict:  {result.verdict.upper().replace('_', ' ')}: claimed {result.claimed:.6g}, "
            f"observed {observed}, gap {gap}"
        )
    if result.error is not None:
        lines.append(f"Error:    {result.error.code}: {result.error.message}")
    lines.append(f"Report:   {out_dir / 'report.json'}, {out_dir / 'report.html'}")
    return "\n".join(lines)
