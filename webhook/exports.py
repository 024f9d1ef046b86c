"""A member's own data as a file, behind the signed link the bot sent them: the platforms (and
the member's browser) fetch it without an account."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Response

from bot.members import linking
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
    """Everything stored about the member whose chat the link names (with their linked
    chats), made when fetched, for ``export.LINK_SECONDS`` after it was sent. Any other
    token, an expired one, or a member since erased: 404."""
    contact_id = export.verify_link(service.settings, token)
    if contact_id is None:
        raise HTTPException(404, "no such file")
    async with service.db.session() as session:
        contact = await session.get(Contact, contact_id)
        if contact is None:
            raise HTTPException(404, "no such file")
        ids = await linking.person_contact_ids(session, contact)
        body = export.as_json(await export.collect(session, ids))
    return Response(
        body.encode(),
        media_type=f"{TYPES[suffix]}; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{export.FILENAME}"',
            "Cache-Control": "private, no-store",
        },
    )
