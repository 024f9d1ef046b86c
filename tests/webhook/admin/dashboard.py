"""A running service with secretariat accounts, and browsers (HTTP clients) signed in as them."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from bot.secretariat import accounts, inbox
from bot.storage.models import Contact, Delivery
from tests.conftest import Backend
from tests.harness import Stack, running

PASSWORD = "correct horse battery"
PEOPLE = {  # e-mail: (role, country)
    "admin@childpact.org": ("admin", None),
    "editor@childpact.org": ("editor", None),
    "viewer@childpact.org": ("viewer", None),
    "md@childpact.org": ("editor", "MD"),
}
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_CONFIRM = re.compile(
    r'<form method="post" action="(/admin/broadcasts/\d+/confirm)"[^>]*>(.*?)</form>', re.S
)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Dashboard:
    stack: Stack
    ids: dict[str, int] = field(default_factory=dict)

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.stack.url, timeout=30, follow_redirects=False)

    async def sign_in(self, email: str, password: str = PASSWORD) -> Browser:
        http = self.client()
        page = await http.get("/admin/login")
        response = await http.post(
            "/admin/login",
            data={"email": email, "password": password, "csrf_token": csrf_of(page.text)},
        )
        assert response.status_code == 303, response.text
        return Browser(http, self)

    async def member(self, country: str = "RO", **values: Any) -> int:
        """A member who has finished onboarding, straight into the database."""
        async with self.stack.service.db.session() as session, session.begin():
            contact = Contact(
                channel=values.pop("channel", "telegram"),
                address=values.pop("address", f"{900000000 + len(self.ids) * 7919}"),
                status=values.pop("status", "active"),
                locale=values.pop("locale", "ro"),
                country=country,
                organisation=values.pop("organisation", "Salvați Copiii"),
                **values,
            )
            session.add(contact)
            await session.flush()
            self.ids[f"member{len(self.ids)}"] = contact.id
            return contact.id

    async def conversation(
        self, member_id: int, kind: str = "secretariat", text: str = "Bună ziua"
    ) -> int:
        """An open conversation of the member's with the secretariat, with their message."""
        async with self.stack.service.db.session() as session, session.begin():
            found = await inbox.open_conversation(session, member_id, kind)
            await inbox.add_message(session, found, "member", text)
            return found.id

    async def delivered(self, broadcast_id: int) -> bool:
        """Whether the broadcast (or invitation) has gone to everyone it was for."""
        async with self.stack.service.db.session() as session:
            found = await session.scalars(
                select(Delivery.status).where(Delivery.broadcast_id == broadcast_id)
            )
            statuses = list(found)
        return bool(statuses) and all(s in ("sent", "delivered", "read") for s in statuses)


@dataclass
class Browser:
    """A person signed in to the dashboard: their cookie, and the CSRF token of their pages."""

    http: httpx.AsyncClient
    dashboard: Dashboard
    csrf: str = ""

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.http.get(path, **kwargs)
        found = _CSRF.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    async def post(
        self, path: str, data: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        if not self.csrf:
            await self.get("/admin")
        form = {"csrf_token": self.csrf, **(data or {})}
        return await self.http.post(path, data=form, **kwargs)

    async def send(
        self, path: str, data: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        """Post a compose form that sends or schedules, then confirm the numbers its
        confirmation page shows (the page itself is returned when there is none)."""
        response = await self.post(path, data, **kwargs)
        form = _CONFIRM.search(response.text) if response.status_code == 200 else None
        if form is None:
            return response
        fields = {k: html.unescape(v) for k, v in _HIDDEN.findall(form.group(2))}
        return await self.http.post(form.group(1), data=fields)

    async def close(self) -> None:
        await self.http.aclose()


@asynccontextmanager
async def dashboard(backend: Backend, **settings: Any) -> AsyncIterator[Dashboard]:
    async with running(backend, **settings) as stack:
        board = Dashboard(stack)
        async with stack.service.db.session() as session, session.begin():
            for email, (role, country) in PEOPLE.items():
                user = await accounts.create_account(
                    session, email, role, password=PASSWORD, country=country,
                    name=email.split("@")[0].title(),
                )  # fmt: skip
                board.ids[email] = user.id
        yield board
