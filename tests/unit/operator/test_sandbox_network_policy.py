"""The sandbox NetworkPolicy: default deny, egress only to the artifact store (and DNS for its name)."""

from __future__ import annotations

from p2n_operator import networkpolicy


def test_without_a_store_everything_is_denied(cfg):
    policy = networkpolicy.sandbox_network_policy("research", cfg)
    spec = policy["spec"]
    assert spec["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "p2n-sandbox"}}
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == []
    assert spec["egress"] == []


def test_store_by_cidr_allows_only_that_port_plus_dns(cfg):
    cfg = cfg.model_copy(update={"artifact_store_cidr": "10.0.0.5/32", "artifact_store_port": 9000})
    egress = networkpolicy.sandbox_network_policy("research", cfg)["spec"]["egress"]
    assert egress[0] == {
        "to": [{"ipBlock": {"cidr": "10.0.0.5/32"}}],
        "ports": [{"protocol": "TCP", "port": 9000}],
    }
    assert {p["port"] for p in egress[1]["ports"]} == {53}
    assert len(egress) == 2


def test_store_by_labels_and_no_dns(cfg):
    cfg = cfg.model_copy(
        update={
            "artifact_store_namespace_labels": "kubernetes.io/metadata.name=storage",
            "artifact_store_pod_labels": "app=minio, tier=store",
            "sandbox_allow_dns": False,
        }
    )
    (rule,) = networkpolicy.sandbox_network_policy("research", cfg)["spec"]["egress"]
    assert rule["to"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "storage"}},
            "podSelector": {"matchLabels": {"app": "minio", "tier": "store"}},
        }
    ]
