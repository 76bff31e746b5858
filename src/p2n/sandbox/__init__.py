"""The local sandbox: run untrusted code (a notebook, any command) confined on this machine.

    from p2n import sandbox
    result = sandbox.run_notebook("nb.ipynb", Path("out"), run_id="r1", seed=0)
    proc = sandbox.spawn(argv, env={}, limits=sandbox.Limits(memory_mb=512), cwd=Path("work"))

``limits`` says what is limited and by which mechanism, ``process`` starts confined commands,
``notebook`` runs ``p2n-runner`` through it, ``cgroups`` holds the per-sandbox cgroups.
"""

from p2n.sandbox.limits import Limits, notebook_defaults
from p2n.sandbox.notebook import ARTIFACT_NAMES, SandboxResult, run_notebook
from p2n.sandbox.process import SandboxProcess, spawn

__all__ = [
    "ARTIFACT_NAMES",
    "Limits",
    "SandboxProcess",
    "SandboxResult",
    "notebook_defaults",
    "run_notebook",
    "spawn",
]
