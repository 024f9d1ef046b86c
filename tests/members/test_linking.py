"""Link codes and people, on both databases: a new code ends the old one, the newest
settings win but the latest agreement to the privacy notice holds, and wrong codes from many
web chats at once stop every web chat's guesses for a while, but no other channel's."""

from __future__ import annotations

from datetime import timedelta

from bot.members import linking
from bot.storage.db import Database
from bot.storage.models import Contact, utcnow


async def test_codes_people_and_the_overall_limit(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        now = utcnow()
        tg = Contact(channel="telegram", address="1", status="active", locale="ro",
                     flow_data={}, choices=[])  # fmt: skip
        wa = Contact(channel="whatsapp", address="whatsapp:+1", status="active",
                     flow_data={}, choices=[])  # fmt: skip
        session.add_all([tg, wa])
        await session.flush()
        wa.settings_at = now - timedelta(days=1)
        tg.settings_at = now  # the newest settings: Romanian

        first = await linking.issue(session, tg)
        second = await linking.issue(session, tg)
        if first != second:
            assert (await linking.redeem(session, wa, first)).result == "expired"
        # Many web chats guessing at once: every web chat waits, the right code too...
        sybils = [Contact(channel="web", address=f"sybil{i:016d}", status="active",
                          flow_data={}, choices=[]) for i in range(21)]  # fmt: skip
        session.add_all(sybils)
        await session.flush()
        for sybil in sybils:
            for guess in range(linking.MAX_FAILURES):
                await linking.redeem(session, sybil, f"{100000 + guess}")
        web = Contact(channel="web", address="genuine000000000", status="active",
                      flow_data={}, choices=[])  # fmt: skip
        session.add(web)
        await session.flush()
        assert (await linking.redeem(session, web, second)).result == "locked"
        # ...but they cannot spend it for a member on another channel.
        third = await linking.issue(session, web)
        linked = await linking.redeem(session, tg, third)
        assert linked.result == "linked", linked
        await linking.unlink(session, tg)
        tg.locale, tg.settings_at = "ro", utcnow()  # the newest settings again: Romanian
        await session.flush()
        second = await linking.issue(session, tg)

        linked = await linking.redeem(session, wa, second)
        assert linked.result == "linked"
        assert tg.person_id is not None and tg.person_id == wa.person_id
        assert wa.locale == "ro"
        assert await linking.person_contact_ids(session, wa) == sorted([tg.id, wa.id])


async def test_linking_keeps_the_latest_agreement_even_when_the_other_chat_changed_later(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        now = utcnow()
        agreed = Contact(channel="telegram", address="2", status="active", locale="ro",
                         flow_data={}, choices=[])  # fmt: skip
        stopped = Contact(channel="whatsapp", address="whatsapp:+2", status="active",
                          locale="uk", flow_data={}, choices=[])  # fmt: skip
        session.add_all([agreed, stopped])
        await session.flush()
        agreed.consent_version, agreed.consent_at = "2", now - timedelta(hours=1)
        stopped.consent_version, stopped.consent_at = "1", now - timedelta(days=30)
        agreed.settings_at = now - timedelta(hours=1)
        # "stop" needs no agreement: this chat's settings are newer, its consent older.
        stopped.status, stopped.settings_at = "stopped", now

        linked = await linking.redeem(session, agreed, await linking.issue(session, stopped))
        assert linked.result == "linked"
        for contact in (agreed, stopped):
            assert (contact.status, contact.locale) == ("stopped", "uk")  # the newest
            assert contact.consent_version == "2"  # the latest agreement
            assert contact.consent_at == now - timedelta(hours=1)
            assert contact.settings_at == now  # taking the agreement changed nothing
