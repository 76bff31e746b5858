"""An emulated Kubernetes API server on a loopback port, for kopf, the `kubernetes` client and kubectl.

kmock's ``KubernetesEmulator`` (0.8) could not be bent far enough for P2N: its request parser fails
on ``/api/v1/namespaces``; it keeps no uid, resourceVersion or generation, lists carry no ``kind``,
every patch is a dict merge, and it has no selectors, status subresource, resumable watches, tables,
OpenAPI or pod logs. So this module serves the Kubernetes REST protocol itself with aiohttp over
:mod:`tests.harness.store`, keeping kmock's shape: a loopback server, Kubernetes ``Status`` errors,
discovery derived from the registered resources.

The server runs in its own thread with its own event loop, so sync tests, async tests on any loop,
kopf in a thread, and subprocesses (kubectl) can all use it at once. Watches are pushed the moment
the store changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import threading
from collections.abc import AsyncIterator
from typing import Any, Protocol

import yaml
from aiohttp import web
from tests.harness import access, faults, kinds, openapi, patching, store, tables

_JSON = "application/json"
_HEARTBEAT = 2.0


class LogSource(Protocol):
    """Where pod logs come from: the kubelet emulator."""

    def log_lines(
        self, namespace: str, name: str, *, follow: bool
    ) -> AsyncIterator[tuple[datetime.datetime, bytes]]: ...


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type=_JSON)


def _error(exc: store.ApiError) -> web.Response:
    return _json(exc.status(), exc.code)


class ApiServer:
    """The emulated API server: ``start()`` it, point clients at ``url``, ``stop()`` it.

    ``store`` holds the objects, ``access`` answers TokenReview/SubjectAccessReview,
    ``faults`` injects failures, ``log_source`` (set by the kubelet) serves ``pods/log``.
    """

    def __init__(self) -> None:
        self.store = store.Store()
        self.access = access.AccessTable()
        self.faults = faults.Faults(self.store)
        self.log_source: LogSource | None = None
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve(started))
            except BaseException as exc:
                failure.append(exc)
                started.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=serve, name="harness-apiserver", daemon=True)
        self._thread.start()
        started.wait(30)
        if failure:
            raise RuntimeError("the emulated API server failed to start") from failure[0]
        for namespace in ("default", "kube-system"):
            self.store.create(
                self.store.kind("", "v1", "namespaces"), None, {"metadata": {"name": namespace}}
            )

    async def _serve(self, started: threading.Event) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}"
        self._stopping = asyncio.Event()
        started.set()
        await self._stopping.wait()
        self.store.drop_watches()
        await self._runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(15)

    # --- dispatch ------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        try:
            if not parts:
                return _json({"paths": sorted(self._paths())})
            if parts == ["version"]:
                return _json(self._version())
            if parts[0] == "openapi":
                return self._openapi(parts[1:])
            if parts[0] in ("healthz", "livez", "readyz"):
                return web.Response(text="ok")
            if parts == ["api"]:
                return _json({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
            if parts == ["apis"]:
                return _json(self._group_list())
            if parts[0] == "api" and len(parts) == 2:
                return _json(self._resource_list("", parts[1]))
            if parts[0] == "apis" and len(parts) == 2:
                return _json(self._group(parts[1]))
            if parts[0] == "apis" and len(parts) == 3:
                return _json(self._resource_list(parts[1], parts[2]))
            if parts[0] == "api" and len(parts) > 2:
                return await self._resource("", parts[1], parts[2:], request)
            if parts[0] == "apis" and len(parts) > 3:
                return await self._resource(parts[1], parts[2], parts[3:], request)
            raise store.ApiError(404, "NotFound", "the server could not find the requested resource")
        except store.ApiError as exc:
            return _error(exc)

    # --- discovery -----------------------------------------------------------------------------

    def _paths(self) -> set[str]:
        paths = {"/api", "/api/v1", "/apis", "/version", "/healthz"}
        for kind in self.store.served():
            if kind.group:
                paths |= {f"/apis/{kind.group}", f"/apis/{kind.group}/{kind.version}"}
        return paths

    @staticmethod
    def _version() -> dict[str, str]:
        return {
            "major": "1",
            "minor": "37",
            "gitVersion": "v1.37.0-p2n-harness",
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z",
            "goVersion": "go1.25",
            "compiler": "gc",
            "platform": "linux/amd64",
        }

    def _versions(self) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {}
        for kind in self.store.served():
            if kind.group and kind.version not in groups.setdefault(kind.group, []):
                groups[kind.group].append(kind.version)
        return groups

    def _group(self, group: str) -> dict[str, Any]:
        versions = self._versions().get(group)
        if not versions:
            raise store.ApiError(404, "NotFound", "the server could not find the requested resource")
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": entries,
            "preferredVersion": entries[0],
        }

    def _group_list(self) -> dict[str, Any]:
        groups = [self._group(group) for group in sorted(self._versions())]
        for group in groups:
            del group["kind"], group["apiVersion"]
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def _resource_list(self, group: str, version: str) -> dict[str, Any]:
        served = [k for k in self.store.served() if k.group == group and k.version == version]
        if not served:
            raise store.ApiError(404, "NotFound", "the server could not find the requested resource")
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": [entry for kind in served for entry in kind.discovery()],
        }

    def _openapi(self, rest: list[str]) -> web.Response:
        served = self.store.served()
        crd_kind = self.store.kind("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        docs = openapi.documents(served, self.store.list(crd_kind)[0])
        if rest == ["v3"]:
            return _json(openapi.index(served, docs))
        if len(rest) > 1 and rest[0] == "v3" and "/".join(rest[1:]) in docs:
            return _json(docs["/".join(rest[1:])])
        raise store.ApiError(404, "NotFound", "the server could not find the requested OpenAPI document")

    # --- resources -----------------------------------------------------------------------------

    async def _resource(
        self, group: str, version: str, rest: list[str], request: web.Request
    ) -> web.StreamResponse:
        namespace: str | None = None
        if group == "" and rest[0] == "namespaces" and (len(rest) <= 2 or rest[2] in ("status", "finalize")):
            plural, name, sub = (
                "namespaces",
                rest[1] if len(rest) > 1 else None,
                rest[2] if len(rest) > 2 else None,
            )
        elif rest[0] == "namespaces" and len(rest) >= 3:
            namespace, plural = rest[1], rest[2]
            name = rest[3] if len(rest) > 3 else None
            sub = rest[4] if len(rest) > 4 else None
        else:
            plural = rest[0]
            name = rest[1] if len(rest) > 1 else None
            sub = rest[2] if len(rest) > 2 else None
        kind = self.store.kind(group, version, plural)
        query = request.query
        method = request.method.upper()
        watching = query.get("watch") in ("true", "1")
        verb = {
            ("GET", True): "watch" if watching else "get",
            ("GET", False): "watch" if watching else "list",
            ("POST", False): "create",
            ("PUT", True): "update",
            ("PATCH", True): "patch",
            ("DELETE", True): "delete",
            ("DELETE", False): "deletecollection",
        }.get((method, name is not None))
        if verb is None or verb not in kind.verbs:
            raise store.ApiError(405, "MethodNotAllowed", f"{method} is not supported on {plural}")
        if sub is not None and sub not in kind.subresources and sub != "finalize":
            raise store.ApiError(404, "NotFound", f"{plural}/{sub} is not a subresource")
        self.faults.check(verb, f"{plural}/{sub}" if sub else plural, namespace)
        body = await request.read()
        table = "as=Table" in request.headers.get("Accept", "")
        strict = query.get("fieldValidation") == "Strict"

        if kind.create_only:
            return _json(self._review(kind, self._decode(body)), 201)
        if sub == "log":
            return await self._log(kind, namespace, name or "", request)
        if verb == "watch":
            return await self._watch(kind, namespace, name, request, table=table)
        if verb == "list":
            items, rv = self.store.list(
                kind, namespace, query.get("labelSelector"), query.get("fieldSelector")
            )
            if table:
                return _json(tables.table(kind, items, rv))
            return _json(
                {
                    "kind": f"{kind.kind}List",
                    "apiVersion": kind.api_version,
                    "metadata": {"resourceVersion": str(rv)},
                    "items": items,
                }
            )
        assert name is not None or verb in ("create", "deletecollection")
        if verb == "get":
            obj = self.store.get(kind, namespace, name or "")
            if table:
                return _json(tables.table(kind, [obj], self.store.resource_version))
            return _json(obj)
        if verb == "create":
            if query.get("dryRun"):
                return _json(self._decode(body), 201)
            return _json(self.store.create(kind, namespace, self._decode(body), strict=strict), 201)
        if verb == "update":
            subresource = "status" if sub == "status" else None
            obj = self._decode(body)
            return _json(self.store.replace(kind, namespace, name or "", obj, subresource, strict=strict))
        if verb == "patch":
            subresource = "status" if sub == "status" else None
            content_type = request.headers.get("Content-Type", "application/merge-patch+json")
            if query.get("dryRun"):
                return _json(self.store.get(kind, namespace, name or ""))
            try:
                patched = self.store.patch(
                    kind, namespace, name or "", content_type, body, subresource, strict=strict
                )
                return _json(patched)
            except store.ApiError as exc:
                if exc.code == 404 and "apply-patch" in content_type:
                    return _json(self.store.create(kind, namespace, self._decode(body), strict=strict), 201)
                raise
        options = self._decode(body) if body else {}
        grace = query.get("gracePeriodSeconds", options.get("gracePeriodSeconds"))
        uid = (options.get("preconditions") or {}).get("uid")
        if verb == "deletecollection":
            items, rv = self.store.list(
                kind, namespace, query.get("labelSelector"), query.get("fieldSelector")
            )
            for item in items:
                with contextlib.suppress(store.ApiError):
                    self.store.delete(kind, namespace, item["metadata"]["name"], grace_period=_int(grace))
            return _json({"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "items": items})
        deleted = self.store.delete(
            kind, namespace, name or "", grace_period=_int(grace), precondition_uid=uid
        )
        return _json(deleted)

    @staticmethod
    def _decode(body: bytes) -> Any:
        try:
            return patching.decode(body) if body else {}
        except yaml.YAMLError as exc:
            raise store.ApiError(400, "BadRequest", f"the request body is not JSON: {exc}") from exc

    def _review(self, kind: kinds.Kind, body: dict[str, Any]) -> dict[str, Any]:
        if kind.plural == "tokenreviews":
            return self.access.review_token(body)
        return self.access.review_access(body)

    async def _watch(
        self, kind: kinds.Kind, namespace: str | None, name: str | None, request: web.Request, *, table: bool
    ) -> web.StreamResponse:
        """Stream events as JSON lines (each object a one-row Table for ``kubectl get -w``)."""
        query = request.query
        fields = query.get("fieldSelector")
        if name is not None:
            fields = ",".join(filter(None, [fields, f"metadata.name={name}"]))
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[store.Event | store.ApiError | None] = asyncio.Queue()

        def deliver(event: store.Event | None) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, event)

        response = web.StreamResponse(status=200, headers={"Content-Type": _JSON})
        await response.prepare(request)
        try:
            watcher = self.store.watch(
                kind,
                namespace,
                deliver,
                resource_version=query.get("resourceVersion"),
                label_selector=query.get("labelSelector"),
                field_selector=fields,
            )
        except store.ApiError as exc:
            await response.write(json.dumps({"type": "ERROR", "object": exc.status()}).encode() + b"\n")
            return response
        timeout = _int(query.get("timeoutSeconds"))
        deadline = loop.time() + timeout if timeout else None
        try:
            while deadline is None or loop.time() < deadline:
                wait = _HEARTBEAT if deadline is None else min(_HEARTBEAT, deadline - loop.time())
                try:
                    event = await asyncio.wait_for(queue.get(), max(wait, 0.01))
                except TimeoutError:
                    if request.transport is None or request.transport.is_closing():
                        break
                    continue
                if event is None:
                    break
                assert isinstance(event, store.Event)
                obj = tables.table(kind, [event.obj], event.rv) if table else event.obj
                line = json.dumps({"type": event.type, "object": obj}).encode() + b"\n"
                await response.write(line)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.store.unwatch(watcher)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response

    async def _log(
        self, kind: kinds.Kind, namespace: str | None, name: str, request: web.Request
    ) -> web.StreamResponse:
        pod = self.store.get(kind, namespace, name)
        query = request.query
        if self.log_source is None:
            container = pod["spec"]["containers"][0]["name"]
            raise store.ApiError(
                400,
                "BadRequest",
                f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating',
            )
        follow = query.get("follow") in ("true", "1")
        since: datetime.datetime | None = None
        if query.get("sinceTime"):
            since = datetime.datetime.fromisoformat(query["sinceTime"].replace("Z", "+00:00"))
        elif query.get("sinceSeconds"):
            since = datetime.datetime.now(datetime.UTC) - datetime.timedelta(
                seconds=int(query["sinceSeconds"])
            )
        tail = _int(query.get("tailLines"))
        stamps = query.get("timestamps") in ("true", "1")
        lines = self.log_source.log_lines(namespace or "default", name, follow=follow)
        # The first item is the backlog marker: everything before it is history that tailLines trims.
        backlog: list[tuple[datetime.datetime, bytes]] = []
        response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        prepared = False
        async for stamp, line in lines:
            if stamp == _BACKLOG_END:
                chosen = backlog[-tail:] if tail is not None else backlog
                if tail == 0:
                    chosen = []
                if not prepared:
                    await response.prepare(request)
                    prepared = True
                for s, text in chosen:
                    await response.write(_format(s, text, stamps))
                backlog = []
                continue
            if since is not None and stamp < since:
                continue
            if prepared:
                await response.write(_format(stamp, line, stamps))
            else:
                backlog.append((stamp, line))
        if not prepared:
            await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):
            await response.write_eof()
        return response


# The kubelet yields this timestamp once, after the log lines already written when the request came.
_BACKLOG_END = datetime.datetime.min.replace(tzinfo=datetime.UTC)


def backlog_end() -> datetime.datetime:
    return _BACKLOG_END


def _format(stamp: datetime.datetime, line: bytes, stamps: bool) -> bytes:
    if not stamps:
        return line
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode() + b" " + line


def _int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)
