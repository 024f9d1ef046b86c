"""Health, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from collections.abc import Awaitable
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select

from bot.storage.models import Delivery, Inbound
from webhook.deps import ServiceDep

if TYPE_CHECKING:
    from app.service import Service

router = APIRouter(tags=["health"])
# Probes give up after a few seconds; a server that accepts connections and never answers
# must make us "not ready", not hang the probe.
READY_TIMEOUT = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(service: ServiceDep) -> JSONResponse:
    """The database and the coordination backend answer."""
    database, coordination = await asyncio.gather(
        _answers(service.db.ping()), _answers(service.coordinator.ping())
    )
    checks = {"database": database, "coordination": coordination}
    ready = all(checks.values())
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)


async def _answers(ping: Awaitable[bool]) -> bool:
    try:
        return await asyncio.wait_for(ping, READY_TIMEOUT)
    except Exception:
        return False


def may_read_metrics(request: Request, token: str) -> bool:
    """With METRICS_TOKEN, whoever sends it as a bearer token; without it, only a caller on
    this machine that came through no proxy (Prometheus beside the service)."""
    if token:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    peer = request.client.host if request.client is not None else ""
    try:
        local = ipaddress.ip_address(peer).is_loopback
    except ValueError:
        local = False
    return local and "x-forwarded-for" not in request.headers and "forwarded" not in request.headers


@router.get("/metrics")
async def metrics(request: Request, service: ServiceDep) -> Response:
    """Prometheus metrics: inbound, outbound by status, queue depth, latencies."""
    token = service.settings.metrics_token
    if not may_read_metrics(request, token.get_secret_value().strip() if token else ""):
        return Response("not found", status_code=404)
    m = service.metrics
    try:
        depth, pending = await asyncio.wait_for(_outbox_and_backlog(service), READY_TIMEOUT)
    except Exception:
        pass  # the counters still tell something when the database is away
    else:
        for channel in service.channels:
            m.queue_depth.labels(channel).set(depth.get(channel, 0))
        for channel, count in depth.items():
            m.queue_depth.labels(channel).set(count)
        m.pending_inbound.set(pending)
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)


async def _outbox_and_backlog(service: Service) -> tuple[dict[str, int], int]:
    """Messages waiting in the outbox by channel, and inbound messages not yet handled."""
    async with service.db.session() as session:
        rows = await session.execute(
            select(Delivery.channel, func.count())
            .where(Delivery.status.in_(("queued", "sending")))
            .group_by(Delivery.channel)
        )
        depth = {channel: int(count) for channel, count in rows.all()}
        pending = await session.scalar(
            select(func.count()).select_from(Inbound).where(Inbound.status == "pending")
        )
    return depth, int(pending or 0)
