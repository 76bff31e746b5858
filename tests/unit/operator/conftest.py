"""Operator settings for the unit tests: small ceilings so that the caps are easy to exceed."""

from __future__ import annotations

import pytest

from p2n import settings


@pytest.fixture
def cfg() -> settings.Settings:
    return settings.Settings(
        max_run_cpu="2",
        max_run_memory="4Gi",
        max_run_ephemeral_storage="2Gi",
        default_run_cpu="1",
        default_run_memory="2Gi",
        max_timeout_minutes=25,
        runner_image="registry.example/p2n-runner:0.1.0",
    )
