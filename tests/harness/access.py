"""TokenReview and SubjectAccessReview answered from tables the test fills in.

The API tier authenticates bearer tokens with TokenReview and authorizes each action with
SubjectAccessReview, exactly as against a real cluster; the harness answers both from these tables:

    kube.access.add_token("t0k", "alice", groups=["team-a"])
    kube.access.allow("alice", "create", "runs", namespace="ns1")   # "*" is a wildcard anywhere
    kube.access.allow("group:team-a", "get", "*", namespace="*")    # rules can name a group
"""

from __future__ import annotations

import dataclasses
import fnmatch
import threading
from typing import Any


@dataclasses.dataclass(frozen=True)
class Rule:
    subject: str
    verb: str
    resource: str
    namespace: str
    group: str
    name: str

    def matches(self, user: str, groups: list[str], attrs: dict[str, Any]) -> bool:
        subjects = {user, *(f"group:{g}" for g in groups)}
        resource = attrs.get("resource", "")
        if attrs.get("subresource"):
            resource = f"{resource}/{attrs['subresource']}"
        checks = (
            (self.verb, attrs.get("verb", "")),
            (self.resource, resource),
            (self.namespace, attrs.get("namespace", "")),
            (self.group, attrs.get("group", "")),
            (self.name, attrs.get("name", "")),
        )
        return any(fnmatch.fnmatchcase(s, self.subject) for s in subjects) and all(
            fnmatch.fnmatchcase(value, pattern) for pattern, value in checks
        )


class AccessTable:
    """Who a token is, and what each user or group may do; everything else is denied."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, dict[str, Any]] = {}
        self._rules: list[Rule] = []

    def add_token(self, token: str, username: str, groups: list[str] | None = None, uid: str = "") -> None:
        with self._lock:
            self._tokens[token] = {"username": username, "uid": uid or username, "groups": list(groups or [])}

    def allow(
        self,
        subject: str,
        verb: str,
        resource: str,
        namespace: str = "*",
        group: str = "*",
        name: str = "*",
    ) -> None:
        """Allow ``subject`` (a username, or ``group:NAME``) to do ``verb`` on ``resource``."""
        with self._lock:
            self._rules.append(Rule(subject, verb, resource, namespace, group, name))

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()
            self._rules.clear()

    def review_token(self, body: dict[str, Any]) -> dict[str, Any]:
        token = body.get("spec", {}).get("token", "")
        with self._lock:
            user = self._tokens.get(token)
        status: dict[str, Any] = {"authenticated": user is not None}
        if user is not None:
            status["user"] = dict(user)
        else:
            status["error"] = "invalid bearer token"
        return {**body, "apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status}

    def review_access(self, body: dict[str, Any]) -> dict[str, Any]:
        spec = body.get("spec", {})
        attrs = spec.get("resourceAttributes") or {}
        user, groups = spec.get("user", ""), list(spec.get("groups") or [])
        with self._lock:
            allowed = any(rule.matches(user, groups, attrs) for rule in self._rules)
        status = {
            "allowed": allowed,
            "reason": "allowed by harness rule" if allowed else "no harness rule allows it",
        }
        if not allowed:
            status["denied"] = True
        return {
            **body,
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "status": status,
        }
