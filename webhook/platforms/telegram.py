"""POST /webhook/telegram: check the secret token, parse, store, acknowledge."""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from bot.channels.base import ChannelName
from bot.channels.registry import inbound
from bot.channels.telegram import SECRET_HEADER
from webhook.deps import ServiceDep, fits, read_body, storable, store_then_handle

router = APIRouter()
log = logging.getLogger(__name__)
TELEGRAM = ChannelName.TELEGRAM


@router.post("/webhook/telegram", include_in_schema=False)
async def telegram_update(request: Request, service: ServiceDep) -> JSONResponse:
    channel = inbound(service.channels, TELEGRAM)
    if channel is None:
        raise HTTPException(404, "the Telegram channel is off")
    if SECRET_HEADER not in request.headers:
        service.metrics.inbound.labels(TELEGRAM, "rejected").inc()
        raise HTTPException(401, "missing secret token")
    if not channel.verify(str(request.url), request.headers, {}):
        service.metrics.inbound.labels(TELEGRAM, "rejected").inc()
        raise HTTPException(403, "wrong secret token")
    body = await read_body(request, service.settings.max_body_bytes)
    try:
        data = storable(json.loads(body))
    except (ValueError, RecursionError) as exc:
        service.metrics.inbound.labels(TELEGRAM, "malformed").inc()
        raise HTTPException(400, "not JSON") from exc
    update_id = data.get("update_id") if isinstance(data, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        service.metrics.inbound.labels(TELEGRAM, "malformed").inc()
        raise HTTPException(400, "not a Telegram update: no integer update_id")
    try:
        msg = channel.parse(data)
    except Exception as exc:
        # An update the library cannot read (a field newer or older than it, a date past any
        # calendar) would fail the same way on each of Telegram's retries for a day: say so
        # in the log and acknowledge it.
        cause = exc.__cause__ or exc
        log.warning("dropped Telegram update %s: %s", update_id, type(cause).__name__)
        log.debug("update %s could not be read: %s", update_id, cause)
        service.metrics.inbound.labels(TELEGRAM, "unreadable").inc()
        return JSONResponse({"ok": True, "ignored": True})
    if msg is None or not msg.address:
        # From nobody we could answer (a poll's new results, an update with no content).
        service.metrics.inbound.labels(TELEGRAM, "ignored").inc()
        return JSONResponse({"ok": True, "ignored": True})
    if not fits(msg):
        service.metrics.inbound.labels(TELEGRAM, "malformed").inc()
        raise HTTPException(400, "not a Telegram update: ids too long")
    await store_then_handle(service, msg)  # a 503 makes Telegram repeat the update later
    return JSONResponse({"ok": True})
