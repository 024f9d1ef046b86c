"""Tests of the HTTP edge: webhooks, health and metrics, through real requests to the running app.

Helpers the three test files share: counting what was stored, members who are already
onboarded, and waiting until the service has nothing left to do.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from bot.storage.models import Contact, Delivery, Inbound, utcnow
from tests.harness import Stack, eventually


async def inbound_rows(stack: Stack) -> int:
    """Rows in the ``inbound`` table: what the webhooks stored."""
    async with stack.service.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Inbound)) or 0)


async def stored_messages(stack: Stack, channel: str) -> list[dict[str, Any]]:
    """The stored inbound messages of ``channel``, oldest first, as the engine will read them."""
    async with stack.service.db.session() as session:
        rows = await session.scalars(
            select(Inbound.message).where(Inbound.channel == channel).order_by(Inbound.id)
        )
        return list(rows)


async def onboarded(stack: Stack, channel: str, address: str, locale: str = "en") -> int:
    """A member who agreed to the current privacy text and picked language and country."""
    async with stack.service.db.session() as session, session.begin():
        contact = Contact(
            channel=channel,
            address=address,
            status="active",
            locale=locale,
            country="RO",
            consent_version=stack.service.settings.privacy_version,
            consent_at=utcnow(),
            flow_data={},
            choices=[],
        )
        session.add(contact)
        await session.flush()
        return contact.id


async def settled(stack: Stack) -> None:
    """Wait until every stored message is handled and every queued reply has gone out."""

    async def idle() -> bool:
        async with stack.service.db.session() as session:
            pending = await session.scalar(
                select(func.count()).select_from(Inbound).where(Inbound.status == "pending")
            )
            unsent = await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status.in_(("queued", "sending")))
            )
        return pending == 0 and unsent == 0

    await eventually(idle)


async def deliveries_to(stack: Stack, channel: str, address: str) -> list[Delivery]:
    async with stack.service.db.session() as session:
        rows = await session.scalars(
            select(Delivery)
            .where(Delivery.channel == channel, Delivery.address == address)
            .order_by(Delivery.id)
        )
        return list(rows)


async def rename_table(stack: Stack, old: str, new: str) -> None:
    """Make a table disappear (or come back) under the running service, as a failed
    migration or a restored backup would: same SQL on SQLite and PostgreSQL."""
    async with stack.service.db.engine.begin() as conn:
        await conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))
