"""kopf configuration, logs and command line of the operator (no server needed)."""

from __future__ import annotations

import json
import logging

import kopf

from p2n import logs, settings
from p2n_operator import __main__ as entry
from p2n_operator import handlers, service


def test_kopf_bookkeeping_lives_under_p2n_dev_and_spares_the_approval_annotation():
    kopf_settings = kopf.OperatorSettings()
    handlers.configure_kopf(kopf_settings, settings.Settings())
    assert kopf_settings.persistence.finalizer == "p2n.dev/cleanup"
    assert kopf_settings.peering.standalone is True
    storage = kopf_settings.persistence.progress_storage
    essence = {
        "spec": {"a": 1},
        "metadata": {"annotations": {"p2n.dev/plan": "{}", "p2n.dev/approved-by": "alice", "team": "x"}},
    }
    cleared = storage.clear(essence=essence)
    assert cleared["metadata"]["annotations"] == {"p2n.dev/approved-by": "alice", "team": "x"}


def test_peering_is_opt_in():
    kopf_settings = kopf.OperatorSettings()
    handlers.configure_kopf(kopf_settings, settings.Settings(operator_peering="p2n"))
    assert (kopf_settings.peering.standalone, kopf_settings.peering.name) == (False, "p2n")


def test_every_handler_is_registered_on_a_fresh_registry():
    registry = service.registry()
    ids = {h.id for h in registry._changing.get_all_handlers()}
    assert {"paper", "plan", "approval", "run", "cleanup"} <= {i.split("/")[0] for i in ids}
    assert {h.id for h in registry._spawning.get_all_handlers()} >= {"events", "waiting"}
    assert service.registry() is not registry


def test_watched_namespaces_come_from_flags_then_settings():
    cfg = settings.Settings(watch_namespaces="a, b")
    assert service.namespaces_from(cfg, []) == ["a", "b"]
    assert service.namespaces_from(cfg, ["c"]) == ["c"]
    assert service.namespaces_from(settings.Settings(watch_namespaces=""), []) == []


def test_command_line_flags():
    args = entry.build_parser().parse_args(["-n", "research", "-n", "lab", "--liveness", ""])
    assert (args.namespace, args.liveness, args.all_namespaces) == (["research", "lab"], "", False)
    assert entry.build_parser().parse_args([]).liveness == "http://0.0.0.0:8080/healthz"
    assert entry.build_parser().parse_args(["--metrics-port", "9100"]).metrics_port == 9100
    assert entry.build_parser().parse_args([]).metrics_port is None


def test_json_logs_name_the_object_and_never_show_a_signature(capsys):
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        logs.configure(settings.Settings(log_format="json", log_level="INFO"))
        ref = {"kind": "Run", "namespace": "research", "name": "iris-1"}
        url = "https://s3.example/b/k?X-Amz-Credential=AKIA1&X-Amz-Signature=deadbeef"
        logging.getLogger("kopf.objects").info("pod args: %s", url, extra={"k8s_ref": ref})
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    (line,) = [json.loads(text) for text in capsys.readouterr().err.splitlines() if text.strip()]
    assert line["run"] == "research/iris-1"
    assert (line["level"], line["logger"]) == ("info", "kopf.objects")
    assert "deadbeef" not in line["message"]
    assert "pod args: https://s3.example/b/k" in line["message"]
