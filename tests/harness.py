"""A running service for tests: the real app on a loopback port, the fakes, and members who talk."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from app.service import Service
from app.web import create_app
from bot.channels.base import ChannelName
from bot.config import Settings
from bot.coordination import create_coordinator
from tests.conftest import Backend
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_updates import UpdateBuilder
from tests.fakes.twilio_api import FakeTwilio

TOKEN = "123456789:AA" + "x" * 33
SECRET = "s" * 32
SID = "AC" + "0" * 32
AUTH = "t" * 32
NUMBER = "+40700000000"
PUBLIC = "https://bot.example.org"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening_socket() -> socket.socket:
    """A bound socket on a free loopback port, handed to the server: no race for the port."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def settings_for(
    backend: Backend, telegram_url: str, twilio_url: str, **overrides: Any
) -> Settings:
    values: dict[str, Any] = dict(
        database_url=backend.database_url,
        redis_url=backend.redis_url,
        telegram_bot_token=TOKEN,
        telegram_webhook_secret=SECRET,
        telegram_api_url=telegram_url,
        twilio_account_sid=SID,
        twilio_auth_token=AUTH,
        twilio_whatsapp_number=NUMBER,
        twilio_api_url=twilio_url,
        public_url=PUBLIC,
        quiet_hours="off",  # tests run at any hour; the quiet-hours tests set their own
        # Many members chat from one loopback address here; the limits' own tests set them.
        web_chat_visitor_per_minute=0,
        web_chat_client_per_minute=0,
        web_chat_new_visitors_per_hour=0,
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)


@dataclass
class Stack:
    service: Service
    url: str
    http: httpx.AsyncClient
    telegram: FakeTelegram
    twilio: FakeTwilio
    server: uvicorn.Server
    task: asyncio.Task[None]
    extra: dict[str, Any] = field(default_factory=dict)

    async def post_telegram(
        self, update: dict[str, Any], secret: str | None = SECRET
    ) -> httpx.Response:
        """``update`` as Telegram would send it: through the fake, to the webhook the service
        set, with its secret, and only if the webhook asked for its kind. A test of the
        webhook's own checks passes another ``secret`` (or None): that goes straight to it."""
        if secret != SECRET:
            return await self.post_telegram_directly(update, secret)
        response = await self.telegram.deliver(update)
        kind = next(k for k in update if k != "update_id")
        assert response is not None, f"Telegram would not deliver this {kind}: not asked for"
        return response

    async def post_telegram_directly(
        self, update: Any, secret: str | None = SECRET
    ) -> httpx.Response:
        """Past the fake: for what Telegram would never send (an unknown update kind, a
        malformed body, a wrong secret), to test that the webhook still answers well."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return await self.http.post("/webhook/telegram", json=update, headers=headers)

    async def post_whatsapp(
        self, path: str = "/webhook/whatsapp", **fields: str | None
    ) -> httpx.Response:
        """A member's WhatsApp message, posted as Twilio would; the fake Twilio counts it for
        the member's 24-hour window."""
        form, headers = self.twilio.inbound(PUBLIC + path, **fields)
        return await self.http.post(path, data=form, headers=headers)


async def start_service(backend: Backend, settings: Settings, *, workers: bool = True) -> Service:
    coordinator = create_coordinator(backend.redis_url, prefix=backend.redis_prefix)
    service = Service(settings, coordinator=coordinator, db_schema=backend.schema)
    await service.start(migrate=True, workers=workers, only_process=backend.redis_url is None)
    return service


@asynccontextmanager
async def running(
    backend: Backend,
    *,
    workers: bool = True,
    fast_chats: bool = True,
    telegram: dict[str, Any] | None = None,
    twilio: dict[str, Any] | None = None,
    **overrides: Any,
) -> AsyncIterator[Stack]:
    """The whole service on a loopback port, talking to fresh fakes of Telegram and Twilio.

    ``fast_chats`` lifts Telegram's one message a second per chat and 20 a minute per group
    on both sides, so that dialogs run quickly; the tests of the sender keep them.
    """
    telegram = dict(telegram or {})
    if fast_chats:
        telegram.setdefault("chat_rate", None)
        telegram.setdefault("group_rate", None)
        overrides.setdefault("telegram_chat_rate", 0)
        overrides.setdefault("telegram_group_rate", 0)
    sock = listening_socket()
    port = int(sock.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    async with (
        FakeTelegram(deliver_to=url, **telegram) as fake_telegram,
        FakeTwilio(deliver_to=url, **(twilio or {})) as fake_twilio,
    ):
        settings = settings_for(backend, fake_telegram.url, fake_twilio.url, **overrides)
        service = await start_service(backend, settings, workers=workers)
        if settings.telegram_enabled and settings.public_url:
            # What `childpact telegram set-webhook` does at deployment: Telegram then posts
            # the update kinds the channel asks for to PUBLIC_URL/webhook/telegram.
            await service.channels[ChannelName.TELEGRAM].set_webhook(  # type: ignore[attr-defined]
                f"{settings.public_url}/webhook/telegram"
            )
        app = create_app(settings, service=service)
        app.state.service = service
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            lifespan="off",
            log_level="warning",
            proxy_headers=False,  # as `childpact serve`: the app trusts TRUSTED_PROXIES only
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.01)
        try:
            async with httpx.AsyncClient(base_url=url, timeout=30) as http:
                yield Stack(service, url, http, fake_telegram, fake_twilio, server, task)
        finally:
            server.should_exit = True
            await task
            await service.stop()


async def eventually(check: Callable[[], Any], timeout: float = 30.0, every: float = 0.02) -> Any:
    """Wait until ``check()`` is truthy (awaiting it when it is a coroutine); fail on timeout.

    The timeout is a deadline, not a measurement: generous, as a machine running two test
    suites at once can take seconds over what takes milliseconds on a quiet one.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check}")
        await asyncio.sleep(every)


async def chunks(body: bytes, size: int = 1024) -> AsyncIterator[bytes]:
    """A body sent in pieces, without Content-Length (chunked transfer)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def telegram_member(language_code: str | None = "ro", chat_id: int | None = None) -> UpdateBuilder:
    chat = chat_id or 400000000 + uuid.uuid4().int % 99999999
    return UpdateBuilder(chat_id=chat, language_code=language_code, first_update_id=chat * 10)


def whatsapp_number(country_code: str = "40") -> str:
    return f"whatsapp:+{country_code}7{uuid.uuid4().int % 10**8:08d}"
