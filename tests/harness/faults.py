"""Fault injection for reliability tests: failing requests and dropped watch streams.

    kube.faults.fail_next(2, code=500, verb="patch", resource="runs")      # the next 2 run patches
    kube.faults.fail_next(1, code=409, verb="create", resource="pods")     # one Conflict on pod create
    kube.faults.drop_watches("pods")                                       # close live pod watches

Verbs are the Kubernetes API verbs (get, list, watch, create, update, patch, delete,
deletecollection); resources are plurals, with ``/status`` or ``/log`` for subresources.
A rule with no verb or resource matches any. The ``faults`` fixture clears all rules after each test.
"""

from __future__ import annotations

import dataclasses
import threading

from tests.harness import store

_REASONS = {409: "Conflict", 500: "InternalError", 503: "ServiceUnavailable", 429: "TooManyRequests"}


@dataclasses.dataclass
class _Rule:
    remaining: int
    code: int
    verb: str | None
    resource: str | None
    namespace: str | None


class Faults:
    """Rules consulted by the API server before it serves each request."""

    def __init__(self, objects: store.Store) -> None:
        self._store = objects
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self.injected = 0

    def fail_next(
        self,
        count: int = 1,
        *,
        code: int = 500,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``code`` in Status format."""
        with self._lock:
            self._rules.append(_Rule(count, code, verb, resource, namespace))

    def drop_watches(self, resource: str | None = None) -> int:
        """Close the live watch streams of a resource plural (or all); returns how many."""
        if resource is None:
            return self._store.drop_watches()
        dropped = 0
        for kind in self._store.served():
            if kind.plural == resource:
                dropped += self._store.drop_watches(kind)
        return dropped

    def clear(self) -> None:
        """Forget every rule and the count of injected faults (each test starts from none)."""
        with self._lock:
            self._rules.clear()
            self.injected = 0

    def check(self, verb: str, resource: str, namespace: str | None) -> None:
        """Raise the injected error if a rule matches this request (and use it up)."""
        with self._lock:
            for rule in self._rules:
                if rule.remaining <= 0:
                    continue
                if rule.verb not in (None, verb) or rule.resource not in (None, resource):
                    continue
                if rule.namespace not in (None, namespace):
                    continue
                rule.remaining -= 1
                self.injected += 1
                reason = _REASONS.get(rule.code, "InternalError")
                raise store.ApiError(rule.code, reason, f"injected fault: {verb} {resource} -> {rule.code}")
