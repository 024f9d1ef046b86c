"""POST /webhook/telegram: check the secret token, parse, store, acknowledge."""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from webhook.deps import ServiceDep, read_body

router = APIRouter()
log = logging.getLogger(__name__)


@router.post("/webhook/telegram", include_in_schema=False)
async def telegram_update(request: Request, service: ServiceDep) -> JSONResponse:
    channel = service.channels.get("telegram")
    if channel is None:
        raise HTTPException(404, "the Telegram channel is off")
    secret = request.headers.get("x-telegram-bot-api-secret-token")
    if secret is None:
        service.metrics.inbound.labels("telegram", "rejected").inc()
        raise HTTPException(401, "missing secret token")
    if not channel.check_secret(secret):  # type: ignore[attr-defined]
        service.metrics.inbound.labels("telegram", "rejected").inc()
        raise HTTPException(403, "wrong secret token")
    body = await read_body(request, service.settings.max_body_bytes)
    try:
        data = json.loads(body)
        msg = channel.parse(data)  # type: ignore[attr-defined]
    except (ValueError, TypeError, KeyError) as exc:
        service.metrics.inbound.labels("telegram", "malformed").inc()
        raise HTTPException(400, "not a Telegram update") from exc
    if msg is None:
        return JSONResponse({"ok": True, "ignored": True})
    try:
        await service.engine.accept(msg)
    except Exception as exc:
        log.exception("could not store Telegram update %s", msg.platform_id)
        # Telegram repeats the update later; nothing is lost.
        raise HTTPException(503, "storage unavailable, try again") from exc
    service.handle_soon(msg.channel, msg.address)
    return JSONResponse({"ok": True})
