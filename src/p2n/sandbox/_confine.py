"""Confine this process, then exec the sandboxed command (run as a script: stdlib only, no p2n).

Started by ``p2n.sandbox.process.spawn`` as ``python -I -S _confine.py SPEC_JSON ARGV...`` in a new
session with the scrubbed environment and the sandbox's cwd. Doing the confinement here, in a fresh
single-threaded process, instead of in a ``preexec_fn`` keeps ``spawn`` safe to call from threaded
programs (the API server, the kubelet emulator). In order it: joins the cgroups prepared by the
parent, enters a new network namespace with only ``lo`` (up), sets the rlimits, drops to the
sandbox uid/gid when asked, writes the list of limits it could not apply to the status fd, and execs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fcntl
import json
import os
import resource
import socket
import struct
import sys

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFF_RUNNING = 0x40
IFREQ = "16sh14x"


def join_cgroups(procs_files: list[str], not_applied: list[str]) -> None:
    for procs in procs_files:
        try:
            with open(procs, "w") as handle:
                handle.write(str(os.getpid()))
        except OSError as exc:
            not_applied.append(f"cgroup {procs}: cannot join ({exc.strerror})")


def isolate_network(not_applied: list[str]) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        error = os.strerror(ctypes.get_errno())
        not_applied.append(f"network: no new network namespace ({error}); the host network is reachable")
        return
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            current = fcntl.ioctl(sock, SIOCGIFFLAGS, struct.pack(IFREQ, b"lo", 0))
            flags = struct.unpack(IFREQ, current)[1]
            fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP | IFF_RUNNING))
    except OSError as exc:
        not_applied.append(f"network: isolated, but loopback could not be brought up ({exc.strerror})")


def set_rlimits(rlimits: dict[str, int], not_applied: list[str]) -> None:
    for name, value in rlimits.items():
        try:
            resource.setrlimit(getattr(resource, name), (value, value))
        except (OSError, ValueError) as exc:
            not_applied.append(f"{name}={value}: {exc}")


def drop_privileges(uid: int, gid: int, not_applied: list[str]) -> None:
    try:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    except OSError as exc:
        not_applied.append(f"uid: could not switch to {uid}:{gid} ({exc.strerror}); still uid {os.getuid()}")


def main() -> None:
    spec = json.loads(sys.argv[1])
    argv = sys.argv[2:]
    not_applied: list[str] = []
    join_cgroups(spec["cgroup_procs"], not_applied)
    if spec["isolate_network"]:
        isolate_network(not_applied)
    set_rlimits(spec["rlimits"], not_applied)
    if spec.get("uid") is not None:
        drop_privileges(spec["uid"], spec["gid"], not_applied)
    status_fd = spec["status_fd"]
    os.write(status_fd, json.dumps(not_applied).encode())
    os.close(status_fd)
    try:
        os.execvp(argv[0], argv)  # noqa: S606 - exec of the sandboxed argv is the point
    except OSError as exc:
        sys.stderr.write(f"p2n sandbox: cannot execute {argv[0]}: {exc.strerror}\n")
        os._exit(127)


if __name__ == "__main__":
    main()
