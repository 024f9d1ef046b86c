"""The first page: who the members are, how busy the last weeks were, and what needs
attention, all within the person's country scope."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bot.i18n.markers import N_
from bot.knowledge import helplines
from bot.secretariat import inbox
from bot.secretariat.overview import UNKNOWN, overview
from bot.secretariat.service_health import service_health
from webhook.admin.pages import AdminRoute, VisitDep, render
from webhook.deps import ServiceDep

log = logging.getLogger(__name__)
router = APIRouter(route_class=AdminRoute)
URGENT_SHOWN = 5
UNANSWERED_SHOWN = 5  # the questions asked most that the bot could not answer
WEBHOOK_TIMEOUT = 3.0  # seconds: the page does not wait longer for Telegram
WEBHOOK_KEPT = 60.0  # seconds an answer of getWebhookInfo is shown again without asking
_webhook_seen: dict[int, tuple[float, dict[str, Any] | None]] = {}


async def telegram_webhook(service: Any) -> dict[str, Any] | None:
    """What Telegram says of our webhook (url, updates waiting, last error), asked at most once
    a minute; None when Telegram is off or does not answer."""
    channel = service.channels.get("telegram")
    if channel is None or not getattr(channel, "enabled", False):
        return None
    now = time.monotonic()
    seen = _webhook_seen.get(id(service))
    if seen is not None and now - seen[0] < WEBHOOK_KEPT:
        return seen[1]
    try:
        info: dict[str, Any] | None = await asyncio.wait_for(
            channel.webhook_info(), WEBHOOK_TIMEOUT
        )
    except Exception as exc:
        log.warning("getWebhookInfo failed (%s)", type(exc).__name__)
        info = {"unreachable": True}
    if info and info.get("last_error_date"):
        info["last_error_at"] = datetime.fromtimestamp(int(info["last_error_date"]), UTC)
    _webhook_seen[id(service)] = (now, info)
    return info


@router.get("")
@router.get("/")
async def overview_page(request: Request, service: ServiceDep, visit: VisitDep) -> Response:
    async with service.db.session() as session:
        numbers = await overview(session, visit.staff)
        urgent = await inbox.threads(session, "open", URGENT_SHOWN, staff=visit.staff)
        unanswered = await inbox.top_unanswered(session, UNANSWERED_SHOWN, staff=visit.staff)
        # The service's own health is the administrators' business.
        health = await service_health(session) if visit.staff.is_admin else None
        unverified = await helplines.unverified(session)
    webhook = await telegram_webhook(service) if health is not None else None
    busiest = max(
        [1] + [max(w.messages_in, w.messages_out, w.new_members) for w in numbers.activity]
    )
    return render(request, "overview.html", visit, title=N_("Overview"), o=numbers,
                  urgent=urgent, busiest=busiest, unknown=UNKNOWN, health=health,
                  webhook=webhook, unverified=unverified, unanswered=unanswered)  # fmt: skip
