"""``sandbox.spawn`` on plain commands: environment, cwd, limits, signals, cleanup (no kernel here)."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from p2n import sandbox

pytestmark = pytest.mark.runner


def run(argv, tmp_path, limits=None, env=None, timeout=30):
    proc = sandbox.spawn(argv, env=env or {}, limits=limits or sandbox.Limits(), cwd=tmp_path / "work")
    out = proc.stdout.read().decode()
    err = proc.stderr.read().decode()
    return proc, proc.wait(timeout), out, err


def alive(pid):
    """Running, as opposed to gone or a zombie waiting for a reaper (PID 1 may not reap here)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"


def applied(proc, prefix):
    return not any(note.startswith(prefix) for note in proc.limits_not_applied)


def test_environment_is_scrubbed_and_cwd_is_its_own(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    _, code, out, _ = run(["sh", "-c", "env; pwd"], tmp_path, env={"ONLY": "this"})
    assert code == 0
    lines = out.splitlines()
    names = {line.split("=", 1)[0] for line in lines if "=" in line}
    assert names <= {"ONLY", "PATH", "HOME", "LANG", "PWD", "SHLVL", "_"}
    assert "ONLY=this" in lines
    assert "ghp_secret" not in out
    assert lines[-1] == str((tmp_path / "work").resolve())


def test_network_namespace_blocks_the_host_unless_allowed(tmp_path):
    probe = (
        "import socket, sys\ntry:\n    socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=3)\n"
        "    print('open')\nexcept OSError:\n    print('closed')"
    )
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = str(server.getsockname()[1])
        isolated, _, out, _ = run([sys.executable, "-c", probe, port], tmp_path)
        _, _, out_allowed, _ = run(
            [sys.executable, "-c", probe, port], tmp_path, sandbox.Limits(network=True)
        )
    assert out_allowed.strip() == "open"
    if not applied(isolated, "network"):
        pytest.skip(isolated.limits_not_applied)
    assert out.strip() == "closed"


def test_process_limit_applies_even_to_root(tmp_path):
    forks = (
        "import os, time\ncount = 0\nfor _ in range(60):\n    try:\n        pid = os.fork()\n"
        "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(1)\n        os._exit(0)\n"
        "    count += 1\nprint(count)"
    )
    proc, _, out, _ = run([sys.executable, "-c", forks], tmp_path, sandbox.Limits(max_processes=10))
    assert applied(proc, "max_processes"), proc.limits_not_applied
    assert int(out) < 10


def test_file_size_and_open_files_limits(tmp_path):
    script = (
        "import os\ntry:\n    open('big', 'wb').write(b'x' * (3 * 1024 * 1024))\n    print('wrote')\n"
        "except OSError as exc:\n    print('fsize', exc.errno)\nfiles = []\ntry:\n"
        "    while True:\n        files.append(open(os.devnull))\n"
        "except OSError:\n    print('nofile', len(files) < 64)"
    )
    _, code, out, _ = run(
        [sys.executable, "-c", script], tmp_path, sandbox.Limits(max_file_mb=1, max_open_files=64)
    )
    assert code == 0
    assert out.splitlines() == ["fsize 27", "nofile True"]


def test_memory_limit_kills_the_tree_and_says_so(tmp_path):
    hog = "x = bytearray(600 * 1024 * 1024)\nprint('survived')"
    proc, code, out, _ = run([sys.executable, "-c", hog], tmp_path, sandbox.Limits(memory_mb=100))
    assert "survived" not in out
    if applied(proc, "memory"):
        assert code == -signal.SIGKILL
        assert proc.oom_killed is True
    else:
        assert code != 0


def test_wall_limit_terminates_and_marks_timed_out(tmp_path):
    started = time.monotonic()
    proc, code, _, _ = run(["sleep", "30"], tmp_path, sandbox.Limits(wall_seconds=1))
    assert code == -signal.SIGTERM
    assert proc.timed_out
    assert time.monotonic() - started < 20


def test_terminate_reaches_the_group_and_cleanup_reaches_escaped_sessions(tmp_path):
    pidfile = tmp_path / "work" / "escaped.pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen(['sleep', '60'], start_new_session=True)\n"
        f"open({str(pidfile)!r}, 'w').write(str(child.pid))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)"
    )
    proc = sandbox.spawn(
        [sys.executable, "-c", script], env={}, limits=sandbox.Limits(max_processes=50), cwd=tmp_path / "work"
    )
    assert proc.stdout.readline() == b"ready\n"
    escaped = int(pidfile.read_text())
    proc.terminate()
    assert proc.wait(10) == -signal.SIGTERM
    if not applied(proc, "pids"):
        os.kill(escaped, signal.SIGKILL)
        pytest.skip("no pids cgroup: a process in its own session is not tracked")
    assert not alive(escaped)


def test_limits_that_cannot_apply_are_reported(tmp_path, monkeypatch):
    from p2n.sandbox import cgroups

    monkeypatch.setattr(cgroups, "ROOT", tmp_path / "no-cgroups")
    proc, code, out, _ = run(
        [sys.executable, "-c", "import resource; print(resource.getrlimit(resource.RLIMIT_DATA)[0])"],
        tmp_path,
        sandbox.Limits(memory_mb=512, cpus=1, max_processes=20),
    )
    assert code == 0
    notes = "\n".join(proc.limits_not_applied)
    assert "memory cgroup: cannot create" in notes
    assert "cpus: no cpu cgroup" in notes
    assert "RLIMIT_DATA" in notes
    assert int(out) == 512 * 1024 * 1024
    if os.geteuid() == 0 and "uid:" in notes:
        assert "RLIMIT_NPROC does not apply to root" in notes
