"""Tell an out-of-memory kill from any other kernel death, from inside the container.

The kernel killed by the OOM killer dies of SIGKILL; whether the kernel's memory cgroup recorded an
OOM kill settles it. Both cgroup v2 (``memory.events``) and v1 (``memory.oom_control``) are read
from the runner's own cgroup; where neither is readable, a SIGKILL the runner did not send is
reported as a kernel death that was probably out of memory.
"""

from __future__ import annotations

from pathlib import Path

_CGROUP_ROOT = Path("/sys/fs/cgroup")


def oom_kills() -> int | None:
    """OOM kills recorded so far in this process's memory cgroup, or None when unreadable."""
    for path in _candidate_files():
        try:
            text = path.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
    return None


def _candidate_files() -> list[Path]:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    files: list[Path] = []
    for line in lines:
        _, controllers, cgroup_path = line.split(":", 2)
        relative = cgroup_path.lstrip("/")
        if controllers == "":
            files.append(_CGROUP_ROOT / relative / "memory.events")
        elif "memory" in controllers.split(","):
            files.append(_CGROUP_ROOT / "memory" / relative / "memory.oom_control")
    return files
