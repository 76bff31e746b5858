"""Every event of a run goes through here: numbered, printed on stdout, appended to ``events.jsonl``.

One ``Emitter`` owns the run's ``seq`` counter, so stdout and ``events.jsonl`` carry the same events
in the same order. Cell output is split into lines as it arrives and each line becomes a ``log_line``
event and a line of ``logs.txt``. Both artifacts are capped: past the cap a banner and a single
``E_ARTIFACT_TOO_LARGE`` warning are written and further output is dropped from the file *and* from
stdout (the run itself goes on), so a notebook printing gigabytes cannot flood the pod log either.
Stage events are never dropped, so every stream ends with its terminal stage.

All methods are called from the runner's event loop thread only.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import IO, Any, Literal

from p2n import events

TOO_LARGE = "E_ARTIFACT_TOO_LARGE"
# Room kept in events.jsonl for the banner and the stage events that follow a truncation.
_EVENTS_RESERVE = 16 * 1024
# A line longer than this is emitted in pieces, so one huge line cannot grow a buffer unbounded.
_MAX_LINE_CHARS = 64 * 1024
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

Stream = Literal["stdout", "stderr", "system"]


def strip_ansi(text: str) -> str:
    """Tracebacks from IPython are colored; logs are plain text."""
    return _ANSI.sub("", text)


class Emitter:
    """Numbered events to stdout and ``events.jsonl``; cell output lines to ``logs.txt``."""

    def __init__(
        self, *, run_id: str, events_path: Path, logs_path: Path, max_bytes: int, out: IO[bytes] | None = None
    ) -> None:
        self.run_id = run_id
        self._seq = 0
        self._out = out if out is not None else sys.stdout.buffer
        self._out_open = True
        self._events_file = events_path.open("wb")
        self._logs_file = logs_path.open("wb")
        self._max_bytes = max_bytes
        self._events_bytes = 0
        self._logs_bytes = 0
        self._events_truncated = False
        self._logs_truncated = False
        self._partial: dict[Stream, str] = {}
        self.dropped_bytes = 0

    # Events.

    def stage(self, stage: events.Stage, **extra: Any) -> None:
        self._emit(events.stage(self._next(), stage, self.run_id, **extra), droppable=False)

    def progress(self, percent: float, msg: str) -> None:
        self._emit(events.progress(self._next(), min(100.0, max(0.0, percent)), msg))

    def forward(self, name: str, data: dict[str, Any]) -> None:
        """Re-number and emit an event the notebook appended to ``P2N_EVENTS_PATH``."""
        self._emit(events.make(name, self._next(), data))

    def system(
        self, text: str, *, level: Literal["info", "warning", "error"] = "info", code: str | None = None
    ) -> None:
        """A line from the runner itself (stream ``system``), in the logs and the events."""
        self._log(text, stream="system", level=level, code=code)

    # Cell output.

    def stream_text(
        self, stream: Stream, text: str, *, level: Literal["info", "warning", "error"] = "info"
    ) -> None:
        """Output as it arrives from the kernel: complete lines are emitted now, the rest buffered."""
        if self._logs_truncated:
            self.dropped_bytes += len(text)
            return
        buffered = self._partial.pop(stream, "") + text
        pieces = _LINE_BREAK.split(buffered)
        rest = pieces.pop()
        for line in pieces:
            self._log(line, stream=stream, level=level)
        while len(rest) > _MAX_LINE_CHARS:
            self._log(rest[:_MAX_LINE_CHARS], stream=stream, level=level)
            rest = rest[_MAX_LINE_CHARS:]
        if rest:
            self._partial[stream] = rest

    def flush_partial(self) -> None:
        """At the end of a cell, the unterminated last line of each stream becomes a line too."""
        for stream, rest in list(self._partial.items()):
            del self._partial[stream]
            self._log(rest, stream=stream)

    def close_logs(self) -> None:
        """Close ``logs.txt`` (so it can be published); later lines go to the events only."""
        self.flush_partial()
        self._logs_file.close()

    def close(self) -> None:
        if not self._logs_file.closed:
            self.close_logs()
        self._events_file.close()

    @property
    def truncated(self) -> bool:
        return self._events_truncated or self._logs_truncated

    # Internals.

    def _next(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq

    def _log(
        self,
        text: str,
        *,
        stream: Stream,
        level: Literal["info", "warning", "error"] = "info",
        code: str | None = None,
    ) -> None:
        if self._logs_truncated and code is None:
            self.dropped_bytes += len(text)
            return
        raw = (text + "\n").encode("utf-8", "replace")
        if self._logs_file.closed:
            self._emit(events.log_line(self._next(), text, stream=stream, level=level, code=code))
            return
        if code is None and self._logs_bytes + len(raw) > self._max_bytes:
            self._truncate_logs()
            self.dropped_bytes += len(text)
            return
        self._logs_file.write(raw)
        self._logs_bytes += len(raw)
        self._emit(
            events.log_line(self._next(), text, stream=stream, level=level, code=code), droppable=code is None
        )

    def _truncate_logs(self) -> None:
        self._logs_truncated = True
        self._partial.clear()
        self._log(
            f"[p2n] logs.txt truncated at {self._max_bytes} bytes: further output is dropped ({TOO_LARGE})",
            stream="system",
            level="warning",
            code=TOO_LARGE,
        )

    def _emit(self, event: events.Event, *, droppable: bool = True) -> None:
        line = (events.to_json_line(event) + "\n").encode("utf-8")
        if droppable and self._events_bytes + len(line) > self._max_bytes - _EVENTS_RESERVE:
            if not self._events_truncated:
                self._events_truncated = True
                banner = events.log_line(
                    event.seq,
                    f"[p2n] events.jsonl truncated at {self._max_bytes} bytes: further events are dropped "
                    f"({TOO_LARGE})",
                    stream="system",
                    level="warning",
                    code=TOO_LARGE,
                )
                self._write(events.to_json_line(banner).encode("utf-8") + b"\n")
            else:
                # The number is given back so that the next kept event follows without a gap.
                self._seq -= 1
            return
        self._write(line)

    def _write(self, line: bytes) -> None:
        self._events_bytes += len(line)
        self._events_file.write(line)
        if self._out_open:
            try:
                self._out.write(line)
                self._out.flush()
            except (BrokenPipeError, ValueError):
                # Nobody reads stdout any more; the run and its artifacts go on regardless.
                self._out_open = False
