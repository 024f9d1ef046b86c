"""Linking chats into one member: the code from one chat typed in the other, wrong, expired and
reused codes, the lock after too many wrong ones, three chats, unlinking, settings in step and
the preferred channel, in the members' languages."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from bot.conversation.commands import words_in
from bot.i18n import Translator
from bot.members.linking import MAX_FAILURES
from bot.storage.models import Contact, LinkCode, LinkFailure, Person, utcnow
from tests.dialog import Member, texts
from tests.handlers.test_menu import onboard
from tests.harness import running

LINKED = (
    "Done! Your chats on {channels} are now linked. You will get our news and surveys only once."
)
WRONG = "That code is not right. Please check it and try again."
EXPIRED = (
    "That code has expired or was already used. Write {word} in your other chat to get a new one."
)


def word(locale: str, command: str) -> str:
    return words_in(Translator(locale), command)[0]


def typed(member: Member, command: str, locale: str) -> str:
    return f"/{command}" if member.channel == "telegram" else word(locale, command)


async def ask_code(member: Member, locale: str) -> str:
    replies = await member.say(typed(member, "link", locale))
    found = re.search(r"\b(\d{6})\b", texts(replies))
    assert found, texts(replies)
    return found.group(1)


async def contact_of(member: Member) -> Contact:
    async with member.stack.service.db.session() as session:
        found = await session.scalar(
            select(Contact).where(
                Contact.channel == member.channel, Contact.address == member.address
            )
        )
    assert found is not None
    return found


async def test_a_code_from_whatsapp_typed_in_telegram_links_them_in_the_newest_language(backend):
    async with running(backend) as stack:
        tg, wa = Member(stack, "telegram", lang="ro"), Member(stack, "whatsapp")
        await onboard(tg, "ro", "MD")
        await onboard(wa, "uk", "MD")  # the newer settings: they win
        uk = Translator("uk")

        code = await ask_code(wa, "uk")
        said = await ask_code_text(wa)
        assert word("uk", "link") in said and code in said
        done = await tg.say(f"/link {code}")
        assert texts(done) == uk(LINKED, channels="Telegram, WhatsApp")
        assert texts(await wa.replies()) == uk(LINKED, channels="Telegram, WhatsApp")

        a, b = await contact_of(tg), await contact_of(wa)
        assert a.person_id is not None and a.person_id == b.person_id
        assert a.locale == b.locale == "uk"


async def ask_code_text(member: Member) -> str:
    """The text of the last code message the member got."""
    return "\n".join(r.text for r in member.last)


async def test_a_code_from_telegram_sent_alone_in_whatsapp_after_asking_there(backend):
    async with running(backend) as stack:
        tg, wa = Member(stack, "telegram", lang="sr"), Member(stack, "whatsapp")
        await onboard(wa, "tr", "AL")
        await onboard(tg, "sr", "RS")
        sr = Translator("sr")

        code = await ask_code(tg, "sr")
        await ask_code(wa, "sr")  # WhatsApp also offers its own code, and asks for one
        done = await wa.say(code[:3] + " " + code[3:])
        assert texts(done) == sr(LINKED, channels="Telegram, WhatsApp")
        assert texts(await tg.replies()) == sr(LINKED, channels="Telegram, WhatsApp")
        assert (await contact_of(wa)).country == "RS"

        # Settings stay in step: a language chosen on WhatsApp holds on Telegram too.
        await wa.say(word("sr", "language"))
        await wa.tap("lang:bg")
        assert (await contact_of(tg)).locale == "bg"
        # "stop" on one chat stops the person.
        await tg.say("/stop")
        assert (await contact_of(wa)).status == "stopped"


async def test_wrong_expired_reused_and_own_codes_are_refused(backend):
    async with running(backend) as stack:
        tg, wa, web = (
            Member(stack, "telegram", lang="en"),
            Member(stack, "whatsapp"),
            Member(stack, "web", lang="ro"),
        )
        await onboard(tg, "en", "RO")
        await onboard(wa, "ro", "RO")
        await onboard(web, "ro", "RO")
        en, ro = Translator("en"), Translator("ro")

        code = await ask_code(tg, "en")
        wrong = "000000" if code != "000000" else "111111"
        assert texts(await wa.say(f"{word('ro', 'link')} {wrong}")) == ro(WRONG)
        own = await tg.say(f"/link {code}")
        assert texts(own) == en("This code was made in this chat. Send it from your other chat.")

        async with stack.service.db.session() as session, session.begin():
            await session.execute(
                update(LinkCode).values(expires_at=utcnow() - timedelta(seconds=1))
            )
        expired = await wa.say(f"{word('ro', 'link')} {code}")
        assert texts(expired) == ro(EXPIRED, word=word("ro", "link"))

        fresh = await ask_code(tg, "en")
        await wa.say(f"{word('ro', 'link')} {fresh}")
        assert (await contact_of(wa)).person_id is not None
        reused = await web.say(f"/link {fresh}")
        assert texts(reused) == ro(EXPIRED, word=word("ro", "link"))
        assert (await contact_of(web)).person_id is None
        async with stack.service.db.session() as session:
            stored = list(await session.scalars(select(LinkCode.code_hash)))
        assert fresh not in stored and code not in stored  # only hashes are kept


async def test_guessing_codes_locks_the_chat_out_even_for_the_right_code(backend):
    async with running(backend) as stack:
        tg, wa = Member(stack, "telegram", lang="ru"), Member(stack, "whatsapp")
        await onboard(tg, "ru", "MD")
        await onboard(wa, "ru", "MD")
        ru = Translator("ru")
        code = await ask_code(tg, "ru")
        guesses = [f"{n:06d}" for n in range(1, 10) if f"{n:06d}" != code][:MAX_FAILURES]
        answers = [texts(await wa.say(f"{word('ru', 'link')} {g}")) for g in guesses]
        assert answers[:-1] == [ru(WRONG)] * (MAX_FAILURES - 1)
        locked = ru.ngettext(
            "Too many wrong codes. Please try again in {n} minute.",
            "Too many wrong codes. Please try again in {n} minutes.",
            15,
        )
        assert answers[-1] == locked
        assert texts(await wa.say(f"{word('ru', 'link')} {code}")) == locked
        assert (await contact_of(wa)).person_id is None
        async with stack.service.db.session() as session:
            failure = await session.get(LinkFailure, (await contact_of(wa)).id)
        assert failure is not None and failure.locked_until is not None  # shared by processes


async def test_three_chats_link_into_one_member_and_one_unlinks_again(backend):
    async with running(backend) as stack:
        tg, wa, web = (
            Member(stack, "telegram", lang="ka"),
            Member(stack, "whatsapp"),
            Member(stack, "web", lang="ka"),
        )
        for member in (tg, wa, web):
            await onboard(member, "ka", "GE")
        ka = Translator("ka")
        await wa.say(f"{word('ka', 'link')} {await ask_code(tg, 'ka')}")
        await tg.replies()
        done = await tg.say(f"/link {await ask_code(web, 'ka')}")
        everyone = ka(LINKED, channels=f"Telegram, WhatsApp, {ka('web chat')}")
        assert texts(done) == everyone
        assert texts(await web.replies()) == everyone
        assert texts(await wa.replies()) == everyone
        people = {(await contact_of(m)).person_id for m in (tg, wa, web)}
        assert len(people) == 1 and None not in people

        # The preferred channel, in Settings, among the linked ones only.
        await tg.say("/menu")
        await tg.tap("menu:settings")
        assert ka("Unlink this chat") in tg.last[-1].options
        picker = await tg.tap("set:preferred")
        assert sorted(picker[-1].payloads) == ["pref:telegram", "pref:web", "pref:whatsapp"]
        saved = await tg.tap("pref:whatsapp")
        assert texts(saved) == ka(
            "Saved: news and surveys will reach you on {channel}.", channel="WhatsApp"
        )

        asked = await wa.say(word("ka", "unlink"))
        assert asked[-1].payloads == ["unlink:yes", "unlink:no"]
        gone = await wa.tap("unlink:yes")
        assert texts(gone) == ka("Done: this chat is no longer linked with your other chats.")
        told = ka("Your chat on {channel} is no longer linked with this one.", channel="WhatsApp")
        assert texts(await tg.replies()) == told
        assert texts(await web.replies()) == told
        assert (await contact_of(wa)).person_id is None
        still = await contact_of(tg)
        assert still.person_id is not None and still.person_id == (await contact_of(web)).person_id
        async with stack.service.db.session() as session:
            person = await session.get(Person, still.person_id)
        assert person is not None and person.preferred_channel is None  # WhatsApp left

        # The last two part: nobody is linked any more.
        await web.say("/unlink")
        await web.tap("unlink:yes")
        assert texts(await tg.replies()) == ka(
            "Your chat on {channel} is no longer linked with this one.", channel=ka("web chat")
        )
        assert (await contact_of(tg)).person_id is None
        unlinked = await tg.say("/unlink")
        assert texts(unlinked) == ka(
            "This chat is not linked with any other chat. To link one, write {word}.",
            word=word("ka", "link"),
        )
