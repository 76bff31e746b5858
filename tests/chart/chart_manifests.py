"""Running helm on the chart and picking objects out of its output, for the chart tier's tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "p2n"
VALUES_ALL_ON = Path(__file__).with_name("values-all-on.yaml")
RELEASE = "p2n"
CHECKOV = "checkov==3.3.30"
RELEASE_NAMESPACE = "p2n-system"
# helm keeps its config and cache under HOME; keep them out of the user's and the repo's.
_HELM_HOME = Path(tempfile.gettempdir()) / "p2n-chart-tests-helm-home"

# The values sets every manifest-level test runs against: the defaults and every option on.
VALUES_SETS: dict[str, tuple[Path, ...]] = {"default": (), "all-on": (VALUES_ALL_ON,)}


@dataclass(frozen=True)
class Helm:
    """The helm binary, run on the chart with values files and ``--set`` overrides."""

    binary: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={"HOME": str(_HELM_HOME), "PATH": "/usr/bin:/bin", "KUBECONFIG": "/dev/null"},
        )

    @staticmethod
    def _values_args(values: Sequence[Path], sets: Sequence[str]) -> list[str]:
        args: list[str] = []
        for path in values:
            args += ["-f", str(path)]
        for item in sets:
            args += ["--set", item]
        return args

    def lint(self, values: Sequence[Path] = (), sets: Sequence[str] = ()) -> subprocess.CompletedProcess[str]:
        return self.run("lint", "--strict", str(CHART), *self._values_args(values, sets))

    def template(
        self, values: Sequence[Path] = (), sets: Sequence[str] = (), *extra: str
    ) -> subprocess.CompletedProcess[str]:
        return self.run(
            "template",
            RELEASE,
            str(CHART),
            "--namespace",
            RELEASE_NAMESPACE,
            *self._values_args(values, sets),
            *extra,
        )

    def manifests(
        self, values: Sequence[Path] = (), sets: Sequence[str] = (), *extra: str
    ) -> list[dict[str, Any]]:
        proc = self.template(values, sets, *extra)
        assert proc.returncode == 0, proc.stderr
        return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]

    def notes(self, values: Sequence[Path] = (), sets: Sequence[str] = ()) -> str:
        """NOTES.txt as `helm install` prints it (client-side dry run, no cluster needed)."""
        proc = self.run(
            "install",
            RELEASE,
            str(CHART),
            "--namespace",
            RELEASE_NAMESPACE,
            "--dry-run=client",
            *self._values_args(values, sets),
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split("NOTES:", 1)[1]


def of_kind(manifests: Sequence[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in manifests if m["kind"] == kind]


def one(
    manifests: Sequence[dict[str, Any]], kind: str, name: str, namespace: str | None = None
) -> dict[str, Any]:
    found = [
        m
        for m in of_kind(manifests, kind)
        if m["metadata"]["name"] == name
        and (namespace is None or m["metadata"].get("namespace") == namespace)
    ]
    assert len(found) == 1, f"expected one {kind} {namespace}/{name}, found {len(found)}"
    return found[0]


def checkov(*args: str) -> list[dict[str, Any]]:
    """checkov's JSON reports for ``args`` (e.g. ``-d DIR --framework kubernetes``).

    It runs through ``uv tool run`` because its pins conflict with the project's venv.
    """
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip(
            "uv is not on PATH; checkov runs as `uv tool run` because its pins conflict with the venv"
        )
    proc = subprocess.run(
        [
            uv,
            "tool",
            "run",
            "--from",
            CHECKOV,
            "checkov",
            *args,
            "--skip-download",
            "--compact",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.stdout.strip(), proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    return report if isinstance(report, list) else [report]
