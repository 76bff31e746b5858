"""The operator's in-memory view of queued Runs, sandbox pods, Plans and Papers, per namespace.

Admission needs two facts about a namespace: how many sandbox pods have not finished, and which
Runs wait in the queue (oldest first). Listing every Run and pod through the API for each
admission made a burst of n Runs cost O(n²) calls; instead, kopf's watch streams feed this view
(through indexing handlers, which kopf fully populates before any other handler runs, so a
restarted operator admits nothing before it has seen every existing pod), and the operator's own
writes update it at once, so a pod it just created counts before its watch event arrives.

Only small facts are kept about Runs and pods (names, creation timestamps, a pod's state), never
their bodies; Plans and Papers, few and read by every Run, are kept validated. A queued Run whose pod is
known is not counted as waiting, so a stale watch event cannot make a started Run hold a place
in the queue. The view also wakes the event follower when a Run's pod starts or ends (instead of
the follower polling the API), and tells the pod handler whether a pod event changed anything.
It also knows whether each namespace's sandbox NetworkPolicy exists with the expected spec, so a
pod is created without re-applying the policy each time (``runs._ensure_network_policy``).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

import pydantic

from p2n import resources
from p2n_operator import outcome, podspec, policy, reconcile

_M = TypeVar("_M", bound=pydantic.BaseModel)


@dataclasses.dataclass(frozen=True)
class PodState:
    """What admission, the follower and the pod handler need to know about one sandbox pod.

    ``seen`` is False for a pod the operator has just created and not yet read back, so the
    first observation of it always counts as a change.
    """

    active: bool
    started: bool
    ended: bool = False
    deleting: bool = False
    seen: bool = True


RESERVED = PodState(active=True, started=False, seen=False)


def pod_state(pod: Mapping[str, Any]) -> PodState:
    """A pod is active until its phase is Succeeded or Failed; started once running or ended."""
    active = outcome.pod_phase(pod) not in ("Succeeded", "Failed")
    return PodState(
        active=active,
        started=not active or outcome.is_running(pod),
        ended=outcome.classify(pod) is not None,
        deleting=bool((pod.get("metadata") or {}).get("deletionTimestamp")),
    )


def policy_essence(spec: Mapping[str, Any]) -> Any:
    """A NetworkPolicy spec without empty lists and maps, which an API server may leave out."""
    if isinstance(spec, Mapping):
        kept = {key: policy_essence(value) for key, value in spec.items()}
        return {key: value for key, value in kept.items() if value not in ({}, [], None)}
    if isinstance(spec, list):
        return [policy_essence(item) for item in spec]
    return spec


def _validated(model: type[_M], obj: Mapping[str, Any]) -> tuple[str, str, _M | None]:
    """The object's namespace and name, and the object as ``model``: None if invalid or being deleted."""
    meta = obj.get("metadata") or {}
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    if meta.get("deletionTimestamp"):
        return namespace, name, None
    try:
        return namespace, name, model.model_validate(dict(obj))
    except pydantic.ValidationError:
        return namespace, name, None


def _keep(store: dict[str, _M], name: str, model: _M | None) -> None:
    if model is None:
        store.pop(name, None)
    else:
        store[name] = model


@dataclasses.dataclass
class _Namespace:
    queued: dict[str, str] = dataclasses.field(default_factory=dict)
    # Runs the watch has shown in a terminal phase (names only).
    finished: set[str] = dataclasses.field(default_factory=set)
    pods: dict[str, PodState] = dataclasses.field(default_factory=dict)
    plans: dict[str, resources.Plan] = dataclasses.field(default_factory=dict)
    papers: dict[str, resources.Paper] = dataclasses.field(default_factory=dict)
    # The sandbox NetworkPolicy's spec (``policy_essence``) as last seen or written; None: absent.
    policy: Any = None


class Ledger:
    """Queued Runs (name → creationTimestamp) and sandbox pods (name → state), per namespace."""

    def __init__(self) -> None:
        self._namespaces: dict[str, _Namespace] = {}
        self._started: dict[tuple[str, str], asyncio.Event] = {}
        self._changed: set[tuple[str, str]] = set()

    def _of(self, namespace: str) -> _Namespace:
        return self._namespaces.setdefault(namespace, _Namespace())

    # --- Runs ------------------------------------------------------------------------------------

    def observe_run(self, run: Mapping[str, Any]) -> None:
        """A Run as seen by the watch: in the queue while Queued, not cancelled and not being deleted."""
        meta = run.get("metadata") or {}
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        queued = [] if meta.get("deletionTimestamp") else reconcile.queued([run])
        if queued:
            self.enqueue(namespace, name, queued[0].created)
        else:
            self.dequeue(namespace, name)
        finished = self._of(namespace).finished
        if (run.get("status") or {}).get("phase") in resources.TERMINAL_RUN_PHASES:
            finished.add(name)
        else:
            finished.discard(name)

    def forget_run(self, namespace: str, name: str) -> None:
        """The Run is gone from the cluster."""
        self.dequeue(namespace, name)
        self._of(namespace).finished.discard(name)

    def finished(self, namespace: str, name: str) -> bool:
        """Whether the watch has shown the Run terminal (a later instance of the name resets it)."""
        return name in self._of(namespace).finished

    def enqueue(self, namespace: str, name: str, created: str) -> None:
        self._of(namespace).queued[name] = created

    def dequeue(self, namespace: str, name: str) -> None:
        self._of(namespace).queued.pop(name, None)

    def waiting(self, namespace: str) -> list[policy.Waiting]:
        """The queue, oldest first, without Runs whose pod already exists."""
        view = self._of(namespace)
        found = [
            policy.Waiting(name, created)
            for name, created in view.queued.items()
            if podspec.pod_name_for(name) not in view.pods
        ]
        return sorted(found, key=lambda w: (w.created, w.name))

    def queue_lengths(self) -> dict[str, int]:
        """How many Runs wait for a slot, per namespace (the queue-length metric, at scrape time)."""
        return {namespace: len(self.waiting(namespace)) for namespace in self._namespaces}

    # --- Plans ------------------------------------------------------------------------------------

    def observe_plan(self, plan: Mapping[str, Any]) -> None:
        """A Plan as seen by the watch, kept validated (one per Plan; there are few of them)."""
        namespace, name, model = _validated(resources.Plan, plan)
        _keep(self._of(namespace).plans, name, model)

    def forget_plan(self, namespace: str, name: str) -> None:
        self._of(namespace).plans.pop(name, None)

    def plan(self, namespace: str, name: str) -> resources.Plan | None:
        return self._of(namespace).plans.get(name)

    # --- Papers (their claims give a finished Run its verdict) -------------------------------------

    def observe_paper(self, paper: Mapping[str, Any]) -> None:
        """A Paper as seen by the watch, kept validated like Plans."""
        namespace, name, model = _validated(resources.Paper, paper)
        _keep(self._of(namespace).papers, name, model)

    def forget_paper(self, namespace: str, name: str) -> None:
        self._of(namespace).papers.pop(name, None)

    def paper(self, namespace: str, name: str) -> resources.Paper | None:
        return self._of(namespace).papers.get(name)

    # --- the sandbox NetworkPolicy ---------------------------------------------------------------

    def observe_policy(self, found: Mapping[str, Any]) -> None:
        """The sandbox NetworkPolicy as seen by the watch; one being deleted counts as absent."""
        meta = found.get("metadata") or {}
        namespace = str(meta.get("namespace"))
        if meta.get("deletionTimestamp"):
            self.forget_policy(namespace)
        else:
            self.record_policy(namespace, found.get("spec") or {})

    def record_policy(self, namespace: str, spec: Mapping[str, Any]) -> None:
        self._of(namespace).policy = policy_essence(spec)

    def forget_policy(self, namespace: str) -> None:
        self._of(namespace).policy = None

    def has_policy(self, namespace: str, spec: Mapping[str, Any]) -> bool:
        """Whether the namespace's sandbox NetworkPolicy is known to exist with this spec."""
        return bool(self._of(namespace).policy == policy_essence(spec))

    # --- sandbox pods ----------------------------------------------------------------------------

    def observe_pod(self, pod: Mapping[str, Any]) -> None:
        """A sandbox pod as seen by the watch; a new state is remembered as a change to act on."""
        meta = pod.get("metadata") or {}
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        if self.record_pod(namespace, name, pod_state(pod)):
            self._changed.add((namespace, name))

    def record_pod(self, namespace: str, name: str, state: PodState) -> bool:
        """Store the pod's state (from the watch, an API read or a create); whether it changed."""
        pods = self._of(namespace).pods
        changed = pods.get(name) != state
        pods[name] = state
        if state.started:
            self._event(namespace, name).set()
        return changed

    def confirm_pod(self, namespace: str, name: str, state: PodState) -> None:
        """The state of a pod the operator just created, unless the watch has already shown one."""
        if self.pod(namespace, name) == RESERVED:
            self.record_pod(namespace, name, state)

    def take_change(self, namespace: str, name: str) -> bool:
        """Whether the watch saw the pod in a new state since the last call (then forgets it)."""
        key = (namespace, name)
        changed = key in self._changed
        self._changed.discard(key)
        return changed

    def forget_pod(self, namespace: str, name: str) -> None:
        """The pod is gone from the cluster."""
        self._of(namespace).pods.pop(name, None)
        self._started.pop((namespace, name), None)
        self._changed.discard((namespace, name))

    def pod(self, namespace: str, name: str) -> PodState | None:
        return self._of(namespace).pods.get(name)

    def has_sandboxes(self, namespace: str) -> bool:
        """Whether any sandbox pod (running or finished) of the namespace is known."""
        return bool(self._of(namespace).pods)

    def active_pods(self, namespace: str) -> int:
        return sum(1 for state in self._of(namespace).pods.values() if state.active)

    def _event(self, namespace: str, name: str) -> asyncio.Event:
        return self._started.setdefault((namespace, name), asyncio.Event())

    async def wait_started(self, namespace: str, name: str) -> None:
        """Return once the pod has started (running or ended)."""
        state = self.pod(namespace, name)
        if state is None or not state.started:
            await self._event(namespace, name).wait()

    def release(self, namespace: str, name: str) -> None:
        """The follower of this pod is done with it: drop its wake-up event."""
        self._started.pop((namespace, name), None)
