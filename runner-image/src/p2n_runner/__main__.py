"""``python -m p2n_runner`` / ``p2n-runner``: run one notebook and exit with the outcome's code."""

from __future__ import annotations

import sys

from p2n_runner import options, runner


def main(argv: list[str] | None = None) -> int:
    return runner.run(options.parse(argv))


if __name__ == "__main__":
    sys.exit(main())
