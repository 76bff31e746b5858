"""Where P2N keeps documents, notebooks and run artifacts: a local directory or an S3 bucket.

Use it through the :class:`Storage` interface and the key layout of :mod:`p2n.storage.keys`::

    from p2n import storage
    from p2n.storage import keys

    store = storage.from_settings(settings)
    uri = store.put_bytes(keys.plan_notebook("default", "plan-a"), notebook_bytes)
    put_url = store.presign_put(keys.run_artifact("default", "run-a", uid, "metrics.json"))

The S3 backend (``p2n.storage.s3.S3Storage``) is imported only when S3 is configured, so processes
that never touch S3 do not load boto3.
"""

from __future__ import annotations

from p2n import settings
from p2n.storage import backend, keys, local
from p2n.storage.backend import Storage
from p2n.storage.local import LocalStorage

__all__ = ["LocalStorage", "Storage", "backend", "from_settings", "keys", "local"]


def from_settings(config: settings.Settings) -> Storage:
    """S3 when ``P2N_S3_BUCKET`` is set, else a local directory (``P2N_STORAGE_DIR`` or ``P2N_HOME``)."""
    if config.uses_s3:
        from p2n.storage import s3

        return s3.S3Storage.from_settings(config)
    return local.LocalStorage(config.artifacts_dir)
