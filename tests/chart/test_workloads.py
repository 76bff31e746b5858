"""The operator and API pods: one Recreate operator, probes, requests and limits, restricted
security contexts, and configuration only through documented P2N_* variables and Secret refs."""

from __future__ import annotations

import pytest
from tests.chart import chart_manifests

from p2n import settings

pytestmark = pytest.mark.chart

VALUES_SETS = sorted(chart_manifests.VALUES_SETS)
RESOURCES = {"cpu", "memory", "ephemeral-storage"}
SECRET_SETTINGS = {
    "P2N_DATABASE_URL",
    "P2N_S3_ACCESS_KEY_ID",
    "P2N_S3_SECRET_ACCESS_KEY",
    "P2N_OPENAI_API_KEY",
}


def _deployments(manifests):
    return {
        m["metadata"]["name"].rsplit("-", 1)[1]: m for m in chart_manifests.of_kind(manifests, "Deployment")
    }


def _container(deployment):
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _settings_variables() -> set[str]:
    return {f"P2N_{name.upper()}" for name in settings.Settings.model_fields}


def test_operator_is_a_single_replica_replaced_with_recreate(rendered):
    for values_set in VALUES_SETS:
        operator = _deployments(rendered(values_set))["operator"]
        assert operator["spec"]["replicas"] == 1
        assert operator["spec"]["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize("values_set", VALUES_SETS)
def test_probes_resources_and_restricted_security_contexts(rendered, values_set):
    deployments = _deployments(rendered(values_set))
    assert set(deployments) == {"operator", "api"}
    probes = {"operator": ("/healthz", "/healthz", 8080), "api": ("/healthz", "/readyz", 8000)}
    for component, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        container = _container(deployment)
        live, ready, port = probes[component]
        assert container["livenessProbe"]["httpGet"]["path"] == live
        assert container["readinessProbe"]["httpGet"]["path"] == ready
        # The operator's metrics port is checked in test_observability.py.
        assert {p["containerPort"] for p in container["ports"] if p["name"] != "metrics"} == {port}
        assert set(container["resources"]["requests"]) == RESOURCES
        assert set(container["resources"]["limits"]) == RESOURCES
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] >= 10000
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["privileged"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert not any(pod.get(key) for key in ("hostNetwork", "hostPID", "hostIPC"))
        # The read-only root needs a writable /tmp (P2N_HOME lives there), bounded in size.
        (tmp,) = pod["volumes"]
        assert tmp["emptyDir"]["sizeLimit"]
        assert {m["mountPath"] for m in container["volumeMounts"]} == {"/tmp"}


@pytest.mark.parametrize("values_set", VALUES_SETS)
def test_environment_is_documented_settings_and_secrets_come_from_secret_refs(rendered, values_set):
    known = _settings_variables()
    manifests = rendered(values_set)
    assert not chart_manifests.of_kind(manifests, "Secret")
    for deployment in _deployments(manifests).values():
        env = _container(deployment)["env"]
        names = [item["name"] for item in env]
        assert len(names) == len(set(names))
        assert set(names) <= known, set(names) - known
        for item in env:
            if item["name"] in SECRET_SETTINGS or item["name"] == "P2N_STATIC_TOKENS":
                assert "value" not in item
                assert set(item["valueFrom"]) == {"secretKeyRef"}
            else:
                assert isinstance(item["value"], str)


def test_settings_from_the_chart_environment_parse(rendered, monkeypatch):
    # The rendered values must be acceptable to pydantic-settings itself, not just look right.
    for deployment in _deployments(rendered("all-on")).values():
        for item in _container(deployment)["env"]:
            monkeypatch.setenv(item["name"], item.get("value", "secret-from-a-secret-ref"))
        parsed = settings.Settings()
        assert parsed.s3_bucket == "p2n-artifacts"
        assert parsed.log_format == "text"


def test_credentials_reference_the_configured_secrets(rendered):
    api = _deployments(rendered("all-on"))["api"]
    refs = {
        item["name"]: (item["valueFrom"]["secretKeyRef"]["name"], item["valueFrom"]["secretKeyRef"]["key"])
        for item in _container(api)["env"]
        if "valueFrom" in item
    }
    assert refs == {
        "P2N_DATABASE_URL": ("p2n-database", "url"),
        "P2N_S3_ACCESS_KEY_ID": ("p2n-s3", "AWS_ACCESS_KEY_ID"),
        "P2N_S3_SECRET_ACCESS_KEY": ("p2n-s3", "AWS_SECRET_ACCESS_KEY"),
        "P2N_OPENAI_API_KEY": ("p2n-openai", "api-key"),
        "P2N_STATIC_TOKENS": ("p2n-static-tokens", "tokens"),
    }


def test_without_openai_or_s3_secrets_no_credentials_are_referenced(helm):
    manifests = helm.manifests((), ("s3.existingSecret=",))
    env = {item["name"] for item in _container(_deployments(manifests)["api"])["env"]}
    assert "P2N_OPENAI_API_KEY" not in env
    assert "P2N_S3_ACCESS_KEY_ID" not in env
    assert "P2N_DATABASE_URL" in env


def test_api_service_ingress_and_disruption_budget(rendered):
    manifests = rendered("all-on")
    service = chart_manifests.one(manifests, "Service", "p2n-all-api")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    api_labels = _deployments(manifests)["api"]["spec"]["selector"]["matchLabels"]
    assert service["spec"]["selector"] == api_labels
    ingress = chart_manifests.one(manifests, "Ingress", "p2n-all-api")
    assert ingress["spec"]["tls"] == [{"hosts": ["p2n.example.org"], "secretName": "p2n-tls"}]
    assert ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "p2n-all-api"
    budget = chart_manifests.one(manifests, "PodDisruptionBudget", "p2n-all-api")
    assert budget["spec"]["selector"]["matchLabels"] == api_labels
    default = rendered("default")
    assert not chart_manifests.of_kind(default, "Ingress")
    assert not chart_manifests.of_kind(default, "PodDisruptionBudget")


@pytest.mark.parametrize("values_set", VALUES_SETS)
def test_every_pod_is_selected_by_a_network_policy_of_its_namespace(rendered, values_set):
    manifests = rendered(values_set)
    policies = chart_manifests.of_kind(manifests, "NetworkPolicy")
    for deployment in _deployments(manifests).values():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        selecting = [
            p
            for p in policies
            if p["metadata"]["namespace"] == deployment["metadata"]["namespace"]
            and p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(selecting) == 1, deployment["metadata"]["name"]


def test_images_default_to_the_app_version_and_pin_digests_when_given(rendered):
    default = _deployments(rendered("default"))
    assert _container(default["operator"])["image"] == "ghcr.io/p2n-dev/p2n-operator:0.1.0"
    assert _container(default["api"])["image"] == "ghcr.io/p2n-dev/p2n-api:0.1.0"
    all_on = _deployments(rendered("all-on"))
    assert _container(all_on["api"])["image"] == "registry.example.com/p2n/p2n-api:0.1.0@sha256:" + "2" * 64
    pull_secrets = all_on["api"]["spec"]["template"]["spec"]["imagePullSecrets"]
    assert pull_secrets == [{"name": "registry-credentials"}]
