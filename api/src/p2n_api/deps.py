"""Dependencies of the routes, as ``Annotated`` aliases, so a route's signature says what it needs.

    async def get_paper(name: NamePath, caller: Annotated[Caller, authorized("get", "papers")],
                        services: ServicesDep) -> models.PaperPublic: ...

``authorized(verb, resource)`` authenticates the bearer token and authorizes that exact verb on
the p2n.dev resource in the request's namespace (the ``namespace`` query parameter, else
``P2N_NAMESPACE``), so no route can forget either step.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from p2n import db, settings, storage
from p2n_api import auth, kube, sse

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

_NAMED_VERBS = frozenset({"get", "update", "patch", "delete"})

bearer = HTTPBearer(auto_error=False, description="A Kubernetes bearer token (or a static token).")


@dataclasses.dataclass
class Services:
    """The app's collaborators, built once at startup (tests pass their own)."""

    config: settings.Settings
    cluster: kube.Kube
    history: db.Database
    store: storage.Storage
    hub: sse.Hub
    authenticator: auth.Authenticator


@dataclasses.dataclass(frozen=True)
class Caller:
    """The authenticated, authorized caller and the namespace the request acts in."""

    principal: auth.Principal
    namespace: str


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
NamePath = Annotated[
    str, Path(min_length=1, max_length=63, pattern=DNS_LABEL, description="Object name (a DNS label).")
]
NamespaceQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=63, pattern=DNS_LABEL, description="Namespace; default P2N_NAMESPACE."),
]


def authorized(verb: str, resource: str) -> Any:
    """A dependency that yields the :class:`Caller` allowed to ``verb`` ``resource`` (401/403 otherwise)."""

    async def caller(
        request: Request,
        services: ServicesDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        namespace: NamespaceQuery = None,
    ) -> Caller:
        target = namespace or services.config.namespace
        # RBAC names objects only for verbs on one existing object (never for create or list, and
        # in /plans/{name}/run or /papers/{name}/runs the path names another kind than the one checked).
        name = request.path_params.get("name") if verb in _NAMED_VERBS else None
        header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
        action = auth.Action(verb=verb, resource=resource, namespace=target, name=name)
        principal = await auth.check(services.authenticator, header, action)
        return Caller(principal=principal, namespace=target)

    return Depends(caller)
