"""A kubelet emulator: runs each Pod's container command as a local process and reports its status.

What it does, per pod created in the emulated cluster (first container only; ``restartPolicy`` is
treated as Never):

- Image pulls are not real; the image is ignored, except that an image whose reference contains
  ``does-not-exist`` (e.g. ``ghcr.io/p2n/runner:does-not-exist``) never pulls: the container waits
  with reason ``ErrImagePull`` and then ``ImagePullBackOff``, the pod stays Pending.
- ``command`` + ``args`` run through the local sandbox's ``spawn()`` with only the pod's ``env``
  (``value`` only: ``valueFrom`` fails the pod with reason ``UnsupportedByHarness``), memory/CPU
  limits from ``resources.limits``, and ``python``/``python3``/venv console scripts such as
  ``p2n-runner`` resolved against the venv. ``emptyDir``/``configMap``/``secret`` volumes are local
  directories; argv, env values and ``workingDir`` under a ``mountPath`` are rewritten into them.
- Status moves Pending → Running → Succeeded/Failed with ``containerStatuses[].state`` (waiting
  ContainerCreating, running, terminated with exitCode, reason Completed/Error/OOMKilled,
  startedAt/finishedAt). ``activeDeadlineSeconds`` kills the process and fails the pod with
  ``status.reason: DeadlineExceeded``.
- Deleting a pod sends SIGTERM, then SIGKILL after ``terminationGracePeriodSeconds`` (or the
  request's grace period); the pod keeps ``deletionTimestamp`` until the process has exited.
- stdout and stderr, interleaved as written, are the pod log (``pods/{name}/log``, with follow).
- ``pause()`` stops it from starting pods or reporting status (a node that stopped responding);
  ``resume()`` catches up. Processes keep running meanwhile.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import datetime
import functools
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, Protocol

from tests.harness import apiserver, patching, store

from p2n import sandbox

BAD_IMAGE_MARKER = "does-not-exist"
VENV_BIN = Path(sys.executable).parent
_MI = {
    "Ki": 1 / 1024,
    "Mi": 1,
    "Gi": 1024,
    "Ti": 1024 * 1024,
    "k": 1000 / 1024 / 1024,
    "M": 1000**2 / 1024**2,
}
_MI |= {"G": 1000**3 / 1024**2, "T": 1000**4 / 1024**2}


class Process(Protocol):
    """What the kubelet needs of ``p2n.sandbox.SandboxProcess``."""

    @property
    def pid(self) -> int: ...
    @property
    def stdout(self) -> Any: ...
    @property
    def stderr(self) -> Any: ...
    @property
    def returncode(self) -> int | None: ...
    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def iso(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def memory_mb(quantity: str | None) -> int | None:
    """A memory quantity (512Mi, 1G, 1073741824) in MiB."""
    if not quantity:
        return None
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(quantity))
    if not match:
        return None
    number, unit = float(match.group(1)), match.group(2)
    return max(1, int(number * _MI[unit])) if unit else max(1, int(number / 1024 / 1024))


def cpus(quantity: str | None) -> float | None:
    """A CPU quantity (500m, 2) in cores."""
    if not quantity:
        return None
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


def spawn(
    argv: list[str], *, env: dict[str, str], memory: int | None, cpu: float | None, cwd: Path
) -> Process:
    """Start the container command through the local sandbox (``p2n.sandbox.spawn``).

    Pods may reach the network (their NetworkPolicy is not enforced here), so the sandbox's network
    isolation is off; memory and CPU come from the container's ``resources.limits``.
    """
    limits = sandbox.Limits(memory_mb=memory, cpus=cpu, network=True)
    return sandbox.spawn(argv, env=env, limits=limits, cwd=cwd)


Spawner = Callable[..., Process]


class PodLog:
    """The interleaved output of one container, readable while it is still being written."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: list[tuple[datetime.datetime, bytes]] = []
        self._closed = False
        self._waiters: list[Callable[[], object]] = []

    def append(self, line: bytes) -> None:
        with self._lock:
            self._lines.append((now(), line))
            self._wake()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for wake in waiters:
            wake()

    def read(
        self, start: int, wake: Callable[[], object] | None = None
    ) -> tuple[list[tuple[datetime.datetime, bytes]], bool]:
        with self._lock:
            if wake is not None:
                self._waiters.append(wake)
            return self._lines[start:], self._closed

    def text(self) -> str:
        with self._lock:
            return b"".join(line for _, line in self._lines).decode(errors="replace")


@dataclasses.dataclass(eq=False)
class _Worker:
    namespace: str
    name: str
    uid: str
    log: PodLog = dataclasses.field(default_factory=PodLog)
    process: Process | None = None
    started: datetime.datetime | None = None
    waiting_reason: str = "ContainerCreating"
    term_requested: bool = False
    deadline_hit: bool = False
    workdir: Path | None = None


class Kubelet:
    """Runs the pods of an :class:`~tests.harness.apiserver.ApiServer` as local processes."""

    def __init__(self, server: apiserver.ApiServer, workdir: Path, spawner: Spawner = spawn) -> None:
        self._server = server
        self._store = server.store
        self._pods = server.store.kind("", "v1", "pods")
        self._workdir = workdir
        self._spawn = spawner
        self._events: queue.Queue[store.Event | None] = queue.Queue()
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._running.set()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._watcher: store.Watcher | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        self._watcher = self._store.watch(self._pods, None, self._events.put)
        self._store.graceful_pod_deleter = self._graceful_delete
        self._server.log_source = self
        self._thread = threading.Thread(target=self._loop, name="harness-kubelet", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._running.set()
        if self._watcher is not None:
            self._store.unwatch(self._watcher)
        self._events.put(None)
        self._store.graceful_pod_deleter = None
        self._server.log_source = None
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            self._signal(worker, kill=True)
        if self._thread is not None:
            self._thread.join(10)

    def pause(self) -> None:
        """Stop starting pods and reporting status, as if the node stopped responding."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def log(self, namespace: str, name: str) -> str:
        """The current output of a pod's container (for assertions)."""
        worker = self._worker(namespace, name)
        return worker.log.text() if worker else ""

    def pid(self, namespace: str, name: str) -> int | None:
        worker = self._worker(namespace, name)
        return worker.process.pid if worker and worker.process else None

    # --- the pod log endpoint ------------------------------------------------------------------

    async def log_lines(
        self, namespace: str, name: str, *, follow: bool
    ) -> AsyncIterator[tuple[datetime.datetime, bytes]]:
        worker = self._worker(namespace, name)
        if worker is None or worker.process is None:
            reason = worker.waiting_reason if worker else "ContainerCreating"
            pod = self._store.get(self._pods, namespace, name)
            container = pod["spec"]["containers"][0]["name"]
            raise store.ApiError(
                400, "BadRequest", f'container "{container}" in pod "{name}" is waiting to start: {reason}'
            )
        loop = asyncio.get_running_loop()
        lines, closed = worker.log.read(0)
        for stamp, line in lines:
            yield stamp, line
        yield apiserver.backlog_end(), b""
        seen = len(lines)
        while follow and not closed:
            woken = asyncio.Event()
            lines, closed = worker.log.read(seen, functools.partial(loop.call_soon_threadsafe, woken.set))
            seen += len(lines)
            for stamp, line in lines:
                yield stamp, line
            if not closed and not lines:
                await woken.wait()

    # --- event processing ----------------------------------------------------------------------

    def _worker(self, namespace: str, name: str) -> _Worker | None:
        with self._lock:
            candidates = [w for w in self._workers.values() if (w.namespace, w.name) == (namespace, name)]
        return candidates[-1] if candidates else None

    def _loop(self) -> None:
        while not self._stopped.is_set():
            event = self._events.get()
            if event is None:
                return
            self._running.wait()
            if self._stopped.is_set():
                return
            meta = event.obj["metadata"]
            with self._lock:
                known = meta["uid"] in self._workers
            if event.type == "DELETED":
                with self._lock:
                    worker = self._workers.get(meta["uid"])
                if worker is not None:
                    self._signal(worker, kill=True)
                continue
            phase = event.obj.get("status", {}).get("phase")
            if known or phase in ("Succeeded", "Failed") or meta.get("deletionTimestamp"):
                continue
            worker = _Worker(meta["namespace"], meta["name"], meta["uid"])
            with self._lock:
                self._workers[worker.uid] = worker
            threading.Thread(
                target=self._run, args=(worker, event.obj), name=f"kubelet-{worker.name}", daemon=True
            ).start()

    def _exists(self, worker: _Worker) -> bool:
        current = self._store.find(self._pods, worker.namespace, worker.name)
        return current is not None and current["metadata"]["uid"] == worker.uid

    def _graceful_delete(self, pod: dict[str, Any], period: int) -> bool:
        with self._lock:
            worker = self._workers.get(pod["metadata"]["uid"])
        if worker is None or pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return False
        if worker.process is None:
            # Not started (waiting on an image or paused): nothing to stop; the pod goes at once.
            worker.term_requested = True
            return False
        worker.term_requested = True
        self._signal(worker, kill=False)
        timer = threading.Timer(period, self._signal, args=(worker,), kwargs={"kill": True})
        timer.daemon = True
        timer.start()
        return True

    @staticmethod
    def _signal(worker: _Worker, *, kill: bool) -> None:
        process = worker.process
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            if kill:
                process.kill()
            else:
                process.terminate()

    # --- one pod -------------------------------------------------------------------------------

    def _status(self, worker: _Worker, status: dict[str, Any]) -> None:
        self._running.wait()
        with contextlib.suppress(store.ApiError):
            self._store.patch(
                self._pods,
                worker.namespace,
                worker.name,
                patching.MERGE,
                json.dumps({"status": status}).encode(),
                subresource="status",
            )

    def _waiting(self, container: str, reason: str, message: str = "") -> dict[str, Any]:
        state: dict[str, Any] = {"reason": reason}
        if message:
            state["message"] = message
        return {
            "name": container,
            "ready": False,
            "restartCount": 0,
            "image": "",
            "state": {"waiting": state},
        }

    def _run(self, worker: _Worker, pod: dict[str, Any]) -> None:
        spec = pod.get("spec", {})
        container = spec.get("containers", [{}])[0]
        cname = container.get("name", "main")
        scheduled = {"type": "PodScheduled", "status": "True", "lastTransitionTime": iso(now())}
        self._status(
            worker,
            {
                "phase": "Pending",
                "conditions": [scheduled],
                "hostIP": "127.0.0.1",
                "containerStatuses": [self._waiting(cname, "ContainerCreating")],
            },
        )
        image = str(container.get("image", ""))
        if BAD_IMAGE_MARKER in image:
            self._image_pull_failure(worker, cname, image)
            return
        unsupported = [e.get("name", "?") for e in container.get("env", []) if "value" not in e]
        if unsupported:
            self._finish_unstarted(
                worker,
                "UnsupportedByHarness",
                f"the harness kubelet supports env values only; valueFrom used by {', '.join(unsupported)}",
            )
            return
        if worker.term_requested or not self._exists(worker):
            return
        try:
            argv, env, cwd = self._prepare(worker, pod, container)
            limits = container.get("resources", {}).get("limits", {})
            worker.process = self._spawn(
                argv, env=env, memory=memory_mb(limits.get("memory")), cpu=cpus(limits.get("cpu")), cwd=cwd
            )
        except Exception as exc:
            self._finish_unstarted(worker, "StartError", f"could not start the container: {exc!r}")
            return
        worker.started = now()
        readers = [
            threading.Thread(target=self._pump, args=(stream, worker.log), daemon=True)
            for stream in (worker.process.stdout, worker.process.stderr)
            if stream is not None
        ]
        for reader in readers:
            reader.start()
        started = iso(worker.started)
        self._status(
            worker,
            {
                "phase": "Running",
                "startTime": started,
                "podIP": "127.0.0.1",
                "conditions": [
                    scheduled,
                    {"type": "Initialized", "status": "True", "lastTransitionTime": started},
                    {"type": "ContainersReady", "status": "True", "lastTransitionTime": started},
                    {"type": "Ready", "status": "True", "lastTransitionTime": started},
                ],
                "containerStatuses": [
                    {
                        "name": cname,
                        "ready": True,
                        "started": True,
                        "restartCount": 0,
                        "image": image,
                        "state": {"running": {"startedAt": started}},
                    }
                ],
            },
        )
        deadline = spec.get("activeDeadlineSeconds")
        grace = int(spec.get("terminationGracePeriodSeconds", 30))
        code = self._wait(worker, deadline, grace)
        for reader in readers:
            reader.join(5)
        worker.log.close()
        self._report_exit(worker, cname, image, started, code, memory_limited="memory" in limits)
        if worker.workdir is not None:
            shutil.rmtree(worker.workdir, ignore_errors=True)

    def _wait(self, worker: _Worker, deadline: int | None, grace: int) -> int:
        assert worker.process is not None
        if deadline is None:
            return worker.process.wait()
        try:
            return worker.process.wait(timeout=max(0.0, float(deadline)))
        except subprocess.TimeoutExpired:
            worker.deadline_hit = True
            self._signal(worker, kill=False)
            try:
                return worker.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self._signal(worker, kill=True)
                return worker.process.wait()

    @staticmethod
    def _pump(stream: Any, log: PodLog) -> None:
        for line in iter(stream.readline, b""):
            log.append(line)
        with contextlib.suppress(OSError):
            stream.close()

    def _report_exit(
        self, worker: _Worker, cname: str, image: str, started: str, code: int, *, memory_limited: bool
    ) -> None:
        exit_code = 128 - code if code < 0 else code
        oom = bool(getattr(worker.process, "oom_killed", False)) or (
            memory_limited
            and code == -signal.SIGKILL
            and not worker.term_requested
            and not worker.deadline_hit
        )
        reason = "OOMKilled" if oom else "Completed" if exit_code == 0 else "Error"
        finished = iso(now())
        status: dict[str, Any] = {
            "phase": "Succeeded" if exit_code == 0 and not worker.deadline_hit else "Failed",
            "conditions": [
                {"type": t, "status": "False", "reason": "PodCompleted", "lastTransitionTime": finished}
                for t in ("Ready", "ContainersReady")
            ],
            "containerStatuses": [
                {
                    "name": cname,
                    "ready": False,
                    "started": False,
                    "restartCount": 0,
                    "image": image,
                    "state": {
                        "terminated": {
                            "exitCode": exit_code,
                            "reason": reason,
                            "startedAt": started,
                            "finishedAt": finished,
                        }
                    },
                }
            ],
        }
        if worker.deadline_hit:
            status["reason"] = "DeadlineExceeded"
            status["message"] = "Pod was active on the node longer than the specified deadline"
        self._status(worker, status)
        self._store.finish_pod(worker.namespace, worker.name, worker.uid)

    def _finish_unstarted(self, worker: _Worker, reason: str, message: str) -> None:
        worker.waiting_reason = reason
        worker.log.close()
        self._status(worker, {"phase": "Failed", "reason": reason, "message": message})
        self._store.finish_pod(worker.namespace, worker.name, worker.uid)

    def _image_pull_failure(self, worker: _Worker, cname: str, image: str) -> None:
        message = f'Failed to pull image "{image}": manifest unknown (harness convention: {BAD_IMAGE_MARKER})'
        worker.waiting_reason = "ErrImagePull"
        self._status(
            worker, {"phase": "Pending", "containerStatuses": [self._waiting(cname, "ErrImagePull", message)]}
        )
        if self._stopped.wait(1.0) or worker.term_requested:
            return
        worker.waiting_reason = "ImagePullBackOff"
        back_off = f'Back-off pulling image "{image}"'
        self._status(
            worker,
            {"phase": "Pending", "containerStatuses": [self._waiting(cname, "ImagePullBackOff", back_off)]},
        )

    def _prepare(
        self, worker: _Worker, pod: dict[str, Any], container: dict[str, Any]
    ) -> tuple[list[str], dict[str, str], Path]:
        workdir = self._workdir / f"{worker.namespace}-{worker.name}-{worker.uid[:8]}"
        workdir.mkdir(parents=True, exist_ok=True)
        worker.workdir = workdir
        mounts = self._volumes(pod, container, workdir)
        argv = [*container.get("command", []), *container.get("args", [])]
        if not argv:
            raise ValueError("the harness kubelet needs an explicit command (images are not run)")
        argv = [_remap(arg, mounts) for arg in argv]
        argv[0] = _resolve(argv[0])
        env = {e["name"]: _remap(str(e.get("value", "")), mounts) for e in container.get("env", [])}
        cwd = Path(_remap(container["workingDir"], mounts)) if container.get("workingDir") else workdir
        if not cwd.is_dir():
            cwd = workdir
        return argv, env, cwd

    def _volumes(self, pod: dict[str, Any], container: dict[str, Any], workdir: Path) -> dict[str, Path]:
        volumes = {v["name"]: v for v in pod.get("spec", {}).get("volumes", [])}
        mounts: dict[str, Path] = {}
        for mount in container.get("volumeMounts", []):
            volume = volumes.get(mount["name"], {})
            local = workdir / "volumes" / mount["name"]
            local.mkdir(parents=True, exist_ok=True)
            files: dict[str, bytes] = {}
            if "configMap" in volume:
                cm = self._store.find(
                    self._store.kind("", "v1", "configmaps"), worker_ns(pod), volume["configMap"]["name"]
                )
                files = {k: v.encode() for k, v in ((cm or {}).get("data") or {}).items()}
            elif "secret" in volume:
                secret = self._store.find(
                    self._store.kind("", "v1", "secrets"), worker_ns(pod), volume["secret"]["secretName"]
                )
                files = {k: base64.b64decode(v) for k, v in ((secret or {}).get("data") or {}).items()}
            for key, data in files.items():
                (local / key).write_bytes(data)
            target = local / mount["subPath"] if mount.get("subPath") else local
            mounts[mount["mountPath"].rstrip("/") or "/"] = target
        return mounts


def worker_ns(pod: dict[str, Any]) -> str:
    return str(pod["metadata"]["namespace"])


def _remap(value: str, mounts: dict[str, Path]) -> str:
    """Rewrite a path under a volume's mountPath into the volume's local directory."""
    for mount_path in sorted(mounts, key=len, reverse=True):
        if value == mount_path or value.startswith(mount_path + "/"):
            return str(mounts[mount_path]) + value[len(mount_path) :]
        if "=" in value:
            key, _, rest = value.partition("=")
            if rest == mount_path or rest.startswith(mount_path + "/"):
                return f"{key}={mounts[mount_path]}{rest[len(mount_path) :]}"
    return value


def _resolve(program: str) -> str:
    """Container commands run from the venv: python and console scripts resolve to it."""
    if program in ("python", "python3") or program.startswith("/usr/local/bin/python"):
        return sys.executable
    name = os.path.basename(program)
    if (VENV_BIN / name).exists():
        return str(VENV_BIN / name)
    return shutil.which(name) or program
