"""The sender against the fake platforms: limits, 429 pauses, blocked members, retries, priority."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from app.service import Service
from bot.messages import OutboundMessage
from bot.storage.models import Contact, Delivery
from tests.harness import eventually, running

BULK, REPLY = 5, 1


async def enqueue(
    service: Service,
    channel: str,
    addresses: list[str],
    *,
    priority: int = BULK,
    per_member: int = 1,
) -> None:
    """What a broadcast leaves in the outbox: one row per message, queued."""
    async with service.db.session() as session, session.begin():
        contacts = {}
        for address in dict.fromkeys(addresses):
            contact = await session.scalar(
                select(Contact).where(Contact.channel == channel, Contact.address == address)
            )
            if contact is None:
                contact = Contact(
                    channel=channel, address=address, status="active", flow_data={}, choices=[]
                )
                session.add(contact)
                await session.flush()
            contacts[address] = contact
        for address in addresses:
            for n in range(per_member):
                message = OutboundMessage(text=f"News {n + 1} for {address}")
                session.add(
                    Delivery(contact_id=contacts[address].id, channel=channel, address=address,
                             priority=priority, message=message.to_json())
                )  # fmt: skip
    await service.coordinator.notify("outbox")


async def statuses(service: Service) -> dict[str, int]:
    async with service.db.session() as session:
        rows = await session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
        return dict(rows.all())


async def all_done(service: Service) -> bool:
    found = await statuses(service)
    return not found.get("queued") and not found.get("sending")


async def test_the_bots_overall_limit_holds_without_a_single_429(backend):
    async with running(backend, telegram={"rate": 20}, telegram_rate=20) as stack:
        chats = [str(500000000 + n) for n in range(60)]
        started = time.monotonic()
        await enqueue(stack.service, "telegram", chats)
        await eventually(lambda: all_done(stack.service), timeout=30)
        elapsed = time.monotonic() - started
        assert len(stack.telegram.messages) == 60
        assert stack.telegram.rate_limited == 0
        assert stack.telegram.max_per_second <= 20
        assert elapsed > 2.0  # 60 messages at 20/s cannot go faster than about 3 s


async def test_one_chat_gets_one_message_a_second_in_order(backend):
    async with running(backend, fast_chats=False) as stack:
        await enqueue(stack.service, "telegram", ["612345678"], per_member=4)
        await eventually(lambda: all_done(stack.service), timeout=20)
        sent = stack.telegram.messages_to("612345678")
        assert [m.text for m in sent] == [f"News {n} for 612345678" for n in (1, 2, 3, 4)]
        gaps = [b.time - a.time for a, b in zip(sent, sent[1:], strict=False)]
        assert min(gaps) > 0.8
        assert stack.telegram.rate_limited == 0


async def test_a_429_pauses_the_whole_bot_then_sending_resumes(backend):
    async with running(backend) as stack:
        stack.telegram.flood_next(1, retry_after=2)
        started = time.monotonic()
        await enqueue(stack.service, "telegram", [str(700000000 + n) for n in range(10)])
        await eventually(lambda: all_done(stack.service), timeout=30)
        assert stack.telegram.rate_limited == 1
        assert len(stack.telegram.messages) == 10  # nothing lost, nothing doubled
        first = min(m.time for m in stack.telegram.messages)
        assert first - started > 1.5  # nobody was sent anything during the pause


async def test_blocked_members_are_marked_unreachable_and_not_retried(backend):
    blocked, deactivated, missing = "811111111", "822222222", "833333333"
    async with running(
        backend, telegram={"blocked": [blocked], "deactivated": [deactivated], "missing": [missing]}
    ) as stack:
        await enqueue(
            stack.service, "telegram", [blocked, deactivated, missing, "844444444"], per_member=2
        )
        await eventually(lambda: all_done(stack.service), timeout=20)
        async with stack.service.db.session() as session:
            unreachable = set(
                (
                    await session.scalars(
                        select(Contact.address).where(Contact.unreachable_at.is_not(None))
                    )
                ).all()
            )
        assert unreachable == {blocked, deactivated, missing}
        found = await statuses(stack.service)
        assert found == {"failed": 3, "skipped": 3, "sent": 2}
        # A blocked member's second message is skipped, not tried: one request reached the fake.
        assert stack.telegram.max_per_second_chat.get(blocked) == 1


async def test_transient_errors_are_retried_with_backoff(backend):
    async with running(backend) as stack:
        stack.telegram.fail_next(2, status=502)
        await enqueue(stack.service, "telegram", ["912345678"])
        await eventually(lambda: all_done(stack.service), timeout=30)
        async with stack.service.db.session() as session:
            row = await session.scalar(select(Delivery))
        assert row is not None and row.status == "sent" and row.attempts == 3
        assert len(stack.telegram.messages) == 1


async def test_replies_to_members_go_ahead_of_bulk(backend):
    async with running(backend, telegram={"rate": 10}, telegram_rate=10) as stack:
        await enqueue(stack.service, "telegram", [str(300000000 + n) for n in range(40)])
        await eventually(lambda: len(stack.telegram.messages) >= 3)
        await enqueue(stack.service, "telegram", ["399999999"], priority=REPLY)
        await eventually(lambda: stack.telegram.messages_to("399999999"), timeout=20)
        position = next(
            i for i, m in enumerate(stack.telegram.messages) if m.chat_id == "399999999"
        )
        assert position < 10  # well before the remaining bulk messages
        await eventually(lambda: all_done(stack.service), timeout=30)


async def test_whatsapp_errors_are_classified(backend):
    stopped = "+40711000001"
    async with running(backend, twilio={"opted_out": [stopped]}) as stack:
        await enqueue(stack.service, "whatsapp", [f"whatsapp:{stopped}", "whatsapp:+40711000003"])
        await eventually(lambda: all_done(stack.service), timeout=20)
        async with stack.service.db.session() as session:
            rows = {r.address: r for r in (await session.scalars(select(Delivery))).all()}
            contact = await session.scalar(
                select(Contact).where(Contact.address == f"whatsapp:{stopped}")
            )
        assert rows[f"whatsapp:{stopped}"].status == "failed"
        assert rows[f"whatsapp:{stopped}"].error_code == "21610"
        assert contact is not None and contact.unreachable_at is not None
        assert rows["whatsapp:+40711000003"].platform_id.startswith("SM")
