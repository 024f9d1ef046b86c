"""Health, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select

from bot.storage.models import Delivery, Inbound
from webhook.deps import ServiceDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(service: ServiceDep) -> JSONResponse:
    """The database and the coordination backend answer."""
    checks = {
        "database": await service.db.ping(),
        "coordination": await service.coordinator.ping(),
    }
    ready = all(checks.values())
    return JSONResponse({"ready": ready, **checks}, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(service: ServiceDep) -> Response:
    """Prometheus metrics: inbound, outbound by status, queue depth, latencies."""
    m = service.metrics
    try:
        async with service.db.session() as session:
            depth = await session.execute(
                select(Delivery.channel, func.count())
                .where(Delivery.status.in_(("queued", "sending")))
                .group_by(Delivery.channel)
            )
            for channel in service.channels:
                m.queue_depth.labels(channel).set(0)
            for channel, count in depth.all():
                m.queue_depth.labels(channel).set(count)
            pending = await session.scalar(
                select(func.count()).select_from(Inbound).where(Inbound.status == "pending")
            )
            m.pending_inbound.set(pending or 0)
    except Exception:
        pass  # the counters still tell something when the database is away
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)
