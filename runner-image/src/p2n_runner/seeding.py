"""Deterministic seeds, set inside the kernel before the notebook's first cell.

``PYTHONHASHSEED`` and ``CUDA_VISIBLE_DEVICES=""`` must be in the kernel's environment at launch
(hash randomization is fixed at interpreter start), so ``kernel_env`` provides them; the code below
then seeds ``random`` at once, and ``numpy``'s global generator and ``torch`` (CUDA seeding guarded by
``torch.cuda.is_available()``) as soon as the notebook imports them: an import hook seeds each right
after its first import, so a notebook that never imports numpy does not pay for it. A library that
is not installed is reported as ``None``. The seeds are returned as JSON through a user expression,
and the runner reports them in the ``seed_check`` stage.
"""

from __future__ import annotations

import ast
import json
from typing import Any

_SEED_CODE = """\
def _p2n_set_seeds(seed):
    import importlib.util, json, os, random, sys

    def seed_numpy(numpy):
        numpy.random.seed(seed)

    def seed_torch(torch):
        torch.manual_seed(seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(seed)

    class SeedOnImport:
        # Seeds a library right after its first import, so an unused numpy or torch costs nothing.
        def __init__(self, name, apply):
            self.name, self.apply = name, apply

        def find_spec(self, fullname, path=None, target=None):
            if fullname != self.name:
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(fullname)
            if spec is not None and spec.loader is not None:
                exec_module = spec.loader.exec_module

                def exec_and_seed(module):
                    exec_module(module)
                    self.apply(module)

                spec.loader.exec_module = exec_and_seed
            return spec

    random.seed(seed)
    seeds = {{"random": seed, "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED"),
              "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES")}}
    for name, apply in (("numpy", seed_numpy), ("torch", seed_torch)):
        if name in sys.modules:
            apply(sys.modules[name])
        elif importlib.util.find_spec(name) is not None:
            sys.meta_path.insert(0, SeedOnImport(name, apply))
        else:
            seeds[name] = None
            continue
        seeds[name] = seed
    return json.dumps(seeds)
_p2n_seeds = _p2n_set_seeds({seed})
del _p2n_set_seeds
"""
SEEDS_EXPRESSION = "_p2n_seeds"


def seed_code(seed: int) -> str:
    return _SEED_CODE.format(seed=int(seed))


def kernel_env(seed: int) -> dict[str, str]:
    return {"PYTHONHASHSEED": str(int(seed)), "CUDA_VISIBLE_DEVICES": ""}


def parse_seeds(reply_content: dict[str, Any]) -> dict[str, int | str | None]:
    """The seeds dict from an execute reply whose user expression is ``SEEDS_EXPRESSION``."""
    expression = reply_content.get("user_expressions", {}).get("seeds", {})
    if expression.get("status") != "ok":
        raise ValueError(
            f"seeding failed in the kernel: {expression.get('ename')}: {expression.get('evalue')}"
        )
    text = ast.literal_eval(expression["data"]["text/plain"])
    seeds: dict[str, int | str | None] = json.loads(text)
    return seeds
