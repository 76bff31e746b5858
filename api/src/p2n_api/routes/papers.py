"""Papers: create (URL, inline text or upload), list, read, delete; their claims, report and run history."""

from __future__ import annotations

import secrets
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response
from starlette.datastructures import UploadFile

from p2n import errors, resources, telemetry
from p2n.storage import keys
from p2n_api import deps, models, reporting, tracing, views
from p2n_api.deps import Caller, NamePath, ServicesDep

router = APIRouter(prefix="/papers", tags=["papers"])

_TEXT_TYPES = ("text/plain", "text/markdown", "text/x-markdown")
_TEXT_SUFFIXES = (".txt", ".md", ".markdown")


def _new_name() -> str:
    return f"paper-{secrets.token_hex(4)}"


def _manifest(namespace: str, name: str, spec: resources.PaperSpec) -> dict[str, object]:
    """The Paper to create; made inside the create span, whose trace the operator then joins."""
    return {
        "apiVersion": resources.API_VERSION,
        "kind": "Paper",
        "metadata": tracing.annotated({"name": name, "namespace": namespace}),
        "spec": spec.wire(),
    }


@router.post("", status_code=201)
async def create_paper(
    body: models.PaperCreate,
    caller: Annotated[Caller, deps.authorized("create", "papers")],
    services: ServicesDep,
) -> models.PaperPublic:
    """Create a Paper from an http(s)/s3 URL or inline text; the operator ingests it and extracts claims."""
    spec = resources.PaperSpec(
        source=resources.PaperSource(url=body.url, text=body.text),
        title=body.title,
        extraction=body.extraction or resources.ExtractionSpec(),
        datasets=[
            resources.DatasetRef(name=name, url=data.url, target=data.target)
            for name, data in body.datasets.items()
        ],
    )
    name = body.name or _new_name()
    with telemetry.span("p2n.paper.create", {"p2n.namespace": caller.namespace, "p2n.paper": name}):
        created = await services.cluster.create(
            "Paper", caller.namespace, _manifest(caller.namespace, name, spec)
        )
    return views.paper(created)


@router.post(
    "/upload",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": models.PaperUpload.model_json_schema()}},
        }
    },
)
async def upload_paper(
    request: Request,
    caller: Annotated[Caller, deps.authorized("create", "papers")],
    services: ServicesDep,
) -> models.PaperPublic:
    """Upload a document (multipart); it is stored and the new Paper points at it.

    The form is read here, after authorization, so an unauthorized upload is refused unread.
    """
    async with request.form(max_files=1, max_fields=4) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise errors.InvalidInput("file: a document is required", details={"field": "file"})
        fields = models.PaperUploadFields.model_validate(
            {key: value for key, value in form.items() if key in ("name", "title") and isinstance(value, str)}
        )
        name = fields.name or _new_name()
        attributes = {"p2n.namespace": caller.namespace, "p2n.paper": name, "p2n.source": "upload"}
        with telemetry.span("p2n.paper.create", attributes):
            return await _store_upload(services, caller.namespace, upload, name, fields.title)


async def _store_upload(
    services: deps.Services, namespace: str, file: UploadFile, name: str, title: str | None
) -> models.PaperPublic:
    # Refuse before storing, so an upload never replaces the document of an existing Paper.
    try:
        await services.cluster.get("Paper", namespace, name)
    except errors.NotFound:
        pass
    else:
        raise errors.Conflict(f"Paper {name} already exists", details={"field": "name"})
    filename = keys.safe_filename(file.filename or "document")
    key = keys.paper_document(namespace, name, filename)
    content_type = file.content_type or "application/octet-stream"
    uri = await anyio.to_thread.run_sync(
        services.store.put_stream, key, file.file, services.config.max_document_bytes, content_type
    )
    if uri.startswith("s3://"):
        source = resources.PaperSource(url=uri)
    elif content_type in _TEXT_TYPES or filename.lower().endswith(_TEXT_SUFFIXES):
        # Without S3 the operator cannot read the stored file: text travels inline instead.
        data = await anyio.to_thread.run_sync(services.store.get_bytes, key)
        try:
            source = resources.PaperSource(text=data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise errors.InvalidInput("a text upload must be UTF-8", details={"field": "file"}) from exc
    else:
        raise errors.InvalidInput(
            "uploading a PDF needs the S3 storage backend (P2N_S3_BUCKET)", details={"field": "file"}
        )
    spec = resources.PaperSpec(source=source, title=title)
    created = await services.cluster.create("Paper", namespace, _manifest(namespace, name, spec))
    return views.paper(created)


@router.get("")
async def list_papers(
    caller: Annotated[Caller, deps.authorized("list", "papers")], services: ServicesDep
) -> models.PaperList:
    items = await services.cluster.list("Paper", caller.namespace)
    return models.PaperList(items=[views.paper(obj) for obj in items])


@router.get("/{name}")
async def get_paper(
    name: NamePath, caller: Annotated[Caller, deps.authorized("get", "papers")], services: ServicesDep
) -> models.PaperPublic:
    return views.paper(await services.cluster.get("Paper", caller.namespace, name))


@router.delete("/{name}", status_code=204, response_class=Response)
async def delete_paper(
    name: NamePath, caller: Annotated[Caller, deps.authorized("delete", "papers")], services: ServicesDep
) -> Response:
    await services.cluster.delete("Paper", caller.namespace, name)
    return Response(status_code=204)


@router.get("/{name}/claims")
async def list_claims(
    name: NamePath, caller: Annotated[Caller, deps.authorized("get", "papers")], services: ServicesDep
) -> models.ClaimList:
    """The claims the operator extracted, each with its citation (page and quote)."""
    obj = await services.cluster.get("Paper", caller.namespace, name)
    return models.ClaimList(paper=name, items=[models.ClaimPublic.of(c) for c in views.claims_of(obj)])


@router.get("/{name}/report")
async def get_report(
    name: NamePath, caller: Annotated[Caller, deps.authorized("get", "papers")], services: ServicesDep
) -> models.PaperReport:
    """Claimed vs observed per claim, gap and verdict, citations, and presigned artifact URLs."""
    return await reporting.paper_report(services, caller.namespace, name)


@router.get("/{name}/runs")
async def list_paper_runs(
    name: NamePath,
    caller: Annotated[Caller, deps.authorized("list", "runs")],
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> models.RunHistory:
    """The paper's run history from PostgreSQL, newest first (it outlives the Run objects)."""
    records = await anyio.to_thread.run_sync(
        lambda: services.history.run_history(caller.namespace, paper=name, limit=limit)
    )
    return models.RunHistory(paper=name, items=[views.history_entry(r) for r in records])
