"""Same notebook and seed, same metrics.json, byte for byte; the seeds set are reported."""

from __future__ import annotations

import pytest

from p2n import events

pytestmark = pytest.mark.runner

RANDOM_METRICS = (
    "import json, os, random\n"
    "import numpy as np\n"
    "metrics = {'py': random.random(), 'np': float(np.random.rand()), 'hash': hash('p2n') % 1000}\n"
    "json.dump(metrics, open(os.environ['P2N_METRICS_PATH'], 'w'))\n"
    "print(os.environ['CUDA_VISIBLE_DEVICES'] == '')"
)


def test_same_seed_gives_identical_metrics_and_reports_seeds(notebook, start_runner):
    nb = notebook(RANDOM_METRICS)
    first = start_runner(nb, "--seed", "11", "--target-metric", "np")
    second = start_runner(nb, "--seed", "11", "--target-metric", "np")
    other = start_runner(nb, "--seed", "12", "--target-metric", "np")
    for run in (first, second, other):
        assert run.finish() == events.RUNNER_EXIT_OK
    assert (first.out_dir / "metrics.json").read_bytes() == (second.out_dir / "metrics.json").read_bytes()
    assert first.artifact_json("metrics.json") != other.artifact_json("metrics.json")

    seed_check = next(
        e for e in first.events if isinstance(e, events.StageUpdate) and e.data.stage == "seed_check"
    )
    assert seed_check.data.seeds == {
        "random": 11,
        "numpy": 11,
        "torch": None,
        "PYTHONHASHSEED": "11",
        "CUDA_VISIBLE_DEVICES": "",
    }
    assert first.log_texts() == ["True"]
