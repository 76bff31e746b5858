"""How a sandbox pod ended, as a Run phase and a typed reason."""

from __future__ import annotations

import pytest

from p2n import events
from p2n_operator import outcome


def _terminated(exit_code, reason="Error", phase="Failed"):
    return {
        "status": {
            "phase": phase,
            "containerStatuses": [
                {"name": "runner", "state": {"terminated": {"exitCode": exit_code, "reason": reason}}}
            ],
        }
    }


def test_running_pod_has_no_outcome_yet():
    pod = {"status": {"phase": "Running", "containerStatuses": [{"state": {"running": {}}}]}}
    assert outcome.classify(pod) is None
    assert outcome.is_running(pod)


def test_pending_pod_has_no_outcome_and_is_not_running():
    pod = {
        "status": {
            "phase": "Pending",
            "containerStatuses": [{"state": {"waiting": {"reason": "ContainerCreating"}}}],
        }
    }
    assert outcome.classify(pod) is None
    assert not outcome.is_running(pod)


def test_clean_exit_succeeds():
    ended = outcome.classify(_terminated(0, "Completed", "Succeeded"))
    assert ended == outcome.Outcome("Succeeded", None, "the notebook ran to completion")


def test_oom_kill_is_e_oom_killed():
    ended = outcome.classify(_terminated(137, "OOMKilled"))
    assert (ended.phase, ended.reason) == ("Failed", "E_OOM_KILLED")


def test_deadline_exceeded_is_a_timeout():
    pod = {"status": {"phase": "Failed", "reason": "DeadlineExceeded", "message": "Pod was active too long"}}
    ended = outcome.classify(pod)
    assert (ended.phase, ended.reason) == ("TimedOut", "E_RUN_TIMEOUT")


@pytest.mark.parametrize(
    ("exit_code", "phase", "reason"),
    [
        (events.RUNNER_EXIT_NOTEBOOK_ERROR, "Failed", "E_NOTEBOOK_ERROR"),
        (events.RUNNER_EXIT_TIMEOUT, "TimedOut", "E_RUN_TIMEOUT"),
        (events.RUNNER_EXIT_METRICS_MISSING, "Failed", "E_METRICS_MISSING"),
        (events.RUNNER_EXIT_KERNEL_DIED, "Failed", "E_KERNEL_DIED"),
        (events.RUNNER_EXIT_OOM_KILLED, "Failed", "E_OOM_KILLED"),
        (events.RUNNER_EXIT_CANCELLED, "Cancelled", "E_CANCELLED"),
        (137, "Failed", "E_KERNEL_DIED"),
        (99, "Failed", "E_INTERNAL"),
    ],
)
def test_runner_exit_codes_map_to_typed_reasons(exit_code, phase, reason):
    ended = outcome.classify(_terminated(exit_code))
    assert (ended.phase, ended.reason) == (phase, reason)


def test_runner_stage_message_explains_the_failure():
    last = events.StageData(
        stage="run_error", run_id="r", code="E_NOTEBOOK_ERROR", message="ZeroDivisionError in cell 3"
    )
    ended = outcome.classify(_terminated(events.RUNNER_EXIT_NOTEBOOK_ERROR), last)
    assert ended.message == "ZeroDivisionError in cell 3"


def test_unknown_exit_code_falls_back_to_the_runners_last_error_code():
    last = events.StageData(stage="run_error", run_id="r", code="E_METRICS_MISSING")
    assert outcome.classify(_terminated(99), last).reason == "E_METRICS_MISSING"


@pytest.mark.parametrize(
    "reason", ["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError"]
)
def test_container_that_can_never_start_fails_the_run(reason):
    pod = {
        "status": {
            "phase": "Pending",
            "containerStatuses": [{"state": {"waiting": {"reason": reason, "message": "m"}}}],
        }
    }
    ended = outcome.classify(pod)
    assert (ended.phase, ended.reason) == ("Failed", "E_CLUSTER")
    assert reason in ended.message


def test_eviction_for_disk_use_is_a_cap():
    pod = {
        "status": {
            "phase": "Failed",
            "reason": "Evicted",
            "message": "Pod ephemeral local storage usage exceeds the total limit",
        }
    }
    assert outcome.classify(pod).reason == "E_CAP_EXCEEDED"


def test_any_non_zero_exit_after_cancel_is_cancelled():
    ended = outcome.classify(_terminated(events.RUNNER_EXIT_NOTEBOOK_ERROR), cancel_requested=True)
    assert (ended.phase, ended.reason) == ("Cancelled", "E_CANCELLED")


def test_success_after_cancel_still_counts_as_success():
    assert (
        outcome.classify(_terminated(0, "Completed", "Succeeded"), cancel_requested=True).phase == "Succeeded"
    )
