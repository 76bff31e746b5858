"""The results table printed at the end of ``make bench`` and the JSON file written beside it."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import figures

RESULTS_DIR = Path(__file__).parent / "results"
_HEADERS = ("benchmark", "figure", "P2N", "baseline", "ratio", "target", "met")


def _met(figure: figures.Figure) -> str:
    met = figure.met
    return "—" if met is None else ("yes" if met else "NO")


def rows(results: Sequence[figures.Result]) -> list[tuple[str, ...]]:
    """One row per figure; a benchmark that could not run gets one row saying why."""
    table: list[tuple[str, ...]] = []
    for result in results:
        if result.unavailable is not None:
            table.append((result.title, f"not available: {result.unavailable}", "", "", "", "", ""))
            continue
        for index, figure in enumerate(result.figures):
            table.append(
                (
                    result.title if index == 0 else "",
                    figure.name,
                    figures.format_stat(figure.value),
                    figures.format_stat(figure.baseline),
                    figures.format_stat(figure.ratio),
                    figure.target.describe() if figure.target else "—",
                    _met(figure),
                )
            )
    return table


def table(results: Sequence[figures.Result]) -> str:
    """A plain-text table (also valid Markdown) of every figure next to its target."""
    body = rows(results)
    widths = [max(len(row[i]) for row in [_HEADERS, *body]) for i in range(len(_HEADERS))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (width + 2) for width in widths) + "|"
    notes = [
        f"- {result.title}, {figure.name}: {figure.note}"
        for result in results
        for figure in result.figures
        if figure.note
    ]
    return "\n".join(
        [line(_HEADERS), separator, *(line(row) for row in body), *(["", *notes] if notes else [])]
    )


def machine() -> dict[str, Any]:
    """What the numbers were measured on: they only compare within one run on one machine."""
    load = os.getloadavg()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(value, 2) for value in load],
    }


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def document(
    results: Sequence[figures.Result], started: datetime.datetime, host: dict[str, Any]
) -> dict[str, Any]:
    return {
        "started": started.isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": host,
        "benchmarks": [result.to_json() for result in results],
    }


def write(
    doc: dict[str, Any], started: datetime.datetime, only: Sequence[str] = (), directory: Path = RESULTS_DIR
) -> Path:
    """``bench/results/<date>.json`` (the day's last full run); a partial run names its benchmarks."""
    directory.mkdir(parents=True, exist_ok=True)
    suffix = "".join(f"-{key}" for key in only)
    path = directory / f"{started:%Y-%m-%d}{suffix}.json"
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    return path
