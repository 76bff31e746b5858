"""A Run deleted and recreated under the same name is a new run: its own history row, events, artifacts.

`kubectl delete` then `kubectl apply` of one manifest is common; before run ids and artifact keys
carried the Run's uid, the second Run's events collided by seq with the first's (and were dropped
as duplicates) and its artifacts overwrote the first's.
"""

from __future__ import annotations

import pytest
from tests.cluster.operator.p2n_objects import (
    API,
    TERMINAL,
    apply,
    notebook,
    ready_plan,
    replace_notebook,
    run_manifest,
    sandbox_pods,
    wait_phase,
)
from tests.harness import cluster

from p2n import db as p2n_db
from p2n import events
from p2n.storage import keys

pytestmark = pytest.mark.cluster

NAME = "again"


def _printing(label: str, lines: int) -> bytes:
    return notebook(f"for i in range({lines}):\n    print('{label}', i, flush=True)\n")


def _printed(stored: list[events.Event]) -> str:
    return "\n".join(e.data.text for e in stored if isinstance(e, events.LogLine))


def test_recreated_run_gets_its_own_history_and_artifacts(
    kube, kubectl, namespace, start_operator, s3_storage_for
):
    op = start_operator()
    plan = ready_plan(kube, kubectl, namespace)
    store = s3_storage_for(op.cfg)

    replace_notebook(store, namespace, plan, _printing("first-instance", 3))
    apply(kubectl, run_manifest(NAME, plan))
    first = wait_phase(kube, "Run", NAME, namespace, TERMINAL, timeout=90)
    assert first["status"]["phase"] == "Succeeded", first["status"]
    kubectl("delete", "run", NAME, "--wait=false")
    cluster.wait_for(lambda: kube.find(API, "Run", NAME, namespace) is None, timeout=60, what="run gone")

    # The same manifest again; its notebook prints more, so its seqs cover and pass the first's.
    replace_notebook(store, namespace, plan, _printing("second-instance", 8))
    apply(kubectl, run_manifest(NAME, plan))
    second = wait_phase(kube, "Run", NAME, namespace, TERMINAL, timeout=90)
    assert second["status"]["phase"] == "Succeeded", second["status"]
    uids = first["metadata"]["uid"], second["metadata"]["uid"]
    assert uids[0] != uids[1]

    ids = [p2n_db.cluster_run_id(namespace, NAME, uid) for uid in uids]
    with p2n_db.Database.connect(op.cfg, migrate=False) as history:
        records = [history.get_run(run_id) for run_id in ids]
        stored = [history.events_after(run_id, -1, 10000) for run_id in ids]
        newest = history.latest_run(namespace, NAME)
        rows = history.run_history(namespace)
    assert newest.run_id == ids[1]
    assert [r.phase for r in records] == ["Succeeded", "Succeeded"]
    assert [r.run_id for r in rows] == [ids[1], ids[0]]

    for run_id, uid, label, in_db in zip(
        ids, uids, ("first-instance", "second-instance"), stored, strict=True
    ):
        # Each instance has its complete stream: every event its runner uploaded, none dropped.
        raw = store.get_bytes(keys.run_artifact(namespace, NAME, uid, "events.jsonl")).decode()
        uploaded = [events.parse_line(line) for line in raw.splitlines() if line.strip()]
        assert [e.seq for e in in_db] == sorted({e.seq for e in uploaded})
        assert [e.seq for e in in_db] == list(range(len(in_db)))
        stages = [e for e in in_db if isinstance(e, events.StageUpdate)]
        assert {e.data.run_id for e in stages} == {run_id}
        assert stages[-1].data.stage == "run_complete"
        other = "second-instance" if label == "first-instance" else "first-instance"
        assert label in _printed(in_db)
        assert other not in _printed(in_db)
        # Its artifacts are its own, and the first instance's survive the second.
        logs = store.get_bytes(keys.run_artifact(namespace, NAME, uid, "logs.txt")).decode()
        assert label in logs
        assert other not in logs
        assert records[ids.index(run_id)].artifacts["logs"] == store.uri(
            keys.run_artifact(namespace, NAME, uid, "logs.txt")
        )
    assert len(stored[1]) > len(stored[0])
    cluster.wait_for(lambda: len(sandbox_pods(kube, namespace)) <= 1, timeout=30, what="old pod gone")
