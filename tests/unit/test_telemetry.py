"""Spans of the pipeline, the OTLP switch, and the shared JSON log formatter (p2n.telemetry, p2n.logs)."""

from __future__ import annotations

import http.server
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from p2n import errors, logs, resources, settings, storage, telemetry
from p2n.pipeline import extract, ingest, materialize, planning, report

PAPER = "# Iris with LDA\n\nLDA achieved a training accuracy of 98.0% on the iris data (resubstitution).\n"


def test_each_pipeline_step_is_one_span(spans, tmp_path: Path) -> None:
    config = settings.Settings(home=tmp_path)
    document = ingest.ingest(
        resources.PaperSource(text=PAPER),
        settings=config,
        store=storage.from_settings(config),
        namespace="ns",
        paper="iris",
    )
    (claim, *_) = extract.extract_claims(document, settings=config)
    plan = planning.plan(claim, settings=config, document_text=PAPER)
    materialize.notebook_bytes(plan)
    report.assess_run(claim, 0.98)
    names = [s.name for s in spans.get_finished_spans()]
    assert names == [
        "p2n.paper.ingest",
        "p2n.paper.extract",
        "p2n.plan.make",
        "p2n.plan.materialize",
        "p2n.run.report",
    ]
    assert all(s.status.is_ok for s in spans.get_finished_spans())


def test_a_failing_step_is_an_error_span(spans) -> None:
    empty = ingest.parse(b"Nothing quantitative here.", filename="paper.txt")
    with pytest.raises(errors.NoClaims):
        extract.extract_claims(empty, settings=settings.Settings())
    (span,) = spans.get_finished_spans()
    assert span.name == "p2n.paper.extract"
    assert not span.status.is_ok
    assert span.events[0].attributes["exception.type"].endswith("NoClaims")


def test_events_land_on_the_current_span(spans) -> None:
    with telemetry.span("p2n.plan.make", {"p2n.plan": "p"}):
        telemetry.event(errors.CAP_EXCEEDED_TRACE_LABEL, {"max_tokens": 5})
    (span,) = spans.get_finished_spans()
    assert [(e.name, dict(e.attributes)) for e in span.events] == [("policy.cap.exceeded", {"max_tokens": 5})]


def test_no_exporter_unless_an_endpoint_is_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert telemetry.otlp_endpoint(settings.Settings()) is None
    assert telemetry.configure_tracing(settings.Settings(), service="p2n-test") is None
    configured = settings.Settings(otlp_endpoint="http://collector:4318/")
    assert telemetry.otlp_endpoint(configured) == "http://collector:4318/v1/traces"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318")
    # The exporter applies the standard variables itself.
    assert telemetry.otlp_endpoint(settings.Settings()) == ""


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("p2n_api.sse", logging.WARNING, __file__, 1, message, None, None)
    record.__dict__.update(extra)
    return record


def test_json_lines_carry_the_object_and_the_trace(spans) -> None:
    formatter = logs.JsonFormatter()
    plain = json.loads(formatter.format(_record("feed stopped", run="ns/run-1")))
    assert plain["run"] == "ns/run-1"
    assert plain["level"] == "warning"
    assert plain["logger"] == "p2n_api.sse"
    assert "trace_id" not in plain
    kopf_ref = {"kind": "Plan", "namespace": "ns", "name": "plan-1"}
    assert json.loads(formatter.format(_record("planned", k8s_ref=kopf_ref)))["plan"] == "ns/plan-1"
    with telemetry.span("p2n.run.events") as span:
        traced = json.loads(formatter.format(_record("inside")))
    assert traced["trace_id"] == f"{span.get_span_context().trace_id:032x}"
    assert traced["span_id"] == f"{span.get_span_context().span_id:016x}"


def test_configured_output_is_redacted_json(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    level = root.level
    try:
        logs.configure(settings.Settings(log_level="INFO", log_format="json"))
        logs.configure(settings.Settings(log_level="INFO", log_format="json"))  # idempotent
        assert sum(isinstance(h, logs.StderrHandler) for h in root.handlers) == 1
        # WARNING: a uvicorn served earlier in the session may have set its loggers' levels.
        logging.getLogger("uvicorn.access").warning(
            "GET /p?X-Amz-Signature=%s", "a" * 64, extra={"paper": "ns/p"}
        )
        try:
            raise RuntimeError("Authorization: Bearer abc.def")
        except RuntimeError:
            logging.getLogger("p2n_api").exception("failed")
    finally:
        for handler in [h for h in root.handlers if isinstance(h, logs.StderrHandler)]:
            root.removeHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["message"] == "GET /p?X-Amz-Signature=***"
    assert lines[0]["paper"] == "ns/p"
    assert lines[0]["logger"] == "uvicorn.access"
    assert "abc.def" not in lines[1]["exception"]
    assert "RuntimeError" in lines[1]["exception"]


class _Collector(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


_EXPORT = """
from p2n import settings, telemetry
provider = telemetry.configure_tracing(settings.Settings(), service="p2n-test")
with telemetry.span("p2n.plan.make", {"p2n.plan": "exported"}):
    pass
provider.shutdown()
"""


def test_spans_are_exported_over_otlp_http_when_configured() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {**os.environ, "P2N_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}"}
        subprocess.run([sys.executable, "-c", _EXPORT], env=env, check=True, timeout=60)
    finally:
        server.shutdown()
    ((path, content_type, body),) = _Collector.received
    assert path == "/v1/traces"
    assert content_type == "application/x-protobuf"
    assert b"p2n.plan.make" in body
    assert b"p2n-test" in body
