"""`helm lint --strict` and `helm template` succeed for the defaults and with every option on,
and every rendered manifest passes strict validation against the Kubernetes 1.37 schemas."""

from __future__ import annotations

import copy
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml
from tests.chart import chart_manifests, custom_kinds

pytestmark = pytest.mark.chart

KUBERNETES_VERSION = "1.37.0"
VALUES_SETS = sorted(chart_manifests.VALUES_SETS)


@pytest.mark.parametrize("values_set", VALUES_SETS)
def test_helm_lint_strict_passes(helm, values_set):
    proc = helm.lint(chart_manifests.VALUES_SETS[values_set])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("values_set", VALUES_SETS)
def test_every_namespaced_object_names_its_namespace(rendered, values_set):
    cluster_scoped = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}
    manifests = rendered(values_set)
    assert len(manifests) > 20
    for manifest in manifests:
        namespace = manifest["metadata"].get("namespace")
        if manifest["kind"] in cluster_scoped:
            assert namespace is None, manifest["metadata"]
        else:
            assert namespace, manifest["metadata"]
            assert namespace != "default", manifest["metadata"]


@pytest.mark.parametrize("values_set", VALUES_SETS)
def test_every_manifest_passes_strict_schema_validation(rendered, values_set):
    failures = []
    for manifest in rendered(values_set):
        if manifest["kind"] in custom_kinds.SCHEMAS:
            # Not a core kind: kubernetes-validate has no schema for it (see custom_kinds).
            failures += [
                f"{manifest['kind']}/{manifest['metadata']['name']}: {e}"
                for e in custom_kinds.errors(manifest)
            ]
            continue
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{manifest['kind']}/{manifest['metadata']['name']}: {exc}")
    assert failures == []


@pytest.mark.parametrize("values_set", VALUES_SETS)
def test_kubernetes_validate_cli_accepts_the_rendered_chart(helm, tmp_path, values_set):
    proc = helm.template(chart_manifests.VALUES_SETS[values_set], (), "--include-crds")
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / "chart.yaml"
    path.write_text(proc.stdout)
    cli = subprocess.run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert cli.returncode == 0, cli.stdout + cli.stderr


def test_strict_validation_catches_a_misspelled_field(rendered):
    # The negative control: the same validator rejects a manifest the chart could plausibly emit.
    deployment = copy.deepcopy(chart_manifests.one(rendered("default"), "Deployment", "p2n-operator"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses duplicate keys, which PyYAML would silently collapse but the
    API server's strict field validation rejects."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        duplicates = {key for key in keys if keys.count(key) > 1}
        if duplicates:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate keys {duplicates}", node.start_mark
            )
        return super().construct_mapping(node, deep=deep)


@pytest.mark.parametrize("values_set", VALUES_SETS)
def test_template_output_has_no_duplicate_keys_or_empty_documents(helm, values_set):
    proc = helm.template(chart_manifests.VALUES_SETS[values_set], (), "--include-crds")
    assert proc.returncode == 0, proc.stderr
    documents = list(yaml.load_all(proc.stdout, Loader=_UniqueKeyLoader))
    assert all(isinstance(doc, dict) and doc.get("kind") for doc in documents)


def test_duplicate_keys_are_detected():
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.load("labels:\n  a: 1\n  a: 2\n", Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
