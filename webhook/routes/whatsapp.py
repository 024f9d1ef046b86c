"""POST /webhook/whatsapp and its status callbacks: check Twilio's signature, store, acknowledge."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from bot.sender import record_status
from bot.service import Service
from webhook.deps import ServiceDep, public_url, read_body

router = APIRouter()
log = logging.getLogger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


async def _signed_form(request: Request, service: Service) -> dict[str, str]:
    channel = service.channels.get("whatsapp")
    if channel is None:
        raise HTTPException(404, "the WhatsApp channel is off")
    body = await read_body(request, service.settings.max_body_bytes)
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, "not a form") from exc
    url = public_url(request, service.settings.public_url)
    if not channel.validate(url, form, request.headers.get("x-twilio-signature")):  # type: ignore[attr-defined]
        service.metrics.inbound.labels("whatsapp", "rejected").inc()
        raise HTTPException(403, "invalid signature")
    return form


@router.post("/webhook/whatsapp", include_in_schema=False)
async def whatsapp_message(request: Request, service: ServiceDep) -> Response:
    form = await _signed_form(request, service)
    try:
        msg = service.channels["whatsapp"].parse(form)  # type: ignore[attr-defined]
    except (ValueError, KeyError) as exc:
        service.metrics.inbound.labels("whatsapp", "malformed").inc()
        raise HTTPException(400, "not a WhatsApp message") from exc
    try:
        await service.engine.accept(msg)
    except Exception as exc:
        log.exception("could not store WhatsApp message %s", msg.platform_id)
        raise HTTPException(503, "storage unavailable, try again") from exc
    service.handle_soon(msg.channel, msg.address)
    return Response(EMPTY_TWIML, media_type="text/xml")


@router.post("/webhook/whatsapp/status", include_in_schema=False)
async def whatsapp_status(request: Request, service: ServiceDep) -> Response:
    form = await _signed_form(request, service)
    try:
        sid, status, error = service.channels["whatsapp"].parse_status(form)  # type: ignore[attr-defined]
    except (ValueError, KeyError) as exc:
        raise HTTPException(400, "not a status callback") from exc
    service.metrics.statuses.labels("whatsapp", status).inc()
    try:
        # A report can overtake the sender's own record of the send by a few milliseconds.
        for delay in (0.0, 0.1, 0.3, 0.6):
            await asyncio.sleep(delay)
            if await record_status(service.db, sid, status, error) or not await _unknown(
                service, sid
            ):
                break
    except Exception as exc:
        log.exception("could not record status of %s", sid)
        raise HTTPException(503, "storage unavailable, try again") from exc
    return Response(EMPTY_TWIML, media_type="text/xml")


async def _unknown(service: Service, sid: str) -> bool:
    from sqlalchemy import select

    from bot.storage.models import Delivery

    async with service.db.session() as session:
        return await session.scalar(select(Delivery.id).where(Delivery.platform_id == sid)) is None
