"""The operator's generated sandbox Pod and NetworkPolicy pass schema validation and a security scan.

The pod is never written as YAML by a person: the operator builds it from settings. So the scan
runs on the builder's output, with the settings a production install uses (runtimeClassName on,
artifact store by CIDR), dumped to YAML exactly as ``kubectl apply`` would receive it.
"""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from tests.chart import chart_manifests

from p2n import resources, settings
from p2n_operator import networkpolicy, podspec

pytestmark = pytest.mark.chart

KUBERNETES_VERSION = "1.37.0"

# Checks skipped on purpose, each for a reason that holds for every sandbox pod:
SKIPPED_CHECKS = {
    # Image digest: the runner image is operator configuration (P2N_RUNNER_IMAGE); pinning by
    # digest is the installer's choice in the chart values, not something the builder can know.
    "CKV_K8S_43",
    # Liveness/readiness probes: the pod runs one batch job to completion and serves nothing;
    # activeDeadlineSeconds bounds its life instead of a probe.
    "CKV_K8S_8",
    "CKV_K8S_9",
}


def _settings() -> settings.Settings:
    return settings.Settings(
        runner_image="ghcr.io/p2n-dev/p2n-runner:0.1.0",
        runtime_class_name="gvisor",
        artifact_store_cidr="10.96.0.10/32",
        artifact_store_port=9000,
    )


def _run() -> resources.Run:
    return resources.Run.model_validate(
        {
            "metadata": {
                "name": "iris-seed-0",
                "namespace": "research",
                "uid": "5b1c6f4e-0000-4000-8000-000000000001",
            },
            "spec": {"planRef": {"name": "iris-plan"}, "seed": 0, "resources": {"limits": {"memory": "1Gi"}}},
        }
    )


def _plan() -> resources.Plan:
    return resources.Plan.model_validate(
        {
            "metadata": {"name": "iris-plan", "namespace": "research"},
            "spec": {"paperRef": {"name": "iris"}, "claimId": "c1", "timeoutMinutes": 5},
            "status": {
                "phase": "Ready",
                "plan": {
                    "dataset": "iris",
                    "model": "logreg",
                    "protocol": "holdout",
                    "metric": "accuracy",
                    "target": 0.9,
                },
            },
        }
    )


def _manifests() -> list[dict]:
    cfg = _settings()
    urls = {name: f"https://s3.example/b/{name}?X-Amz-Signature=x" for name in podspec.ARTIFACT_NAMES}
    pod = podspec.sandbox_pod_for(
        _run(),
        _plan(),
        cfg,
        urls,
        "https://s3.example/b/nb.ipynb?X-Amz-Signature=y",
        run_id="research/iris-seed-0",
    )
    return [pod, networkpolicy.sandbox_network_policy("research", cfg)]


@pytest.fixture(scope="module")
def manifest_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sandbox") / "sandbox.yaml"
    path.write_text(yaml.safe_dump_all(_manifests(), sort_keys=False))
    return path


@pytest.mark.parametrize("kind", ["Pod", "NetworkPolicy"])
def test_manifest_validates_strictly_against_the_kubernetes_schema(manifest_file, kind):
    (obj,) = [m for m in yaml.safe_load_all(manifest_file.read_text()) if m["kind"] == kind]
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_strict_validation_rejects_an_unknown_field(manifest_file):
    pod = next(iter(yaml.safe_load_all(manifest_file.read_text())))
    pod["spec"]["containers"][0]["securityContex"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)


def test_checkov_finds_no_failed_check(manifest_file):
    reports = chart_manifests.checkov(
        "-f",
        str(manifest_file),
        "--framework",
        "kubernetes",
        "--skip-check",
        ",".join(sorted(SKIPPED_CHECKS)),
    )
    failed = [
        (check["check_id"], check["check_name"], check.get("resource"))
        for rep in reports
        for check in rep["results"]["failed_checks"]
    ]
    assert failed == []
    passed = {check["check_id"] for rep in reports for check in rep["results"]["passed_checks"]}
    # The scan actually looked at the security context, the token and the resources.
    assert {"CKV_K8S_20", "CKV_K8S_22", "CKV_K8S_28", "CKV_K8S_38", "CKV_K8S_11", "CKV_K8S_13"} <= passed
