"""Benchmark 3: the SSE relay, P2N's API against a bare sse-starlette endpoint.

Both servers run as processes under uvicorn (P2N's API as deployed, ``uvicorn p2n_api.main:app``,
with static-token auth and PostgreSQL; the baseline is ``bench/baseline_relay.py``), against one
emulated cluster (``bench.cluster``) whose kubelet emulator runs a runner-like pod: it prints JSON
events on stdout exactly as ``p2n-runner`` does (one line, flushed, per event), released by a gate
file once the SSE client is connected. Each server follows that pod's log and relays the events;
the client is in the benchmark process, the same for both sides, and the sides alternate.

- Throughput: the pod prints N log_line events as fast as it can; events per second is N over the
  time from opening the gate to receiving the terminal stage.
- Latency: the pod prints events at a steady 200/s, each carrying its emission time
  (``time.time()``); latency is receipt minus emission, per event, on one clock.
- Idle memory: 2,000 clients connect (raw HTTP/1.1 on loopback, headers read, then silent) to a
  run whose pod never opens its gate (P2N) or to an endpoint that never sends (baseline); the
  figure is the server's RSS growth over those connections, divided by 2,000.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from bench import cluster, context, figures

THROUGHPUT_TARGET = figures.Target(
    "ratio", ">=", 0.5, basis="at least half a bare sse-starlette relay's rate (the issue's target)"
)
LATENCY_TARGET = figures.Target("value", "<=", 100, unit="ms", basis="p99 ≤ 100 ms (the issue's target)")
IDLE_TARGET = figures.Target(
    "value", "<=", 64, unit="KiB", basis="≤ 64 KiB per idle client (the issue's target)"
)
SIDES = ("p2n", "baseline")
NAMESPACE = "bench-relay"
TOKEN = "bench-relay-token"
_RATE = 200.0
_STREAM_TIMEOUT = 120.0

_EMITTER = """
import json, os, sys, time
count, rate = int(os.environ["COUNT"]), float(os.environ["RATE"])
gate, run = os.environ["GATE"], os.environ["RUN"]
out = sys.stdout
def emit(seq, event, data):
    out.write(json.dumps({"seq": seq, "event": event, "ts": time.time(), "data": data}) + "\\n")
    out.flush()
emit(0, "stage_update", {"stage": "run_start", "run_id": run})
deadline = time.time() + 300
while not os.path.exists(gate) and time.time() < deadline:
    time.sleep(0.005)
start = time.time()
for i in range(1, count + 1):
    if rate:
        pause = start + i / rate - time.time()
        if pause > 0:
            time.sleep(pause)
    emit(i, "log_line", {"text": repr(time.time()), "stream": "stdout", "level": "info"})
emit(count + 1, "stage_update", {"stage": "run_complete", "run_id": run})
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Relays:
    """The two servers, a way to start a runner-like pod, and the URL each side serves it at."""

    def __init__(self, env: cluster.Environment) -> None:
        self.env = env
        self.ports = {side: _free_port() for side in SIDES}
        env.namespace(NAMESPACE)
        common = ["--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
        self.servers = {
            "p2n": env.launch(
                "api-p2n",
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "p2n_api.main:app",
                    "--port",
                    str(self.ports["p2n"]),
                    *common,
                ],
                {
                    "P2N_DATABASE_URL": env.database_url,
                    "P2N_STORAGE_DIR": str(env.scratch / "storage"),
                    "P2N_HOME": str(env.scratch / "p2n-home"),
                    "P2N_AUTH_MODE": "static",
                    "P2N_STATIC_TOKENS": f"{TOKEN}=bench",
                    "P2N_LOG_FORMAT": "text",
                },
            ),
            "baseline": env.launch(
                "api-baseline",
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "bench.baseline_relay:app",
                    "--port",
                    str(self.ports["baseline"]),
                    *common,
                ],
                {"BENCH_KUBE_URL": env.kube.url},
            ),
        }
        for side in SIDES:
            self._wait_up(side)

    def base(self, side: str) -> str:
        return f"http://127.0.0.1:{self.ports[side]}"

    def _wait_up(self, side: str) -> None:
        path = "/healthz"

        def up() -> bool:
            try:
                return httpx.get(self.base(side) + path, timeout=2).status_code < 500
            except httpx.HTTPError:
                return False

        self.env.wait(up, 60, f"the {side} relay to answer", self.servers[side])

    def start_run(self, count: int, rate: float) -> tuple[str, Path]:
        """A Running Run whose pod prints ``count`` events once its gate file exists."""
        name = f"relay-{secrets.token_hex(4)}"
        pod = f"p2n-run-{name}"
        gate = self.env.scratch / f"gate-{name}"
        kube = self.env.kube
        kube.create(
            {
                "apiVersion": cluster.API,
                "kind": "Run",
                "metadata": {"name": name},
                "spec": {"planRef": {"name": "no-plan"}},
            },
            NAMESPACE,
        )
        env = {"COUNT": str(count), "RATE": str(rate), "GATE": str(gate), "RUN": name}
        kube.create(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": pod},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "runner",
                            "image": "p2n-runner:bench",
                            "command": ["python", "-c", _EMITTER],
                            "env": [{"name": k, "value": v} for k, v in env.items()],
                        }
                    ],
                },
            },
            NAMESPACE,
        )
        kube.patch(
            cluster.API, "Run", name, {"status": {"phase": "Running", "pod": pod}}, NAMESPACE, status=True
        )
        return name, gate

    def events_url(self, side: str, run: str) -> tuple[str, dict[str, str], dict[str, str]]:
        if side == "p2n":
            return (
                f"{self.base(side)}/api/v1/runs/{run}/events",
                {"namespace": NAMESPACE},
                {"Authorization": f"Bearer {TOKEN}"},
            )
        return f"{self.base(side)}/runs/{NAMESPACE}/p2n-run-{run}/events", {}, {}


def stream(relays: Relays, side: str, count: int, rate: float) -> tuple[float, list[float]]:
    """Open the gate once connected; return (seconds gate → terminal stage, per-event latencies in ms)."""
    run, gate = relays.start_run(count, rate)
    url, params, headers = relays.events_url(side, run)
    latencies: list[float] = []
    opened = 0.0
    deadline = time.monotonic() + _STREAM_TIMEOUT
    with (
        httpx.Client(timeout=httpx.Timeout(30, read=_STREAM_TIMEOUT)) as client,
        client.stream("GET", url, params=params, headers=headers) as response,
    ):
        if response.status_code != 200:
            raise RuntimeError(f"{side} relay answered {response.status_code}: {response.read()[:300]!r}")
        event = ""
        for line in response.iter_lines():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{side} relay: no terminal stage within {_STREAM_TIMEOUT:.0f}s")
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                if event == "stage_update" and not opened:
                    opened = time.perf_counter()
                    gate.touch()
                elif event == "log_line" and rate:
                    emitted = float(line.split('"text":', 1)[1].split('"')[1])
                    latencies.append((time.time() - emitted) * 1000)
                elif event == "stage_update" and "run_complete" in line:
                    return time.perf_counter() - opened, latencies
    raise RuntimeError(f"{side} relay ended the stream before the terminal stage")


async def _hold_idle(host: str, port: int, request: bytes, clients: int) -> list[asyncio.StreamWriter]:
    async def one() -> asyncio.StreamWriter:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"idle client refused: {head[:200]!r}")
        return writer

    held: list[asyncio.StreamWriter] = []
    for start in range(0, clients, 100):
        held += await asyncio.gather(*(one() for _ in range(min(100, clients - start))))
    return held


def idle_kib(relays: Relays, side: str, clients: int) -> float:
    """RSS growth of the server per idle client, in KiB."""
    if side == "p2n":
        run, _gate = relays.start_run(1, 0)
        url, params, headers = relays.events_url(side, run)
        target = f"{httpx.URL(url).path}?namespace={params['namespace']}"
        auth = f"Authorization: {headers['Authorization']}\r\n"
    else:
        target, auth = "/idle", ""
    request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n{auth}\r\n".encode()
    server = relays.servers[side]

    async def measure() -> float:
        warm = await _hold_idle("127.0.0.1", relays.ports[side], request, 1)
        await asyncio.sleep(1.0)
        before = server.rss_bytes()
        held = await _hold_idle("127.0.0.1", relays.ports[side], request, clients)
        await asyncio.sleep(2.0)
        after = server.rss_bytes()
        for writer in [*warm, *held]:
            writer.close()
        await asyncio.sleep(1.0)
        return (after - before) / clients / 1024

    return asyncio.run(measure())


@contextlib.contextmanager
def _relays(ctx: context.Context) -> Iterator[Relays]:
    with cluster.Environment(ctx.scratch / "relay", trivial_pods=False, s3=False) as env:
        yield Relays(env)


def run(ctx: context.Context) -> figures.Result:
    repeats = ctx.scaled(min(ctx.repeats, 3), 1)
    count = ctx.scaled(20_000, 500)
    paced = ctx.scaled(1_000, 100)
    clients = ctx.scaled(2_000, 100)
    rates: dict[str, list[float]] = {s: [] for s in SIDES}
    p50: dict[str, list[float]] = {s: [] for s in SIDES}
    p99: dict[str, list[float]] = {s: [] for s in SIDES}
    idle: dict[str, list[float]] = {s: [] for s in SIDES}
    with _relays(ctx) as relays:
        stream(relays, "p2n", 10, 0)
        stream(relays, "baseline", 10, 0)
        for repeat in range(repeats):
            order = SIDES if repeat % 2 == 0 else tuple(reversed(SIDES))
            for side in order:
                context.say(f"relay: repeat {repeat + 1}/{repeats}, {side}: {count} events flat out")
                seconds, _ = stream(relays, side, count, 0)
                rates[side].append(count / seconds)
            for side in order:
                context.say(f"relay: repeat {repeat + 1}/{repeats}, {side}: {paced} events at {_RATE:.0f}/s")
                _, latencies = stream(relays, side, paced, _RATE)
                p50[side].append(figures.percentile(latencies, 50))
                p99[side].append(figures.percentile(latencies, 99))
        for side in SIDES:
            context.say(f"relay: {clients} idle clients on {side}")
            idle[side].append(idle_kib(relays, side, clients))
    return figures.Result(
        key="relay",
        title="3. SSE relay",
        method=__doc__ or "",
        figures=[
            figures.compared(
                f"{count:,} events: events/s", rates["p2n"], rates["baseline"], "ev/s", THROUGHPUT_TARGET
            ),
            figures.compared(f"at {_RATE:.0f} ev/s: p50 latency", p50["p2n"], p50["baseline"], "ms"),
            figures.compared(
                f"at {_RATE:.0f} ev/s: p99 latency", p99["p2n"], p99["baseline"], "ms", LATENCY_TARGET
            ),
            figures.compared(
                f"{clients:,} idle clients: RSS per client", idle["p2n"], idle["baseline"], "KiB", IDLE_TARGET
            ),
        ],
        details={"repeats": repeats, "events": count, "paced_events": paced, "idle_clients": clients},
    )
