"""What every /api router shares: the error responses as OpenAPI describes them, and the
paging parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, StringConstraints

from bot.channels.whatsapp import CONTENT_SID_PATTERN
from webhook import deps


class Problem(BaseModel):
    """Why a request was refused, in words for the person who sent it."""

    detail: str


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The refusals a route can answer with, for its OpenAPI description."""
    described = {
        401: "No valid credentials: send `Authorization: Bearer <personal API token>`, or sign "
        "in on the dashboard. A revoked token, or one of a disabled account, is not valid.",
        403: "Signed in, but the role does not allow this (viewers read only; accounts and the "
        "audit log are for administrators), or a browser request that changes something came "
        "without the session's CSRF token.",
        404: "No such thing, or it belongs to a member outside your country scope.",
        409: "The request conflicts with the current state.",
        422: "The request is not valid; `detail` says what to change.",
    }
    return {code: {"model": Problem, "description": described[code]} for code in codes}


READ = errors(401)
WRITE = errors(401, 403)

Offset = Annotated[int, Query(ge=0, le=1_000_000, description="rows to skip, for paging")]
Limit = Annotated[int, Query(ge=1, le=500, description="rows per page, at most 500")]

# Ids: the bound the dashboard uses too (webhook.deps).
ItemId = deps.ItemId


# An approved WhatsApp template: a content SID as Twilio's OpenAPI draws it. A SID of another
# shape would make Twilio refuse every member it was meant for (21655).
ContentSid = Annotated[str, StringConstraints(pattern=CONTENT_SID_PATTERN)]
