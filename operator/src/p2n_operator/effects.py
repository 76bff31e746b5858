"""What the handlers share: blocking calls off the event loop, status patches, Kubernetes Events.

Status is written with a merge patch of what changed between the stored and the desired status,
so an unchanged status is never written; every phase change a user should see is also posted as
a Kubernetes Event on the object (``kubectl describe``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar, cast

import kopf
import pydantic

from p2n import errors
from p2n_operator import reconcile, runtime

# Failures of the infrastructure, worth retrying; every other P2N error is final for the object.
TRANSIENT = (errors.StorageError, errors.DatabaseError, errors.ClusterError)
# Retries of a waiting handler: delays double from half a second up to this.
MAX_WAIT_DELAY = 10.0
# Threads for blocking calls (API, storage, database: mostly waiting on the network). asyncio's
# default (cores + 4) let a few slow calls hold up every handler that creates a pod.
BLOCKING_THREADS = 32

_P = ParamSpec("_P")
_T = TypeVar("_T")


def size_executor() -> None:
    """Give the running loop's blocking calls their own pool of :data:`BLOCKING_THREADS` threads."""
    pool = concurrent.futures.ThreadPoolExecutor(BLOCKING_THREADS, thread_name_prefix="p2n-blocking")
    asyncio.get_running_loop().set_default_executor(pool)


async def blocking(func: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    return await asyncio.to_thread(func, *args, **kwargs)


def now() -> datetime:
    return datetime.now(UTC)


def runtime_of(memo: Any) -> runtime.Runtime:
    rt: runtime.Runtime = memo.runtime
    return rt


def wait_delay(retry: int) -> float:
    return float(min(MAX_WAIT_DELAY, 0.5 * 2.0**retry))


def retry_if_transient(exc: errors.P2NError, retry: int) -> None:
    """Infrastructure errors are retried by kopf with backoff; everything else is final."""
    if isinstance(exc, TRANSIENT):
        raise kopf.TemporaryError(str(exc), delay=wait_delay(retry)) from exc


async def write_status(
    rt: runtime.Runtime,
    kind: str,
    namespace: str,
    name: str,
    old: pydantic.BaseModel,
    new: pydantic.BaseModel,
) -> None:
    """Patch what differs between ``old`` (as stored) and ``new``; write nothing when equal.

    ``old`` is compared by the fields actually set on it (read from the object, or written by an
    earlier call), so a default such as phase Pending is still written the first time.
    """
    stored = old.model_dump(mode="json", by_alias=True, exclude_none=True, exclude_unset=True)
    patch = reconcile.status_patch(stored, new.model_dump(mode="json", by_alias=True, exclude_none=True))
    if patch:
        await blocking(rt.kube.patch_status, kind, namespace, name, patch)


def generation(meta: Mapping[str, Any]) -> int:
    return int(meta.get("generation") or 1)


def announce(body: Mapping[str, Any], phase: str, message: str | None, failed: bool) -> None:
    kopf.event(
        kopf.Body(cast(kopf.RawBody, dict(body))),
        type="Warning" if failed else "Normal",
        reason=phase,
        message=message or phase,
    )
