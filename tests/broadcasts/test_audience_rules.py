"""Who a broadcast reaches, on both databases, without starting the service: only members
who agreed to the privacy notice, the filters and a coordinator's country, and "not those
who got X" meaning those it reached, on any of their chats."""

from __future__ import annotations

from bot import broadcasts
from bot.broadcasts import Audience
from bot.members import linking, topics
from bot.storage.db import Database
from bot.storage.models import Delivery, Topic, utcnow
from tests.broadcasts.rules import ADMIN, MD_EDITOR
from tests.broadcasts.rules import add as _add
from tests.broadcasts.rules import audience as _audience
from tests.broadcasts.rules import broadcast as _broadcast
from tests.broadcasts.rules import member as _member

# ---------------------------------------------------------------- the audience


async def test_only_members_who_agreed_to_the_notice_are_in_the_audience(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        active = _member("701")
        stopped = _member("702", status="stopped")
        new = _member("703", status="new", consent_version=None)
        declined = _member("704", status="declined", consent_version=None)
        await _add(session, active, stopped, new, declined)
        assert await _audience(session, Audience()) == [active.id, stopped.id]
        broadcast = _broadcast()
        await _add(session, broadcast)
        seen = await broadcasts.preview(session, broadcast, ADMIN, {})
        # The stopped member is counted as skipped; the two who never agreed not at all.
        assert (seen.recipients, seen.people, seen.skipped) == (1, 2, {"stopped": 1})


async def test_the_filters_narrow_the_audience(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        md = _member("711", organisation="  Copil Comunitate ")
        ro = _member("712", country="RO", organisation="Other")
        wa = _member("whatsapp:+37360000713", organisation="copil comunitate")
        await _add(session, md, ro, wa)
        assert await _audience(session, Audience(countries=["MD"])) == [md.id, wa.id]
        assert await _audience(session, Audience(channels=["whatsapp"])) == [wa.id]
        assert await _audience(session, Audience(organisations=["Copil Comunitate"])) == [
            md.id, wa.id,
        ]  # fmt: skip
        assert await _audience(session, Audience(contact_ids=[ro.id, wa.id])) == [ro.id, wa.id]
        assert await _audience(session, Audience(countries=["MD"], channels=["telegram"])) == [
            md.id
        ]
        # A coordinator reaches their own country only, whatever the filter says.
        assert await _audience(session, Audience(), MD_EDITOR) == [md.id, wa.id]
        assert await _audience(session, Audience(countries=["RO"]), MD_EDITOR) == []
        assert await _audience(session, Audience(), ADMIN) == [md.id, ro.id, wa.id]


async def test_a_topic_reaches_those_who_chose_it_or_did_not_choose(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        events = await topics.by_key(session, "events")
        if events is None:
            events = Topic(key="events", names={"en": "Events"}, default_on=True)
            await _add(session, events)
        left, took, silent = _member("721"), _member("722"), _member("723")
        await _add(session, left, took, silent)
        await topics.choose(session, left.id, events.id, False)
        await topics.choose(session, took.id, events.id, True)
        assert await _audience(session, Audience(topics=["events"])) == [took.id, silent.id]


async def test_not_those_who_got_it_means_those_it_reached(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        members = [_member(f"73{i}") for i in range(6)]
        earlier = _broadcast(status="sent")
        await _add(session, *members, earlier)
        statuses = ["sent", "delivered", "read", "failed", "queued", "undelivered"]
        for contact, status in zip(members, statuses, strict=True):
            session.add(Delivery(contact_id=contact.id, broadcast_id=earlier.id,
                                 channel="telegram", address=contact.address,
                                 message={"text": "x"}, status=status))  # fmt: skip
        await session.flush()
        follow = Audience(exclude_broadcasts=[earlier.id])
        assert await broadcasts.excluded_members(session, follow) == {
            members[0].id, members[1].id, members[2].id,
        }  # fmt: skip
        assert await broadcasts.excluded_members(session, Audience()) == frozenset()
        again = _broadcast(follow)
        await _add(session, again)
        seen = await broadcasts.preview(session, again, ADMIN, {})
        assert (seen.recipients, seen.skipped) == (3, {"excluded": 3})


async def test_not_those_who_got_it_leaves_out_a_linked_person_on_their_other_chat(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        tg, wa = _member("741"), _member("whatsapp:+37360000741")
        earlier = _broadcast(status="sent")
        await _add(session, tg, wa, earlier)
        await linking.join(session, [tg, wa])
        await linking.set_preferred(session, tg, "whatsapp")
        session.add(Delivery(contact_id=tg.id, broadcast_id=earlier.id, channel="telegram",
                             address=tg.address, message={"text": "x"}, status="read"))  # fmt: skip
        await session.flush()
        again = _broadcast(Audience(exclude_broadcasts=[earlier.id]))
        await _add(session, again)
        seen = await broadcasts.preview(session, again, ADMIN, {})
        assert (seen.recipients, seen.people, seen.skipped) == (0, 1, {"excluded": 1})
        excluded = await broadcasts.excluded_members(session, Audience.from_json(again.audience))
        found = broadcasts.choose(again, [tg, wa], "whatsapp", utcnow(), excluded)
        assert found is not None and found.skip == "excluded"


def test_a_coordinator_sees_and_sends_to_their_country_only() -> None:
    assert broadcasts.visible(_broadcast(Audience(countries=["MD"])), MD_EDITOR)
    assert not broadcasts.visible(_broadcast(Audience(countries=["RO"])), MD_EDITOR)
    assert not broadcasts.visible(_broadcast(Audience()), MD_EDITOR)
    assert broadcasts.visible(_broadcast(Audience(countries=["RO"])), ADMIN)
    assert broadcasts.scoped(Audience(countries=["RO", "MD"]), MD_EDITOR).countries == ["MD"]
    assert broadcasts.scoped(Audience(countries=["RO"]), ADMIN).countries == ["RO"]
