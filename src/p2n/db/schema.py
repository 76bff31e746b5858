"""The versioned SQL migrations shipped with P2N, read from ``p2n/db/migrations/NNNN_name.sql``.

Migrations are plain SQL so a DBA can read them; each is applied once, in version order, and
recorded in ``schema_migrations`` with a checksum so that an edited, already-applied migration is
detected instead of silently diverging. Applying them is the database adapter's job
(:meth:`p2n.db.postgres.Database.migrate`); this module only finds and orders them.
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources

from pydantic import BaseModel, ConfigDict

from p2n import errors

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

# A fixed key for pg_advisory_xact_lock, so concurrent start-ups migrate one at a time.
ADVISORY_LOCK_KEY = 0x70326E5F6D6967  # "p2n_mig"

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


class Migration(BaseModel):
    model_config = ConfigDict(frozen=True)

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations() -> list[Migration]:
    """All shipped migrations in version order (raises DatabaseError on a misnamed or duplicate file)."""
    found: dict[int, Migration] = {}
    for entry in resources.files("p2n.db").joinpath("migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.fullmatch(entry.name)
        if match is None:
            raise errors.DatabaseError(f"migration file name must look like 0001_name.sql: {entry.name}")
        version = int(match["version"])
        if version in found:
            raise errors.DatabaseError(f"two migrations with version {version}")
        found[version] = Migration(version=version, name=match["name"], sql=entry.read_text("utf-8"))
    return [found[version] for version in sorted(found)]
