"""The emulated cluster the control-plane benchmarks run on, and the operators they compare.

The API server and the kubelet emulator are the test harness's (``tests.harness``), in this
process; everything P2N's operator talks to besides them runs as its own process: the operator
itself (``python -m p2n_operator``), a moto S3 server, and PostgreSQL. The baseline operator
(``bench/baseline_operator.py``, run by ``kopf run``) is a process too, so both operators are
measured the same way. Pods are trivial: the kubelet emulator runs ``true`` for every container
(``sleep`` for pods of Runs named ``hold-*``, to keep them running), so the figures are the control
plane's, not the notebook's. Timestamps come from watches on the harness's object store, taken
the moment an object changes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import context

API = "p2n.dev/v1alpha1"
TERMINAL = frozenset({"Succeeded", "Failed", "Cancelled", "TimedOut"})
HOLD_PREFIX = "hold-"
RUN_LABEL = "p2n.dev/run"
REPO = Path(__file__).resolve().parents[1]
BASELINE_OPERATOR = Path(__file__).with_name("baseline_operator.py")
_S3_KEY = "bench"
# The Plan of ``examples/plan.yaml``, made Ready by ``Environment.ready_plan``.
PLAN = "iris-lda-cv"


def _imports() -> tuple[Any, Any]:
    """The harness lives under tests/; it needs the repo root on sys.path (``python -m bench`` has it)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    try:
        from tests.harness import cluster, kubelet
    except ImportError as exc:
        raise context.Unavailable(f"the emulated cluster harness cannot be imported ({exc})") from exc
    return cluster, kubelet


def trivial_pod(argv: list[str], *, env: dict[str, str], memory: Any, cpu: Any, cwd: Path) -> Any:
    """The kubelet's spawner here: ``true``, or ``sleep`` for a Run named ``hold-*`` (the pod's dir)."""
    hold = f"-{HOLD_PREFIX}" in str(cwd)
    command = ["sleep", "600"] if hold else ["true"]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, start_new_session=True
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Timeline:
    """When each Run (by ``namespace/name``) reached each milestone, from store watches."""

    run_created: dict[str, float] = field(default_factory=dict)
    pod_created: dict[str, float] = field(default_factory=dict)
    pod_finished: dict[str, float] = field(default_factory=dict)
    pod_running: dict[str, float] = field(default_factory=dict)
    run_terminal: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_pod(self, event: Any) -> None:
        if event is None or event.type == "DELETED":
            return
        now = time.monotonic()
        obj = event.obj
        run = (obj["metadata"].get("labels") or {}).get(RUN_LABEL)
        if not run:
            return
        key = f"{obj['metadata']['namespace']}/{run}"
        phase = (obj.get("status") or {}).get("phase")
        with self.lock:
            self.pod_created.setdefault(key, now)
            if phase == "Running":
                self.pod_running.setdefault(key, now)
            if phase in ("Succeeded", "Failed"):
                self.pod_finished.setdefault(key, now)

    def on_run(self, event: Any) -> None:
        if event is None or event.type == "DELETED":
            return
        now = time.monotonic()
        obj = event.obj
        if (obj.get("status") or {}).get("phase") in TERMINAL:
            key = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
            with self.lock:
                self.run_terminal.setdefault(key, now)

    def count(self, milestone: dict[str, float], namespace: str) -> int:
        with self.lock:
            return sum(1 for key in milestone if key.startswith(f"{namespace}/"))


class Server:
    """A server process (an operator, an API); output to a log file, ``rss_bytes()`` reads its memory."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        self._handle = log.open("wb")
        self.process = subprocess.Popen(
            argv, env=env, stdout=self._handle, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True
        )

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no VmRSS for {self.name}")

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            lines = self.log.read_text(errors="replace").strip().splitlines() or [""]
            raise RuntimeError(
                f"the {self.name} operator exited ({self.process.returncode}): {lines[-1][:200]}"
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._handle.close()


class Environment:
    """The emulated cluster, S3, PostgreSQL and a place for operator processes; use as a context."""

    def __init__(self, scratch: Path, *, trivial_pods: bool = True, s3: bool = True) -> None:
        self.scratch = scratch
        self._trivial_pods = trivial_pods
        self._s3 = s3
        self.timeline = Timeline()
        self.servers: list[Server] = []
        self._stack = contextlib.ExitStack()
        self.kube: Any = None
        self.kubelet: Any = None
        self.database_url = ""
        self.s3_endpoint = ""
        self.bucket = "p2n-bench"

    def __enter__(self) -> Environment:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        for operator in self.servers:
            operator.stop()
        self._stack.close()

    def _start(self) -> None:
        harness_cluster, harness_kubelet = _imports()
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.kube = harness_cluster.Cluster(self.scratch)
        self._stack.callback(self.kube.stop)
        spawner = trivial_pod if self._trivial_pods else harness_kubelet.spawn
        self.kubelet = harness_kubelet.Kubelet(self.kube.server, self.scratch / "kubelet", spawner=spawner)
        self.kubelet.start()
        # Pod threads still reporting exits after the kubelet stops need the API server a moment longer.
        self._stack.callback(time.sleep, 1.0)
        self._stack.callback(self.kubelet.stop)
        store = self.kube.store
        for kind, deliver in (
            (self.kube.kind("v1", "Pod"), self.timeline.on_pod),
            (self.kube.kind(API, "Run"), self.timeline.on_run),
        ):
            watcher = store.watch(kind, None, deliver)
            self._stack.callback(store.unwatch, watcher)
        if self._s3:
            self._start_s3()
        self._start_database()

    def _start_s3(self) -> None:
        port = _free_port()
        log = (self.scratch / "moto.log").open("wb")
        self._stack.callback(log.close)
        moto = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "import sys; from moto.server import main; main(sys.argv[1:])",
                "-H",
                "127.0.0.1",
                "-p",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._stack.callback(_stop_process, moto)
        self.s3_endpoint = f"http://127.0.0.1:{port}"
        from p2n import settings
        from p2n.storage import s3

        config = settings.Settings(**self.s3_settings())  # type: ignore[arg-type]
        deadline = time.monotonic() + 30
        while True:
            try:
                s3.S3Storage.from_settings(config).ensure_bucket()
                return
            except Exception:
                if time.monotonic() > deadline or moto.poll() is not None:
                    raise
                time.sleep(0.2)

    def _start_database(self) -> None:
        from p2n import db

        server = self._stack.enter_context(_postgres())
        name = f"p2n_bench_cluster_{os.getpid()}"
        self.database_url = db.create_database(server, name)
        self._stack.callback(db.drop_database, server, name)

    def s3_settings(self) -> dict[str, str]:
        return {
            "s3_bucket": self.bucket,
            "s3_prefix": "p2n",
            "s3_endpoint_url": self.s3_endpoint,
            "s3_region": "us-east-1",
            "s3_access_key_id": _S3_KEY,
            "s3_secret_access_key": _S3_KEY,
        }

    def env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("P2N_", "OPENAI_", "AWS_"))}
        env.update({"KUBECONFIG": str(self.kube.kubeconfig_path), "PYTHONPATH": str(REPO)})
        env.update(extra)
        return env

    def start_p2n_operator(self, *namespaces: str, **overrides: str) -> Server:
        settings_env = {f"P2N_{k.upper()}": v for k, v in self.s3_settings().items()}
        settings_env |= {
            "P2N_DATABASE_URL": self.database_url,
            "P2N_HOME": str(self.scratch / "p2n-home"),
            "P2N_MAX_CONCURRENT_RUNS": "1000",
            "P2N_LOG_FORMAT": "text",
            # Metrics served as in production, on a port of their own so operators never collide.
            "P2N_OPERATOR_METRICS_PORT": str(_free_port()),
        }
        settings_env |= {f"P2N_{k.upper()}": v for k, v in overrides.items()}
        argv = [sys.executable, "-m", "p2n_operator", "--liveness", ""]
        for namespace in namespaces:
            argv += ["--namespace", namespace]
        return self.launch("p2n", argv, settings_env)

    def start_baseline_operator(self, *namespaces: str) -> Server:
        argv = [sys.executable, "-m", "kopf", "run", "--standalone", str(BASELINE_OPERATOR)]
        for namespace in namespaces:
            argv += ["--namespace", namespace]
        return self.launch("baseline", argv, {})

    def launch(self, name: str, argv: list[str], extra: dict[str, str]) -> Server:
        """Start a server process (an operator, an API) with the cluster's kubeconfig in its env."""
        operator = Server(name, argv, self.env(extra), self.scratch / f"{name}.log")
        self.servers.append(operator)
        return operator

    # --- objects ---------------------------------------------------------------------------------

    def namespace(self, name: str) -> str:
        return str(self.kube.create_namespace(name))

    def create_run(self, namespace: str, name: str, plan: str = PLAN) -> None:
        key = f"{namespace}/{name}"
        with self.timeline.lock:
            self.timeline.run_created[key] = time.monotonic()
        self.kube.create(
            {
                "apiVersion": API,
                "kind": "Run",
                "metadata": {"name": name},
                "spec": {"planRef": {"name": plan}},
            },
            namespace,
        )

    def ready_plan(self, namespace: str, operator: Server, timeout: float = 120) -> str:
        """Apply the example Paper and Plan in ``namespace`` and wait for the Plan to be Ready."""
        import yaml

        for example in ("paper-text.yaml", "plan.yaml"):
            for doc in yaml.safe_load_all((REPO / "examples" / example).read_text()):
                if doc:
                    self.kube.create(doc, namespace)
        name = str(yaml.safe_load((REPO / "examples" / "plan.yaml").read_text())["metadata"]["name"])
        if name != PLAN:
            raise RuntimeError(f"examples/plan.yaml names Plan {name!r}, not {PLAN!r}")
        self.wait(
            lambda: (
                ((self.kube.find(API, "Plan", name, namespace) or {}).get("status") or {}).get("phase")
                == "Ready"
            ),
            timeout,
            f"Plan {name} Ready",
            operator,
        )
        return name

    def wait(
        self, probe: Callable[[], bool], timeout: float, what: str, operator: Server | None = None
    ) -> float:
        """Poll ``probe`` until true (bounded by ``timeout``); returns when it became true."""
        deadline = time.monotonic() + timeout
        while not probe():
            if operator is not None:
                operator.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.01)
        return time.monotonic()


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@contextlib.contextmanager
def _postgres() -> Iterator[str]:
    from bench import ingestion

    with ingestion.server() as url:
        yield url
