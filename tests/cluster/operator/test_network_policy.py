"""The sandbox NetworkPolicy: applied once per namespace, and put back when deleted or changed.

The operator keeps a watch-fed view of the policy instead of applying it before every pod; these
tests prove the view never lets a namespace that runs sandboxes go without the expected policy.
"""

from __future__ import annotations

import pytest
from tests.cluster.operator.p2n_objects import apply, ready_plan, run_manifest, sandbox_pods, wait_phase
from tests.harness import cluster

from p2n_operator import networkpolicy

pytestmark = pytest.mark.cluster

NETPOL = "networking.k8s.io/v1"


def _policy(kube: cluster.Cluster, namespace: str) -> dict | None:
    return kube.find(NETPOL, "NetworkPolicy", networkpolicy.POLICY_NAME, namespace)


def _policy_with(kube: cluster.Cluster, namespace: str, spec: dict) -> dict | None:
    policy = _policy(kube, namespace)
    return policy if policy is not None and policy["spec"] == spec else None


def _expected_spec(cfg, namespace: str) -> dict:
    return networkpolicy.sandbox_network_policy(namespace, cfg)["spec"]


class PolicyWrites:
    """Every watch event of the namespace's NetworkPolicies, by type."""

    def __init__(self, kube: cluster.Cluster, namespace: str) -> None:
        self.types: list[str] = []
        self._kube = kube
        self._watcher = kube.store.watch(
            kube.kind(NETPOL, "NetworkPolicy"), namespace, lambda e: e and self.types.append(e.type)
        )

    def close(self) -> None:
        self._kube.store.unwatch(self._watcher)


def test_policy_is_applied_once_for_many_runs(kube, kubectl, namespace, start_operator):
    start_operator()
    plan = ready_plan(kube, kubectl, namespace)
    writes = PolicyWrites(kube, namespace)
    try:
        for name in ("first", "second", "third"):
            apply(kubectl, run_manifest(name, plan))
        for name in ("first", "second", "third"):
            wait_phase(kube, "Run", name, namespace, {"Succeeded"}, timeout=90)
    finally:
        writes.close()
    assert writes.types == ["ADDED"]
    assert _policy(kube, namespace) is not None


def test_deleted_or_changed_policy_is_back_before_the_next_pod(kube, kubectl, namespace, start_operator):
    op = start_operator()
    plan = ready_plan(kube, kubectl, namespace)
    apply(kubectl, run_manifest("before", plan))
    wait_phase(kube, "Run", "before", namespace, {"Succeeded"}, timeout=90)
    expected = _expected_spec(op.cfg, namespace)

    kube.delete(NETPOL, "NetworkPolicy", networkpolicy.POLICY_NAME, namespace)
    restored = cluster.wait_for(lambda: _policy(kube, namespace), timeout=30, what="policy re-created")
    assert restored["spec"] == expected

    # Opening egress to everything is undone as well.
    kube.patch(NETPOL, "NetworkPolicy", networkpolicy.POLICY_NAME, {"spec": {"egress": [{}]}}, namespace)
    reset = cluster.wait_for(lambda: _policy_with(kube, namespace, expected), timeout=30, what="policy reset")

    # The next sandbox starts under the policy as reset, which stood unchanged all along.
    apply(kubectl, run_manifest("after", plan))
    wait_phase(kube, "Run", "after", namespace, {"Succeeded"}, timeout=90)
    pods = sorted(p["metadata"]["name"] for p in sandbox_pods(kube, namespace))
    assert pods == ["p2n-run-after", "p2n-run-before"]
    policy = _policy(kube, namespace)
    assert policy is not None
    assert policy["metadata"]["resourceVersion"] == reset["metadata"]["resourceVersion"]
