"""Contracts of the runner shared with other parts: exit codes, metrics lookup, limits, the image."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from p2n import errors, events, sandbox
from p2n.sandbox import limits as limits_mod
from p2n_runner import runner

ROOT = Path(__file__).resolve().parents[2]
RUNNER_SRC = ROOT / "runner-image" / "src" / "p2n_runner"


def test_exit_code_table_is_consistent_with_the_error_codes():
    codes = set(errors.ErrorCode.__args__)
    assert events.RUNNER_EXIT_CODES[0] == "OK"
    assert set(events.RUNNER_EXIT_CODES.values()) - {"OK"} <= codes
    assert len(set(events.RUNNER_EXIT_CODES.values())) == len(events.RUNNER_EXIT_CODES)
    assert events.RUNNER_EXIT_CODES[events.RUNNER_EXIT_CANCELLED] == "E_CANCELLED"
    assert events.runner_error_code(99) == "E_INTERNAL"


@pytest.mark.parametrize(
    ("metrics", "value"),
    [
        ({"acc": 0.5}, 0.5),
        ({"metrics": {"acc": 1}}, 1.0),
        ({"metric": "acc", "value": 0.25}, 0.25),
        ({"acc": "0.5"}, None),
        ({"acc": True}, None),
        ({"acc": float("nan")}, None),
        ([0.5], None),
    ],
)
def test_target_metric_lookup(metrics, value):
    assert runner.find_metric(metrics, "acc") == value


def test_limits_map_to_rlimits():
    limits = sandbox.Limits(memory_mb=100, cpu_seconds=5, max_file_mb=2, max_open_files=64, max_processes=9)
    assert limits_mod.rlimits(limits, memory_by_rlimit=False, processes_by_rlimit=False) == {
        "RLIMIT_CPU": 5,
        "RLIMIT_FSIZE": 2 * 1024 * 1024,
        "RLIMIT_NOFILE": 64,
    }
    both = limits_mod.rlimits(limits, memory_by_rlimit=True, processes_by_rlimit=True)
    assert both["RLIMIT_DATA"] == 100 * 1024 * 1024
    assert both["RLIMIT_NPROC"] == 9
    assert sandbox.notebook_defaults(60).wall_seconds == 90
    assert sandbox.Limits().network is False


def test_runner_imports_only_what_the_image_carries():
    allowed = {"p2n", "p2n_runner", "nbclient", "nbformat", "jupyter_client", "httpx", "pydantic"}
    for path in RUNNER_SRC.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module + ("." + node.names[0].name if node.module == "p2n" else "")]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in allowed or top in _stdlib(), f"{path.name} imports {name}"
                if top == "p2n":
                    assert name == "p2n.events", f"{path.name} imports {name}"


def _stdlib() -> frozenset[str]:
    import sys

    return frozenset(sys.stdlib_module_names)


def test_image_pins_match_the_lock_and_carry_hashes():
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    locked: dict[str, set[str]] = {}
    for package in lock["package"]:
        locked.setdefault(package["name"], set()).add(package["version"])
    requirements = (ROOT / "runner-image" / "requirements.txt").read_text()
    pins = dict(re.findall(r"^([a-z0-9._-]+)==([^\s\\]+)", requirements, re.MULTILINE))
    for name in ("numpy", "pandas", "scipy", "scikit-learn", "matplotlib", "nbclient", "ipykernel", "httpx"):
        assert pins[name] in locked[name], name
    assert requirements.count("--hash=sha256:") >= len(pins)


def test_dockerfile_is_non_root_read_only_friendly_and_compiler_free():
    dockerfile = (ROOT / "runner-image" / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:\d+\.\d+\.\d+-slim", dockerfile, re.MULTILINE)
    assert re.search(r"^USER 10001:10001$", dockerfile, re.MULTILINE)
    assert 'ENTRYPOINT ["p2n-runner"]' in dockerfile
    for variable in ("HOME", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "MPLCONFIGDIR", "XDG_CACHE_HOME"):
        assert re.search(rf"\b{variable}=/work\b", dockerfile), variable
    assert "--only-binary=:all:" in dockerfile
    assert "--require-hashes" in dockerfile
    assert not re.search(r"apt-get install|build-essential|gcc", dockerfile)
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.MULTILINE):
        for path in source.split():
            assert (ROOT / path).exists(), path
