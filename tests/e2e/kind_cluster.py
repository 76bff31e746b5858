"""The kind cluster of the end-to-end suite: requirements, local registry, helm and kubectl helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.harness import kubectl as harness_kubectl

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
RELEASE = "p2n"
RELEASE_NAMESPACE = "p2n-system"
DEPS_NAMESPACE = "p2n-deps"
RUN_NAMESPACE = "p2n-runs"
REGISTRY_NAME = "p2n-e2e-registry"
REGISTRY_PORT = int(os.environ.get("P2N_E2E_REGISTRY_PORT", "5001"))
REGISTRY_IMAGE = "registry:2.8.3"
IMAGE_TAG = "e2e"
IMAGES = ("p2n-operator", "p2n-api", "p2n-runner")


def run(*argv: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}{proc.stdout[-2000:]}"
        )
    return proc


def missing_requirements() -> str | None:
    """Why the kind suite cannot run here, or None when it can."""
    if shutil.which("docker") is None:
        return "the kind suite needs Docker: no `docker` client on PATH"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return "the kind suite needs a running Docker engine: `docker info` timed out"
    if info.returncode != 0:
        last = (info.stderr.strip().splitlines() or ["no output"])[-1]
        return f"the kind suite needs a running Docker engine: `docker info` failed ({last})"
    if shutil.which("kind") is None:
        return "the kind suite needs the `kind` binary on PATH (https://kind.sigs.k8s.io)"
    return None


def keep() -> bool:
    """``P2N_E2E_KEEP=1``: leave what the suite created, for debugging."""
    return os.environ.get("P2N_E2E_KEEP") == "1"


@dataclass(frozen=True)
class Cluster:
    name: str
    kubeconfig: Path

    def kubectl(self, namespace: str = RUN_NAMESPACE) -> harness_kubectl.Kubectl:
        return harness_kubectl.Kubectl(self.kubeconfig, namespace)


def ensure_registry() -> None:
    """A local registry container on 127.0.0.1:REGISTRY_PORT (kind's local-registry recipe)."""
    running = run("docker", "inspect", "-f", "{{.State.Running}}", REGISTRY_NAME, check=False)
    if running.stdout.strip() != "true":
        run("docker", "rm", "-f", REGISTRY_NAME, check=False)
        run(
            "docker", "run", "-d", "--restart=always", "--name", REGISTRY_NAME,
            "-p", f"127.0.0.1:{REGISTRY_PORT}:5000", REGISTRY_IMAGE,
        )  # fmt: skip


def wire_registry(name: str) -> None:
    """Make ``localhost:<port>/...`` on the nodes resolve to the registry container.

    Sandbox pods use imagePullPolicy Always, which images side-loaded with `kind load` cannot
    satisfy, so the suite serves its images from a registry the nodes can pull from.
    """
    run("docker", "network", "connect", "kind", REGISTRY_NAME, check=False)
    directory = f"/etc/containerd/certs.d/localhost:{REGISTRY_PORT}"
    hosts = f'[host."http://{REGISTRY_NAME}:5000"]\n'
    for node in run("kind", "get", "nodes", "--name", name).stdout.split():
        run("docker", "exec", node, "mkdir", "-p", directory)
        subprocess.run(
            ["docker", "exec", "-i", node, "cp", "/dev/stdin", f"{directory}/hosts.toml"],
            input=hosts, text=True, check=True, timeout=60,
        )  # fmt: skip


def helm(
    binary: Path, cluster: Cluster, *args: str, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    return run(str(binary), "--kubeconfig", str(cluster.kubeconfig), *args, timeout=timeout)


def dump(cluster: Cluster) -> None:
    """Write the state of the cluster to ``$P2N_E2E_ARTIFACTS`` (set by CI) after a failure."""
    target = os.environ.get("P2N_E2E_ARTIFACTS")
    if not target:
        return
    directory = Path(target)
    directory.mkdir(parents=True, exist_ok=True)
    kubectl = cluster.kubectl(RELEASE_NAMESPACE)
    dumps = {
        "resources.txt": ("get", "all,papers,plans,runs,networkpolicies,events", "-A", "-o", "wide"),
        "p2n-objects.yaml": ("get", "papers,plans,runs", "-A", "-o", "yaml"),
        "operator.log": ("logs", f"deployment/{RELEASE}-operator", "--tail=2000"),
        "api.log": ("logs", f"deployment/{RELEASE}-api", "--tail=2000"),
    }
    for filename, args in dumps.items():
        proc = kubectl.run(*args, check=False)
        (directory / filename).write_text(proc.stdout + proc.stderr)
