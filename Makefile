# Developer entry points. `make test` is the README's test command and what CI runs.
UV ?= uv
RUN = $(UV) run --frozen --all-extras

.PHONY: test setup lint typecheck pytest reproduce crds bench

test: setup lint typecheck pytest

setup:
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet "uv>=0.13"
	$(UV) sync --frozen --all-extras

lint:
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck:
	$(RUN) mypy

pytest:
	$(RUN) pytest

reproduce:
	$(RUN) p2n reproduce examples/papers/iris-lda.md
