"""Every run namespace is hardened: Pod Security `restricted`, a quota and default limits with
ephemeral storage (and no GPUs), default-deny networking, and the sandbox's artifact-store egress
handed to the operator, which writes that one exception."""

from __future__ import annotations

import pytest
from tests.chart import chart_manifests

pytestmark = pytest.mark.chart

RUN_NAMESPACES = {"default": ["p2n-runs"], "all-on": ["p2n-team-a", "p2n-team-b"]}
RESOURCES = {"cpu", "memory", "ephemeral-storage"}


def _in(manifests, kind, namespace):
    return [
        m for m in chart_manifests.of_kind(manifests, kind) if m["metadata"].get("namespace") == namespace
    ]


def _operator_env(manifests) -> dict[str, str]:
    (operator,) = [
        m for m in chart_manifests.of_kind(manifests, "Deployment") if "operator" in m["metadata"]["name"]
    ]
    env = operator["spec"]["template"]["spec"]["containers"][0]["env"]
    return {item["name"]: item.get("value") for item in env}


@pytest.mark.parametrize("values_set", sorted(RUN_NAMESPACES))
def test_namespaces_enforce_the_restricted_pod_security_standard(rendered, values_set):
    namespaces = {
        m["metadata"]["name"]: m for m in chart_manifests.of_kind(rendered(values_set), "Namespace")
    }
    assert sorted(namespaces) == RUN_NAMESPACES[values_set]
    for namespace in namespaces.values():
        labels = namespace["metadata"]["labels"]
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
            assert labels[f"pod-security.kubernetes.io/{mode}-version"]


@pytest.mark.parametrize("values_set", sorted(RUN_NAMESPACES))
def test_quota_and_limit_range_cover_ephemeral_storage_and_forbid_gpus(rendered, values_set):
    manifests = rendered(values_set)
    for namespace in RUN_NAMESPACES[values_set]:
        (quota,) = _in(manifests, "ResourceQuota", namespace)
        hard = quota["spec"]["hard"]
        for resource in RESOURCES:
            assert f"requests.{resource}" in hard
            assert f"limits.{resource}" in hard
        assert hard["requests.nvidia.com/gpu"] == "0"
        assert int(hard["pods"]) > 0
        (limit_range,) = _in(manifests, "LimitRange", namespace)
        (container,) = limit_range["spec"]["limits"]
        assert container["type"] == "Container"
        for bound in ("default", "defaultRequest", "max"):
            assert set(container[bound]) == RESOURCES


@pytest.mark.parametrize("values_set", sorted(RUN_NAMESPACES))
def test_every_pod_of_a_run_namespace_is_denied_all_traffic_by_default(rendered, values_set):
    manifests = rendered(values_set)
    for namespace in RUN_NAMESPACES[values_set]:
        (policy,) = _in(manifests, "NetworkPolicy", namespace)
        assert policy["spec"]["podSelector"] == {}
        assert sorted(policy["spec"]["policyTypes"]) == ["Egress", "Ingress"]
        assert "ingress" not in policy["spec"]
        assert "egress" not in policy["spec"]


def test_artifact_store_egress_is_configured_on_the_operator(rendered):
    env = _operator_env(rendered("all-on"))
    assert env["P2N_ARTIFACT_STORE_CIDR"] == "52.216.0.0/15"
    assert env["P2N_ARTIFACT_STORE_PORT"] == "9000"
    assert env["P2N_ARTIFACT_STORE_NAMESPACE_LABELS"] == "kubernetes.io/metadata.name=minio"
    assert (
        env["P2N_ARTIFACT_STORE_POD_LABELS"]
        == "app.kubernetes.io/instance=store,app.kubernetes.io/name=minio"
    )
    assert env["P2N_SANDBOX_ALLOW_DNS"] == "true"
    default = _operator_env(rendered("default"))
    assert "P2N_ARTIFACT_STORE_CIDR" not in default
    assert "P2N_ARTIFACT_STORE_NAMESPACE_LABELS" not in default


def test_the_operator_watches_exactly_the_run_namespaces(rendered):
    default = _operator_env(rendered("default"))
    assert default["P2N_WATCH_NAMESPACES"] == "p2n-runs"
    assert _operator_env(rendered("all-on"))["P2N_WATCH_NAMESPACES"] == ""


def test_sandbox_settings_match_the_chart_objects(rendered):
    manifests = rendered("all-on")
    env = _operator_env(manifests)
    sandbox_accounts = {m["metadata"]["name"] for m in chart_manifests.of_kind(manifests, "ServiceAccount")}
    assert env["P2N_SANDBOX_SERVICE_ACCOUNT"] in sandbox_accounts
    assert env["P2N_RUNTIME_CLASS_NAME"] == "gvisor"
    assert env["P2N_RUNNER_IMAGE"].endswith("@sha256:" + "3" * 64)
    assert "P2N_RUNTIME_CLASS_NAME" not in _operator_env(rendered("default"))


def test_existing_namespaces_are_hardened_but_not_created(helm):
    manifests = helm.manifests((), ("runNamespaces.create=false", "runNamespaces.names={research}"))
    assert not chart_manifests.of_kind(manifests, "Namespace")
    for kind in ("ResourceQuota", "LimitRange", "NetworkPolicy", "ServiceAccount", "Role", "RoleBinding"):
        assert [
            m for m in chart_manifests.of_kind(manifests, kind) if m["metadata"]["namespace"] == "research"
        ]
    notes = helm.notes((), ("runNamespaces.create=false", "runNamespaces.names={research}"))
    assert "kubectl label namespace research" in notes
    assert "pod-security.kubernetes.io/enforce=restricted" in notes


def test_hardening_objects_can_be_switched_off(helm):
    manifests = helm.manifests(
        (),
        (
            "runNamespaces.resourceQuota.enabled=false",
            "runNamespaces.limitRange.enabled=false",
            "runNamespaces.networkPolicy.enabled=false",
        ),
    )
    assert not _in(manifests, "ResourceQuota", "p2n-runs")
    assert not _in(manifests, "LimitRange", "p2n-runs")
    assert not _in(manifests, "NetworkPolicy", "p2n-runs")


def _cleanup_job(manifests):
    jobs = [
        m for m in chart_manifests.of_kind(manifests, "Job") if m["metadata"]["name"].endswith("-cleanup")
    ]
    return jobs[0] if jobs else None


@pytest.mark.parametrize("values_set", sorted(RUN_NAMESPACES))
def test_uninstall_deletes_p2n_objects_before_the_operator_goes(rendered, values_set):
    manifests = rendered(values_set)
    job = _cleanup_job(manifests)
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-delete"
    pod = job["spec"]["template"]["spec"]
    (api,) = [
        m for m in chart_manifests.of_kind(manifests, "Deployment") if m["metadata"]["name"].endswith("-api")
    ]
    assert pod["serviceAccountName"] == api["spec"]["template"]["spec"]["serviceAccountName"]
    (container,) = pod["containers"]
    assert container["image"] == api["spec"]["template"]["spec"]["containers"][0]["image"]
    script = container["command"][-1]
    compile(script, "cleanup-hook", "exec")
    for namespace in RUN_NAMESPACES[values_set]:
        assert f'"{namespace}"' in script
    assert job["spec"]["activeDeadlineSeconds"] > 0


def test_no_cleanup_hook_for_namespaces_the_release_does_not_own(helm):
    assert _cleanup_job(helm.manifests((), ("runNamespaces.create=false",))) is None
    assert _cleanup_job(helm.manifests((), ("runNamespaces.cleanupOnUninstall=false",))) is None
