"""A member's own data as a file, behind the signed link the bot sent them: the platforms (and
the member's browser) fetch it without an account."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Response
from sqlalchemy import select

from bot.privacy import export
from bot.storage.models import Contact
from webhook.deps import ServiceDep

router = APIRouter(prefix="/api")

TYPES = {"json": "application/json", "txt": "text/plain"}


# HEAD too: Twilio checks a media link with HEAD before it fetches it with GET, and refuses
# the message when either fails.
@router.api_route(
    "/exports/{token}.{suffix}",
    methods=["GET", "HEAD"],
    response_class=Response,
    include_in_schema=False,
)
async def member_file(
    token: Annotated[str, Path(max_length=400, description="from a link the bot sent")],
    suffix: Literal["json", "txt"],
    service: ServiceDep,
) -> Response:
    """Everything stored about the member the link names, made when fetched, for an hour
    after it was sent. Any other token, or a member since erased: 404."""
    ids = export.verify_link(service.settings, token)
    if ids is None:
        raise HTTPException(404, "no such file")
    async with service.db.session() as session:
        known = list(await session.scalars(select(Contact.id).where(Contact.id.in_(ids))))
        if not known:
            raise HTTPException(404, "no such file")
        body = export.as_json(await export.collect(session, known))
    return Response(
        body.encode(),
        media_type=f"{TYPES[suffix]}; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{export.FILENAME}"',
            "Cache-Control": "private, no-store",
        },
    )
