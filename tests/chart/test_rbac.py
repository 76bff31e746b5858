"""RBAC is least privilege: named resources and verbs only, no secrets, no pods/exec, and each
identity (operator, API, sandbox, people) gets exactly what its job needs."""

from __future__ import annotations

import pytest
from tests.chart import chart_manifests

pytestmark = pytest.mark.chart

VALUES_SETS = sorted(chart_manifests.VALUES_SETS)
ROLE_KINDS = ("Role", "ClusterRole")
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")
FORBIDDEN_RESOURCES = {"secrets", "pods/exec", "pods/attach", "pods/portforward", "serviceaccounts/token"}
FORBIDDEN_VERBS = {"escalate", "bind", "impersonate", "*"}
CRS = {"papers", "plans", "runs"}


def _rules(manifests, kinds=ROLE_KINDS):
    for manifest in manifests:
        if manifest["kind"] in kinds:
            for rule in manifest.get("rules", []):
                yield manifest, rule


def _grants(manifests, subject: str):
    """(apiGroup, resource) -> verbs granted to a ServiceAccount by any binding, with the scope."""
    roles = {(m["kind"], m["metadata"].get("namespace"), m["metadata"]["name"]): m for m in manifests}
    grants: dict[tuple[str, str], set[str]] = {}
    scopes: set[str] = set()
    for binding in (m for m in manifests if m["kind"] in BINDING_KINDS):
        if not any(s["kind"] == "ServiceAccount" and s["name"] == subject for s in binding["subjects"]):
            continue
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        role = roles[(ref["kind"], namespace, ref["name"])]
        scope = binding["metadata"].get("namespace") or "*cluster*"
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    grants.setdefault((group, resource), set()).update(rule["verbs"])
                    if group == "p2n.dev":
                        scopes.add(scope)
    return grants, scopes


@pytest.mark.parametrize("values_set", VALUES_SETS)
def test_no_wildcards_secrets_exec_or_escalation(rendered, values_set):
    for manifest, rule in _rules(rendered(values_set)):
        where = f"{manifest['kind']}/{manifest['metadata']['name']}"
        for field in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[field], where
        assert not FORBIDDEN_RESOURCES & set(rule["resources"]), where
        assert not FORBIDDEN_VERBS & set(rule["verbs"]), where
        assert "resourceNames" not in rule or rule["resourceNames"], where
        assert "nonResourceURLs" not in rule, where


@pytest.mark.parametrize("values_set", VALUES_SETS)
def test_operator_gets_its_resources_their_status_pods_logs_events_and_networkpolicies(rendered, values_set):
    manifests = rendered(values_set)
    (operator,) = [
        m for m in chart_manifests.of_kind(manifests, "Deployment") if "operator" in m["metadata"]["name"]
    ]
    grants, _ = _grants(manifests, operator["spec"]["template"]["spec"]["serviceAccountName"])
    for plural in CRS:
        assert {"get", "list", "watch", "patch"} <= grants[("p2n.dev", plural)]
        assert {"get", "patch"} <= grants[("p2n.dev", f"{plural}/status")]
        assert "create" not in grants[("p2n.dev", plural)]
    assert {"get", "list", "watch", "create", "delete"} <= grants[("", "pods")]
    assert grants[("", "pods/log")] == {"get"}
    assert "create" in grants[("", "events")]
    assert {"create", "delete"} <= grants[("networking.k8s.io", "networkpolicies")]
    assert grants[("", "configmaps")] == {"get"}
    assert not {key for key in grants if key[1] in FORBIDDEN_RESOURCES}


@pytest.mark.parametrize("values_set", VALUES_SETS)
def test_api_gets_its_resources_and_the_two_reviews_only(rendered, values_set):
    manifests = rendered(values_set)
    (api,) = [
        m for m in chart_manifests.of_kind(manifests, "Deployment") if m["metadata"]["name"].endswith("-api")
    ]
    grants, _ = _grants(manifests, api["spec"]["template"]["spec"]["serviceAccountName"])
    for plural in CRS:
        assert {"create", "get", "list", "watch", "delete"} <= grants[("p2n.dev", plural)]
    assert grants[("authentication.k8s.io", "tokenreviews")] == {"create"}
    assert grants[("authorization.k8s.io", "subjectaccessreviews")] == {"create"}
    assert set(grants) == {
        *(("p2n.dev", plural) for plural in CRS),
        ("authentication.k8s.io", "tokenreviews"),
        ("authorization.k8s.io", "subjectaccessreviews"),
        ("", "pods"),
        ("", "pods/log"),
    }
    assert grants[("", "pods")] == grants[("", "pods/log")] == {"get"}


def test_namespaced_by_default_and_cluster_wide_only_when_watching_all_namespaces(rendered):
    default = rendered("default")
    _, scopes = _grants(default, "p2n-operator")
    assert scopes == {"p2n-runs"}
    _, scopes = _grants(default, "p2n-api")
    assert scopes == {"p2n-runs"}
    all_on = rendered("all-on")  # operator.watchAllNamespaces: true
    _, scopes = _grants(all_on, "p2n-all-operator")
    assert scopes == {"*cluster*"}


@pytest.mark.parametrize("values_set", VALUES_SETS)
def test_sandbox_service_account_has_no_token_and_no_bindings(rendered, values_set):
    manifests = rendered(values_set)
    accounts = [
        m
        for m in chart_manifests.of_kind(manifests, "ServiceAccount")
        if m["metadata"]["name"] == "p2n-sandbox"
    ]
    run_namespaces = {m["metadata"]["namespace"] for m in chart_manifests.of_kind(manifests, "ResourceQuota")}
    assert {m["metadata"]["namespace"] for m in accounts} == run_namespaces
    assert all(m["automountServiceAccountToken"] is False for m in accounts)
    for binding in (m for m in manifests if m["kind"] in BINDING_KINDS):
        assert all(s["name"] != "p2n-sandbox" for s in binding["subjects"]), binding["metadata"]


def test_user_roles_are_per_kind_and_aggregate_to_the_builtin_roles(rendered):
    roles = {m["metadata"]["name"]: m for m in chart_manifests.of_kind(rendered("default"), "ClusterRole")}
    for kind in ("paper", "plan", "run"):
        editor, viewer = roles[f"p2n-{kind}-editor"], roles[f"p2n-{kind}-viewer"]
        assert editor["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
        assert editor["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
        assert viewer["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
        assert "rbac.authorization.k8s.io/aggregate-to-edit" not in viewer["metadata"]["labels"]
        assert {r for rule in editor["rules"] for r in rule["resources"]} == {f"{kind}s", f"{kind}s/status"}
        for rule in viewer["rules"]:
            assert set(rule["verbs"]) == {"get", "list", "watch"}
        # Status is written by the operator alone.
        status_rules = [rule for rule in editor["rules"] if f"{kind}s/status" in rule["resources"]]
        assert all(set(rule["verbs"]) == {"get"} for rule in status_rules)


def test_user_roles_can_be_left_out(helm):
    manifests = helm.manifests((), ("rbac.userRoles=false",))
    assert not [
        m for m in chart_manifests.of_kind(manifests, "ClusterRole") if "-editor" in m["metadata"]["name"]
    ]
