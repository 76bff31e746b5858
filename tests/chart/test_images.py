"""The three Dockerfiles build from the repository root with pinned bases and a non-root user,
and `make images` builds exactly those three. (The builds themselves run in the kind suite.)"""

from __future__ import annotations

import fnmatch
import re
import subprocess

import pytest
from tests.chart import chart_manifests

pytestmark = pytest.mark.chart

REPO = chart_manifests.REPO
DOCKERFILES = {
    "p2n-operator": REPO / "operator" / "Dockerfile",
    "p2n-api": REPO / "api" / "Dockerfile",
    "p2n-runner": REPO / "runner-image" / "Dockerfile",
}
# A version tag with at least major.minor.patch (e.g. python:3.11.11-slim-bookworm) or a digest.
PINNED = re.compile(r"^[\w./-]+(:\d+\.\d+\.\d+[\w.-]*)?(@sha256:[0-9a-f]{64})?$")


def _instructions(path):
    assert path.is_file(), f"{path.relative_to(REPO)} is missing: `make images` cannot build it"
    text = re.sub(r"\\\n", " ", path.read_text())
    args = dict(re.findall(r"^ARG\s+(\w+)=(\S+)", text, re.MULTILINE))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return args, lines


def _dockerignored(relative: str) -> bool:
    patterns = [
        p.strip()
        for p in (REPO / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    parts = relative.split("/")
    return any(fnmatch.fnmatch("/".join(parts[: i + 1]), p) for p in patterns for i in range(len(parts)))


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_base_images_are_pinned(image):
    args, lines = _instructions(DOCKERFILES[image])
    bases = [line.split()[1] for line in lines if line.upper().startswith("FROM ")]
    assert bases
    stages = {
        line.split()[-1] for line in lines if line.upper().startswith("FROM ") and " AS " in line.upper()
    }
    for base in bases:
        resolved = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
        if resolved in stages:
            continue
        assert PINNED.match(resolved), f"{image}: base {resolved} is not pinned to a full version or digest"
        assert ":" in resolved or "@" in resolved, resolved


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_final_stage_runs_as_a_numeric_non_root_user(image):
    _, lines = _instructions(DOCKERFILES[image])
    last_from = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    users = [line.split()[1] for line in lines[last_from:] if line.upper().startswith("USER ")]
    assert users, f"{image}: no USER in the final stage"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), f"{image}: USER {users[-1]} is not numeric (Kubernetes cannot verify runAsNonRoot)"
    assert int(uid) >= 10000


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_copied_sources_exist_in_the_build_context(image):
    _, lines = _instructions(DOCKERFILES[image])
    for line in lines:
        if not line.upper().startswith("COPY ") or "--from=" in line:
            continue
        sources = [word for word in line.split()[1:-1] if not word.startswith("--")]
        for source in sources:
            assert (REPO / source).exists(), f"{image}: COPY {source} is not in the repository"
            assert not _dockerignored(source.rstrip("/")), (
                f"{image}: COPY {source} is excluded by .dockerignore"
            )


def test_make_images_builds_the_three_images():
    proc = subprocess.run(
        ["make", "-n", "images", "IMAGE_REGISTRY=registry.test/p2n", "IMAGE_TAG=9.9.9"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    builds = [line for line in proc.stdout.splitlines() if " build " in line]
    assert len(builds) == 3
    for image, dockerfile in DOCKERFILES.items():
        expected = f"-f {dockerfile.relative_to(REPO)} -t registry.test/p2n/{image}:9.9.9 ."
        assert any(line.endswith(expected) for line in builds), (expected, builds)


def test_image_tag_defaults_to_the_chart_app_version():
    proc = subprocess.run(
        ["make", "--no-print-directory", "-n", "image-api"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    chart = (chart_manifests.CHART / "Chart.yaml").read_text()
    app_version = re.search(r'^appVersion:\s*"?([^"\s]+)"?', chart, re.MULTILINE).group(1)
    assert proc.stdout.strip().endswith(f"p2n-api:{app_version} .")


def test_api_dockerfile_passes_checkov():
    reports = chart_manifests.checkov("-f", str(DOCKERFILES["p2n-api"]), "--framework", "dockerfile")
    failed = [
        (c["check_id"], c["check_name"]) for r in reports for c in r["results"].get("failed_checks", [])
    ]
    assert failed == []
    passed = {c["check_id"] for r in reports for c in r["results"]["passed_checks"]}
    assert {"CKV_DOCKER_2", "CKV_DOCKER_3", "CKV_DOCKER_7"} <= passed  # healthcheck, user, pinned tag
