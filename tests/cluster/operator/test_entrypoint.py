"""`python -m p2n_operator` as a process: liveness and metrics endpoints, JSON logs per object, no secrets."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest
from tests.cluster.operator.p2n_objects import EXAMPLES, wait_phase
from tests.conftest import TEST_S3_SECRET_ACCESS_KEY
from tests.harness import cluster

pytestmark = pytest.mark.cluster


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(cfg, kube) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P2N_")}
    env.update(
        {
            "KUBECONFIG": str(kube.kubeconfig_path),
            "P2N_HOME": str(cfg.home),
            "P2N_DATABASE_URL": cfg.database_url.get_secret_value(),
            "P2N_S3_BUCKET": cfg.s3_bucket,
            "P2N_S3_PREFIX": cfg.s3_prefix,
            "P2N_S3_ENDPOINT_URL": cfg.s3_endpoint_url,
            "P2N_S3_REGION": cfg.s3_region,
            "P2N_S3_ACCESS_KEY_ID": cfg.s3_access_key_id.get_secret_value(),
            "P2N_S3_SECRET_ACCESS_KEY": cfg.s3_secret_access_key.get_secret_value(),
            "P2N_LOG_FORMAT": "json",
            "P2N_LOG_LEVEL": "DEBUG",
        }
    )
    return env


def test_operator_process_serves_liveness_and_logs_json(
    kube, kubectl, kubelet, namespace, operator_settings, tmp_path
):
    port, metrics_port = _free_port(), _free_port()
    stderr_path = tmp_path / "operator.log"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "p2n_operator",
                "--namespace",
                namespace,
                "--liveness",
                f"http://127.0.0.1:{port}/healthz",
                "--metrics-port",
                str(metrics_port),
            ],
            env=_environment(operator_settings, kube),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            health = cluster.wait_for(lambda: _healthz(port), timeout=60, what="liveness endpoint")
            assert health.status_code == 200
            kubectl("apply", "-f", str(EXAMPLES / "paper-text.yaml"))
            wait_phase(kube, "Paper", "iris-lda", namespace, {"Ready"}, timeout=60)
            # Metrics have a port of their own, without authentication; neither port serves the other.
            scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
            assert scraped.status_code == 200
            assert 'p2n_operator_reconcile_duration_seconds_count{kind="Paper",outcome="ok"}' in scraped.text
            assert httpx.get(f"http://127.0.0.1:{metrics_port}/healthz", timeout=5).status_code == 404
            assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 404
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=60)
    assert code == 0
    output = stderr_path.read_text()
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert any(r.get("paper") == f"{namespace}/iris-lda" for r in records)
    assert TEST_S3_SECRET_ACCESS_KEY not in output


def _healthz(port: int) -> httpx.Response | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    except httpx.HTTPError:
        return None
