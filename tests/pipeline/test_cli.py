"""``p2n reproduce`` and ``p2n claims`` as a user runs them: a subprocess, stdout, files, history."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import p2n.db

pytestmark = pytest.mark.pipeline

REPO = Path(__file__).resolve().parents[2]
PAPERS = REPO / "examples" / "papers"
P2N = Path(sys.executable).with_name("p2n")


def run_cli(
    args: list[str], *, cwd: Path, home: Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("P2N_", "OPENAI_"))}
    env.update({"P2N_HOME": str(home), **(extra_env or {})})
    return subprocess.run(
        [str(P2N), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False
    )


@pytest.fixture
def fresh_home() -> Iterator[Path]:
    """A P2N_HOME outside pytest's 0700 temporary tree, which the embedded server's own user cannot enter."""
    home = Path(tempfile.mkdtemp(prefix="p2n-cli-home-"))
    home.chmod(0o755)
    yield home
    shutil.rmtree(home, ignore_errors=True)


def test_main_job_command_on_a_fresh_machine(tmp_path: Path, fresh_home: Path) -> None:
    """`p2n reproduce examples/papers/iris-lda.md` with nothing configured (embedded PostgreSQL)."""
    (tmp_path / "examples").symlink_to(REPO / "examples")
    done = run_cli(["reproduce", "examples/papers/iris-lda.md"], cwd=tmp_path, home=fresh_home)
    assert done.returncode == 0, done.stderr
    assert "Verdict:  REPRODUCED: claimed 0.98, observed 0.98, gap +0.00%" in done.stdout
    assert "iris-accuracy-1" in done.stdout
    assert "LDA achieved a training accuracy of 98.0% (resubstitution)." in done.stdout
    out = tmp_path / "p2n-out" / "iris-lda"
    report = json.loads((out / "report.json").read_text())
    assert report["verdict"] == "reproduced"
    assert (out / "report.html").exists()
    assert "seed 0: 100%" in done.stderr
    assert "recording the runs in the history database" in done.stderr
    assert "not recorded" not in done.stderr


@pytest.fixture(scope="module")
def json_run(
    tmp_path_factory: pytest.TempPathFactory, postgres_database: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    tmp = tmp_path_factory.mktemp("json")
    out = tmp / "out"
    done = run_cli(
        [
            "reproduce",
            str(PAPERS / "iris-lda.md"),
            "--json",
            "--claim",
            "iris-accuracy-3",
            "--seeds",
            "0,1",
            "--out",
            str(out),
            "--kid",
        ],
        cwd=tmp,
        home=tmp / "home",
        extra_env={"P2N_DATABASE_URL": postgres_database},
    )
    return done, out


def test_json_report(json_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, out = json_run
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["paper"]["title"] == "Linear Discriminant Analysis on the Iris Flowers"
    assert len(report["paper"]["sha256"]) == 64
    assert [c["id"] for c in report["claims"]] == ["iris-accuracy-1", "iris-accuracy-2", "iris-accuracy-3"]
    assert report["claim"]["id"] == "iris-accuracy-3"
    assert report["plan"]["dataset"]["features"] == ["petal length (cm)", "petal width (cm)"]
    assert report["plan"]["plan_hash"].startswith("sha256:")
    assert [(r["seed"], r["phase"], r["observed"]) for r in report["runs"]] == [
        (0, "Succeeded", 0.96),
        (1, "Succeeded", 0.96),
    ]
    assert set(report["runs"][0]["artifacts"]) == {
        "events.jsonl",
        "logs.txt",
        "metrics.json",
        "notebook.ipynb",
    }
    assert (
        report["claimed"],
        report["observed"],
        report["gap_percent"],
        report["verdict"],
        report["error"],
    ) == (
        0.96,
        0.96,
        0.0,
        "reproduced",
        None,
    )
    assert json.loads((out / "report.json").read_text())["verdict"] == "reproduced"
    assert (out / "notebook.ipynb").exists()
    assert (out / "plan.json").exists()
    book = json.loads((out / "storybook.json").read_text())
    assert 5 <= len(book["pages"]) <= 7
    assert book["grade_level"] <= 3.9
    assert "We got 96.0 out of 100. The paper said 96.0 out of 100." in book["pages"][-1]["body"]
    assert "Kid mode" in (out / "report.html").read_text()


def test_runs_are_recorded_in_the_history(
    json_run: tuple[subprocess.CompletedProcess[str], Path], db: p2n.db.Database
) -> None:
    done, _ = json_run
    report = json.loads(done.stdout)
    history = db.run_history("local", limit=10)
    assert sorted(r.seed for r in history) == [0, 1]
    assert {(r.claim, r.observed, r.verdict, r.phase) for r in history} == {
        ("iris-accuracy-3", 0.96, "reproduced", "Succeeded")
    }
    assert all(r.plan_hash == report["plan"]["plan_hash"] for r in history)
    series = db.metric_series(history[0].run_id, "accuracy")
    assert series
    assert series[-1].value == pytest.approx(0.96)
    (saved,) = db.reports("local")
    assert saved.verdict == "reproduced"
    assert sorted(saved.run_ids) == sorted(r.run_id for r in history)


def test_out_of_scope_paper_is_a_typed_error(tmp_path: Path) -> None:
    done = run_cli(
        [
            "reproduce",
            str(PAPERS / "imagenet-resnet.md"),
            "--json",
            "--no-history",
            "--out",
            str(tmp_path / "o"),
        ],
        cwd=tmp_path,
        home=tmp_path / "home",
    )
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["error"]["code"] == "E_GPU_REQUESTED"
    assert report["runs"] == []
    assert report["verdict"] is None
    assert json.loads((tmp_path / "o" / "report.json").read_text())["error"]["code"] == "E_GPU_REQUESTED"


def test_unknown_claim_and_missing_file(tmp_path: Path) -> None:
    done = run_cli(
        [
            "reproduce",
            str(PAPERS / "iris-lda.md"),
            "--claim",
            "nope",
            "--no-history",
            "--out",
            str(tmp_path / "o"),
        ],
        cwd=tmp_path,
        home=tmp_path / "home",
    )
    assert done.returncode == 1
    assert "Error:    E_NOT_FOUND: no claim 'nope'" in done.stdout
    missing = run_cli(["claims", str(tmp_path / "absent.md")], cwd=tmp_path, home=tmp_path / "home")
    assert missing.returncode == 1
    assert "E_NOT_FOUND" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_claims_command(tmp_path: Path) -> None:
    listed = run_cli(["claims", str(PAPERS / "wine-knn.pdf"), "--json"], cwd=tmp_path, home=tmp_path / "home")
    assert listed.returncode == 0, listed.stderr
    claims = json.loads(listed.stdout)
    assert [(c["id"], c["citation"]["page"]) for c in claims] == [
        ("wine-accuracy-1", 1),
        ("wine-accuracy-2", 2),
        ("wine-accuracy-3", 2),
    ]
    text = run_cli(["claims", str(PAPERS / "wine-knn.pdf")], cwd=tmp_path, home=tmp_path / "home")
    assert "wine-accuracy-3: accuracy = 97.2%" in text.stdout
    assert "p.2:" in text.stdout
