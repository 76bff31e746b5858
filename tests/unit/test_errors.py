"""The error tree: stable, unique codes that survive the trip through a status, an API body or the CLI."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from p2n import errors

DESIGN = Path("/work/shared/DESIGN.md")
# The codes DESIGN.md lists under "Typed errors" (kept here too, so the test runs without the file).
DESIGN_CODES = {
    "E_GPU_REQUESTED", "E_RUN_TIMEOUT", "E_ARTIFACT_TOO_LARGE", "E_CAP_EXCEEDED", "E_METRICS_MISSING",
    "E_NO_CLAIMS", "E_UNSUPPORTED_PLAN", "E_PAPER_NOT_READY", "E_PLAN_NOT_READY", "E_OOM_KILLED",
    "E_KERNEL_DIED", "E_INVALID_INPUT", "E_PAYLOAD_TOO_LARGE", "E_NOT_FOUND", "E_UNAUTHORIZED",
    "E_FORBIDDEN",
}  # fmt: skip
ALL_CODES = set(typing.get_args(errors.ErrorCode))


def _concrete() -> list[type[errors.P2NError]]:
    """Every class that owns a code of its own (not inherited from its parent)."""
    found = []
    pending = [errors.P2NError]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "code" in vars(cls):
            found.append(cls)
    return found


def test_codes_are_unique_per_class() -> None:
    codes = [cls.code for cls in _concrete()]
    assert len(codes) == len(set(codes)), sorted(codes)


def test_every_code_is_well_formed_and_declared() -> None:
    for code in ALL_CODES:
        assert re.fullmatch(r"E_[A-Z]+(_[A-Z]+)*", code), code
    assert {cls.code for cls in _concrete()} <= ALL_CODES


def test_design_codes_are_all_present() -> None:
    assert DESIGN_CODES <= ALL_CODES


def test_design_document_lists_no_code_we_lack() -> None:
    if not DESIGN.exists():
        pytest.skip(f"{DESIGN} is not on this machine; DESIGN_CODES above mirrors its list")
    section = DESIGN.read_text(encoding="utf-8").split("## Typed errors", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"`(E_[A-Z_]+)`", section)) == DESIGN_CODES


@pytest.mark.parametrize("code", sorted(ALL_CODES - errors.WARNING_CODES))
def test_every_raisable_code_has_a_class(code: str) -> None:
    assert errors.error_class_for(code).code == code


@pytest.mark.parametrize("cls", _concrete(), ids=lambda cls: cls.__name__)
def test_from_code_round_trip(cls: type[errors.P2NError]) -> None:
    original = cls("what went wrong")
    rebuilt = errors.from_code(original.code, original.message)
    assert type(rebuilt) is cls
    assert (rebuilt.code, rebuilt.message, str(rebuilt)) == (cls.code, "what went wrong", str(original))
    assert rebuilt.to_dict() == {"code": cls.code, "message": "what went wrong"}


def test_unknown_code_becomes_the_base_error() -> None:
    rebuilt = errors.from_code("E_FROM_THE_FUTURE", "newer writer")
    assert type(rebuilt) is errors.P2NError
    assert rebuilt.message == "newer writer"


def test_warnings_are_never_classes() -> None:
    assert {"E_ARTIFACT_TOO_LARGE"} == errors.WARNING_CODES
    assert errors.error_class_for("E_ARTIFACT_TOO_LARGE") is errors.P2NError


def test_hierarchy_and_http_statuses() -> None:
    assert issubclass(errors.GpuRequested, errors.InvalidInput)
    assert issubclass(errors.PayloadTooLarge, errors.InvalidInput)
    assert errors.PayloadTooLarge.http_status == 413
    assert errors.GpuRequested.http_status == 422
    assert errors.NotFound.http_status == 404
    assert errors.Unauthorized.http_status == 401
    assert errors.Forbidden.http_status == 403
    assert errors.PaperNotReady.http_status == errors.PlanNotReady.http_status == 409
    assert errors.CapExceeded.trace_label == "policy.cap.exceeded"
    for cls in _concrete():
        assert 400 <= cls.http_status < 600, cls


def test_details_travel_in_the_body_and_are_copied() -> None:
    details = {"field": "spec.timeoutMinutes"}
    error = errors.InvalidInput("too long", details=details)
    details["field"] = "changed"
    assert error.to_dict() == {
        "code": "E_INVALID_INPUT",
        "message": "too long",
        "details": {"field": "spec.timeoutMinutes"},
    }


def test_internal_code_is_the_base_error_not_a_grouping_class() -> None:
    # NotReady, PipelineError and RunFailure inherit E_INTERNAL; a runner exit 1 must not read as 409.
    assert errors.error_class_for("E_INTERNAL") is errors.P2NError
    assert errors.from_code("E_INTERNAL", "runner crashed").http_status == 500
