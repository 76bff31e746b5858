"""The layering of DESIGN.md, checked on every test run.

import-linter enforces the package contracts in pyproject.toml (API and operator independent,
runner on p2n.events only, core independent of the services). The AST scan below enforces what
import-linter cannot express: each vendor SDK is imported in its one adapter module, so vendor
exceptions are translated in one place and the runner image stays small.
"""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE_ROOTS = [ROOT / "src", ROOT / "operator" / "src", ROOT / "api" / "src", ROOT / "runner-image" / "src"]
# SDK -> the modules allowed to import it. Each vendor SDK has one adapter per service package: the
# API and the operator may not import each other, so each talks to Kubernetes through its own
# adapter. kopf belongs to the operator's handler layer (handlers, the Run lifecycle and pod-log
# follower they start, their side effects, and the service running them) and to the operator's
# Kubernetes adapter, which logs in with kopf's credential loading; the pure reconcile, policy and
# pod-builder modules never see it.
ALLOWED_IMPORTERS: dict[str, frozenset[str]] = {
    "openai": frozenset({"p2n.llm.openai_client"}),
    "boto3": frozenset({"p2n.storage.s3"}),
    "botocore": frozenset({"p2n.storage.s3"}),
    "psycopg": frozenset({"p2n.db.postgres"}),
    "psycopg_pool": frozenset({"p2n.db.postgres"}),
    "kubernetes": frozenset({"p2n_operator.kube", "p2n_api.kube"}),
    "kopf": frozenset(
        {
            "p2n_operator.handlers",
            "p2n_operator.kube",
            "p2n_operator.runs",
            "p2n_operator.follower",
            "p2n_operator.effects",
            "p2n_operator.metrics",
            "p2n_operator.service",
            "p2n_operator.tracing",
            "p2n_operator.__main__",
        }
    ),
}
FRAMEWORKS = {"kopf"}
RUNNER_CONTRACT = "Runner imports only p2n.events from the core"


def _modules() -> Iterator[tuple[str, Path]]:
    for root in SOURCE_ROOTS:
        for path in sorted(root.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield ".".join(parts), path


def _imported_roots(tree: ast.AST) -> set[str]:
    """Top-level names of every absolute import, including lazy and importlib ones."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.add(node.args[0].value.split(".")[0])
    return found


def vendor_importers() -> dict[str, set[str]]:
    importers: dict[str, set[str]] = {sdk: set() for sdk in ALLOWED_IMPORTERS}
    for module, path in _modules():
        for sdk in _imported_roots(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if sdk in importers:
                importers[sdk].add(module)
    return importers


def test_import_linter_contracts_hold() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(r) for r in SOURCE_ROOTS)}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "0 broken" in done.stdout


def test_each_vendor_sdk_is_imported_only_by_its_adapter() -> None:
    strays = {
        sdk: sorted(modules - ALLOWED_IMPORTERS[sdk])
        for sdk, modules in vendor_importers().items()
        if modules - ALLOWED_IMPORTERS[sdk]
    }
    assert strays == {}, (
        "vendor SDK imported outside its adapter module; move the call into the adapter "
        "(or, for a new adapter, update ALLOWED_IMPORTERS in tests/unit/test_layering.py)"
    )


def test_every_vendor_sdk_has_at_most_one_adapter_per_package() -> None:
    for sdk, modules in ALLOWED_IMPORTERS.items():
        packages = [module.split(".")[0] for module in modules]
        assert sdk in FRAMEWORKS or len(packages) == len(set(packages)), sdk
        assert sdk not in FRAMEWORKS or packages == ["p2n_operator"] * len(packages), sdk


def test_the_scan_sees_lazy_and_importlib_imports() -> None:
    code = (
        "import boto3.session\nfrom botocore import exceptions\n"
        "def f():\n    import psycopg\n    return importlib.import_module('openai.types')\n"
        "from . import kubernetes\n"
    )
    assert _imported_roots(ast.parse(code)) == {"boto3", "botocore", "psycopg", "openai"}


def test_runner_contract_forbids_every_core_module_but_events() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = [c for c in config["tool"]["importlinter"]["contracts"] if c["name"] == RUNNER_CONTRACT]
    assert contract["type"] == "forbidden"
    assert contract["source_modules"] == ["p2n_runner"]
    core = ROOT / "src" / "p2n"
    submodules = {f"p2n.{path.stem}" for path in core.glob("*.py") if path.stem != "__init__"} | {
        f"p2n.{path.name}" for path in core.iterdir() if path.is_dir() and any(path.rglob("*.py"))
    }
    missing = submodules - {"p2n.events"} - set(contract["forbidden_modules"])
    assert missing == set(), f"add {sorted(missing)} to the runner's forbidden_modules in pyproject.toml"
    assert "p2n.events" not in contract["forbidden_modules"]
    assert {"p2n_api", "p2n_operator"} <= set(contract["forbidden_modules"])


def test_operator_is_the_standard_library_module() -> None:
    # Top-level folders such as operator/ must never shadow the standard library.
    module = importlib.import_module("operator")
    assert module.__file__ is not None
    stdlib = Path(sysconfig.get_paths()["stdlib"]).resolve()
    assert Path(module.__file__).resolve().is_relative_to(stdlib)
    assert callable(module.itemgetter)
    assert module.itemgetter(1)("ab") == "b"
