"""Refuse a notebook that asks for a GPU before any of its code runs (``E_GPU_REQUESTED``).

The sandbox is CPU-only by policy, and a notebook written for a GPU would fail late or silently
measure something else. The check is static and errs on the side of refusing:

- notebook metadata: any key named ``gpu``, ``gpus``, ``accelerator`` or ``nvidia.com/gpu`` (at any
  depth, e.g. ``metadata.p2n.resources.limits``) with a value other than 0/false/none/cpu/empty;
- code cells (full-line comments ignored), any of: a ``.cuda(`` call; ``torch.device("cuda…")``,
  ``.to("cuda…")`` or ``device="cuda…"`` unless the same line falls back with ``is_available()``;
  TensorFlow device strings ``"/GPU:0"``; ``import cupy``; ``nvidia-smi``; setting
  ``CUDA_VISIBLE_DEVICES`` to a device number.

``device = "cuda" if torch.cuda.is_available() else "cpu"`` is allowed: it runs on the CPU here,
since the runner sets ``CUDA_VISIBLE_DEVICES=""``.
"""

from __future__ import annotations

import re
from typing import Any

_GPU_KEYS = frozenset({"gpu", "gpus", "accelerator", "nvidia.com/gpu"})
_OFF_VALUES = frozenset({"", "0", "false", "none", "cpu", "no"})
_CODE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\.cuda\s*\("), "calls .cuda()"),
    (re.compile(r"nvidia-smi"), "runs nvidia-smi"),
    (re.compile(r"^\s*(import|from)\s+cupy\b", re.MULTILINE), "imports cupy"),
    (re.compile(r"""['"]/?(device:)?GPU:\d""", re.IGNORECASE), "uses a TensorFlow GPU device"),
    (re.compile(r"""CUDA_VISIBLE_DEVICES['"]?\]?\s*=\s*['"]?\d"""), "sets CUDA_VISIBLE_DEVICES"),
)
_CUDA_DEVICE = re.compile(r"""(torch\.device\s*\(\s*|\.to\s*\(\s*|device\s*=\s*)['"]cuda""")
_FALLBACK = "is_available()"


class GpuRequested(Exception):
    """Raised with the reason; the runner reports it as ``E_GPU_REQUESTED``."""


def check_notebook(nb: dict[str, Any]) -> None:
    """Raise ``GpuRequested`` if the notebook's metadata or code asks for a GPU."""
    where = _gpu_in_metadata(nb.get("metadata", {}), "metadata")
    if where:
        raise GpuRequested(f"notebook {where} requests a GPU; the sandbox is CPU-only")
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        where = _gpu_in_metadata(cell.get("metadata", {}), f"cell {index} metadata")
        if where:
            raise GpuRequested(f"{where} requests a GPU; the sandbox is CPU-only")
        reason = gpu_in_code(_source(cell))
        if reason:
            raise GpuRequested(f"cell {index} {reason}; the sandbox is CPU-only")


def gpu_in_code(source: str) -> str | None:
    """The reason the code asks for a GPU, or None."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
    for pattern, reason in _CODE_PATTERNS:
        if pattern.search(code):
            return reason
    for line in code.splitlines():
        if _CUDA_DEVICE.search(line) and _FALLBACK not in line:
            return "places tensors on a CUDA device"
    return None


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _gpu_in_metadata(value: Any, path: str) -> str | None:
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in _GPU_KEYS and _is_on(item):
                return f"{path}.{key}"
            found = _gpu_in_metadata(item, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _gpu_in_metadata(item, f"{path}[{index}]")
            if found:
                return found
    return None


def _is_on(value: Any) -> bool:
    if isinstance(value, dict | list):
        return bool(value)
    return str(value).strip().lower() not in _OFF_VALUES
