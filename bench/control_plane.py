"""Benchmark 2: control-plane latency and throughput of P2N's operator against a minimal kopf one.

Both operators run at once as processes against one emulated cluster (``bench.cluster``), each
watching its own namespace; the kubelet emulator runs every pod as ``true``. P2N's namespace has
the example Paper and a Ready Plan, and P2N's operator its production settings except
``P2N_MAX_CONCURRENT_RUNS=1000`` (so no Run waits in the queue for a free slot).

- Latency: Runs are created one at a time, alternating between the operators; for each, Run
  created → its pod exists, and pod finished (phase Succeeded/Failed in the store) → Run status
  terminal. p50 and p99 are taken per repeat; the figure is their median over repeats.
- Throughput: 500 Runs are created in one go (as fast as the store takes them) in a namespace of
  their own; the figure is 500 / (time from the first create until the last pod exists). A burst
  still short of 500 pods after 90 s is cut there (rate = pods made / 90 s, noted in the table).
  The namespace is then purged, so leftover work cannot slow the next measurement.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from bench import cluster, context, figures

LATENCY_TARGET = figures.Target(
    "ratio", "<=", 1.25, basis="at most 25% slower than a minimal kopf operator (the issue's target)"
)
RATE_TARGET = figures.Target(
    "value", ">=", 50, unit="pods/s", basis="the Kubernetes Job controller's measured pod creation rate"
)
SIDES = ("p2n", "baseline")
_RUN_TIMEOUT = 60.0
_BURST_LIMIT = 90.0
_SETTLE_SECONDS = 5.0


def _namespace(side: str) -> str:
    return f"bench-{side}"


def _has(milestone: dict[str, float], key: str) -> Callable[[], bool]:
    return lambda: key in milestone


def _latencies(
    env: cluster.Environment, ops: dict[str, cluster.Server], count: int, tag: str
) -> dict[tuple[str, str], list[float]]:
    """``count`` sequential Runs per side, alternating; milliseconds per milestone and side."""
    timeline = env.timeline
    found: dict[tuple[str, str], list[float]] = {(s, m): [] for s in SIDES for m in ("create", "finish")}
    for index in range(count):
        for side in SIDES if index % 2 == 0 else tuple(reversed(SIDES)):
            namespace, name = _namespace(side), f"lat-{tag}-{index}"
            key = f"{namespace}/{name}"
            env.create_run(namespace, name)
            env.wait(_has(timeline.run_terminal, key), _RUN_TIMEOUT, f"Run {key} terminal", ops[side])
            with timeline.lock:
                created = timeline.pod_created[key] - timeline.run_created[key]
                finished = timeline.run_terminal[key] - timeline.pod_finished[key]
            found[(side, "create")].append(created * 1000)
            found[(side, "finish")].append(finished * 1000)
    return found


def _burst(env: cluster.Environment, op: cluster.Server, namespace: str, count: int) -> tuple[float, int]:
    """Pods per second for ``count`` Runs created at once, and how many pods appeared in time.

    A burst that has not produced every pod within ``_BURST_LIMIT`` seconds is cut there: the rate
    is then the pods that did appear over the limit. The namespace is purged afterwards, so what
    the operator still has to do for it cannot slow the next measurement.
    """
    names = [f"burst-{i}" for i in range(count)]
    keys = [f"{namespace}/{name}" for name in names]
    timeline = env.timeline

    def pods() -> int:
        with timeline.lock:
            return sum(1 for key in keys if key in timeline.pod_created)

    started = time.monotonic()
    for name in names:
        env.create_run(namespace, name)
    with contextlib.suppress(TimeoutError):
        env.wait(lambda: pods() == count, _BURST_LIMIT, f"{count} pods in {namespace}", op)
    made = pods()
    with timeline.lock:
        last = max((timeline.pod_created[key] for key in keys if key in timeline.pod_created), default=0.0)
    elapsed = (last - started) if made == count else _BURST_LIMIT
    env.kube.purge_namespace(namespace)
    # Let the operator drop what it was still doing for the purged Runs before the next burst.
    time.sleep(_SETTLE_SECONDS)
    return made / elapsed, made


def run(ctx: context.Context) -> figures.Result:
    repeats = ctx.scaled(min(ctx.repeats, 3), 1)
    bursts = ctx.scaled(min(ctx.repeats, 2), 1)
    per_repeat = ctx.scaled(20, 3)
    burst = ctx.scaled(500, 50)
    burst_namespaces = {s: [f"{_namespace(s)}-burst-{r}" for r in range(bursts)] for s in SIDES}
    with cluster.Environment(ctx.scratch / "control-plane") as env:
        for side in SIDES:
            for namespace in (_namespace(side), *burst_namespaces[side]):
                env.namespace(namespace)
        ops = {
            "p2n": env.start_p2n_operator(_namespace("p2n"), *burst_namespaces["p2n"]),
            "baseline": env.start_baseline_operator(_namespace("baseline"), *burst_namespaces["baseline"]),
        }
        context.say("control-plane: waiting for the example Plan to be Ready")
        for namespace in (_namespace("p2n"), *burst_namespaces["p2n"]):
            env.ready_plan(namespace, ops["p2n"])
        # One Run each to warm both operators' caches and connection pools (not measured).
        _latencies(env, ops, 1, "warm")
        p50: dict[str, dict[str, list[float]]] = {m: {s: [] for s in SIDES} for m in ("create", "finish")}
        p99: dict[str, dict[str, list[float]]] = {m: {s: [] for s in SIDES} for m in ("create", "finish")}
        raw: dict[str, list[float]] = {}
        for repeat in range(repeats):
            context.say(f"control-plane: latency repeat {repeat + 1}/{repeats} ({per_repeat} Runs per side)")
            found = _latencies(env, ops, per_repeat, str(repeat))
            for (side, milestone), samples in found.items():
                p50[milestone][side].append(figures.percentile(samples, 50))
                p99[milestone][side].append(figures.percentile(samples, 99))
                raw.setdefault(f"{side} {milestone}", []).extend(samples)
        rates: dict[str, list[float]] = {s: [] for s in SIDES}
        made: dict[str, list[int]] = {s: [] for s in SIDES}
        for repeat in range(bursts):
            for side in SIDES if repeat % 2 == 0 else tuple(reversed(SIDES)):
                context.say(f"control-plane: burst of {burst} Runs, {side}, repeat {repeat + 1}/{bursts}")
                rate, pods = _burst(env, ops[side], burst_namespaces[side][repeat], burst)
                rates[side].append(rate)
                made[side].append(pods)
    labels = {"create": "Run created → pod created", "finish": "pod finished → Run terminal"}
    result = figures.Result(
        key="control-plane",
        title="2. Control plane",
        method=__doc__ or "",
        details={
            "repeats": repeats,
            "runs_per_repeat": per_repeat,
            "burst": burst,
            "burst_repeats": bursts,
            "burst_limit_seconds": _BURST_LIMIT,
            "burst_pods_created": made,
            "latency_ms": raw,
        },
    )
    for milestone, label in labels.items():
        for name, table in (("p50", p50), ("p99", p99)):
            result.figures.append(
                figures.compared(
                    f"{label}, {name} latency",
                    table[milestone]["p2n"],
                    table[milestone]["baseline"],
                    "ms",
                    LATENCY_TARGET,
                )
            )
    cut = [pods for pods in made["p2n"] + made["baseline"] if pods < burst]
    result.figures.append(
        figures.compared(
            f"{burst} Runs at once: pods created per second",
            rates["p2n"],
            rates["baseline"],
            "pods/s",
            RATE_TARGET,
            note=f"cut at {_BURST_LIMIT:.0f}s with {min(cut)}-{max(cut)} of {burst} pods" if cut else "",
        )
    )
    return result
