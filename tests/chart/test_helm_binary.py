"""scripts/install-helm.sh puts a working helm 4 where it is asked to, once."""

from __future__ import annotations

import os
import subprocess

import pytest
from tests.chart import chart_manifests

pytestmark = pytest.mark.chart

SCRIPT = chart_manifests.REPO / "scripts" / "install-helm.sh"


def _install(*args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return proc.stdout.strip()


def test_extracts_helm_4_into_the_requested_folder_once(tmp_path):
    target = tmp_path / "bin"
    path = _install("--dest", str(target))
    assert path == str(target / "helm")
    version = subprocess.run(
        [path, "version", "--short"], capture_output=True, text=True, check=True, timeout=60
    )
    assert version.stdout.startswith("v4.")
    first = os.stat(path).st_mtime_ns
    assert _install("--dest", str(target)) == path
    assert os.stat(path).st_mtime_ns == first
    assert [p.name for p in target.iterdir()] == ["helm"]  # no scratch files left behind


def test_folder_can_come_from_the_environment(tmp_path):
    assert _install(env={"P2N_HELM_DIR": str(tmp_path)}) == str(tmp_path / "helm")
