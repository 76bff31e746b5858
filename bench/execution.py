"""Benchmark 1: notebook execution overhead of ``p2n-runner`` against papermill and plain nbclient.

All three run the same notebooks the same way: each execution is a fresh subprocess of the venv's
Python, timed from spawn to exit, so interpreter start, imports, kernel start, the cells, writing
the executed notebook and kernel shutdown are all inside the figure. Output goes to /dev/null.
The repeats are interleaved (every repeat runs each notebook with each tool, in an order rotated
per repeat) so machine noise spreads over all of them, and each ratio is taken between samples of
the same repeat. The runner gets an artifact cap large enough that it drops no output, so it does
all its work (a JSON event per printed line, ``logs.txt``, ``events.jsonl``) on every line.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import nbformat

from bench import context, figures

TOOLS = ("p2n-runner", "papermill", "nbclient")
_NBCLIENT = (
    "import sys, nbformat, nbclient\n"
    "nb = nbformat.read(sys.argv[1], as_version=4)\n"
    "nbclient.execute(nb, cwd=sys.argv[3])\n"
    "nbformat.write(nb, sys.argv[2])\n"
)
_RUNNER_ARTIFACT_CAP = 256 * 1024 * 1024
_RUN_TIMEOUT_SECONDS = 300
TARGETED = "100 small cells"
TARGET_VS_PAPERMILL = figures.Target(
    "ratio", "<=", 1.0, basis="faster than papermill on the 100-cell notebook (the issue's target)"
)
TARGET_VS_NBCLIENT = figures.Target(
    "ratio", "<=", 1.15, basis="within 15% of plain nbclient on the 100-cell notebook (the issue's target)"
)


def notebooks() -> dict[str, list[str]]:
    """The cells of each benchmark notebook, by name."""
    return {
        "1 cell": ["x = 1"],
        TARGETED: [f"value = {i} * 2\nprint(value)" for i in range(100)],
        "100k lines": ["for i in range(100_000):\n    print(i)"],
    }


def write_notebook(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]  # type: ignore[no-untyped-call]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))  # type: ignore[no-untyped-call]
    return path


def command(tool: str, python: str, notebook: Path, out: Path) -> list[str]:
    """The argv that executes ``notebook`` with ``tool``, writing what it writes under ``out``."""
    if tool == "p2n-runner":
        return [
            python,
            "-m",
            "p2n_runner",
            "--notebook",
            str(notebook),
            "--run-id",
            "bench",
            "--out-dir",
            str(out / "artifacts"),
            "--work-dir",
            str(out / "work"),
            "--max-artifact-bytes",
            str(_RUNNER_ARTIFACT_CAP),
            "--timeout-seconds",
            str(_RUN_TIMEOUT_SECONDS),
        ]
    if tool == "papermill":
        return [
            python,
            "-m",
            "papermill",
            str(notebook),
            str(out / "executed.ipynb"),
            "--kernel",
            "python3",
            "--cwd",
            str(out),
            "--no-progress-bar",
            "--no-log-output",
        ]
    if tool == "nbclient":
        return [python, "-c", _NBCLIENT, str(notebook), str(out / "executed.ipynb"), str(out)]
    raise ValueError(f"unknown tool {tool!r}")


def time_once(tool: str, python: str, notebook: Path, scratch: Path) -> float:
    """Seconds from spawn to exit of one execution; a failed execution aborts the benchmark."""
    out = scratch / f"{tool}-{notebook.stem}"
    shutil.rmtree(out, ignore_errors=True)
    (out / "work").mkdir(parents=True)
    argv = command(tool, python, notebook, out)
    started = time.perf_counter()
    completed = subprocess.run(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=_RUN_TIMEOUT_SECONDS + 60,
        check=False,
        cwd=out,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        tail = completed.stderr.decode("utf-8", "replace")[-800:]
        raise RuntimeError(f"{tool} failed on {notebook.name} (exit {completed.returncode}): {tail}")
    return elapsed


def run(ctx: context.Context) -> figures.Result:
    repeats = ctx.scaled(ctx.repeats, 1)
    scratch = ctx.scratch / "execution"
    scratch.mkdir(parents=True, exist_ok=True)
    paths = {
        name: write_notebook(scratch / f"nb-{index}.ipynb", cells)
        for index, (name, cells) in enumerate(notebooks().items())
    }
    context.say("execution: warm-up (one unmeasured run per tool)")
    for tool in TOOLS:
        time_once(tool, ctx.python, paths["1 cell"], scratch)
    samples: dict[tuple[str, str], list[float]] = {(nb, tool): [] for nb in paths for tool in TOOLS}
    for repeat in range(repeats):
        context.say(f"execution: repeat {repeat + 1}/{repeats}")
        order = TOOLS[repeat % len(TOOLS) :] + TOOLS[: repeat % len(TOOLS)]
        for name, path in paths.items():
            for tool in order:
                samples[(name, tool)].append(time_once(tool, ctx.python, path, scratch))
    result = figures.Result(
        key="execution",
        title="1. Notebook execution",
        method=__doc__ or "",
        details={
            "repeats": repeats,
            "samples_seconds": {f"{nb} / {tool}": s for (nb, tool), s in samples.items()},
        },
    )
    for name in paths:
        ours = samples[(name, "p2n-runner")]
        for baseline in ("papermill", "nbclient"):
            target = None
            if name == TARGETED:
                target = TARGET_VS_PAPERMILL if baseline == "papermill" else TARGET_VS_NBCLIENT
            result.figures.append(
                figures.compared(
                    f"{name}: wall time vs {baseline}", ours, samples[(name, baseline)], "s", target
                )
            )
    return result
