"""Migrations apply once, in order, from any number of concurrent start-ups."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator

import pytest

import p2n.db
from p2n import errors


@pytest.fixture
def empty_database(postgres_url: str) -> Iterator[str]:
    name = f"p2n_migrate_{secrets.token_hex(4)}"
    url = p2n.db.create_database(postgres_url, name)
    yield url
    p2n.db.drop_database(postgres_url, name)


def test_shipped_migrations_are_numbered_from_one() -> None:
    versions = [migration.version for migration in p2n.db.schema.migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_migrate_twice_applies_each_version_once(empty_database: str) -> None:
    shipped = [migration.version for migration in p2n.db.schema.migrations()]
    with p2n.db.Database(empty_database, pool_min=0, pool_max=2) as database:
        assert database.migrate() == shipped
        assert database.migrate() == []
        assert database.applied_migrations() == shipped
        # The schema works after the second run.
        database.upsert_run(p2n.db.RunRecord(run_id="ns/r", namespace="ns", name="r"))
        assert database.get_run("ns/r").name == "r"


def test_concurrent_start_ups_migrate_once(empty_database: str) -> None:
    shipped = [migration.version for migration in p2n.db.schema.migrations()]
    applied: list[list[int]] = []
    failures: list[BaseException] = []
    start = threading.Barrier(4)

    def start_up() -> None:
        try:
            with p2n.db.Database(empty_database, pool_min=0, pool_max=1) as database:
                start.wait()
                applied.append(database.migrate())
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=start_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert sorted(applied) == [[], [], [], shipped]
    with p2n.db.Database(empty_database, pool_min=0, pool_max=1) as database:
        assert database.applied_migrations() == shipped


def test_a_changed_applied_migration_is_refused(empty_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with p2n.db.Database(empty_database, pool_min=0, pool_max=1) as database:
        database.migrate()
        original = p2n.db.schema.migrations()
        edited = [original[0].model_copy(update={"sql": original[0].sql + "\n-- edited"}), *original[1:]]
        monkeypatch.setattr(p2n.db.schema, "migrations", lambda: edited)

        with pytest.raises(errors.DatabaseError, match="changed after it was applied"):
            database.migrate()
