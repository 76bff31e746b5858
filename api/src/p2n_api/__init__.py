"""The P2N REST/SSE facade (FastAPI): creates Paper, Plan and Run resources and relays run events.

It may import ``p2n`` but never ``p2n_operator`` (import-linter contract in pyproject.toml).
"""
