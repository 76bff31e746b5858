"""Start any command in the local sandbox: scrubbed environment, limits, own cwd, no network.

``spawn`` is what ``p2n sandbox``, ``p2n reproduce`` (through ``run_notebook``) and the cluster test
harness's kubelet emulator use to run untrusted code on this machine. The child is a trampoline
(``_confine.py``) that confines itself and then execs the command, in a new session so that
``terminate``/``kill`` reach the whole process group; a private cgroup, when available, also catches
processes that left the group (a Jupyter kernel starts its own session) and tells an OOM kill.

    proc = spawn(["python", "-c", "print(1)"], env={}, limits=Limits(memory_mb=256), cwd=work)
    out, _ = proc.stdout.read(), proc.wait(10)
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from p2n.sandbox import cgroups
from p2n.sandbox import limits as limits_mod

# The uid/gid a root parent switches the sandbox to when the interpreter and cwd are reachable by it.
SANDBOX_UID = 65534
SANDBOX_GID = 65534
# This installation's scripts come first, so a pod command such as ``p2n-runner`` or ``python`` resolves
# to the same environment as in the runner image.
DEFAULT_PATH = f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"
KILL_GRACE_SECONDS = 5.0
_CONFINE = Path(__file__).with_name("_confine.py")
_STATUS_TIMEOUT_SECONDS = 30.0


class SandboxProcess:
    """A running sandboxed command; the subprocess.Popen-like surface callers need."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        group: cgroups.CgroupSet,
        limits_not_applied: list[str],
        wall_seconds: float | None,
    ) -> None:
        self._popen = popen
        self._group = group
        self._lock = threading.Lock()
        self._cleaned = False
        self._oom_kills: int | None = None
        self.limits_not_applied = limits_not_applied
        self.timed_out = False
        self._timers: list[threading.Timer] = []
        if wall_seconds is not None:
            self._start_timer(wall_seconds, self._on_wall_limit)

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def stdout(self) -> IO[bytes]:
        assert self._popen.stdout is not None
        return self._popen.stdout

    @property
    def stderr(self) -> IO[bytes]:
        assert self._popen.stderr is not None
        return self._popen.stderr

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    @property
    def oom_killed(self) -> bool | None:
        """Whether the memory cgroup recorded an OOM kill; None when there is no memory cgroup."""
        kills = self._group.oom_kills() if not self._cleaned else self._oom_kills
        return None if kills is None else kills > 0

    def poll(self) -> int | None:
        code = self._popen.poll()
        if code is not None:
            self._cleanup()
        return code

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the command; raises ``subprocess.TimeoutExpired`` like Popen.wait."""
        code = self._popen.wait(timeout)
        self._cleanup()
        return code

    def terminate(self) -> None:
        """SIGTERM to the whole process group (the command decides how to stop)."""
        self._signal_group(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to the process group and to everything left in the sandbox's cgroups."""
        self._signal_group(signal.SIGKILL)
        if not self._cleaned:
            self._group.kill_all()

    def _signal_group(self, signum: int) -> None:
        if self._popen.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signum)

    def _on_wall_limit(self) -> None:
        if self._popen.poll() is not None:
            return
        self.timed_out = True
        self.terminate()
        self._start_timer(KILL_GRACE_SECONDS, self.kill)

    def _start_timer(self, seconds: float, action: object) -> None:
        timer = threading.Timer(seconds, action)  # type: ignore[arg-type]
        timer.daemon = True
        timer.start()
        self._timers.append(timer)

    def _cleanup(self) -> None:
        """Once the command exited: stop the watchdog, kill leftovers, remove the cgroups."""
        with self._lock:
            if self._cleaned:
                return
            self._cleaned = True
            for timer in self._timers:
                timer.cancel()
            self._oom_kills = self._group.oom_kills()
            self._group.kill_all()
            self._group.remove()


def spawn(argv: list[str], *, env: dict[str, str], limits: limits_mod.Limits, cwd: Path) -> SandboxProcess:
    """Start ``argv`` confined by ``limits`` with only ``env`` (+ PATH, HOME, LANG) in its environment."""
    cwd = Path(cwd).resolve()
    cwd.mkdir(parents=True, exist_ok=True)
    not_applied: list[str] = []
    group, failures = cgroups.create(limits)
    not_applied.extend(failures)
    uid, uid_note = _sandbox_uid(cwd)
    if uid_note:
        not_applied.append(uid_note)
    memory_by_rlimit = limits.memory_mb is not None and not group.has("memory")
    processes_by_rlimit = limits.max_processes is not None and not group.has("pids")
    if memory_by_rlimit:
        not_applied.append("memory_mb: no memory cgroup; enforced per process with RLIMIT_DATA only")
    if limits.cpus is not None and not group.has("cpu"):
        not_applied.append("cpus: no cpu cgroup; CPU bandwidth is not limited")
    if processes_by_rlimit and uid is None and os.geteuid() == 0:
        not_applied.append("max_processes: no pids cgroup, and RLIMIT_NPROC does not apply to root")
        processes_by_rlimit = False
    if uid is not None:
        _give_to(cwd, uid)
    status_read, status_write = os.pipe()
    spec = {
        "cgroup_procs": group.procs_files,
        "isolate_network": not limits.network,
        "rlimits": limits_mod.rlimits(
            limits, memory_by_rlimit=memory_by_rlimit, processes_by_rlimit=processes_by_rlimit
        ),
        "uid": uid,
        "gid": SANDBOX_GID if uid is not None else None,
        "status_fd": status_write,
    }
    child_env = {"PATH": DEFAULT_PATH, "HOME": str(cwd), "LANG": "C.UTF-8", **env}
    try:
        popen = subprocess.Popen(
            [sys.executable, "-I", "-S", str(_CONFINE), json.dumps(spec), *argv],
            env=child_env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(status_write,),
            start_new_session=True,
        )
    except BaseException:
        group.remove()
        raise
    finally:
        os.close(status_write)
    try:
        not_applied.extend(_read_status(status_read))
    finally:
        os.close(status_read)
    return SandboxProcess(popen, group, not_applied, limits.wall_seconds)


def _read_status(fd: int) -> list[str]:
    """The trampoline's report; EOF without one means it died before exec (its stderr says why)."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + _STATUS_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    if not chunks:
        return ["sandbox: the confinement step reported nothing; limits unknown"]
    reported: list[str] = json.loads(b"".join(chunks))
    return reported


def _sandbox_uid(cwd: Path) -> tuple[int | None, str | None]:
    """Run as SANDBOX_UID when we are root and the interpreter, its libraries and cwd are reachable."""
    if os.geteuid() != 0:
        return None, None
    needed = [Path(os.path.realpath(sys.executable)), cwd.parent]
    needed += [Path(entry) for entry in sys.path if entry and Path(entry).is_dir()]
    for path in needed:
        blocked = _blocked_dir(path)
        if blocked is not None:
            return None, (
                f"uid: the sandbox runs as root, since {blocked} is not reachable by uid {SANDBOX_UID}"
            )
    return SANDBOX_UID, None


def _blocked_dir(path: Path) -> Path | None:
    """The first directory on the way to ``path`` that others cannot traverse, if any."""
    for directory in [*reversed(path.parents), path] if path.is_dir() else reversed(path.parents):
        try:
            mode = directory.stat().st_mode
        except OSError:
            return directory
        if not mode & stat.S_IXOTH:
            return directory
    return None


def _give_to(cwd: Path, uid: int) -> None:
    for root, dirs, files in os.walk(cwd):
        for name in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
            os.chown(name, uid, SANDBOX_GID)
