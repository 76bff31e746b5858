"""The default-deny NetworkPolicy of sandbox pods: no ingress, egress only to the artifact store.

A notebook must not reach the cluster's services, the cloud metadata endpoint or the internet;
it only uploads its artifacts through presigned URLs. The store is addressed by CIDR and port or
by namespace/pod labels (operator settings); DNS is allowed to kube-system only when the store is
reached by name. With no store configured the policy denies all egress.
"""

from __future__ import annotations

from typing import Any

from p2n import settings
from p2n_operator import podspec

POLICY_NAME = "p2n-sandbox"
# Labels of the policy; the operator watches policies carrying them (``handlers``).
LABELS = {"app.kubernetes.io/name": podspec.SANDBOX_APP, "app.kubernetes.io/managed-by": "p2n-operator"}


def _labels(text: str) -> dict[str, str]:
    """Parse ``k=v,k=v`` (the settings form of a label selector)."""
    pairs = (item.split("=", 1) for item in text.split(",") if item.strip())
    return {key.strip(): value.strip() for key, value in pairs}


def _store_peers(cfg: settings.Settings) -> list[dict[str, Any]]:
    peers: list[dict[str, Any]] = []
    if cfg.artifact_store_cidr:
        peers.append({"ipBlock": {"cidr": cfg.artifact_store_cidr}})
    namespace_labels = _labels(cfg.artifact_store_namespace_labels)
    pod_labels = _labels(cfg.artifact_store_pod_labels)
    if namespace_labels or pod_labels:
        peer: dict[str, Any] = {}
        if namespace_labels:
            peer["namespaceSelector"] = {"matchLabels": namespace_labels}
        if pod_labels:
            peer["podSelector"] = {"matchLabels": pod_labels}
        peers.append(peer)
    return peers


def sandbox_network_policy(namespace: str, cfg: settings.Settings) -> dict[str, Any]:
    """The NetworkPolicy selecting every sandbox pod of ``namespace``."""
    egress: list[dict[str, Any]] = []
    peers = _store_peers(cfg)
    if peers:
        egress.append({"to": peers, "ports": [{"protocol": "TCP", "port": cfg.artifact_store_port}]})
        if cfg.sandbox_allow_dns:
            egress.append(
                {
                    "to": [
                        {
                            "namespaceSelector": {
                                "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                            },
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }
                    ],
                    "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                }
            )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": POLICY_NAME,
            "namespace": namespace,
            "labels": dict(LABELS),
        },
        "spec": {
            "podSelector": {"matchLabels": {podspec.APP_LABEL: podspec.SANDBOX_APP}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": egress,
        },
    }
