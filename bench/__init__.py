"""P2N's benchmarks: each figure a ratio against a baseline measured side by side in the same run.

Run them all with ``make bench`` (or ``python -m bench``); see ``bench/README.md`` for the method,
the targets and the last results. They are not part of the test run: pytest collects ``tests/``
only, and nothing here is imported from ``src/``.
"""
