"""The trace context the API hands to the operator: the ``p2n.dev/traceparent`` annotation.

The API and the operator share nothing but the Kubernetes objects, so the W3C traceparent of the
route's span travels on the object it creates (or approves): the operator's spans about that
object then join the request's trace. With tracing off there is no valid span and nothing is
added, so objects made by an untraced API look exactly like ones made with ``kubectl``.
"""

from __future__ import annotations

from typing import Any

from p2n import resources, telemetry


def annotated(metadata: dict[str, Any]) -> dict[str, Any]:
    """``metadata`` plus the current span's traceparent annotation; unchanged when tracing is off.

    Call it inside the route's span: that span becomes the parent of the operator's spans.
    """
    value = telemetry.traceparent()
    if value is None:
        return metadata
    annotations = {**metadata.get("annotations", {}), resources.TRACEPARENT_ANNOTATION: value}
    return {**metadata, "annotations": annotations}
