"""Benchmark 5: the operator's resident memory with 1,000 finished Runs and 50 running.

P2N's operator (as a process, ``python -m p2n_operator``, on the emulated cluster of
``bench.cluster``) gets the example Paper and a Ready Plan and runs one Run to its end. That Run
and its pod are then cloned 1,000 times while the operator is stopped (same spec, status,
annotations and finalizers; each clone's pod is run to completion by the kubelet emulator), as an
operator finds a namespace after a restart. A fresh operator process is started on it, 50 more
Runs are created whose pods keep running, and once those 50 are Running its RSS (``VmRSS``) is
sampled once a second for a few seconds. The baseline is the minimal kopf operator
(``bench/baseline_operator.py``) given the same 1,000 + 50 Runs in a namespace of its own.

Cloning keeps the benchmark within its time budget: driving 1,000 Runs through P2N's operator one
by one takes minutes here, because each Run's admission lists every Run and sandbox pod of the
namespace (see ``bench/README.md``).
"""

from __future__ import annotations

import copy
import time
from typing import Any

from bench import cluster, context, figures

TARGET = figures.Target("value", "<=", 200, unit="MiB", basis="≤ 200 MiB (the issue's target)")
_MIB = 1024 * 1024
_SIDES = ("p2n", "baseline")


def _finished_run(
    env: cluster.Environment, op: cluster.Server, namespace: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One Run taken to its end by the operator: the Run and its pod, as the API returns them."""
    env.create_run(namespace, "template")
    key = f"{namespace}/template"
    env.wait(lambda: key in env.timeline.run_terminal, 120, f"Run {key} terminal", op)
    run = env.kube.get(cluster.API, "Run", "template", namespace)
    pods = env.kube.list("v1", "Pod", namespace, label_selector=f"{cluster.RUN_LABEL}=template")
    if len(pods) != 1:
        raise RuntimeError(f"expected one pod for Run {key}, found {len(pods)}")
    return run, pods[0]


def _clone(
    env: cluster.Environment, namespace: str, run: dict[str, Any], pod: dict[str, Any], count: int
) -> None:
    """``count`` copies of a finished Run and its pod; the kubelet runs each pod to completion."""
    keep = ("labels", "annotations", "finalizers")
    for index in range(count):
        name = f"done-{index}"
        clone = {
            "apiVersion": cluster.API,
            "kind": "Run",
            "metadata": {
                "name": name,
                **{k: copy.deepcopy(run["metadata"][k]) for k in keep if k in run["metadata"]},
            },
            "spec": copy.deepcopy(run["spec"]),
        }
        created = env.kube.create(clone, namespace)
        env.kube.patch(cluster.API, "Run", name, {"status": run["status"]}, namespace, status=True)
        pod_meta = pod["metadata"]
        labels = {**pod_meta.get("labels", {}), cluster.RUN_LABEL: name}
        owner = [
            {**ref, "name": name, "uid": created["metadata"]["uid"]}
            for ref in pod_meta.get("ownerReferences", [])
        ]
        env.kube.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": pod_meta["name"].replace("template", name),
                    "labels": labels,
                    "annotations": copy.deepcopy(pod_meta.get("annotations", {})),
                    "ownerReferences": owner,
                },
                "spec": copy.deepcopy(pod["spec"]),
            },
            namespace,
        )
    keys = [f"{namespace}/done-{i}" for i in range(count)]

    def all_done() -> bool:
        with env.timeline.lock:
            return all(key in env.timeline.pod_finished for key in keys)

    env.wait(all_done, 300, f"{count} cloned pods finished in {namespace}")


def _start(env: cluster.Environment, side: str, namespace: str) -> cluster.Server:
    return env.start_p2n_operator(namespace) if side == "p2n" else env.start_baseline_operator(namespace)


def _hold(env: cluster.Environment, op: cluster.Server, namespace: str, running: int) -> None:
    held = [f"{cluster.HOLD_PREFIX}{i}" for i in range(running)]
    for name in held:
        env.create_run(namespace, name)

    def all_running() -> bool:
        with env.timeline.lock:
            if not all(f"{namespace}/{name}" in env.timeline.pod_running for name in held):
                return False
        runs = {r["metadata"]["name"]: r for r in env.kube.list(cluster.API, "Run", namespace)}
        return all((runs[name].get("status") or {}).get("phase") not in cluster.TERMINAL for name in held)

    env.wait(all_running, 300, f"{running} running Runs in {namespace}", op)


def _sample(op: cluster.Server, seconds: int) -> list[float]:
    samples = []
    for _ in range(seconds):
        op.check_alive()
        samples.append(op.rss_bytes() / _MIB)
        time.sleep(1)
    return samples


def run(ctx: context.Context) -> figures.Result:
    finished = ctx.scaled(1_000, 50)
    running = ctx.scaled(50, 5)
    seconds = ctx.scaled(5, 2)
    rss: dict[str, list[float]] = {}
    fresh: dict[str, float] = {}
    with cluster.Environment(ctx.scratch / "operator-memory") as env:
        for side in _SIDES:
            namespace = f"bench-mem-{side}"
            env.namespace(namespace)
            op = _start(env, side, namespace)
            if side == "p2n":
                env.ready_plan(namespace, op)
            else:
                time.sleep(3)
            template, pod = _finished_run(env, op, namespace)
            op.stop()
            context.say(f"operator-memory: {side}: cloning {finished} finished Runs")
            _clone(env, namespace, template, pod, finished)
            op = _start(env, side, namespace)
            time.sleep(3)
            fresh[side] = op.rss_bytes() / _MIB
            context.say(f"operator-memory: {side}: {running} running Runs")
            _hold(env, op, namespace, running)
            time.sleep(seconds)
            rss[side] = _sample(op, seconds)
            op.stop()
    return figures.Result(
        key="operator-memory",
        title="5. Operator memory",
        method=__doc__ or "",
        figures=[
            figures.compared(
                f"RSS with {finished:,} finished + {running} running Runs",
                rss["p2n"],
                rss["baseline"],
                "MiB",
                TARGET,
            )
        ],
        details={"rss_mib_3s_after_start": fresh, "finished": finished, "running": running},
    )
