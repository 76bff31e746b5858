"""pytest fixtures for the emulated cluster; import them into a tier's conftest.py by name.

    from tests.harness.fixtures import access, faults, kube, kubectl, kubelet, namespace  # noqa: F401

See :mod:`tests.harness` for what each one yields.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.harness import access as access_table
from tests.harness import cluster
from tests.harness import faults as fault_rules
from tests.harness import kubectl as kubectl_binary
from tests.harness import kubelet as kubelet_emulator


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster.Cluster]:
    """The emulated API server for the session, with the p2n.dev CRDs from ``crds/`` installed.

    ``KUBECONFIG`` points at it for the session, so subprocesses (``python -m p2n_operator``,
    kubectl) and the `kubernetes` client find it too.
    """
    workdir = tmp_path_factory.mktemp("kube")
    kube = cluster.Cluster(workdir)
    previous = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(kube.kubeconfig_path)
    yield kube
    if previous is None:
        os.environ.pop("KUBECONFIG", None)
    else:
        os.environ["KUBECONFIG"] = previous
    kube.stop()


@pytest.fixture(scope="session")
def _kubelet_session(
    kube: cluster.Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[kubelet_emulator.Kubelet]:
    node = kubelet_emulator.Kubelet(kube.server, Path(tmp_path_factory.mktemp("kubelet")))
    node.start()
    yield node
    node.stop()


@pytest.fixture
def kubelet(_kubelet_session: kubelet_emulator.Kubelet) -> Iterator[kubelet_emulator.Kubelet]:
    """The kubelet emulator bound to ``kube``: pods created from now on run as local processes.

    ``kubelet.pause()`` / ``resume()``; ``kubelet.log(ns, name)``; resumed after each test.
    """
    yield _kubelet_session
    _kubelet_session.resume()


@pytest.fixture
def namespace(kube: cluster.Cluster) -> Iterator[str]:
    """A fresh namespace for this test; it and everything in it are purged afterwards."""
    name = kube.create_namespace()
    yield name
    kube.purge_namespace(name)


@pytest.fixture
def kubectl(kube: cluster.Cluster, namespace: str) -> kubectl_binary.Kubectl:
    """The venv's real kubectl 1.37 with the harness kubeconfig, defaulting to ``namespace``."""
    return kubectl_binary.Kubectl(kube.kubeconfig_path, namespace)


@pytest.fixture
def faults(kube: cluster.Cluster) -> Iterator[fault_rules.Faults]:
    """Fault injection on ``kube`` (failing requests, dropped watches); cleared after the test."""
    yield kube.faults
    kube.faults.clear()


@pytest.fixture
def access(kube: cluster.Cluster) -> Iterator[access_table.AccessTable]:
    """The TokenReview / SubjectAccessReview tables of ``kube``; emptied after the test."""
    yield kube.access
    kube.access.clear()
