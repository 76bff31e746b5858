"""The sandbox Pod of a Run: the one place where the security model of the sandbox is written down.

The notebook is untrusted code, so the Pod passes the Pod Security Standard *restricted* profile
and more (DESIGN.md, "Security model"). Image, command and every securityContext field come from
the operator's settings only; from the Run and Plan this module takes nothing but the seed, the
resources (bounded by ``policy``) and the timeout. The sandbox receives presigned URLs, never
storage credentials, and no ServiceAccount token.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from p2n import resources, settings
from p2n_operator import policy, quantity

SANDBOX_APP = "p2n-sandbox"
CONTAINER_NAME = "runner"
WORK_DIR = "/work"
TMP_DIR = "/tmp"  # noqa: S108 - the path inside the sandbox, backed by its own size-limited emptyDir.
RUNNER_COMMAND: tuple[str, ...] = ("python", "-m", "p2n_runner")
APP_LABEL = "app.kubernetes.io/name"
RUN_LABEL = f"{resources.GROUP}/run"
PLAN_LABEL = f"{resources.GROUP}/plan"
PAPER_LABEL = f"{resources.GROUP}/paper"
RUN_NAME_ANNOTATION = f"{resources.GROUP}/run-name"
RUN_UID_ANNOTATION = f"{resources.GROUP}/run-uid"
ARTIFACT_NAMES: tuple[str, ...] = ("metrics.json", "events.jsonl", "logs.txt", "notebook.ipynb")
_MAX_NAME = 63
_DEADLINE_SLACK_SECONDS = 60


def _shortened(prefix: str, name: str) -> str:
    """``prefix + name`` when it fits in 63 characters, else truncated with a hash of the name."""
    full = f"{prefix}{name}"
    if len(full) <= _MAX_NAME:
        return full
    digest = hashlib.sha256(name.encode()).hexdigest()[:10]
    return f"{full[: _MAX_NAME - len(digest) - 1].rstrip('-.')}-{digest}"


def pod_name_for(run_name: str) -> str:
    """Deterministic pod name ``p2n-run-<run>``; a retry after a crash finds the same pod."""
    return _shortened("p2n-run-", run_name)


def label_value(name: str) -> str:
    """An object name as a label value (at most 63 characters, hashed when longer)."""
    return _shortened("", name)


def _owner_reference(run: resources.Run) -> dict[str, Any]:
    uid = (run.metadata.model_extra or {}).get("uid")
    if not uid or not run.metadata.name:
        raise ValueError("a Run needs metadata.name and metadata.uid to own a pod")
    return {
        "apiVersion": resources.API_VERSION,
        "kind": "Run",
        "name": run.metadata.name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _threads_for(cpu_limit: str) -> str:
    """Thread count for BLAS/OpenMP: the CPU limit rounded up, at least one."""
    cores = quantity.parse(cpu_limit)
    return str(max(1, int(-(-cores // 1))))


def runner_args(
    run: resources.Run,
    plan: resources.Plan,
    cfg: settings.Settings,
    artifact_urls: Mapping[str, str],
    notebook_url: str,
    run_id: str,
) -> list[str]:
    """The runner's command-line arguments (the contract of ``python -m p2n_runner``)."""
    args = [
        "--notebook",
        notebook_url,
        "--run-id",
        run_id,
        "--seed",
        str(run.spec.seed),
        "--timeout-seconds",
        str(policy.timeout_seconds(run.spec, plan.spec, cfg)),
        "--artifact-urls",
        json.dumps({name: artifact_urls[name] for name in sorted(artifact_urls)}, separators=(",", ":")),
        "--max-artifact-bytes",
        str(cfg.max_artifact_bytes),
    ]
    if plan.status is not None and plan.status.plan is not None:
        args += ["--target-metric", plan.status.plan.metric]
    return args


def sandbox_pod_for(
    run: resources.Run,
    plan: resources.Plan,
    cfg: settings.Settings,
    artifact_urls: Mapping[str, str],
    notebook_url: str,
    *,
    run_id: str,
) -> dict[str, Any]:
    """The Pod manifest that executes one Run; raises CapExceeded/InvalidInput from ``policy``.

    ``run_id`` is the Run instance's id in the history (``p2n.db.cluster_run_id``, with the Run's
    uid), which the runner puts in its events, so events from the pod and rows in PostgreSQL name
    the Run the same way, and a recreated Run's pod never writes into the old instance's history.
    """
    run_name = run.metadata.name or ""
    plan_name = plan.metadata.name or run.spec.plan_ref.name
    paper_name = plan.spec.paper_ref.name
    res = policy.sandbox_resources(run.spec, plan.spec, cfg)
    timeout = policy.timeout_seconds(run.spec, plan.spec, cfg)
    labels = {
        APP_LABEL: SANDBOX_APP,
        "app.kubernetes.io/component": "runner",
        "app.kubernetes.io/managed-by": "p2n-operator",
        RUN_LABEL: label_value(run_name),
        PLAN_LABEL: label_value(plan_name),
        PAPER_LABEL: label_value(paper_name),
    }
    annotations = {
        RUN_NAME_ANNOTATION: run_name,
        RUN_UID_ANNOTATION: str((run.metadata.model_extra or {}).get("uid", "")),
    }
    container_security = {
        "runAsNonRoot": True,
        "runAsUser": cfg.sandbox_uid,
        "runAsGroup": cfg.sandbox_gid,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    env = [
        {"name": "HOME", "value": WORK_DIR},
        {"name": "TMPDIR", "value": TMP_DIR},
        {"name": "MPLCONFIGDIR", "value": f"{WORK_DIR}/.config/matplotlib"},
        {"name": "JUPYTER_RUNTIME_DIR", "value": f"{WORK_DIR}/.jupyter/runtime"},
        {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "OMP_NUM_THREADS", "value": _threads_for(res["limits"]["cpu"])},
    ]
    spec: dict[str, Any] = {
        "serviceAccountName": cfg.sandbox_service_account,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "hostNetwork": False,
        "hostPID": False,
        "hostIPC": False,
        "restartPolicy": "Never",
        # The runner stops itself at ``timeout`` and uploads partial artifacts; the deadline is
        # the backstop when it cannot, with time for the kernel to start and to upload.
        "activeDeadlineSeconds": timeout + _DEADLINE_SLACK_SECONDS,
        "terminationGracePeriodSeconds": cfg.sandbox_grace_seconds,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": cfg.sandbox_uid,
            "runAsGroup": cfg.sandbox_gid,
            "fsGroup": cfg.sandbox_gid,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": CONTAINER_NAME,
                "image": cfg.runner_image,
                "imagePullPolicy": "Always",
                "command": list(RUNNER_COMMAND),
                "args": runner_args(run, plan, cfg, artifact_urls, notebook_url, run_id),
                "workingDir": WORK_DIR,
                "env": env,
                "resources": res,
                "securityContext": container_security,
                "volumeMounts": [
                    {"name": "work", "mountPath": WORK_DIR},
                    {"name": "tmp", "mountPath": TMP_DIR},
                ],
            }
        ],
        "volumes": [
            {"name": "work", "emptyDir": {"sizeLimit": cfg.sandbox_work_dir_limit}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
        ],
    }
    if cfg.runtime_class_name:
        spec["runtimeClassName"] = cfg.runtime_class_name
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name_for(run_name),
            "namespace": run.metadata.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [_owner_reference(run)],
        },
        "spec": spec,
    }
