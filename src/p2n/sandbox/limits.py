"""What a sandboxed process may use, and how each limit maps onto this machine's mechanisms.

| limit          | preferred mechanism                  | fallback (reported)                      |
|----------------|--------------------------------------|------------------------------------------|
| memory_mb      | memory cgroup (whole process tree)   | RLIMIT_DATA per process                  |
| cpus           | cpu cgroup CFS quota                 | none                                     |
| max_processes  | pids cgroup                          | RLIMIT_NPROC, only when not running as root |
| cpu_seconds    | RLIMIT_CPU (per process)             |                                          |
| max_file_mb    | RLIMIT_FSIZE                         |                                          |
| max_open_files | RLIMIT_NOFILE                        |                                          |
| wall_seconds   | watchdog in the parent: SIGTERM, then SIGKILL after a grace period |            |
| network=False  | new network namespace with only loopback | none: the host network stays reachable |

``None`` means "not limited". Every limit that could not be applied is listed, with why, in
``SandboxProcess.limits_not_applied``; nothing is skipped silently.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MIB = 1024 * 1024


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_mb: int | None = Field(default=None, ge=16, description="Memory of the whole process tree.")
    cpu_seconds: int | None = Field(default=None, ge=1, description="CPU time per process (RLIMIT_CPU).")
    cpus: float | None = Field(default=None, gt=0, le=256, description="CPU bandwidth, in cores.")
    max_processes: int | None = Field(default=None, ge=1, description="Processes and threads in the tree.")
    max_file_mb: int | None = Field(default=None, ge=1, description="Largest file a process may write.")
    max_open_files: int | None = Field(default=None, ge=16, description="Open file descriptors per process.")
    wall_seconds: float | None = Field(
        default=None, gt=0, description="Wall-clock time before SIGTERM/SIGKILL."
    )
    network: bool = Field(default=False, description="False: a private network namespace with loopback only.")


def notebook_defaults(timeout_seconds: int) -> Limits:
    """Local defaults for one notebook run; the wall limit is a backstop past the runner's own deadline."""
    return Limits(
        memory_mb=2048,
        cpus=1.0,
        max_processes=256,
        max_file_mb=512,
        max_open_files=1024,
        wall_seconds=timeout_seconds + 30,
    )


def rlimits(limits: Limits, *, memory_by_rlimit: bool, processes_by_rlimit: bool) -> dict[str, int]:
    """The ``resource`` limits to set in the child (names as in the ``resource`` module)."""
    values: dict[str, int] = {}
    if limits.cpu_seconds is not None:
        values["RLIMIT_CPU"] = limits.cpu_seconds
    if limits.max_file_mb is not None:
        values["RLIMIT_FSIZE"] = limits.max_file_mb * MIB
    if limits.max_open_files is not None:
        values["RLIMIT_NOFILE"] = limits.max_open_files
    if memory_by_rlimit and limits.memory_mb is not None:
        values["RLIMIT_DATA"] = limits.memory_mb * MIB
    if processes_by_rlimit and limits.max_processes is not None:
        values["RLIMIT_NPROC"] = limits.max_processes
    return values
