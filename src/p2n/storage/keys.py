"""The one place that decides where each object lives in storage.

Keys are relative to the storage root (a local directory or ``s3://bucket/prefix/``) and are
grouped by namespace and object name, so that deleting everything of one Paper, Plan or Run is a
prefix delete, and so that a presigned URL for one run can never name another run's object::

    papers/<namespace>/<paper>/document/<filename>    the uploaded or fetched paper
    papers/<namespace>/<paper>/pages.json             extracted pages with page numbers
    plans/<namespace>/<plan>/plan.json                the reproduction plan
    plans/<namespace>/<plan>/notebook.ipynb           the materialized notebook
    runs/<namespace>/<run>/<uid>/<artifact>           runner artifacts (RUN_ARTIFACTS)

Run artifacts are keyed by the Run's ``metadata.uid`` as well as its name: a Run deleted and
recreated under the same name is another run, and must not overwrite the artifacts the old one's
history rows still link to.

Every segment is validated here, so callers cannot smuggle ``..`` or ``/`` into a key.
"""

from __future__ import annotations

import re

from p2n import errors

RUN_ARTIFACTS: tuple[str, ...] = ("metrics.json", "events.jsonl", "logs.txt", "notebook.ipynb")
"""The artifacts a runner writes, by file name; the operator presigns one PUT URL for each."""

_SEGMENT = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_FILENAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._\-]{0,199}$")
_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._\-]+")


def _segment(kind: str, value: str) -> str:
    if not _SEGMENT.fullmatch(value) or ".." in value:
        raise errors.InvalidInput(f"invalid {kind} for a storage key: {value!r}")
    return value


def _filename(value: str) -> str:
    if not _FILENAME.fullmatch(value) or ".." in value:
        raise errors.InvalidInput(f"invalid file name for a storage key: {value!r}")
    return value


def safe_filename(name: str, *, default: str = "document") -> str:
    """Turn an untrusted file name (an upload, the last part of a URL) into one usable in a key.

    >>> safe_filename("../My Paper (v2).pdf")
    'My_Paper_v2_.pdf'
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_FILENAME_CHARS.sub("_", base).strip("._-")
    cleaned = re.sub(r"\.{2,}", ".", cleaned)[:200].rstrip("._-")
    return cleaned or default


def paper_prefix(namespace: str, paper: str) -> str:
    return f"papers/{_segment('namespace', namespace)}/{_segment('paper name', paper)}/"


def paper_document(namespace: str, paper: str, filename: str) -> str:
    return f"{paper_prefix(namespace, paper)}document/{_filename(filename)}"


def paper_pages(namespace: str, paper: str) -> str:
    return f"{paper_prefix(namespace, paper)}pages.json"


def plan_prefix(namespace: str, plan: str) -> str:
    return f"plans/{_segment('namespace', namespace)}/{_segment('plan name', plan)}/"


def plan_document(namespace: str, plan: str) -> str:
    return f"{plan_prefix(namespace, plan)}plan.json"


def plan_notebook(namespace: str, plan: str) -> str:
    return f"{plan_prefix(namespace, plan)}notebook.ipynb"


def run_prefix(namespace: str, run: str, uid: str) -> str:
    """Where one instance of a Run keeps its artifacts; the uid keeps a recreated Run's apart."""
    return f"runs/{_segment('namespace', namespace)}/{_segment('run name', run)}/{_segment('run uid', uid)}/"


def run_artifact(namespace: str, run: str, uid: str, name: str) -> str:
    return f"{run_prefix(namespace, run, uid)}{_filename(name)}"
