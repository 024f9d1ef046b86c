"""Broadcasts end to end: written once with translations, previewed, sent through the outbox
to the fake Telegram and Twilio, each member in their language, skipping who must be skipped."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot import broadcasts
from bot.broadcasts import Audience, BroadcastError
from bot.secretariat.staff import Staff
from bot.storage.models import Broadcast, Contact, Delivery, utcnow
from tests.conftest import Backend
from tests.harness import PUBLIC, Stack, eventually, running

ADMIN = Staff(1, "admin@example.org", "Ana", "admin", None, "en")
OTHER_ADMIN = Staff(2, "second@example.org", "Ion", "admin", None, "en")
MD_EDITOR = Staff(3, "md@example.org", "Maria", "editor", "MD", "ro")
TEXTS = {
    "en": "The annual meeting is on 3 June in Chisinau.",
    "ro": "Adunarea anuală are loc pe 3 iunie la Chișinău.",
    "ru": "Ежегодное собрание пройдёт 3 июня в Кишинёве.",
}


async def add_members(stack: Stack, *members: dict[str, Any]) -> list[int]:
    async with stack.service.db.session() as session, session.begin():
        rows = [
            Contact(
                **{
                    "channel": "telegram",
                    "status": "active",
                    "consent_version": "1",
                    "choices": [],
                    **m,
                },
                flow_data={},
            )  # fmt: skip
            for m in members
        ]
        session.add_all(rows)
        await session.flush()
    for m in members:  # what Twilio knows of the WhatsApp members who wrote
        if m.get("channel") == "whatsapp" and m.get("last_inbound_at"):
            stack.twilio.received(
                m["address"], ago=(utcnow() - m["last_inbound_at"]).total_seconds()
            )
    return [r.id for r in rows]


async def compose(stack: Stack, audience: Audience | None = None, **fields: Any) -> int:
    async with stack.service.db.session() as session, session.begin():
        values: dict[str, Any] = {
            "title": "Annual meeting", "base_locale": "en", "texts": {}, "buttons": [],
            "audience": (audience or Audience()).to_json(), "templates": {},
            "created_by": ADMIN.id,
        }  # fmt: skip
        broadcast = Broadcast(**(values | fields))
        session.add(broadcast)
        for locale, text in TEXTS.items():
            broadcasts.set_text(broadcast, locale, text)
        await session.flush()
        return broadcast.id


async def launch(stack: Stack, broadcast_id: int, staff: Staff = ADMIN, **options: Any) -> str:
    async with stack.service.db.session() as session, session.begin():
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        found = await broadcasts.preview(session, broadcast, staff, {"telegram": 30.0})
        status = await broadcasts.launch(
            session, broadcast, staff, audience_size=found.recipients,
            approval_above=options.pop("approval_above", None), **options,
        )  # fmt: skip
    await stack.service.coordinator.notify("broadcasts")
    return status


async def progress(stack: Stack, broadcast_id: int) -> dict[str, Any]:
    async with stack.service.db.session() as session:
        return await broadcasts.progress(session, broadcast_id)


async def status_of(stack: Stack, broadcast_id: int) -> str:
    async with stack.service.db.session() as session:
        broadcast = await session.get(Broadcast, broadcast_id)
        assert broadcast is not None
        return broadcast.status


def chats_text(stack: Stack) -> dict[str, str]:
    return {m.chat_id: m.text or "" for m in stack.telegram.messages}


async def test_each_member_reads_it_in_their_language_and_who_cannot_be_reached_is_skipped(
    backend: Backend,
) -> None:
    async with running(backend, twilio={"statuses": ("sent", "delivered")}) as stack:
        ro, md_ka, uk, stopped, blocked, wa_recent, wa_old = await add_members(
            stack,
            {"address": "101", "locale": "ro", "country": "RO"},
            {"address": "102", "locale": "ka", "country": "MD"},  # no ka text: MD reads ro
            {"address": "103", "locale": "uk", "country": "UA"},  # no uk, no country text: en
            {"address": "104", "locale": "ro", "country": "RO", "status": "stopped"},
            {"address": "105", "locale": "ru", "country": "MD", "unreachable_at": utcnow()},
            {"channel": "whatsapp", "address": "whatsapp:+37360000001", "locale": "ru",
             "country": "MD", "last_inbound_at": utcnow() - timedelta(hours=2)},
            {"channel": "whatsapp", "address": "whatsapp:+37360000002", "locale": "ro",
             "country": "MD", "last_inbound_at": utcnow() - timedelta(days=3)},
        )  # fmt: skip
        broadcast_id = await compose(stack)

        async with stack.service.db.session() as session:
            broadcast = await session.get(Broadcast, broadcast_id)
            assert broadcast is not None
            seen = await broadcasts.preview(session, broadcast, ADMIN, {"telegram": 30.0})
        assert seen.recipients == 4
        assert seen.by_channel == {"telegram": 3, "whatsapp": 1}
        assert seen.by_fallback == {"own": 2, "country": 1, "base": 1}
        assert seen.skipped == {"stopped": 1, "unreachable": 1, "no_template": 1}
        assert seen.missing_locales == {"ka": 1, "uk": 1}
        assert not seen.problems and not seen.stale_locales

        assert await launch(stack, broadcast_id) == "scheduled"
        await eventually(lambda: status_of(stack, broadcast_id), timeout=60)
        await eventually(lambda: _is(status_of(stack, broadcast_id), "sent"), timeout=60)
        sent = chats_text(stack)
        assert sent == {"101": TEXTS["ro"], "102": TEXTS["ro"], "103": TEXTS["en"]}
        assert [m.body for m in stack.twilio.messages] == [TEXTS["ru"]]
        done = await progress(stack, broadcast_id)
        assert done["total"] == 7 and done["done_share"] == 1.0
        assert done["statuses"]["skipped"] == 3
        assert done["by_locale"]["ro"].get("skipped") == 2  # stopped RO and old WhatsApp MD
        del ro, md_ka, uk, stopped, blocked, wa_recent, wa_old


async def _is(value: Any, expected: Any) -> bool:
    return (await value) == expected


async def test_outside_the_whatsapp_window_the_approved_template_carries_the_news(
    backend: Backend,
) -> None:
    async with running(backend) as stack:
        await add_members(
            stack,
            {"channel": "whatsapp", "address": "whatsapp:+40700000111", "locale": "ro",
             "country": "RO", "last_inbound_at": utcnow() - timedelta(days=5)},
        )  # fmt: skip
        broadcast_id = await compose(stack, templates={"ro": "HX" + "1" * 32})
        await launch(stack, broadcast_id)
        await eventually(lambda: _is(status_of(stack, broadcast_id), "sent"), timeout=60)
        (message,) = stack.twilio.messages
        assert message.content_sid == "HX" + "1" * 32
        assert TEXTS["ro"] in (message.content_variables or "")


async def test_filters_narrow_the_audience_and_a_coordinator_stays_in_their_country(
    backend: Backend,
) -> None:
    async with running(backend) as stack:
        await add_members(
            stack,
            {"address": "201", "locale": "ro", "country": "MD", "organisation": "Partener"},
            {"address": "202", "locale": "ro", "country": "RO", "organisation": "Partener"},
            {"address": "203", "locale": "ru", "country": "MD", "organisation": "Other NGO"},
        )  # fmt: skip
        everyone = await compose(stack)
        by_org = await compose(stack, Audience(organisations=["partener "]))
        by_locale = await compose(stack, Audience(locales=["ru"]))
        async with stack.service.db.session() as session:
            counts = {}
            for name, broadcast_id, staff in (
                ("all", everyone, ADMIN), ("org", by_org, ADMIN), ("ru", by_locale, ADMIN),
                ("md", everyone, MD_EDITOR),
            ):  # fmt: skip
                broadcast = await session.get(Broadcast, broadcast_id)
                assert broadcast is not None
                counts[name] = (await broadcasts.preview(session, broadcast, staff, {})).recipients
        assert counts == {"all": 3, "org": 2, "ru": 1, "md": 2}

        await launch(stack, everyone, MD_EDITOR)
        await eventually(lambda: _is(status_of(stack, everyone), "sent"), timeout=60)
        assert set(chats_text(stack)) == {"201", "203"}


async def test_too_long_is_refused_with_the_limit_named_and_stale_translations_are_flagged(
    backend: Backend,
) -> None:
    async with running(backend, workers=False) as stack:
        broadcast_id = await compose(stack)
        async with stack.service.db.session() as session, session.begin():
            broadcast = await session.get(Broadcast, broadcast_id)
            assert broadcast is not None
            broadcasts.set_text(broadcast, "en", "The annual meeting moved to 4 June.")
            assert broadcasts.stale_locales(broadcast) == ["ro", "ru"]
            broadcasts.set_text(broadcast, "ro", "Adunarea anuală s-a mutat pe 4 iunie.")
            assert broadcasts.stale_locales(broadcast) == ["ru"]

            broadcasts.set_text(broadcast, "ru", "я" * 2000)
            problems = broadcasts.check(broadcast)
            assert [(p.code, p.detail["channel"], p.detail["limit"]) for p in problems] == [
                ("too_long", "whatsapp", 1600)
            ]
            assert "1600" in str(problems[0])
            with pytest.raises(BroadcastError, match="whatsapp allows 1600"):
                await broadcasts.launch(
                    session, broadcast, ADMIN, audience_size=0, approval_above=None
                )
            assert broadcast.status == "draft"


async def test_a_large_broadcast_waits_for_a_second_administrator(backend: Backend) -> None:
    async with running(backend) as stack:
        await add_members(stack, *({"address": str(300 + i), "locale": "en"} for i in range(3)))
        broadcast_id = await compose(stack)
        assert await launch(stack, broadcast_id, approval_above=2) == "awaiting_approval"
        await stack.service.broadcaster.step()
        assert stack.telegram.messages == []

        async with stack.service.db.session() as session, session.begin():
            broadcast = await session.get(Broadcast, broadcast_id)
            assert broadcast is not None
            with pytest.raises(BroadcastError, match="someone other than its author"):
                await broadcasts.approve(session, broadcast, ADMIN)
            with pytest.raises(BroadcastError, match="administrator"):
                await broadcasts.approve(session, broadcast, MD_EDITOR)
            await broadcasts.approve(session, broadcast, OTHER_ADMIN)
        await stack.service.coordinator.notify("broadcasts")
        await eventually(lambda: _is(status_of(stack, broadcast_id), "sent"), timeout=60)
        assert len(stack.telegram.messages) == 3


async def test_cancel_holds_back_what_has_not_gone_and_a_follow_up_reaches_those_left(
    backend: Backend,
) -> None:
    # Two messages a second: most of the audience is still waiting when the cancel comes.
    async with running(backend, telegram_rate=2.0) as stack:
        ids = await add_members(
            stack, *({"address": str(400 + i), "locale": "ro"} for i in range(12))
        )
        broadcast_id = await compose(stack)
        await launch(stack, broadcast_id)
        await eventually(lambda: len(stack.telegram.messages) >= 1, timeout=60)
        async with stack.service.db.session() as session, session.begin():
            broadcast = await session.get(Broadcast, broadcast_id)
            assert broadcast is not None
            held = await broadcasts.cancel(session, broadcast)
        assert held >= 6
        sent_at_cancel = len(stack.telegram.messages)
        done = await progress(stack, broadcast_id)
        assert done["statuses"]["cancelled"] == held
        await stack.service.sender.flush()
        assert len(stack.telegram.messages) <= sent_at_cancel + 2  # at most those in flight

        async with stack.service.db.session() as session, session.begin():
            broadcast = await session.get(Broadcast, broadcast_id)
            assert broadcast is not None
            again = await broadcasts.follow_up(session, broadcast, ADMIN.id)
            follow_up_id = again.id
            assert len(again.audience["contact_ids"]) == held
        await launch(stack, follow_up_id)
        await eventually(lambda: _is(status_of(stack, follow_up_id), "sent"), timeout=30)
        got = {m.chat_id for m in stack.telegram.messages}
        assert got == {str(400 + i) for i in range(12)}
        assert len(stack.telegram.messages) == len(ids)  # nobody got it twice


async def test_expanding_again_after_a_crash_adds_nobody_twice(backend: Backend) -> None:
    async with running(backend, workers=False) as stack:
        await add_members(stack, *({"address": str(500 + i), "locale": "en"} for i in range(7)))
        broadcast_id = await compose(stack)
        await launch(stack, broadcast_id)
        labels = stack.service.broadcaster.labels
        async with stack.service.db.session() as session, session.begin():
            broadcast = await session.get(Broadcast, broadcast_id)
            assert broadcast is not None
            assert await broadcasts.expand(session, broadcast, labels, page=3) == 3
        # The process died before it recorded how far it got: the same page comes again.
        async with stack.service.db.session() as session, session.begin():
            broadcast = await session.get(Broadcast, broadcast_id)
            assert broadcast is not None
            broadcast.expanded_to = 0
            while await broadcasts.expand(session, broadcast, labels, page=3):
                pass
        async with stack.service.db.session() as session:
            rows = (
                await session.scalars(
                    select(Delivery.contact_id).where(Delivery.broadcast_id == broadcast_id)
                )
            ).all()
        assert len(rows) == len(set(rows)) == 7


async def test_at_a_local_hour_each_member_gets_it_at_that_hour_of_their_own_day(
    backend: Backend,
) -> None:
    async with running(backend, workers=False) as stack:
        await add_members(
            stack,
            {"address": "601", "locale": "hy", "country": "AM"},  # UTC+4
            {"address": "602", "locale": "ro", "country": "RO"},  # UTC+2 in winter
        )
        broadcast_id = await compose(stack)
        start = utcnow().replace(hour=3, minute=0, second=0, microsecond=0) + timedelta(days=1)
        await launch(stack, broadcast_id, at=start, local_hour=9)
        async with stack.service.db.session() as session, session.begin():
            broadcast = await session.get(Broadcast, broadcast_id)
            assert broadcast is not None
            await broadcasts.expand(session, broadcast, {})
        async with stack.service.db.session() as session:
            due = dict(
                (
                    await session.execute(
                        select(Delivery.address, Delivery.due_at).where(
                            Delivery.broadcast_id == broadcast_id
                        )
                    )
                ).all()
            )
        assert due["601"] == start.replace(hour=5).timestamp()  # 09:00 in Yerevan
        assert due["602"] == start.replace(hour=7).timestamp()  # 09:00 in Bucharest


@pytest.mark.parametrize("answer", ["tap", "1", "tell me MORE"])
async def test_on_whatsapp_a_broadcast_button_tapped_numbered_or_typed_opens_what_it_offers(
    backend: Backend, answer: str
) -> None:
    async with running(backend) as stack:
        address = "whatsapp:+37360000777"
        await add_members(
            stack,
            {"channel": "whatsapp", "address": address, "locale": "en", "country": "MD",
             "last_inbound_at": utcnow() - timedelta(hours=1), "choices": ["menu:about"]},
        )  # fmt: skip
        broadcast_id = await compose(stack, buttons=[{"payload": "topic:who_we_are"}])
        await launch(stack, broadcast_id)
        await eventually(lambda: _is(status_of(stack, broadcast_id), "sent"), timeout=60)
        (news,) = stack.twilio.messages
        shown = stack.twilio.offered(address)  # a quick reply under the news
        assert shown is not None and shown[1].choices() == [("topic:who_we_are", "Tell me more")]

        if answer == "tap":
            form, headers = stack.twilio.tap(f"{PUBLIC}/webhook/whatsapp", address, "Tell me more")
            await stack.http.post("/webhook/whatsapp", data=form, headers=headers)
        else:  # typed: the number, or the button's words as a member types them
            await stack.post_whatsapp(Body=answer, From=address)
        await eventually(lambda: len(stack.twilio.messages) >= 2, timeout=60)
        assert "network of networks" in stack.twilio.messages[1].text
