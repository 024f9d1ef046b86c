"""POST /webhook/whatsapp and its status callbacks: check Twilio's signature, store, acknowledge."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import select

from bot.channels.base import ChannelName, InboundChannel, Outcome
from bot.channels.registry import inbound
from bot.channels.whatsapp import FormPairs, classify_error
from bot.delivery.sender import apply_early_reports, mark_unreachable_after, record_status
from bot.storage import outbox
from bot.storage.models import Delivery
from webhook.deps import ServiceDep, fits, public_url, read_body, storable, store_then_handle

if TYPE_CHECKING:
    from app.service import Service

router = APIRouter()
log = logging.getLogger(__name__)
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
FINAL_FAILURES = ("failed", "undelivered")
WHATSAPP = ChannelName.WHATSAPP


async def _signed_form(request: Request, service: Service) -> tuple[InboundChannel, dict[str, str]]:
    channel = inbound(service.channels, WHATSAPP)
    if channel is None:
        raise HTTPException(404, "the WhatsApp channel is off")
    body = await read_body(request, service.settings.max_body_bytes)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, "not a form") from exc
    url = public_url(request, service.settings.public_url)
    form = FormPairs(pairs)  # every value of a repeated name is part of the signature
    if not channel.verify(url, request.headers, form):
        service.metrics.inbound.labels(WHATSAPP, "rejected").inc()
        raise HTTPException(403, "invalid signature")
    # Checked as sent; stored without what no database keeps (a NUL from "%00").
    return channel, storable(dict(form))


@router.post("/webhook/whatsapp", include_in_schema=False)
async def whatsapp_message(request: Request, service: ServiceDep) -> Response:
    channel, form = await _signed_form(request, service)
    try:
        msg = channel.parse(form)
    except Exception as exc:
        service.metrics.inbound.labels(WHATSAPP, "malformed").inc()
        raise HTTPException(400, "not a WhatsApp message") from exc
    if not fits(msg):
        service.metrics.inbound.labels(WHATSAPP, "malformed").inc()
        raise HTTPException(400, "not a WhatsApp message: ids too long")
    await store_then_handle(service, msg)
    return Response(EMPTY_TWIML, media_type="text/xml")


@router.post("/webhook/whatsapp/status", include_in_schema=False)
async def whatsapp_status(request: Request, service: ServiceDep) -> Response:
    channel, form = await _signed_form(request, service)
    try:
        sid, status, error = channel.parse_status(form)
    except Exception as exc:
        raise HTTPException(400, "not a status callback") from exc
    service.metrics.statuses.labels(WHATSAPP, status).inc()
    try:
        changed = await record_status(
            service.db, sid, status, error, service.sender.on_lost, service.sender.clock
        )
        if not changed and outbox.keeps_early(status) and await _unknown(service, sid):
            # Sooner than the sender's record of the send (Twilio may report before its
            # create call has answered): kept, and applied when the send is recorded. Had
            # the sender recorded it in the meantime, it may have looked for reports before
            # this one was kept: then it is applied here.
            await outbox.keep_early_report(service.db, sid, status, error)
            if not await _unknown(service, sid):
                await apply_early_reports(
                    service.db, [sid], service.sender.on_lost, channel_outcome(channel)
                )
        elif changed and status in FINAL_FAILURES and _unreachable(error):
            await _mark_unreachable(service, sid)
    except Exception as exc:
        log.exception("could not record status of %s", sid)
        raise HTTPException(503, "storage unavailable, try again") from exc
    return Response(EMPTY_TWIML, media_type="text/xml")


def channel_outcome(channel: InboundChannel) -> Callable[[str, str | None], Outcome | None]:
    return getattr(channel, "report_outcome", lambda status, error: None)


async def _unknown(service: Service, sid: str) -> bool:
    async with service.db.session() as session:
        found = select(Delivery.id).where(Delivery.platform_id == sid, Delivery.status != "early")
        return await session.scalar(found.limit(1)) is None


def _unreachable(error: str | None) -> bool:
    """Blocked, not on WhatsApp, unsubscribed: the same codes as when sending fails at once."""
    code = int(error) if error and error.isdigit() else None
    return code is not None and classify_error(code, None) == Outcome.UNREACHABLE


async def _mark_unreachable(service: Service, sid: str) -> None:
    """What the sender does when Twilio refuses at once, for a refusal that came later."""
    await mark_unreachable_after(service.db, sid, service.sender.on_lost)
