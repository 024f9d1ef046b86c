"""The rules of linking chats into one person, on both databases, without starting the
service: a code only from a chat that agreed to the privacy notice, never two chats on one
channel, the most recent topic choice and the chosen channel kept, what counts as a code, a
used code refused however it is sent again, the preferred channel only among the person's
own, and unlinking."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.members import linking, topics
from bot.storage.db import Database
from bot.storage.models import Contact, LinkCode, LinkFailure, Person, Subscription, Topic, utcnow

WEEK = timedelta(days=7)


def _contact(channel: str, address: str, **fields: object) -> Contact:
    values = {"status": "active", "flow_data": {}, "choices": []} | fields
    return Contact(channel=channel, address=address, **values)


async def _add(session, *contacts: Contact) -> None:  # type: ignore[no-untyped-def]
    session.add_all(contacts)
    await session.flush()


@pytest.mark.parametrize("status", ["new", "declined"])
async def test_a_code_from_a_chat_that_has_not_agreed_is_wrong(
    clean_db: Database, status: str
) -> None:
    """A chat that said no (or never answered) cannot lend its address to a person: its code
    is refused, counts as a wrong one, and nothing is linked or agreed for anyone."""
    async with clean_db.session() as session, session.begin():
        asked = _contact("whatsapp", "whatsapp:+37360000601", status="active")
        sender = _contact("telegram", "601", status="active", consent_version="1",
                          consent_at=utcnow())  # fmt: skip
        await _add(session, asked, sender)
        code = await linking.issue(session, asked)
        asked.status = status  # said no to a new notice after asking for the code
        asked.consent_version = None
        await session.flush()
        redeemed = await linking.redeem(session, sender, code)
        assert redeemed.result == "wrong"
        assert (asked.person_id, sender.person_id) == (None, None)
        assert asked.status == status and asked.consent_version is None
        failure = await session.get(LinkFailure, sender.id)
        assert failure is not None and failure.count == 1


@pytest.mark.parametrize("status", ["active", "stopped"])
async def test_a_code_from_a_member_who_agreed_links_even_after_they_stopped(
    clean_db: Database, status: str
) -> None:
    async with clean_db.session() as session, session.begin():
        asked = _contact("whatsapp", "whatsapp:+37360000602", status=status)
        sender = _contact("telegram", "602")
        await _add(session, asked, sender)
        redeemed = await linking.redeem(session, sender, await linking.issue(session, asked))
        assert redeemed.result == "linked"
        assert {c.id for c in redeemed.contacts} == {asked.id, sender.id}


async def test_two_chats_on_one_channel_never_join_one_person(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        first = _contact("telegram", "611")
        second = _contact("telegram", "612")
        wa = _contact("whatsapp", "whatsapp:+37360000611")
        await _add(session, first, second, wa)
        redeemed = await linking.redeem(session, second, await linking.issue(session, first))
        assert (redeemed.result, redeemed.channel) == ("same_channel", "telegram")
        assert (first.person_id, second.person_id) == (None, None)
        # Nor through a person: a WhatsApp chat linked with the first Telegram chat...
        assert (await linking.redeem(session, wa, await linking.issue(session, first))).result == (
            "linked"
        )
        # ...cannot bring in the second Telegram chat either way round.
        redeemed = await linking.redeem(session, second, await linking.issue(session, wa))
        assert (redeemed.result, redeemed.channel) == ("same_channel", "telegram")
        redeemed = await linking.redeem(session, wa, await linking.issue(session, second))
        assert (redeemed.result, redeemed.channel) == ("same_channel", "telegram")
        assert second.person_id is None
        assert await linking.person_contact_ids(session, wa) == sorted([first.id, wa.id])


async def _topic(session, key: str) -> Topic:  # type: ignore[no-untyped-def]
    topic = await topics.by_key(session, key)
    if topic is None:
        topic = Topic(key=key, names={"en": key}, default_on=True)
        session.add(topic)
        await session.flush()
    return topic


async def _subscribed(session, contact_ids: list[int]) -> dict[tuple[int, int], bool]:  # type: ignore[no-untyped-def]
    rows = await session.scalars(
        select(Subscription).where(Subscription.contact_id.in_(contact_ids))
    )
    return {(r.contact_id, r.topic_id): r.subscribed for r in rows}


@pytest.mark.parametrize("newer", ["asked", "sender"])
async def test_linked_chats_take_each_topics_most_recent_choice(
    clean_db: Database, newer: str
) -> None:
    """A member who left "events" on one chat last week and took it again on the other
    yesterday receives events on both; a topic chosen on one chat only holds on both."""
    now = utcnow()
    async with clean_db.session() as session, session.begin():
        asked = _contact("whatsapp", "whatsapp:+37360000621")
        sender = _contact("telegram", "621")
        await _add(session, asked, sender)
        events, calls = await _topic(session, "events"), await _topic(session, "calls")
        late, early = (asked, sender) if newer == "asked" else (sender, asked)
        session.add_all([
            Subscription(contact_id=late.id, topic_id=events.id, subscribed=True,
                         chosen_at=now - timedelta(days=1)),
            Subscription(contact_id=early.id, topic_id=events.id, subscribed=False,
                         chosen_at=now - WEEK),
            Subscription(contact_id=early.id, topic_id=calls.id, subscribed=False,
                         chosen_at=now - WEEK),
        ])  # fmt: skip
        await session.flush()
        redeemed = await linking.redeem(session, sender, await linking.issue(session, asked))
        assert redeemed.result == "linked"
    async with clean_db.session() as session:
        assert await _subscribed(session, [asked.id, sender.id]) == {
            (asked.id, events.id): True,
            (sender.id, events.id): True,
            (asked.id, calls.id): False,
            (sender.id, calls.id): False,
        }
        rows = await session.scalars(
            select(Subscription).where(Subscription.topic_id == events.id,
                                       Subscription.contact_id.in_([asked.id, sender.id]))
        )  # fmt: skip
        chosen = {r.chosen_at.replace(tzinfo=None) for r in rows}
        assert chosen == {(now - timedelta(days=1)).replace(tzinfo=None)}


async def test_the_first_chosen_channel_is_kept_when_another_chat_joins(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        tg = _contact("telegram", "631")
        wa = _contact("whatsapp", "whatsapp:+37360000631")
        web = _contact("web", "web631")
        await _add(session, tg, wa, web)
        assert (await linking.redeem(session, wa, await linking.issue(session, tg))).result == (
            "linked"
        )
        assert await linking.set_preferred(session, tg, "whatsapp")
        assert (await linking.redeem(session, web, await linking.issue(session, tg))).result == (
            "linked"
        )
        assert await linking.preferred_channel(session, web) == "whatsapp"
        assert await linking.person_contact_ids(session, tg) == sorted([tg.id, wa.id, web.id])


async def test_two_people_joined_keep_one_person_and_its_chosen_channel(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        tg, wa = _contact("telegram", "632"), _contact("whatsapp", "whatsapp:+37360000632")
        await _add(session, tg, wa)
        first = Person(preferred_channel=None)
        second = Person(preferred_channel="whatsapp")
        session.add_all([first, second])
        await session.flush()
        tg.person_id, wa.person_id = first.id, second.id
        await session.flush()
        await linking.join(session, [tg, wa])
        assert tg.person_id == wa.person_id == first.id
        assert await linking.preferred_channel(session, tg) == "whatsapp"
        assert await session.get(Person, second.id) is None


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("123456", "123456"),
        ("123 456", "123456"),
        ("123-456", "123456"),
        (" 12.34.56 ", "123456"),
        ("room 123456, how do I get there?", None),
        ("123456a", None),
        ("12345", None),
        ("1234567", None),
        ("", None),
    ],
)
def test_what_counts_as_a_code(typed: str, code: str | None) -> None:
    assert linking.normalise_code(typed) == code


async def test_a_used_code_sent_again_is_expired_even_from_a_linked_chat(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        tg, wa = _contact("telegram", "641"), _contact("whatsapp", "whatsapp:+37360000641")
        web = _contact("web", "web641")
        await _add(session, tg, wa, web)
        code = await linking.issue(session, tg)
        assert (await linking.redeem(session, wa, code)).result == "linked"
        assert (await linking.redeem(session, wa, code)).result == "expired"
        assert (await linking.redeem(session, web, code)).result == "expired"
        assert web.person_id is None


async def test_a_code_after_ten_minutes_is_expired(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        tg, wa = _contact("telegram", "642"), _contact("whatsapp", "whatsapp:+37360000642")
        await _add(session, tg, wa)
        now = utcnow()
        code = await linking.issue(session, tg, now)
        later = now + linking.CODE_TTL
        assert (await linking.redeem(session, wa, code, later)).result == "expired"
        code = await linking.issue(session, tg, now)
        almost = now + linking.CODE_TTL - timedelta(seconds=1)
        assert (await linking.redeem(session, wa, code, almost)).result == "linked"


async def test_five_wrong_codes_lock_the_chat_for_fifteen_minutes(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        tg, wa = _contact("telegram", "643"), _contact("whatsapp", "whatsapp:+37360000643")
        await _add(session, tg, wa)
        now = utcnow()
        code = await linking.issue(session, tg, now)
        wrong = "000000" if code != "000000" else "111111"
        results = [(await linking.redeem(session, wa, wrong, now)).result for _ in range(5)]
        assert results == ["wrong"] * 4 + ["locked"]
        locked = await linking.redeem(session, wa, code, now + timedelta(minutes=14))
        assert (locked.result, locked.minutes) == ("locked", 1)
        at_first = await linking.redeem(session, wa, code, now)
        assert (at_first.result, at_first.minutes) == ("locked", 15)
        later = now + linking.LOCKOUT
        after = await linking.redeem(session, wa, await linking.issue(session, tg, later), later)
        assert after.result == "linked"
        assert await session.get(LinkFailure, wa.id) is None  # a right code forgives


async def test_an_old_mistake_is_forgiven(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        tg, wa = _contact("telegram", "644"), _contact("whatsapp", "whatsapp:+37360000644")
        await _add(session, tg, wa)
        now = utcnow()
        code = await linking.issue(session, tg, now)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(4):
            await linking.redeem(session, wa, wrong, now)
        later = now + linking.LOCKOUT
        assert (await linking.redeem(session, wa, wrong, later)).result == "wrong"
        failure = await session.get(LinkFailure, wa.id)
        assert failure is not None and failure.count == 1


async def test_the_preferred_channel_is_only_one_of_the_persons_own(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        tg, wa = _contact("telegram", "651"), _contact("whatsapp", "whatsapp:+37360000651")
        alone = _contact("web", "web651")
        await _add(session, tg, wa, alone)
        assert not await linking.set_preferred(session, alone, "web")  # not a person
        await linking.redeem(session, wa, await linking.issue(session, tg))
        assert not await linking.set_preferred(session, tg, "web")  # a forged choice
        assert await linking.preferred_channel(session, tg) is None
        assert await linking.set_preferred(session, wa, "telegram")
        assert await linking.preferred_channel(session, wa) == "telegram"
        assert await linking.preferred_channel(session, alone) is None


def test_a_broadcast_tries_the_preferred_channel_then_the_chat_written_from_last() -> None:
    now = utcnow()
    tg = _contact("telegram", "661", last_inbound_at=now - timedelta(days=2))
    wa = _contact("whatsapp", "w", last_inbound_at=now - timedelta(hours=1))
    web = _contact("web", "x", last_inbound_at=None)
    tg.id, wa.id, web.id = 3, 2, 1
    assert [c.channel for c in linking.ordered([tg, wa, web], None)] == [
        "whatsapp", "telegram", "web",
    ]  # fmt: skip
    assert [c.channel for c in linking.ordered([tg, wa, web], "web")] == [
        "web", "whatsapp", "telegram",
    ]  # fmt: skip


async def _three_linked(session, n: int) -> tuple[Contact, Contact, Contact]:  # type: ignore[no-untyped-def]
    """One person's Telegram, WhatsApp and web chats."""
    tg, wa = _contact("telegram", f"{n}"), _contact("whatsapp", f"whatsapp:+37360000{n}")
    web = _contact("web", f"web{n}")
    await _add(session, tg, wa, web)
    await linking.redeem(session, wa, await linking.issue(session, tg))
    await linking.redeem(session, web, await linking.issue(session, tg))
    return tg, wa, web


async def test_unlinking_one_of_two_chats_ends_the_person_and_its_choice(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        tg, wa, web = await _three_linked(session, 671)
        person = tg.person_id
        assert await linking.set_preferred(session, tg, "web")
        rest = await linking.unlink(session, web)  # of three: two stay one person
        assert sorted(c.id for c in rest) == sorted([tg.id, wa.id])
        assert web.person_id is None and tg.person_id == wa.person_id == person
        assert await linking.preferred_channel(session, tg) is None  # web was the choice
        rest = await linking.unlink(session, tg)  # of two: nobody is linked any more
        assert [c.id for c in rest] == [wa.id]
        assert (tg.person_id, wa.person_id) == (None, None)
        assert await session.get(Person, person) is None


async def test_two_people_on_the_same_two_channels_are_told_the_first_in_common(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        mine = [_contact("telegram", "681"), _contact("whatsapp", "whatsapp:+37360000681")]
        theirs = [_contact("telegram", "682"), _contact("whatsapp", "whatsapp:+37360000682")]
        await _add(session, *mine, *theirs)
        await linking.redeem(session, mine[1], await linking.issue(session, mine[0]))
        await linking.redeem(session, theirs[1], await linking.issue(session, theirs[0]))
        redeemed = await linking.redeem(session, mine[0], await linking.issue(session, theirs[1]))
        assert (redeemed.result, redeemed.channel) == ("same_channel", "telegram")


async def test_linking_ends_the_codes_of_the_chat_that_sent_one_and_no_one_elses(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        tg, wa = _contact("telegram", "691"), _contact("whatsapp", "whatsapp:+37360000691")
        other, web = _contact("telegram", "692"), _contact("web", "web692")
        await _add(session, tg, wa, other, web)
        own = await linking.issue(session, wa)  # asked on WhatsApp, then used Telegram's
        waiting = await linking.issue(session, other)  # someone else's, not used yet
        assert (await linking.redeem(session, wa, await linking.issue(session, tg))).result == (
            "linked"
        )
        assert (await linking.redeem(session, web, own)).result == "expired"
        assert (await linking.redeem(session, web, waiting)).result == "linked"


async def test_codes_and_mistakes_older_than_a_day_are_cleared(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        tg, wa = _contact("telegram", "693"), _contact("whatsapp", "whatsapp:+37360000693")
        await _add(session, tg, wa)
        start = utcnow()
        await linking.issue(session, tg, start)
        await linking.redeem(session, wa, "999999", start)  # a wrong code

        async def kept(at: datetime) -> tuple[int, bool]:
            await linking.issue(session, wa, at)  # clears on the way
            codes = await session.scalars(select(LinkCode).where(LinkCode.contact_id == tg.id))
            return len(codes.all()), await session.get(LinkFailure, wa.id) is not None

        minute = timedelta(minutes=1)
        assert await kept(start + linking.KEEP - minute) == (1, True)
        assert await kept(start + linking.KEEP + minute) == (1, False)
        assert await kept(start + linking.CODE_TTL + linking.KEEP - minute) == (1, False)
        assert await kept(start + linking.CODE_TTL + linking.KEEP + minute) == (0, False)
        assert linking.KEEP == timedelta(days=1) and linking.CODE_TTL == timedelta(minutes=10)


def test_copying_settings_says_whether_anything_changed() -> None:
    now = utcnow()
    source = _contact("telegram", "1", locale="ro", country="MD", settings_at=now)
    target = _contact("whatsapp", "w", locale="ro", country="MD",
                      settings_at=now - WEEK)  # fmt: skip
    target.settings_at = now - WEEK
    source.settings_at = now
    assert not linking.copy_settings(source, target)
    assert target.settings_at == now - WEEK  # nothing changed, nothing stamped
    assert not linking.copy_settings(source, source)
    source.locale, source.settings_at = "ru", now
    assert linking.copy_settings(source, target)
    assert (target.locale, target.settings_at) == ("ru", now)


async def test_web_chats_share_one_budget_of_a_hundred_recent_wrong_codes(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        now = utcnow()
        tg = _contact("telegram", "701")
        web = _contact("web", "web701genuine000")
        guessers = [_contact("web", f"web701guess{i:05d}") for i in range(21)]
        await _add(session, tg, web, *guessers)
        code = await linking.issue(session, tg, now)
        # 99 recent wrong codes from other web chats, and 5 from before the last ten minutes
        for i, guesser in enumerate(guessers[:20]):
            session.add(LinkFailure(contact_id=guesser.id, count=4 if i == 0 else 5,
                                    last_at=now - timedelta(minutes=1)))  # fmt: skip
        session.add(LinkFailure(contact_id=guessers[20].id, count=5,
                                last_at=now - linking.CODE_TTL))  # fmt: skip
        await session.flush()
        wrong = "000000" if code != "000000" else "111111"
        assert (await linking.redeem(session, web, wrong, now)).result == "wrong"  # the 100th
        refused = await linking.redeem(session, web, code, now)
        assert (refused.result, refused.minutes) == ("locked", 10)
        assert web.person_id is None


async def test_the_minutes_of_a_lock_are_rounded_up(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        now = utcnow()
        wa = _contact("whatsapp", "whatsapp:+37360000702")
        await _add(session, wa)
        session.add(LinkFailure(contact_id=wa.id, count=5, last_at=now,
                                locked_until=now + timedelta(seconds=61)))  # fmt: skip
        await session.flush()
        assert (await linking.redeem(session, wa, "123456", now)).minutes == 2
        later = now + timedelta(seconds=60)
        assert (await linking.redeem(session, wa, "123456", later)).minutes == 1


async def test_a_chats_own_code_and_a_code_of_a_chat_already_linked(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        tg, wa = _contact("telegram", "703"), _contact("whatsapp", "whatsapp:+37360000703")
        await _add(session, tg, wa)
        own = await linking.issue(session, tg)
        assert (await linking.redeem(session, tg, own)).result == "own"
        assert (await linking.redeem(session, wa, own)).result == "linked"
        again = await linking.issue(session, tg)
        assert (await linking.redeem(session, wa, again)).result == "already"
        assert (await linking.redeem(session, wa, again)).result == "expired"  # used by that
        assert await session.get(LinkFailure, wa.id) is not None


async def test_the_chosen_channel_of_each_person(clean_db: Database) -> None:
    async with clean_db.session() as session, session.begin():
        tg, wa = _contact("telegram", "704"), _contact("whatsapp", "whatsapp:+37360000704")
        await _add(session, tg, wa)
        await linking.redeem(session, wa, await linking.issue(session, tg))
        assert await linking.preferences(session, [tg.person_id or 0]) == {tg.person_id: None}
        await linking.set_preferred(session, wa, "whatsapp")
        assert await linking.preferences(session, [tg.person_id, wa.person_id]) == {  # type: ignore[list-item]
            tg.person_id: "whatsapp"
        }
        assert await linking.preferences(session, []) == {}


async def test_a_lock_that_ended_over_a_day_ago_is_cleared_and_a_live_one_is_kept(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        now = utcnow()
        tg, ended, live = (_contact("telegram", "705"), _contact("web", "web705ended"),
                           _contact("web", "web705live"))  # fmt: skip
        await _add(session, tg, ended, live)
        long_ago = now - linking.KEEP - timedelta(hours=1)
        session.add_all([
            LinkFailure(contact_id=ended.id, count=5, last_at=long_ago,
                        locked_until=long_ago + linking.LOCKOUT),
            LinkFailure(contact_id=live.id, count=5, last_at=long_ago,
                        locked_until=now + timedelta(minutes=5)),
        ])  # fmt: skip
        await session.flush()
        await linking.issue(session, tg, now)
        assert await session.get(LinkFailure, ended.id) is None
        assert await session.get(LinkFailure, live.id) is not None


async def test_unlinking_a_chat_keeps_the_persons_choice_of_another_channel(
    clean_db: Database,
) -> None:
    async with clean_db.session() as session, session.begin():
        tg, wa, web = await _three_linked(session, 681)
        assert await linking.set_preferred(session, tg, "whatsapp")
        await linking.unlink(session, web)  # not the chosen channel: the choice stays
        assert await linking.preferred_channel(session, tg) == "whatsapp"
        assert await linking.preferred_channel(session, wa) == "whatsapp"


@pytest.mark.parametrize(("draw", "code"), [("lowest", "000000"), ("highest", "999999")])
async def test_a_code_is_drawn_from_every_six_digit_number_and_only_those(
    clean_db: Database, monkeypatch: pytest.MonkeyPatch, draw: str, code: str
) -> None:
    # The draw at either end of its range: 000000 and 999999 can both come, nothing longer.
    pick = (lambda below: 0) if draw == "lowest" else (lambda below: below - 1)
    monkeypatch.setattr(linking.secrets, "randbelow", pick)
    async with clean_db.session() as session, session.begin():
        asker = _contact("telegram", f"68{len(code)}{draw}")
        await _add(session, asker)
        assert await linking.issue(session, asker) == code


async def test_a_code_that_is_still_live_is_never_given_to_a_second_chat(
    clean_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same number drawn twice: the second chat gets another, or one code would link two.
    draws = iter([123456, 123456, 654321, 123456])
    monkeypatch.setattr(linking.secrets, "randbelow", lambda below: next(draws))
    start = datetime(2026, 3, 1, 12, 0, tzinfo=utcnow().tzinfo)
    async with clean_db.session() as session, session.begin():
        first, second = _contact("telegram", "691"), _contact("whatsapp", "whatsapp:+37360000691")
        third = _contact("web", "web691")
        await _add(session, first, second, third)
        assert await linking.issue(session, first, now=start) == "123456"
        assert await linking.issue(session, second, now=start + timedelta(minutes=1)) == "654321"
        # Once the first has run out (at the very minute it ends), its number is free again.
        ends = start + linking.CODE_TTL
        assert await linking.issue(session, third, now=ends) == "123456"
