"""The copy-pasteable commands of the README's "Install on a cluster" match the chart: its values
file renders, and the Secrets it creates are the ones the chart references."""

from __future__ import annotations

import re

import pytest
from tests.chart import chart_manifests

pytestmark = pytest.mark.chart

DOC = chart_manifests.REPO / "README.md"


def _values_snippet() -> str:
    match = re.search(r"cat > my-values\.yaml <<'EOF'\n(.*?)\nEOF\n", DOC.read_text(), re.DOTALL)
    assert match, "README.md lost its my-values.yaml example"
    return match.group(1)


def test_the_documented_values_file_lints_and_renders(helm, tmp_path):
    values = tmp_path / "my-values.yaml"
    values.write_text(_values_snippet())
    lint = helm.lint((values,))
    assert lint.returncode == 0, lint.stdout + lint.stderr
    manifests = helm.manifests((values,))
    (operator,) = [
        m for m in chart_manifests.of_kind(manifests, "Deployment") if "operator" in m["metadata"]["name"]
    ]
    env = {e["name"]: e for e in operator["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["P2N_S3_BUCKET"]["value"] == "my-p2n-bucket"
    assert env["P2N_ARTIFACT_STORE_CIDR"]["value"]
    assert env["P2N_OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "p2n-openai"


def test_the_documented_secrets_are_the_ones_the_chart_reads(helm, tmp_path):
    values = tmp_path / "my-values.yaml"
    values.write_text(_values_snippet())
    manifests = helm.manifests((values,))
    referenced = {
        (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for deployment in chart_manifests.of_kind(manifests, "Deployment")
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        if "valueFrom" in e
    }
    created = set()
    for name, literals in re.findall(
        r"create secret generic (\S+) \\?\n?\s*((?:--from-literal=\S+\s*\\?\s*)+)", DOC.read_text()
    ):
        for key in re.findall(r"--from-literal=([^=\s]+)=", literals):
            created.add((name, key))
    assert referenced <= created, referenced - created
