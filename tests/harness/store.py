"""The emulated cluster's state: objects with Kubernetes metadata semantics, and their watch log.

This is the part of an API server P2N's behaviour depends on: ``uid``, ``creationTimestamp``,
``generation`` bumped on spec changes only, one increasing ``resourceVersion`` across the cluster,
optimistic concurrency (409 Conflict on a stale ``resourceVersion``), AlreadyExists, status
subresource isolation, finalizers with ``deletionTimestamp``, ownerReference cascade, namespaces,
and an event log that lets a watch resume from a ``resourceVersion`` (410 Gone once compacted).

The store is synchronous and thread-safe: the HTTP layer, the kubelet emulator's threads and test
code call it directly. Watchers receive events through a callback that must not block.
"""

from __future__ import annotations

import collections
import copy
import dataclasses
import datetime
import secrets
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from tests.harness import kinds, patching, selectors

Obj = dict[str, Any]
ObjKey = tuple[tuple[str, str, str], str | None, str]
LOG_SIZE = 20000


class ApiError(Exception):
    """A failed request, rendered as a ``kind: Status`` body with the HTTP code."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def status(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


def not_found(kind: kinds.Kind, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{kind.plural}{"." + kind.group if kind.group else ""} "{name}" not found',
        {"name": name, "group": kind.group, "kind": kind.plural},
    )


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass
class Event:
    """One entry of the watch log: ``type`` is ADDED, MODIFIED or DELETED."""

    rv: int
    kind: kinds.Kind
    type: str
    obj: Obj


@dataclasses.dataclass(eq=False)
class Watcher:
    """A live watch: gets every later event of its kind that passes its filter."""

    kind: kinds.Kind
    namespace: str | None
    accepts: Callable[[Obj], bool]
    deliver: Callable[[Event | None], None]

    def wants(self, event: Event) -> bool:
        meta = event.obj.get("metadata", {})
        if event.kind.key != self.kind.key:
            return False
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        return self.accepts(event.obj)


class Store:
    """All objects of the emulated cluster. Every method is safe to call from any thread."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._kinds: dict[tuple[str, str, str], kinds.Kind] = {}
        self._objects: dict[ObjKey, Obj] = {}
        self._rv = 0
        self._log: collections.deque[Event] = collections.deque(maxlen=LOG_SIZE)
        self._compacted_rv = 0
        self._watchers: set[Watcher] = set()
        # Called instead of removing a pod that has a process behind it (the kubelet emulator).
        self.graceful_pod_deleter: Callable[[Obj, int], bool] | None = None
        # Validating and defaulting admission of custom resources: (kind, object, strict) -> object.
        # It runs for API requests only: ``strict`` is then the request's fieldValidation=Strict
        # (kubectl's default; unknown fields fail). Direct store calls (strict=None) skip admission,
        # like writing to etcd behind the API server's back.
        self.admission: Callable[[kinds.Kind, Obj, bool], Obj] | None = None
        for kind in kinds.BUILTINS:
            self.register(kind)

    # --- kinds ---------------------------------------------------------------------------------

    def register(self, kind: kinds.Kind) -> None:
        with self._lock:
            self._kinds[kind.key] = kind

    def served(self) -> list[kinds.Kind]:
        with self._lock:
            return list(self._kinds.values())

    def kind(self, group: str, version: str, plural: str) -> kinds.Kind:
        with self._lock:
            found = self._kinds.get((group, version, plural))
        if found is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return found

    def kind_of(self, api_version: str, kind_name: str) -> kinds.Kind:
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for kind in self._kinds.values():
                if kind.group == group and kind.version == version and kind.kind == kind_name:
                    return kind
        raise ApiError(404, "NotFound", f"no kind {kind_name!r} in {api_version!r}")

    # --- reads ---------------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        with self._lock:
            return self._rv

    def get(self, kind: kinds.Kind, namespace: str | None, name: str) -> Obj:
        with self._lock:
            obj = self._objects.get((kind.key, self._ns(kind, namespace), name))
            if obj is None:
                raise not_found(kind, name)
            return copy.deepcopy(obj)

    def find(self, kind: kinds.Kind, namespace: str | None, name: str) -> Obj | None:
        try:
            return self.get(kind, namespace, name)
        except ApiError:
            return None

    def list(
        self,
        kind: kinds.Kind,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[Obj], int]:
        accepts = self._filter(label_selector, field_selector)
        with self._lock:
            items = [
                copy.deepcopy(obj)
                for (key, ns, _), obj in sorted(
                    self._objects.items(), key=lambda kv: (kv[0][1] or "", kv[0][2])
                )
                if key == kind.key and (namespace is None or ns == namespace) and accepts(obj)
            ]
            return items, self._rv

    # --- watches -------------------------------------------------------------------------------

    def watch(
        self,
        kind: kinds.Kind,
        namespace: str | None,
        deliver: Callable[[Event | None], None],
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Watcher:
        """Start a watch; past events (or synthetic ADDED for all objects) are delivered first.

        Raises ApiError 410 when ``resource_version`` is older than the retained log.
        """
        accepts = self._filter(label_selector, field_selector)
        watcher = Watcher(kind, namespace, accepts, deliver)
        with self._lock:
            if resource_version in (None, "", "0"):
                backlog = [
                    Event(self._rv, kind, "ADDED", copy.deepcopy(obj))
                    for obj in self.list(kind, namespace, label_selector, field_selector)[0]
                ]
            else:
                since = int(resource_version)
                if since < self._compacted_rv:
                    raise ApiError(
                        410, "Expired", f"too old resource version: {since} ({self._compacted_rv})"
                    )
                backlog = [ev for ev in self._log if ev.rv > since and watcher.wants(ev)]
            for event in backlog:
                deliver(event)
            self._watchers.add(watcher)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        with self._lock:
            self._watchers.discard(watcher)

    def drop_watches(self, kind: kinds.Kind | None = None) -> int:
        """End live watch streams (of one kind, or all); clients see the stream close."""
        with self._lock:
            dropped = [w for w in self._watchers if kind is None or w.kind.key == kind.key]
            for watcher in dropped:
                self._watchers.discard(watcher)
                watcher.deliver(None)
            return len(dropped)

    def compact(self) -> int:
        """Forget the watch log, as etcd compaction does; older resourceVersions then get 410."""
        with self._lock:
            self._log.clear()
            self._compacted_rv = self._rv + 1
            return self._rv

    # --- writes --------------------------------------------------------------------------------

    def create(
        self, kind: kinds.Kind, namespace: str | None, body: Obj, *, strict: bool | None = None
    ) -> Obj:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the request body must be an object")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)[:5]
        name = meta.get("name")
        if not name:
            raise ApiError(
                422, "Invalid", f"{kind.kind}.{kind.group} is invalid: metadata.name: Required value"
            )
        ns = self._ns(kind, namespace or meta.get("namespace"))
        if kind.namespaced and meta.get("namespace") not in (None, ns):
            raise ApiError(400, "BadRequest", "the namespace of the object does not match the request")
        with self._lock:
            if kind.namespaced and (("", "v1", "namespaces"), None, ns) not in self._objects:
                raise ApiError(
                    404, "NotFound", f'namespaces "{ns}" not found', {"name": ns, "kind": "namespaces"}
                )
            key = (kind.key, ns, name)
            if key in self._objects:
                raise ApiError(
                    409,
                    "AlreadyExists",
                    f'{kind.plural}{"." + kind.group if kind.group else ""} "{name}" already exists',
                    {"name": name, "group": kind.group, "kind": kind.plural},
                )
            obj["apiVersion"] = kind.api_version
            obj["kind"] = kind.kind
            if self.admission is not None and strict is not None:
                obj = self.admission(kind, obj, strict)
                meta = obj["metadata"]
            for server_owned in ("deletionTimestamp", "deletionGracePeriodSeconds", "resourceVersion"):
                meta.pop(server_owned, None)
            if ns is not None:
                meta["namespace"] = ns
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now_iso()
            meta["generation"] = 1
            if kind.has_status:
                # Creation ignores the status of kinds that have a status subresource.
                obj.pop("status", None)
            if kind.key == ("", "v1", "pods"):
                obj["status"] = {"phase": "Pending", "qosClass": "Burstable"}
            if kind.key == ("", "v1", "namespaces"):
                obj["status"] = {"phase": "Active"}
                obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            self._objects[key] = obj
            self._emit(kind, "ADDED", obj)
            if kind.key == ("apiextensions.k8s.io", "v1", "customresourcedefinitions"):
                for crd_kind in kinds.from_crd(obj):
                    self.register(crd_kind)
            return copy.deepcopy(obj)

    def replace(
        self,
        kind: kinds.Kind,
        namespace: str | None,
        name: str,
        body: Obj,
        subresource: str | None = None,
        *,
        strict: bool | None = None,
    ) -> Obj:
        """PUT: a full replacement, checked against ``metadata.resourceVersion`` when given."""
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the request body must be an object")
        with self._lock:
            self._current(kind, namespace, name)
            return self._write(kind, namespace, name, copy.deepcopy(body), subresource, strict)

    def patch(
        self,
        kind: kinds.Kind,
        namespace: str | None,
        name: str,
        content_type: str,
        body: bytes,
        subresource: str | None = None,
        *,
        strict: bool | None = None,
    ) -> Obj:
        with self._lock:
            current = self._current(kind, namespace, name)
            try:
                new = patching.apply(current, content_type, body)
            except patching.PatchError as exc:
                raise ApiError(422, "Invalid", f"the patch could not be applied: {exc}") from exc
            return self._write(kind, namespace, name, new, subresource, strict)

    def delete(
        self,
        kind: kinds.Kind,
        namespace: str | None,
        name: str,
        *,
        grace_period: int | None = None,
        precondition_uid: str | None = None,
    ) -> Obj:
        """Delete now, or mark with ``deletionTimestamp`` while finalizers or a process remain."""
        with self._lock:
            current = self._current(kind, namespace, name)
            meta = current["metadata"]
            if precondition_uid and precondition_uid != meta["uid"]:
                raise ApiError(409, "Conflict", "Precondition failed: UID in precondition does not match")
            if kind.key == ("", "v1", "namespaces"):
                return self._delete_namespace(current)
            if kind.key == ("", "v1", "pods") and self.graceful_pod_deleter is not None:
                period = grace_period
                if period is None:
                    period = int(current.get("spec", {}).get("terminationGracePeriodSeconds", 30))
                if period > 0 and self.graceful_pod_deleter(current, period):
                    return self._mark_deleted(kind, current, period)
            if meta.get("finalizers"):
                return self._mark_deleted(kind, current, 0)
            return self._remove(kind, current)

    def finish_pod(self, namespace: str, name: str, uid: str) -> None:
        """The kubelet's last word on a terminating pod: remove it unless finalizers remain."""
        kind = self.kind("", "v1", "pods")
        with self._lock:
            current = self.find(kind, namespace, name)
            if current is None or current["metadata"]["uid"] != uid:
                return
            if current["metadata"].get("deletionTimestamp") and not current["metadata"].get("finalizers"):
                self._remove(kind, current)

    def purge_namespace(self, namespace: str) -> None:
        """Remove a namespace and everything in it at once, finalizers or not (test teardown)."""
        with self._lock:
            for key, obj in list(self._objects.items()):
                if key[1] == namespace or (key[0] == ("", "v1", "namespaces") and key[2] == namespace):
                    self._remove(self._kinds[key[0]], obj, cascade=False)

    # --- internals -----------------------------------------------------------------------------

    @staticmethod
    def _ns(kind: kinds.Kind, namespace: str | None) -> str | None:
        if not kind.namespaced:
            return None
        return namespace or "default"

    @staticmethod
    def _filter(label_selector: str | None, field_selector: str | None) -> Callable[[Obj], bool]:
        try:
            by_labels = selectors.labels(label_selector)
            by_fields = selectors.fields(field_selector)
        except selectors.SelectorError as exc:
            raise ApiError(400, "BadRequest", str(exc)) from exc
        return lambda obj: by_labels(obj) and by_fields(obj)

    def _current(self, kind: kinds.Kind, namespace: str | None, name: str) -> Obj:
        obj = self._objects.get((kind.key, self._ns(kind, namespace), name))
        if obj is None:
            raise not_found(kind, name)
        return copy.deepcopy(obj)

    def _write(
        self,
        kind: kinds.Kind,
        namespace: str | None,
        name: str,
        new: Obj,
        subresource: str | None,
        strict: bool | None = None,
    ) -> Obj:
        key = (kind.key, self._ns(kind, namespace), name)
        old = self._objects[key]
        old_meta = old["metadata"]
        new_meta = new.setdefault("metadata", {})
        if not isinstance(new_meta, dict):
            raise ApiError(422, "Invalid", "metadata must be an object")
        wanted_rv = new_meta.get("resourceVersion")
        if wanted_rv not in (None, "") and str(wanted_rv) != old_meta["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f"Operation cannot be fulfilled on {kind.plural}{'.' + kind.group if kind.group else ''} "
                f'"{name}": the object has been modified; please apply your changes to the latest '
                "version and try again",
                {"name": name, "group": kind.group, "kind": kind.plural},
            )
        if new_meta.get("name", name) != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the request")
        if subresource == "status":
            # The status subresource changes the status stanza and nothing else.
            result = copy.deepcopy(old)
            if "status" in new:
                result["status"] = new["status"]
            else:
                result.pop("status", None)
        else:
            result = new
            if kind.has_status:
                # The main resource ignores status changes when a status subresource exists.
                if "status" in old:
                    result["status"] = copy.deepcopy(old["status"])
                else:
                    result.pop("status", None)
            meta = result["metadata"]
            for immutable in ("uid", "creationTimestamp", "namespace", "deletionTimestamp", "generation"):
                if immutable in old_meta:
                    meta[immutable] = old_meta[immutable]
                else:
                    meta.pop(immutable, None)
            meta["name"] = name
            if "deletionTimestamp" in old_meta:
                # Once deletion has started, finalizers can be removed but not added.
                meta["finalizers"] = [
                    f for f in meta.get("finalizers") or [] if f in old_meta.get("finalizers", [])
                ]
        result["apiVersion"] = kind.api_version
        result["kind"] = kind.kind
        spec_changed = _spec_of(old) != _spec_of(result)
        if self.admission is not None and strict is not None and subresource is None and spec_changed:
            result = self.admission(kind, result, strict)
        if not meta_equal_except_version(old, result):
            if _spec_of(old) != _spec_of(result):
                result["metadata"]["generation"] = int(old_meta.get("generation", 1)) + 1
            self._objects[key] = result
            self._emit(kind, "MODIFIED", result)
        else:
            result = old
        released = kind.key != ("", "v1", "pods") or self._pod_released(result)
        if (
            result["metadata"].get("deletionTimestamp")
            and not result["metadata"].get("finalizers")
            and released
        ):
            return self._remove(kind, result)
        return copy.deepcopy(result)

    def _pod_released(self, pod: Obj) -> bool:
        """A terminating pod goes once its process is gone, which the kubelet reports via finish_pod."""
        phase = pod.get("status", {}).get("phase")
        return self.graceful_pod_deleter is None or phase in ("Succeeded", "Failed")

    def _mark_deleted(self, kind: kinds.Kind, current: Obj, grace: int) -> Obj:
        meta = current["metadata"]
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = now_iso()
            meta["deletionGracePeriodSeconds"] = grace
            key = (kind.key, meta.get("namespace"), meta["name"])
            self._objects[key] = current
            self._emit(kind, "MODIFIED", current)
        return copy.deepcopy(current)

    def _remove(self, kind: kinds.Kind, current: Obj, *, cascade: bool = True) -> Obj:
        meta = current["metadata"]
        key = (kind.key, meta.get("namespace"), meta["name"])
        if self._objects.pop(key, None) is None:
            return current
        self._emit(kind, "DELETED", current)
        if cascade:
            for dependent_key, dependent in list(self._dependents(meta["uid"])):
                if dependent_key in self._objects:
                    dep_meta = dependent["metadata"]
                    self.delete(self._kinds[dependent_key[0]], dep_meta.get("namespace"), dep_meta["name"])
        return current

    def _dependents(self, uid: str) -> Iterable[tuple[ObjKey, Obj]]:
        for key, obj in list(self._objects.items()):
            owners = obj.get("metadata", {}).get("ownerReferences") or []
            if any(owner.get("uid") == uid for owner in owners):
                yield key, obj

    def _delete_namespace(self, namespace: Obj) -> Obj:
        name = namespace["metadata"]["name"]
        kind = self._kinds[("", "v1", "namespaces")]
        marked = self._mark_deleted(kind, namespace, 0)
        marked["status"] = {"phase": "Terminating"}
        self._objects[(kind.key, None, name)]["status"] = {"phase": "Terminating"}
        for key, obj in list(self._objects.items()):
            if key[1] == name and key in self._objects:
                self.delete(self._kinds[key[0]], name, obj["metadata"]["name"])
        if not any(key[1] == name for key in self._objects):
            self._remove(kind, self._objects[(kind.key, None, name)])
        return marked

    def namespace_emptied(self, name: str) -> None:
        """Finish a terminating namespace once its last object is gone."""
        kind = self._kinds[("", "v1", "namespaces")]
        with self._lock:
            ns = self._objects.get((kind.key, None, name))
            if (
                ns
                and ns["metadata"].get("deletionTimestamp")
                and not any(k[1] == name for k in self._objects)
            ):
                self._remove(kind, ns)

    def _emit(self, kind: kinds.Kind, type_: str, obj: Obj) -> None:
        if type_ != "DELETED":
            self._rv += 1
            obj["metadata"]["resourceVersion"] = str(self._rv)
        else:
            self._rv += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self._rv)
        event = Event(self._rv, kind, type_, copy.deepcopy(obj))
        self._log.append(event)
        if len(self._log) == LOG_SIZE:
            self._compacted_rv = self._log[0].rv
        for watcher in list(self._watchers):
            if watcher.wants(event):
                watcher.deliver(event)
        if type_ == "DELETED" and kind.namespaced:
            ns = obj["metadata"].get("namespace")
            nskey = (("", "v1", "namespaces"), None, ns)
            if nskey in self._objects and self._objects[nskey]["metadata"].get("deletionTimestamp"):
                self.namespace_emptied(ns)


def _spec_of(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def meta_equal_except_version(old: Obj, new: Obj) -> bool:
    """True when a write changes nothing, so no new resourceVersion and no watch event."""
    strip = copy.deepcopy(new)
    strip["metadata"].pop("resourceVersion", None)
    base = copy.deepcopy(old)
    base["metadata"].pop("resourceVersion", None)
    return base == strip
