"""Kid mode: a claim and our check of it as a short picture book (:mod:`p2n.pipeline.storybook`)."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter

from p2n import errors
from p2n.pipeline import storybook
from p2n_api import deps, models, reporting
from p2n_api.deps import Caller, ServicesDep

router = APIRouter(prefix="/explain", tags=["explain"])


@router.post("/kid")
async def explain_for_kids(
    body: models.ExplainKidRequest,
    caller: Annotated[Caller, deps.authorized("get", "papers")],
    services: ServicesDep,
) -> storybook.Storybook:
    """A 5-7 page storybook about one claim for a grade-3 reader, ending with our score and the paper's."""
    _, _, found = await reporting.sections(services, caller.namespace, body.paper)
    if not found:
        raise errors.NoClaims(f"Paper {body.paper} has no claims (yet)")
    if body.claim_id is None:
        chosen = next((s for s in found if s.assessment is not None), found[0])
    else:
        matching = [s for s in found if s.claim.id == body.claim_id]
        if not matching:
            raise errors.NotFound(f"Paper {body.paper} has no claim {body.claim_id}")
        chosen = matching[0]
    return await anyio.to_thread.run_sync(
        lambda: storybook.write(chosen.claim, settings=services.config, assessment=chosen.assessment)
    )
