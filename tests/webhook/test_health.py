"""GET /healthz, /readyz and /metrics: what a load balancer and Prometheus see."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import uvicorn
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from app.service import Service
from app.web import create_app
from bot.coordination import Coordinator, create_coordinator
from bot.storage.models import Delivery
from tests.conftest import Backend
from tests.dialog import Member
from tests.harness import eventually, free_port, running, settings_for, telegram_member

DEAD_REDIS = "redis://127.0.0.1:1/0"
DEAD_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/childpact"


@asynccontextmanager
async def serving(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    """The app on a loopback port around a service that was built but not started: the
    case of a process whose database or Redis is not there."""
    app = create_app(service.settings, service=service)
    app.state.service = service
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            yield http
    finally:
        server.should_exit = True
        await task
        await service.coordinator.close()
        await service.db.dispose()


def service_with(
    backend: Backend, *, database_url: str | None = None, coordinator: Coordinator
) -> Service:
    settings = settings_for(
        backend,
        "http://127.0.0.1:9",
        "http://127.0.0.1:9",
        database_url=database_url or backend.database_url,
    )
    return Service(settings, coordinator=coordinator, db_schema=backend.schema)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, by name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(page: dict, name: str, **labels: str) -> float | None:
    return page.get((name, tuple(sorted(labels.items()))))


async def test_healthz_answers_while_the_process_is_up(backend):
    async with running(backend) as stack:
        response = await stack.http.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}


async def test_readyz_is_200_when_the_database_and_coordination_answer(backend):
    async with running(backend) as stack:
        response = await stack.http.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {"ready": True, "database": True, "coordination": True}


async def test_readyz_is_503_when_redis_is_down(backend):
    service = service_with(backend, coordinator=create_coordinator(DEAD_REDIS))
    async with serving(service) as http:
        response = await http.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"ready": False, "database": True, "coordination": False}
        assert (await http.get("/healthz")).status_code == 200  # alive, just not ready


async def test_readyz_is_503_when_the_database_is_down(backend, tmp_path: Path):
    # Embedded: the SQLite path is a folder, as when a volume is not mounted. Scaled: nobody
    # listens where PostgreSQL should be.
    dead = f"sqlite+aiosqlite:///{tmp_path}" if backend.redis_url is None else DEAD_POSTGRES
    coordinator = create_coordinator(backend.redis_url, prefix=backend.redis_prefix)
    await coordinator.start()
    service = service_with(backend, database_url=dead, coordinator=coordinator)
    async with serving(service) as http:
        response = await http.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"ready": False, "database": False, "coordination": True}
        metrics = await http.get("/metrics")  # still tells what it knows
        assert metrics.status_code == 200
        assert "childpact_inbound_messages" in metrics.text


async def test_metrics_count_messages_and_time_the_sends(backend):
    async with running(backend) as stack:
        member = Member(stack, "telegram", lang="en")
        assert member.builder is not None
        update = member.builder.message("hello")
        assert (await stack.post_telegram(update)).status_code == 200
        assert (await stack.post_telegram(update)).status_code == 200  # a repeat
        assert (await stack.post_telegram(update, secret="wrong")).status_code == 403
        await member.replies()
        await Member(stack, "whatsapp").say("hello")

        response = await stack.http.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        page = samples(response.text)
        inbound = "childpact_inbound_messages_total"
        assert value(page, inbound, channel="telegram", result="stored") == 1
        assert value(page, inbound, channel="telegram", result="duplicate") == 1
        assert value(page, inbound, channel="telegram", result="rejected") == 1
        assert value(page, inbound, channel="whatsapp", result="stored") == 1
        sent = "childpact_outbound_messages_total"
        assert value(page, sent, channel="telegram", outcome="sent") == 1
        assert value(page, sent, channel="whatsapp", outcome="sent") == 1
        for channel in ("telegram", "whatsapp"):
            assert value(page, "childpact_outbox_queued", channel=channel) == 0
            latency = "childpact_send_latency_seconds"
            assert value(page, f"{latency}_count", channel=channel) == 1
            assert value(page, f"{latency}_bucket", channel=channel, le="+Inf") == 1
            assert 0 <= (value(page, f"{latency}_sum", channel=channel) or -1) < 30
        assert value(page, "childpact_inbound_pending") == 0


async def test_metrics_show_the_outbox_waiting(backend):
    async with running(backend, workers=False) as stack:  # nobody sends in this process
        builder = telegram_member("en")
        for text in ("hello", "/help"):
            assert (await stack.post_telegram(builder.message(text))).status_code == 200

        async def queued() -> bool:
            async with stack.service.db.session() as session:
                count = await session.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.status == "queued")
                )
            return count == 2

        await eventually(queued)
        page = samples((await stack.http.get("/metrics")).text)
        assert value(page, "childpact_outbox_queued", channel="telegram") == 2
        assert value(page, "childpact_outbox_queued", channel="whatsapp") == 0
        assert value(page, "childpact_inbound_pending") == 0
        assert value(page, "childpact_send_latency_seconds_count", channel="telegram") is None


@asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A port that accepts connections and never says a word, like a hung server."""
    connections: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_readyz_gives_up_on_servers_that_never_answer(backend):
    async with silent_server() as port:
        redis = create_coordinator(f"redis://127.0.0.1:{port}/0")
        # Scaled: PostgreSQL hangs too. Embedded: SQLite has no server to hang.
        hung = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/childpact"
        database = hung if backend.redis_url else None
        service = service_with(backend, database_url=database, coordinator=redis)
        async with serving(service) as http:
            # Giving up means answering at all: a check that waited for the hung servers would
            # hold the request past the client's 30 s timeout (the checks give up after 2 s).
            response = await http.get("/readyz")
            assert response.status_code == 503
            assert response.json()["coordination"] is False
            assert response.json()["database"] is (backend.redis_url is None)
            assert (await http.get("/metrics")).status_code == 200


async def test_metrics_are_for_this_machine_or_the_token_and_docs_as_the_operator_chooses(backend):
    async with running(backend) as stack:
        assert (await stack.http.get("/metrics")).status_code == 200  # Prometheus beside it
        through = await stack.http.get("/metrics", headers={"X-Forwarded-For": "203.0.113.5"})
        assert through.status_code == 404  # through a proxy: from anywhere
        assert (await stack.http.get("/openapi.json")).status_code == 200
    token = "metrics-" + "m" * 32
    async with running(backend, metrics_token=token, api_docs="off") as stack:
        assert (await stack.http.get("/metrics")).status_code == 404
        wrong = await stack.http.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 404
        right = await stack.http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert right.status_code == 200 and "childpact" in right.text
        for path in ("/docs", "/openapi.json", "/redoc"):
            assert (await stack.http.get(path)).status_code == 404, path
