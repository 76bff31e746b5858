"""What every benchmark gets: how many repeats, a scratch directory, and a way to say it cannot run."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path


class Unavailable(Exception):
    """The benchmark cannot run here (a part is missing); the table shows the reason instead."""


@dataclass(frozen=True)
class Context:
    """``quick`` shrinks every benchmark to a smoke run (a few repeats, small counts)."""

    repeats: int
    quick: bool
    scratch: Path
    python: str = sys.executable

    def scaled(self, full: int, quick: int) -> int:
        return quick if self.quick else full


def say(message: str) -> None:
    """Progress on stderr, so stdout holds only the table."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
