"""The one exception tree of P2N, with the stable error codes every surface reports.

Codes travel unchanged through API bodies (``{"error": {"code", "message"}}``), Run/Plan status
reasons and CLI output, so they are part of the public contract: add codes, never rename them.
Vendor exceptions (botocore, psycopg, openai, kubernetes) are translated into these at the adapter
that calls the vendor, with ``raise ... from exc``; nothing above an adapter sees a vendor error.

    P2NError                       code, message, http_status
    ├── InvalidInput               E_INVALID_INPUT           400/422
    │   ├── Conflict               E_INVALID_INPUT           409
    │   ├── PayloadTooLarge        E_PAYLOAD_TOO_LARGE       413
    │   └── GpuRequested           E_GPU_REQUESTED           422
    ├── NotFound                   E_NOT_FOUND               404
    ├── Unauthorized               E_UNAUTHORIZED            401
    ├── Forbidden                  E_FORBIDDEN               403
    ├── NotReady                                             409
    │   ├── PaperNotReady          E_PAPER_NOT_READY
    │   └── PlanNotReady           E_PLAN_NOT_READY
    ├── PipelineError                                        422
    │   ├── NoClaims               E_NO_CLAIMS
    │   ├── UnsupportedPlan        E_UNSUPPORTED_PLAN
    │   └── CapExceeded            E_CAP_EXCEEDED (trace label policy.cap.exceeded)
    ├── RunFailure                                           500
    │   ├── RunTimeout             E_RUN_TIMEOUT
    │   ├── MetricsMissing         E_METRICS_MISSING
    │   ├── OomKilled              E_OOM_KILLED
    │   └── KernelDied             E_KERNEL_DIED
    └── StorageError / DatabaseError / ClusterError / LlmError (infrastructure, 502/503)

``E_ARTIFACT_TOO_LARGE`` is a warning, never raised: see ``WARNING_CODES``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

ErrorCode = Literal[
    "E_GPU_REQUESTED",
    "E_RUN_TIMEOUT",
    "E_ARTIFACT_TOO_LARGE",
    "E_CAP_EXCEEDED",
    "E_METRICS_MISSING",
    "E_NO_CLAIMS",
    "E_UNSUPPORTED_PLAN",
    "E_PAPER_NOT_READY",
    "E_PLAN_NOT_READY",
    "E_OOM_KILLED",
    "E_KERNEL_DIED",
    "E_INVALID_INPUT",
    "E_PAYLOAD_TOO_LARGE",
    "E_NOT_FOUND",
    "E_UNAUTHORIZED",
    "E_FORBIDDEN",
    "E_STORAGE",
    "E_DATABASE",
    "E_CLUSTER",
    "E_LLM",
    "E_NOTEBOOK_ERROR",
    "E_CANCELLED",
    "E_POLICY_VIOLATION",
    "E_INTERNAL",
]

WARNING_CODES: frozenset[str] = frozenset({"E_ARTIFACT_TOO_LARGE"})

CAP_EXCEEDED_TRACE_LABEL = "policy.cap.exceeded"


class P2NError(Exception):
    """Base of every error P2N raises on purpose; ``code`` is stable, ``message`` is for people."""

    code: ClassVar[ErrorCode] = "E_INTERNAL"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The error envelope body used by the API and ``--json`` outputs."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidInput(P2NError):
    code: ClassVar[ErrorCode] = "E_INVALID_INPUT"
    http_status = 422


class PayloadTooLarge(InvalidInput):
    code = "E_PAYLOAD_TOO_LARGE"
    http_status = 413


class GpuRequested(InvalidInput):
    code = "E_GPU_REQUESTED"
    http_status = 422


class PolicyViolation(InvalidInput):
    code = "E_POLICY_VIOLATION"
    http_status = 422


class Conflict(InvalidInput):
    """The object already exists (same code as InvalidInput, HTTP 409)."""

    http_status = 409


class NotFound(P2NError):
    code = "E_NOT_FOUND"
    http_status = 404


class Unauthorized(P2NError):
    code = "E_UNAUTHORIZED"
    http_status = 401


class Forbidden(P2NError):
    code = "E_FORBIDDEN"
    http_status = 403


class NotReady(P2NError):
    http_status = 409


class PaperNotReady(NotReady):
    code = "E_PAPER_NOT_READY"


class PlanNotReady(NotReady):
    code = "E_PLAN_NOT_READY"


class PipelineError(P2NError):
    http_status = 422


class NoClaims(PipelineError):
    code = "E_NO_CLAIMS"


class UnsupportedPlan(PipelineError):
    code = "E_UNSUPPORTED_PLAN"


class CapExceeded(PipelineError):
    code = "E_CAP_EXCEEDED"
    trace_label: ClassVar[str] = CAP_EXCEEDED_TRACE_LABEL


class RunFailure(P2NError):
    http_status = 500


class NotebookError(RunFailure):
    code = "E_NOTEBOOK_ERROR"


class RunTimeout(RunFailure):
    code = "E_RUN_TIMEOUT"


class MetricsMissing(RunFailure):
    code = "E_METRICS_MISSING"


class OomKilled(RunFailure):
    code = "E_OOM_KILLED"


class KernelDied(RunFailure):
    code = "E_KERNEL_DIED"


class Cancelled(RunFailure):
    code = "E_CANCELLED"


class StorageError(P2NError):
    code = "E_STORAGE"
    http_status = 502


class DatabaseError(P2NError):
    code = "E_DATABASE"
    http_status = 503


class ClusterError(P2NError):
    code = "E_CLUSTER"
    http_status = 502


class LlmError(P2NError):
    code = "E_LLM"
    http_status = 502


def _all_subclasses(cls: type[P2NError]) -> list[type[P2NError]]:
    found: list[type[P2NError]] = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(_all_subclasses(sub))
    return found


def error_class_for(code: str) -> type[P2NError]:
    """The most specific error class for a code, so an error read back from a status re-raises typed."""
    for cls in _all_subclasses(P2NError):
        # Only a class declaring the code itself: grouping classes (NotReady...) inherit E_INTERNAL.
        if vars(cls).get("code") == code:
            return cls
    return P2NError


def from_code(code: str, message: str) -> P2NError:
    """Rebuild a typed error from its wire form (status reason, API body, runner event)."""
    return error_class_for(code)(message)
