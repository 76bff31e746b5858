"""Fixtures of the cluster tier: the emulated Kubernetes API, kubelet, kubectl and fault injection."""

from __future__ import annotations

import httpx
import pytest
from tests.harness import cluster
from tests.harness import widgets as widget_kind
from tests.harness.fixtures import _kubelet_session, access, faults, kube, kubectl, kubelet, namespace  # noqa: F401


@pytest.fixture(scope="session")
def widgets(kube: cluster.Cluster) -> str:  # noqa: F811
    """URL prefix (up to /namespaces) of the test-only Widget CRD, created through the API."""
    if kube.find("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.harness.p2n.dev") is None:
        response = httpx.post(
            f"{kube.url}/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=widget_kind.CRD
        )
        assert response.status_code == 201
    return f"{kube.url}/apis/harness.p2n.dev/v1/namespaces"
