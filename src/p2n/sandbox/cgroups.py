"""A private cgroup (v1 controllers: memory, pids, cpu) per sandboxed process tree.

A memory cgroup limits the whole tree, runner and kernel together, and records OOM kills, which
an rlimit cannot do; the pids controller limits processes even for root, where RLIMIT_NPROC does
not apply. Each group is created under this process's own cgroup for that controller (so the
limits nest inside whatever already limits us), joined by the child before it execs, and removed
after the tree is gone. Only cgroup v1 hierarchies (``/sys/fs/cgroup/<controller>``) are handled;
elsewhere ``create`` reports every such limit as not applied and the caller falls back to rlimits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from p2n.sandbox import limits as limits_mod

ROOT = Path("/sys/fs/cgroup")
_CFS_PERIOD_US = 100_000


@dataclass
class CgroupSet:
    """The cgroup directories of one sandbox, by controller."""

    dirs: dict[str, Path] = field(default_factory=dict)

    @property
    def procs_files(self) -> list[str]:
        return [str(path / "cgroup.procs") for path in self.dirs.values()]

    def has(self, controller: str) -> bool:
        return controller in self.dirs

    def oom_kills(self) -> int | None:
        """OOM kills recorded in the memory group (None without one)."""
        memory = self.dirs.get("memory")
        if memory is None:
            return None
        with contextlib.suppress(OSError, ValueError):
            for line in (memory / "memory.oom_control").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return None

    def pids(self) -> set[int]:
        found: set[int] = set()
        for path in self.dirs.values():
            with contextlib.suppress(OSError, ValueError):
                found.update(int(pid) for pid in (path / "cgroup.procs").read_text().split())
        return found

    def kill_all(self, timeout: float = 5.0) -> None:
        """SIGKILL every process left in the groups (e.g. a kernel in its own session) and wait."""
        deadline = time.monotonic() + timeout
        while True:
            pids = self.pids()
            if not pids or time.monotonic() > deadline:
                return
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)

    def remove(self) -> None:
        for path in self.dirs.values():
            with contextlib.suppress(OSError):
                path.rmdir()
        self.dirs.clear()


def create(limits: limits_mod.Limits) -> tuple[CgroupSet, list[str]]:
    """Make the groups the limits need; returns them and the reasons for any that failed."""
    wanted: dict[str, list[tuple[str, str]]] = {}
    if limits.memory_mb is not None:
        size = str(limits.memory_mb * limits_mod.MIB)
        # Swap is limited too (memsw includes memory), so a tree cannot escape into swap.
        wanted["memory"] = [("memory.limit_in_bytes", size), ("memory.memsw.limit_in_bytes", size)]
    if limits.max_processes is not None:
        wanted["pids"] = [("pids.max", str(limits.max_processes))]
    if limits.cpus is not None:
        quota = str(max(1000, round(limits.cpus * _CFS_PERIOD_US)))
        wanted["cpu"] = [("cpu.cfs_period_us", str(_CFS_PERIOD_US)), ("cpu.cfs_quota_us", quota)]
    group = CgroupSet()
    failures: list[str] = []
    name = f"p2n-sandbox-{uuid.uuid4().hex[:12]}"
    own = _own_cgroups()
    for controller, settings in wanted.items():
        parent = ROOT / controller / own.get(controller, "").lstrip("/")
        path = parent / name
        try:
            path.mkdir()
        except OSError as exc:
            failures.append(f"{controller} cgroup: cannot create under {parent} ({exc.strerror or exc})")
            continue
        group.dirs[controller] = path
        for filename, value in settings:
            try:
                (path / filename).write_text(value)
            except OSError as exc:
                if filename == "memory.memsw.limit_in_bytes":
                    continue  # No swap accounting on this kernel: there is no swap to escape into.
                failures.append(f"{controller} cgroup: cannot set {filename} ({exc.strerror})")
                group.dirs.pop(controller)
                with contextlib.suppress(OSError):
                    path.rmdir()
                break
    return group, failures


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup path per v1 controller, from /proc/self/cgroup."""
    paths: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(","):
                if controller:
                    paths[controller] = path
    return paths
