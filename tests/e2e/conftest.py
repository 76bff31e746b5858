"""The kind tier: the whole system on a real kind cluster.

Needs a working Docker engine (``docker info`` succeeds, not just a docker client) and the ``kind``
binary; otherwise every test here is skipped with the reason. The session:

1. starts a local registry and a kind cluster wired to it (tests/e2e/kind-config.yaml),
2. builds the three images with ``make images`` and pushes them to that registry,
3. deploys PostgreSQL and an S3 store (tests/e2e/manifests/) and their Secrets,
4. installs the chart (tests/e2e/values-kind.yaml) with ``helm install --wait``,

and tears all of it down afterwards. ``P2N_E2E_CLUSTER=<name>`` reuses an existing kind cluster
and leaves it running; ``P2N_E2E_KEEP=1`` keeps what the suite created, for debugging. After a
failure, ``P2N_E2E_ARTIFACTS=<dir>`` receives a dump of the cluster. ``P2N_E2E_REQUIRED=1`` turns
the skip into an error (CI sets it).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.e2e import kind_cluster
from tests.harness import kubectl as harness_kubectl


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kind_items = [item for item in items if item.get_closest_marker("kind") is not None]
    if not kind_items:
        return
    reason = kind_cluster.missing_requirements()
    if reason and os.environ.get("P2N_E2E_REQUIRED") == "1":
        # CI sets this so that a runner without Docker fails instead of passing on skips.
        raise pytest.UsageError(reason)
    if reason:
        for item in kind_items:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kind_cluster.Cluster]:
    existing = os.environ.get("P2N_E2E_CLUSTER")
    name = existing or f"p2n-e2e-{uuid.uuid4().hex[:6]}"
    kubeconfig = tmp_path_factory.mktemp("kind") / "kubeconfig"
    kind_cluster.ensure_registry()
    if existing:
        kubeconfig.write_text(kind_cluster.run("kind", "get", "kubeconfig", "--name", name).stdout)
    else:
        kind_cluster.run(
            "kind", "create", "cluster", "--name", name,
            "--config", str(kind_cluster.HERE / "kind-config.yaml"),
            "--kubeconfig", str(kubeconfig), "--wait", "180s", timeout=900,
        )  # fmt: skip
    kind_cluster.wire_registry(name)
    try:
        yield kind_cluster.Cluster(name, kubeconfig)
    finally:
        if not existing and not kind_cluster.keep():
            kind_cluster.run("kind", "delete", "cluster", "--name", name, timeout=300, check=False)


@pytest.fixture(scope="session")
def images(cluster: kind_cluster.Cluster) -> dict[str, str]:
    """Build the three images from the repo (``make images``) and push them to the local registry."""
    registry = f"localhost:{kind_cluster.REGISTRY_PORT}"
    kind_cluster.run(
        "make", "images", f"IMAGE_REGISTRY={registry}", f"IMAGE_TAG={kind_cluster.IMAGE_TAG}", timeout=3600
    )
    refs = {}
    for image in kind_cluster.IMAGES:
        ref = f"{registry}/{image}:{kind_cluster.IMAGE_TAG}"
        kind_cluster.run("docker", "push", ref, timeout=900)
        refs[image] = ref
    return refs


@pytest.fixture(scope="session")
def helm_binary() -> Path:
    proc = kind_cluster.run(sys.executable, str(kind_cluster.REPO / "scripts" / "install_helm.py"))
    return Path(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def dependencies(cluster: kind_cluster.Cluster) -> None:
    """PostgreSQL, the S3 store and its bucket, and the Secrets the chart references."""
    deps = cluster.kubectl(kind_cluster.DEPS_NAMESPACE)
    for namespace in (kind_cluster.DEPS_NAMESPACE, kind_cluster.RELEASE_NAMESPACE):
        deps.run("create", "namespace", namespace, check=False)
    deps("apply", "-f", str(kind_cluster.HERE / "manifests"))
    deps.run("rollout", "status", "deployment/postgres", "--timeout=300s", timeout=320)
    deps.run("rollout", "status", "deployment/s3", "--timeout=300s", timeout=320)
    deps.run("wait", "--for=condition=complete", "job/s3-bucket", "--timeout=300s", timeout=320)
    database_url = (
        f"postgresql://p2n:p2n-e2e@postgres.{kind_cluster.DEPS_NAMESPACE}.svc.cluster.local:5432/p2n"
    )
    system = cluster.kubectl(kind_cluster.RELEASE_NAMESPACE)
    system("create", "secret", "generic", "p2n-database", f"--from-literal=url={database_url}")
    system(
        "create", "secret", "generic", "p2n-s3",
        "--from-literal=access-key-id=e2e-access", "--from-literal=secret-access-key=e2e-secret",
    )  # fmt: skip


@pytest.fixture(scope="session")
def release(
    cluster: kind_cluster.Cluster,
    images: dict[str, str],
    dependencies: None,
    helm_binary: Path,
    request: pytest.FixtureRequest,
) -> Iterator[str]:
    """The chart installed and ready; uninstalled at the end unless a test already did."""
    kind_cluster.helm(
        helm_binary, cluster, "install", kind_cluster.RELEASE, str(kind_cluster.REPO / "charts" / "p2n"),
        "--namespace", kind_cluster.RELEASE_NAMESPACE, "-f", str(kind_cluster.HERE / "values-kind.yaml"),
        "--wait", "--timeout", "10m",
    )  # fmt: skip
    try:
        yield kind_cluster.RELEASE
    finally:
        if request.session.testsfailed:
            kind_cluster.dump(cluster)
        if not kind_cluster.keep():
            with contextlib.suppress(AssertionError):
                kind_cluster.helm(
                    helm_binary, cluster, "uninstall", kind_cluster.RELEASE,
                    "--namespace", kind_cluster.RELEASE_NAMESPACE, "--wait",
                )  # fmt: skip


@pytest.fixture(scope="session")
def api_url(cluster: kind_cluster.Cluster, release: str) -> Iterator[str]:
    """The API Service reached through ``kubectl port-forward`` on a free local port."""
    argv = [
        str(harness_kubectl.BINARY), "--kubeconfig", str(cluster.kubeconfig),
        "-n", kind_cluster.RELEASE_NAMESPACE, "port-forward", f"service/{release}-api", ":80",
    ]  # fmt: skip
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, f"unexpected port-forward output: {line!r}"
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="session")
def user_token(cluster: kind_cluster.Cluster, release: str) -> str:
    """A bearer token of a ServiceAccount holding only the built-in `edit` role in the run namespace.

    `edit` covers P2N resources only through the chart's aggregated editor roles, so using this
    token also proves the aggregation.
    """
    kubectl = cluster.kubectl(kind_cluster.RUN_NAMESPACE)
    kubectl("create", "serviceaccount", "e2e-user")
    kubectl(
        "create", "rolebinding", "e2e-user-edit", "--clusterrole=edit",
        f"--serviceaccount={kind_cluster.RUN_NAMESPACE}:e2e-user",
    )  # fmt: skip
    return kubectl("create", "token", "e2e-user", "--duration=1h").strip()
