"""Consent records and erasure for members with one chat and for people with linked chats, on
both databases, without starting the service: which answer is recorded after which earlier
one, what the record keeps, that "my data" shows the answers given in every linked chat, and
that erasing from any chat, before or after linking, leaves nothing of the person behind."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.members import linking
from bot.privacy import consent, erasure, export
from bot.secretariat.members import delete_member
from bot.storage.db import Database
from bot.storage.models import Consent, Contact, Person, utcnow

NOTICE = "ChildPact keeps your language, country and messages. Do you agree?"


def _contact(channel: str, address: str, **fields: object) -> Contact:
    values = {"status": "active", "flow_data": {}, "choices": []} | fields
    return Contact(channel=channel, address=address, **values)


@pytest.mark.parametrize(
    ("status", "version", "agreed", "event"),
    [
        ("new", None, True, "given"),
        ("new", None, False, "declined"),
        ("declined", None, False, "declined"),
        ("declined", None, True, "given"),
        ("active", "1", False, "withdrawn"),  # agreed, then said no to a new notice
        ("stopped", "1", False, "withdrawn"),  # agreed, sent stop, then said no
        ("active", "1", True, "given"),
        ("stopped", "1", True, "given"),
        # a version without an agreement behind it (an old record, a chat that said no
        # after its agreement was copied over): no earlier yes to withdraw
        ("new", "1", False, "declined"),
        ("declined", "1", False, "declined"),
        ("active", None, False, "declined"),
        ("stopped", None, False, "declined"),
    ],
)
def test_which_answer_is_recorded_after_which_earlier_one(
    status: str, version: str | None, agreed: bool, event: str
) -> None:
    member = _contact("telegram", "1", status=status, consent_version=version)
    assert consent.event_for(member, agreed) == event


def test_the_record_names_the_exact_text_shown() -> None:
    assert consent.digest(NOTICE) == consent.digest(NOTICE)
    assert consent.digest(NOTICE) != consent.digest(NOTICE + " ")
    assert len(consent.digest(NOTICE)) == 64 and int(consent.digest(NOTICE), 16) >= 0


async def test_a_record_keeps_the_version_language_channel_and_text_of_the_answer(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        member = _contact("whatsapp", "whatsapp:+37360000001", locale="ro")
        session.add(member)
        await session.flush()
        await consent.record(
            session, member.id, consent.GIVEN,
            version="3", locale="ro", channel="whatsapp", text=NOTICE,
        )  # fmt: skip
    async with clean_db.session() as session:
        rows = await consent.history(session, [member.id])
    assert [(r.contact_id, r.event, r.version, r.locale, r.channel) for r in rows] == [
        (member.id, "given", "3", "ro", "whatsapp")
    ]
    assert rows[0].text_digest == consent.digest(NOTICE)
    assert abs(rows[0].at.replace(tzinfo=None) - utcnow().replace(tzinfo=None)) < timedelta(
        minutes=5
    )


async def _linked_with_answers(clean_db: Database) -> tuple[int, int, int]:
    """A person who agreed on Telegram, said no to a new notice on WhatsApp and yes again on
    Telegram, with their chats linked in between; and a stranger's answer."""
    async with clean_db.session() as session, session.begin():
        tg = _contact("telegram", "501", locale="ro")
        wa = _contact("whatsapp", "whatsapp:+37360000501", locale="ru")
        other = _contact("telegram", "502")
        session.add_all([tg, wa, other])
        await session.flush()
        for contact_id, event, version, locale, channel in [
            (tg.id, "given", "1", "ro", "telegram"),
            (other.id, "given", "1", "en", "telegram"),
            (wa.id, "given", "1", "ru", "whatsapp"),
            (wa.id, "withdrawn", "2", "ru", "whatsapp"),
            (tg.id, "given", "2", "ro", "telegram"),
        ]:
            await consent.record(session, contact_id, event, version=version, locale=locale,
                                 channel=channel, text=NOTICE)  # fmt: skip
            await session.flush()
        await linking.join(session, [tg, wa])
        return tg.id, wa.id, other.id


async def test_my_data_shows_the_answers_given_in_every_linked_chat(clean_db: Database) -> None:
    tg_id, wa_id, _ = await _linked_with_answers(clean_db)
    for asking in (tg_id, wa_id):
        async with clean_db.session() as session:
            contact = await session.get(Contact, asking)
            assert contact is not None
            ids = await linking.person_contact_ids(session, contact)
            sections = {s.name: s.rows for s in await export.collect(session, ids)}
        answers = [(r["answer"], r["version"], r["language"], r["channel"])
                   for r in sections["consents"]]  # fmt: skip
        assert answers == [
            ("given", "1", "ro", "telegram"),
            ("given", "1", "ru", "whatsapp"),
            ("withdrawn", "2", "ru", "whatsapp"),
            ("given", "2", "ro", "telegram"),
        ]  # oldest first, the stranger's answer nowhere
        assert {r["channel"] for r in sections["profile"]} == {"telegram", "whatsapp"}


async def _left(clean_db: Database, ids: list[int]) -> tuple[int, int, int]:
    async with clean_db.session() as session:
        contacts = await session.scalar(
            select(func.count()).select_from(Contact).where(Contact.id.in_(ids))
        )
        answers = await session.scalar(
            select(func.count()).select_from(Consent).where(Consent.contact_id.in_(ids))
        )
        people = await session.scalar(select(func.count()).select_from(Person))
    return int(contacts or 0), int(answers or 0), int(people or 0)


@pytest.mark.parametrize("from_chat", ["telegram", "whatsapp"])
async def test_delete_me_from_either_linked_chat_erases_the_person_and_their_answers(
    clean_db: Database, from_chat: str
) -> None:
    tg_id, wa_id, other_id = await _linked_with_answers(clean_db)
    async with clean_db.session() as session, session.begin():
        contact = await session.get(Contact, tg_id if from_chat == "telegram" else wa_id)
        assert contact is not None
        erased = await erasure.erase(session, await linking.person_contact_ids(session, contact))
    assert erased.contacts == 2
    assert await _left(clean_db, [tg_id, wa_id]) == (0, 0, 0)
    assert await _left(clean_db, [other_id]) == (1, 1, 0)  # nobody else's


async def test_erasing_one_of_two_linked_chats_leaves_the_other_unlinked_with_its_answers(
    clean_db: Database,
) -> None:
    tg_id, wa_id, _ = await _linked_with_answers(clean_db)
    async with clean_db.session() as session, session.begin():
        contact = await session.get(Contact, wa_id)
        assert contact is not None
        await delete_member(session, contact)
    assert await _left(clean_db, [wa_id]) == (0, 0, 0)
    async with clean_db.session() as session:
        tg = await session.get(Contact, tg_id)
        assert tg is not None and tg.person_id is None
        assert [r.event for r in await consent.history(session, [tg_id])] == ["given", "given"]


async def test_erasing_one_of_three_linked_chats_keeps_the_other_two_linked(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        chats = [
            _contact("telegram", "511", consent_version="1", consent_at=utcnow()),
            _contact("whatsapp", "whatsapp:+37360000511"),
            _contact("web", "web511"),
        ]
        session.add_all(chats)
        await session.flush()
        await linking.join(session, chats)
        ids = [c.id for c in chats]
        await delete_member(session, chats[0])
    async with clean_db.session() as session:
        left = list(await session.scalars(select(Contact).where(Contact.id.in_(ids))))
        assert sorted(c.id for c in left) == ids[1:]
        assert left[0].person_id is not None and left[0].person_id == left[1].person_id
        assert await linking.person_contact_ids(session, left[0]) == ids[1:]


async def test_agreeing_before_or_after_linking_gives_every_chat_the_agreement(
    clean_db: Database,
) -> None:
    """Linked after one chat agreed: the other takes the agreement. Linked first, then a chat
    agrees to a new notice: the next message in the other chat finds it agreed too."""
    now = utcnow()
    async with clean_db.session() as session, session.begin():
        agreed = _contact("telegram", "521", consent_version="1", consent_at=now,
                          settings_at=now)  # fmt: skip
        fresh = _contact("whatsapp", "whatsapp:+37360000521", settings_at=now + timedelta(1))
        session.add_all([agreed, fresh])
        await session.flush()
        agreed.settings_at = now - timedelta(hours=1)
        fresh.settings_at = now  # its settings are newer; its agreement is none
        await linking.join(session, [agreed, fresh])
        assert (fresh.consent_version, fresh.consent_at) == ("1", now)
        assert (agreed.consent_version, agreed.consent_at) == ("1", now)
        later = now + timedelta(minutes=5)
        fresh.consent_version, fresh.consent_at = "2", later  # the new notice, on WhatsApp
        await session.flush()
        await linking.keep_in_step(session, agreed)
        assert (agreed.consent_version, agreed.consent_at) == ("2", later)


async def test_version_language_and_channel_are_named_by_whoever_records_an_answer() -> None:
    """Three strings side by side: passed in the wrong order they would be kept swapped, so
    the record takes them by name only."""
    with pytest.raises(TypeError):
        await consent.record(None, 1, "given", "3", "ro", "whatsapp", NOTICE)  # type: ignore[arg-type,misc]
