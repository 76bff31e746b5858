"""How a run ended: an error code (or OK) and a message, mapped to the shared exit-code table.

The runner may not import ``p2n.errors``, so failures inside it are this one exception type
carrying the stable code; ``p2n.events.RUNNER_EXIT_CODES`` turns the code into the exit status.
"""

from __future__ import annotations

from dataclasses import dataclass

from p2n import events


class Failure(Exception):
    """A run-ending failure with its stable error code (``E_INVALID_INPUT``, ``E_RUN_TIMEOUT``…)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Outcome:
    code: str = "OK"
    message: str = ""

    @classmethod
    def of(cls, failure: Failure) -> Outcome:
        return cls(failure.code, failure.message)

    @property
    def ok(self) -> bool:
        return self.code == "OK"

    @property
    def exit_code(self) -> int:
        return events.RUNNER_EXIT_BY_CODE.get(self.code, events.RUNNER_EXIT_INTERNAL)

    @property
    def stage(self) -> events.Stage:
        if self.ok:
            return "run_complete"
        return "run_cancelled" if self.code == "E_CANCELLED" else "run_error"
