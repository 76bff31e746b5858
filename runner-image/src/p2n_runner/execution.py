"""One kernel, the notebook's code cells in order, output streamed as it arrives.

``NotebookClient`` is subclassed only at ``process_message``, the point where nbclient handles each
iopub message while the cell is still running: stream text is handed to the emitter there, so log
lines leave the runner as they are printed, not when the cell ends. Outputs kept in the executed
notebook are capped like the logs. The kernel is started once per run, and the executed notebook is
written once, at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient import exceptions as nb_exceptions

from p2n_runner import emitter as emitter_mod
from p2n_runner import memory, outcome, seeding

KERNEL_NAME = "python3"
_STARTUP_TIMEOUT_SECONDS = 120


class _StreamingClient(NotebookClient):
    """nbclient with live output: every stream message reaches the emitter as it arrives."""

    def __init__(
        self, nb: nbformat.NotebookNode, *, emitter: emitter_mod.Emitter, max_output_chars: int, **kw: Any
    ) -> None:
        super().__init__(nb, **kw)
        self._emitter = emitter
        self._max_output_chars = max_output_chars
        self._stored_chars = 0
        self._outputs_capped = False

    def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        msg_type = msg["msg_type"]
        content = msg["content"]
        if msg_type == "stream":
            text = content.get("text", "")
            self._emitter.stream_text("stderr" if content.get("name") == "stderr" else "stdout", text)
            room = self._max_output_chars - self._stored_chars
            self._stored_chars += len(text)
            if len(text) > room:
                if self._outputs_capped:
                    return None
                self._outputs_capped = True
                if room > 0:
                    super().process_message(
                        {**msg, "content": {**content, "text": text[:room]}}, cell, cell_index
                    )
                cell.outputs.append(_truncation_banner(self._max_output_chars))
                return None
        elif msg_type == "error":
            traceback = emitter_mod.strip_ansi("\n".join(content.get("traceback", [])))
            self._emitter.stream_text("stderr", traceback + "\n", level="error")
        return super().process_message(msg, cell, cell_index)


def _truncation_banner(limit: int) -> Any:
    text = f"\n[p2n] output truncated at {limit} characters ({emitter_mod.TOO_LARGE})\n"
    return nbformat.v4.new_output("stream", name="stderr", text=text)  # type: ignore[no-untyped-call]


class Execution:
    """The kernel's lifetime for one run: start, seed, execute cells, kill."""

    def __init__(
        self,
        nb: nbformat.NotebookNode,
        emitter: emitter_mod.Emitter,
        *,
        seed: int,
        work_dir: Path,
        kernel_env: dict[str, str],
        max_output_chars: int,
    ) -> None:
        self.nb = nb
        self._emitter = emitter
        self._seed = seed
        self._work_dir = work_dir
        self._kernel_env = kernel_env
        self._client = _StreamingClient(
            nb,
            emitter=emitter,
            max_output_chars=max_output_chars,
            kernel_name=KERNEL_NAME,
            timeout=None,
            startup_timeout=_STARTUP_TIMEOUT_SECONDS,
            allow_errors=False,
            record_timing=False,
            store_widget_state=False,
            shutdown_kernel="immediate",
        )
        self._km: AsyncKernelManager | None = None
        self._oom_kills_before = memory.oom_kills()

    async def start(self) -> dict[str, int | str | None]:
        """Start the kernel and seed it; returns the seeds the kernel reports."""
        client = self._client
        # ZeroMQ over Unix sockets named relative to the work dir (the cwd of runner and kernel):
        # no loopback TCP needed, and no socket path too long for AF_UNIX however deep the dir is.
        self._km = client.km = AsyncKernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=".p2n/kernel")
        env = {**os.environ, **self._kernel_env, **seeding.kernel_env(self._seed)}
        try:
            await client.async_start_new_kernel(env=env, cwd=str(self._work_dir))
            await client.async_start_new_kernel_client()
        except Exception as exc:
            raise outcome.Failure(
                "E_KERNEL_DIED", f"the kernel failed to start: {type(exc).__name__}: {exc}"
            ) from exc
        self._make_kernel_the_oom_victim()
        assert client.kc is not None
        msg_id = client.kc.execute(
            seeding.seed_code(self._seed),
            silent=False,
            store_history=False,
            user_expressions={"seeds": seeding.SEEDS_EXPRESSION},
        )
        reply = await client.async_wait_for_reply(msg_id)
        if reply is None or reply["content"].get("status") != "ok":
            raise outcome.Failure("E_KERNEL_DIED", "the kernel did not accept the seeding code")
        try:
            return seeding.parse_seeds(reply["content"])
        except (ValueError, KeyError, SyntaxError) as exc:
            raise outcome.Failure("E_INTERNAL", str(exc)) from exc

    async def run_cells(self) -> None:
        """Execute every code cell in order, emitting progress; raises ``Failure`` on the first error."""
        code_cells = [
            i for i, cell in enumerate(self.nb.cells) if cell.cell_type == "code" and cell.source.strip()
        ]
        total = len(code_cells)
        for done, index in enumerate(code_cells, start=1):
            try:
                await self._client.async_execute_cell(self.nb.cells[index], index)
            except nb_exceptions.CellExecutionError as exc:
                self._emitter.flush_partial()
                if exc.ename == "MemoryError":
                    raise outcome.Failure(
                        "E_OOM_KILLED", f"memory limit exceeded in cell {index} (MemoryError)"
                    ) from exc
                raise outcome.Failure(
                    "E_NOTEBOOK_ERROR", f"cell {index} raised {exc.ename}: {exc.evalue}"
                ) from exc
            except nb_exceptions.DeadKernelError as exc:
                self._emitter.flush_partial()
                raise self._death(index) from exc
            self._emitter.flush_partial()
            self._emitter.progress(100.0 * done / total, f"cell {done}/{total}")

    async def kill(self) -> None:
        """Stop the kernel at once (SIGKILL to its process group); safe to call more than once."""
        km = self._km
        if km is not None and km.has_kernel:
            with contextlib.suppress(Exception):
                await km.shutdown_kernel(now=True)

    async def close(self) -> None:
        await self.kill()
        kc = self._client.kc
        if kc is not None:
            with contextlib.suppress(Exception):
                kc.stop_channels()

    def write_notebook(self, path: Path) -> None:
        nbformat.write(self.nb, str(path))  # type: ignore[no-untyped-call]

    def _death(self, index: int) -> outcome.Failure:
        status = self._kernel_returncode()
        killed_by = -status if status is not None and status < 0 else None
        if killed_by == signal.SIGKILL:
            before, after = self._oom_kills_before, memory.oom_kills()
            if before is not None and after is not None and after > before:
                return outcome.Failure(
                    "E_OOM_KILLED", f"the kernel was OOM-killed in cell {index} (memory limit)"
                )
            if after is None:
                return outcome.Failure(
                    "E_KERNEL_DIED",
                    f"the kernel was killed (SIGKILL) in cell {index}, probably out of memory",
                )
        how = f"signal {signal.Signals(killed_by).name}" if killed_by else f"exit status {status}"
        return outcome.Failure("E_KERNEL_DIED", f"the kernel died in cell {index} ({how})")

    def _kernel_returncode(self) -> int | None:
        km = self._client.km
        process = getattr(getattr(km, "provisioner", None), "process", None)
        if process is None:
            return None
        with contextlib.suppress(Exception):
            return process.wait(timeout=2)  # type: ignore[no-any-return]
        return None

    def _make_kernel_the_oom_victim(self) -> None:
        """Raising a process's OOM score needs no privilege: under memory pressure the kernel goes first."""
        pid = getattr(getattr(self._client.km, "provisioner", None), "pid", None)
        if pid:
            with contextlib.suppress(OSError):
                Path(f"/proc/{pid}/oom_score_adj").write_text("1000")


async def tail(path: Path, forward: Any, stop: asyncio.Event, interval: float = 0.1) -> None:
    """Forward lines the notebook appends to ``path`` until ``stop`` is set, then drain what is left."""
    reader = EventsFileReader(path, forward)
    while not stop.is_set():
        reader.read_new()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
    reader.read_new(final=True)


class EventsFileReader:
    """Reads only the bytes appended since the last call (a stat, then a seek and a read)."""

    def __init__(self, path: Path, forward: Any) -> None:
        self._path = path
        self._forward = forward
        self._offset = 0
        self._partial = b""

    def read_new(self, *, final: bool = False) -> None:
        try:
            size = self._path.stat().st_size
        except OSError:
            return
        if size > self._offset:
            with self._path.open("rb") as handle:
                handle.seek(self._offset)
                data = handle.read(size - self._offset)
            self._offset += len(data)
            lines = (self._partial + data).split(b"\n")
            self._partial = lines.pop()
            for line in lines:
                if line.strip():
                    self._forward(line)
        if final and self._partial.strip():
            self._forward(self._partial)
            self._partial = b""
