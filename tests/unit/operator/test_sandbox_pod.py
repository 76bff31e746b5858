"""The sandbox Pod: the security model of DESIGN.md, bounded resources, and nothing from the spec."""

from __future__ import annotations

import json

import pytest
from tests.unit.operator.operator_builders import READY_PLAN_STATUS, make_plan, make_run

from p2n import errors
from p2n_operator import podspec, policy

URLS = {name: f"https://s3.example/bucket/{name}?X-Amz-Signature=abc" for name in podspec.ARTIFACT_NAMES}
NOTEBOOK = "https://s3.example/bucket/notebook.ipynb?X-Amz-Signature=def"


def _pod(cfg, run=None, plan=None):
    return podspec.sandbox_pod_for(
        run or make_run(),
        plan or make_plan(**READY_PLAN_STATUS),
        cfg,
        URLS,
        NOTEBOOK,
        run_id="research/run-a",
    )


def _container(pod):
    (container,) = pod["spec"]["containers"]
    return container


def test_pod_is_restricted_and_non_root(cfg):
    pod = _pod(cfg)
    spec = pod["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == cfg.sandbox_uid > 0
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = _container(pod)["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["privileged"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["runAsNonRoot"] is True
    assert isinstance(sc["runAsUser"], int)
    assert spec["hostNetwork"] is spec["hostPID"] is spec["hostIPC"] is False
    assert spec["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] == cfg.sandbox_service_account
    assert spec["enableServiceLinks"] is False
    assert spec["restartPolicy"] == "Never"
    assert "runtimeClassName" not in spec


def test_writable_paths_are_size_limited_empty_dirs(cfg):
    pod = _pod(cfg)
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in _container(pod)["volumeMounts"]}
    assert mounts == {podspec.WORK_DIR: "work", podspec.TMP_DIR: "tmp"}
    assert volumes["work"]["emptyDir"]["sizeLimit"] == cfg.sandbox_work_dir_limit
    assert all("sizeLimit" in v["emptyDir"] for v in volumes.values())


def test_image_and_command_come_from_operator_settings_only(cfg):
    run = make_run(spec={"seed": 7})
    container = _container(_pod(cfg, run=run))
    assert container["image"] == cfg.runner_image
    assert container["command"] == list(podspec.RUNNER_COMMAND)
    args = container["args"]
    assert args[args.index("--seed") + 1] == "7"
    assert args[args.index("--run-id") + 1] == "research/run-a"
    assert args[args.index("--notebook") + 1] == NOTEBOOK
    assert json.loads(args[args.index("--artifact-urls") + 1]) == URLS
    assert args[args.index("--target-metric") + 1] == "accuracy"


def test_spec_cannot_smuggle_image_command_or_security_context():
    raw = {"planRef": {"name": "plan-a"}, "image": "evil", "securityContext": {"privileged": True}}
    with pytest.raises(errors.InvalidInput) as info:
        policy.run_spec_from(raw)
    assert info.value.code == "E_INVALID_INPUT"


def test_default_resources_have_requests_and_limits_for_all_three(cfg):
    res = _container(_pod(cfg))["resources"]
    assert res["requests"] == {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "256Mi"}
    assert res["limits"] == {"cpu": "2", "memory": "2Gi", "ephemeral-storage": "2Gi"}
    assert not any("gpu" in key for section in res.values() for key in section)


def test_run_resources_override_plan_resources(cfg):
    plan = make_plan(spec={"resources": {"limits": {"memory": "3Gi"}}}, **READY_PLAN_STATUS)
    run = make_run(spec={"resources": {"limits": {"memory": "256Mi", "cpu": "500m"}}})
    res = _container(_pod(cfg, run=run, plan=plan))["resources"]
    assert res["limits"]["memory"] == "256Mi"
    assert res["requests"]["memory"] == "256Mi"
    assert res["limits"]["cpu"] == "500m"
    assert res["requests"]["cpu"] == "500m"


def test_resources_above_the_ceiling_are_refused(cfg):
    run = make_run(spec={"resources": {"limits": {"memory": "64Gi"}}})
    with pytest.raises(errors.CapExceeded) as info:
        _pod(cfg, run=run)
    assert info.value.code == "E_CAP_EXCEEDED"


@pytest.mark.parametrize("section", ["requests", "limits"])
def test_gpu_request_is_refused_with_its_own_code(section):
    raw = {"planRef": {"name": "plan-a"}, "resources": {section: {"nvidia.com/gpu": "1"}}}
    with pytest.raises(errors.GpuRequested) as info:
        policy.run_spec_from(raw)
    assert info.value.code == "E_GPU_REQUESTED"


@pytest.mark.parametrize(
    ("run_timeout", "plan_timeout", "cap", "expected_minutes"),
    [(None, 10, 25, 10), (5, 10, 25, 5), (20, 10, 15, 15), (None, 25, 25, 25)],
)
def test_deadline_follows_the_timeout_within_the_caps(cfg, run_timeout, plan_timeout, cap, expected_minutes):
    cfg = cfg.model_copy(update={"max_timeout_minutes": cap})
    run = make_run(spec={"timeoutMinutes": run_timeout} if run_timeout else {})
    plan = make_plan(spec={"timeoutMinutes": plan_timeout}, **READY_PLAN_STATUS)
    pod = _pod(cfg, run=run, plan=plan)
    args = _container(pod)["args"]
    assert int(args[args.index("--timeout-seconds") + 1]) == expected_minutes * 60
    deadline = pod["spec"]["activeDeadlineSeconds"]
    assert expected_minutes * 60 < deadline <= expected_minutes * 60 + 120


def test_runtime_class_and_grace_period_come_from_settings(cfg):
    cfg = cfg.model_copy(update={"runtime_class_name": "gvisor", "sandbox_grace_seconds": 42})
    spec = _pod(cfg)["spec"]
    assert spec["runtimeClassName"] == "gvisor"
    assert spec["terminationGracePeriodSeconds"] == 42


def test_pod_is_owned_by_its_run_and_labelled(cfg):
    pod = _pod(cfg)
    meta = pod["metadata"]
    assert meta["name"] == "p2n-run-run-a"
    assert meta["namespace"] == "research"
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "p2n.dev/v1alpha1",
            "kind": "Run",
            "name": "run-a",
            "uid": "uid-run-a",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert meta["labels"]["app.kubernetes.io/name"] == "p2n-sandbox"
    assert meta["labels"]["p2n.dev/run"] == "run-a"
    assert meta["labels"]["p2n.dev/plan"] == "plan-a"
    assert meta["labels"]["p2n.dev/paper"] == "paper-a"


def test_pod_name_is_deterministic_and_fits_in_63_characters():
    long_name = "r" * 200
    name = podspec.pod_name_for(long_name)
    assert name == podspec.pod_name_for(long_name)
    assert len(name) <= 63
    assert name.startswith("p2n-run-r")
    assert podspec.pod_name_for("r" * 199 + "s") != name
    assert len(podspec.label_value(long_name)) <= 63


def test_same_inputs_give_the_same_manifest(cfg):
    assert _pod(cfg) == _pod(cfg)
