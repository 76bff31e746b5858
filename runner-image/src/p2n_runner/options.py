"""The runner's command line (the contract shared with the operator's pod spec and the sandbox).

p2n-runner --notebook SRC --run-id ID [--seed N] [--timeout-seconds N]
           (--out-dir DIR | --artifact-urls FILE_OR_JSON)
           [--target-metric NAME] [--max-artifact-bytes N] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

MAX_TIMEOUT_SECONDS = 25 * 60
DEFAULT_TIMEOUT_SECONDS = 600
DEFAULT_MAX_ARTIFACT_BYTES = 5 * 1024 * 1024
MIN_ARTIFACT_BYTES = 64 * 1024


@dataclass(frozen=True)
class Options:
    notebook: str
    run_id: str
    seed: int
    timeout_seconds: int
    out_dir: Path | None
    artifact_urls: str | None
    target_metric: str | None
    max_artifact_bytes: int
    work_dir: Path


def _timeout(value: str) -> int:
    seconds = int(value)
    if not 1 <= seconds <= MAX_TIMEOUT_SECONDS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_TIMEOUT_SECONDS} (25 minutes)")
    return seconds


def _artifact_bytes(value: str) -> int:
    size = int(value)
    if size < MIN_ARTIFACT_BYTES:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_ARTIFACT_BYTES}")
    return size


def _seed(value: str) -> int:
    seed = int(value)
    if not 0 <= seed < 2**32:
        raise argparse.ArgumentTypeError("must be between 0 and 2**32 - 1")
    return seed


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="p2n-runner",
        description="Execute one notebook with a real kernel; JSON events on stdout; exit code per outcome.",
    )
    parser.add_argument("--notebook", required=True, help="path, http(s) URL or s3://bucket/key")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--seed", type=_seed, default=0)
    parser.add_argument("--timeout-seconds", type=_timeout, default=DEFAULT_TIMEOUT_SECONDS)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out-dir", type=Path, help="write the artifacts into this directory")
    where.add_argument(
        "--artifact-urls", help="JSON (inline or a file) mapping artifact name -> presigned PUT URL"
    )
    parser.add_argument(
        "--target-metric", help="metric that metrics.json must contain (else E_METRICS_MISSING)"
    )
    parser.add_argument("--max-artifact-bytes", type=_artifact_bytes, default=DEFAULT_MAX_ARTIFACT_BYTES)
    parser.add_argument(
        "--work-dir", type=Path, default=Path("."), help="kernel cwd and scratch (default: cwd)"
    )
    return parser


def parse(argv: list[str] | None = None) -> Options:
    args = build_parser().parse_args(argv)
    notebook = args.notebook if "://" in args.notebook else str(Path(args.notebook).resolve())
    return Options(
        notebook=notebook,
        run_id=args.run_id,
        seed=args.seed,
        timeout_seconds=args.timeout_seconds,
        out_dir=args.out_dir.resolve() if args.out_dir else None,
        artifact_urls=args.artifact_urls,
        target_metric=args.target_metric,
        max_artifact_bytes=args.max_artifact_bytes,
        work_dir=args.work_dir.resolve(),
    )
