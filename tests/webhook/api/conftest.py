"""The API in process: the real app over an ASGI transport on each backend, with an account of
every role, their personal tokens, and members in two countries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from app.service import Service
from app.web import create_app
from bot.config import Settings
from bot.secretariat import accounts, passwords
from bot.secretariat.signin import open_session
from bot.secretariat.staff import Staff
from bot.secretariat.tokens import create_api_token
from bot.storage.models import (
    Contact,
    Conversation,
    ConversationMessage,
    Delivery,
    Inbound,
    utcnow,
)
from tests.conftest import Backend
from tests.harness import start_service
from webhook.auth import CSRF_HEADER, SESSION_COOKIE

PASSWORD = "correct horse battery"
# Who acts, and how their account is made: role and country scope.
PEOPLE = {
    "admin": ("admin", None),
    "editor": ("editor", None),
    "viewer": ("viewer", None),
    "md_editor": ("editor", "MD"),  # a country coordinator for Moldova
}
PHONE = "whatsapp:+37369123456"
SECRET_TEXT = "my neighbour hurts the boy next door"


@dataclass
class Api:
    service: Service
    http: httpx.AsyncClient
    tokens: dict[str, str] = field(default_factory=dict)  # who -> plain token
    staff: dict[str, Staff] = field(default_factory=dict)
    members: dict[str, int] = field(default_factory=dict)  # "ro", "md" -> contact id
    conversations: dict[str, int] = field(default_factory=dict)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def call(self, who: str | None, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**(self.auth(who) if who else {}), **kwargs.pop("headers", {})}
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def as_signed_in(self, who: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A call from ``who``'s signed-in dashboard session (its cookie and CSRF token), for
        what an API token may not do, such as making a token."""
        token, csrf = await self.browser(who)
        headers = {"Cookie": f"{SESSION_COOKIE}={token}", CSRF_HEADER: csrf}
        return await self.http.request(method, path, headers=headers, **kwargs)

    async def browser(self, who: str, **lifetime: Any) -> tuple[str, str]:
        """A signed-in browser of ``who``: the session cookie's token and its CSRF token."""
        async with self.service.db.session() as session, session.begin():
            life = lifetime.get("lifetime", timedelta(hours=12))
            return await open_session(session, self.staff[who], lifetime=life)


async def seed(api: Api) -> None:
    """Accounts of every role, and a member in Romania and one in Moldova, each with messages
    both ways and an open conversation (Moldova's a safeguarding one)."""
    async with api.service.db.session() as session, session.begin():
        for who, (role, country) in PEOPLE.items():
            user = await accounts.create_account(
                session, f"{who}@childpact.org", role, password=PASSWORD, country=country
            )
            person = Staff.of(user)
            api.staff[who] = person
            _, api.tokens[who] = await create_api_token(session, person, "tests")
        for key, channel, address, country, locale, org in (
            ("ro", "telegram", "400000001", "RO", "ro", "Salvați Copiii"),
            ("md", "whatsapp", PHONE, "MD", "ru", "CNPAC Moldova"),
        ):
            contact = Contact(
                channel=channel, address=address, status="active", country=country,
                locale=locale, organisation=org,
            )  # fmt: skip
            session.add(contact)
            await session.flush()
            api.members[key] = contact.id
            text = SECRET_TEXT if key == "md" else "когда собрание?"
            session.add(
                Inbound(
                    channel=channel,
                    platform_id=f"p-{key}",
                    address=address,
                    message={"channel": channel, "kind": "text", "text": text},
                    status="done",
                    received_at=utcnow() - timedelta(minutes=2),
                )  # fmt: skip
            )
            session.add(
                Delivery(
                    contact_id=contact.id,
                    channel=channel,
                    address=address,
                    message={"text": f"hello {key}"},
                    status="delivered",
                    created_at=utcnow() - timedelta(minutes=1),
                )  # fmt: skip
            )
            kind = "safeguarding" if key == "md" else "question"
            conversation = Conversation(contact_id=contact.id, kind=kind, status="open")
            session.add(conversation)
            await session.flush()
            api.conversations[key] = conversation.id
            session.add(
                ConversationMessage(conversation_id=conversation.id, direction="member", text=text)
            )


@pytest.fixture(autouse=True)
def quick_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with the smallest cost: the real parameters take half a second a hash, and these
    tests are about who may do what, not about the hash (bot.secretariat.passwords' own choice stands)."""
    quick = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", quick)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", quick.hash("unknown address"))


@pytest.fixture
async def api(backend: Backend) -> AsyncIterator[Api]:
    """The app without its workers (nothing is sent here; tests/api/test_api_inbox.py sends
    through the whole running service)."""
    settings = Settings(
        _env_file=None, database_url=backend.database_url, redis_url=backend.redis_url
    )
    service = await start_service(backend, settings, workers=False)
    app = create_app(settings, service=service)
    app.state.service = service
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
            made = Api(service, http)
            await seed(made)
            yield made
    finally:
        await service.stop()


def cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={token}"}
