"""Consent belongs to the person: a changed privacy notice is answered once, in any of their
linked chats; "No, thanks" in one stops them everywhere; a chat linked with one that agreed
has agreed; and every answer stays recorded in the chat it was given in."""

from __future__ import annotations

from bot.broadcasts import Audience, audience_query
from bot.i18n import Translator
from bot.privacy import consent
from bot.storage.models import Consent
from tests.dialog import Member, Reply, texts
from tests.handlers.test_linking import ask_code, contact_of, word
from tests.handlers.test_menu import onboard
from tests.harness import Stack, running

QUESTION = "What is ChildPact?"
AGREE = "Do you agree?"
HELLO = (
    "Hello! I am the ChildPact assistant. I answer questions about the coalition, bring you "
    "news from the secretariat in your language, and send short surveys."
)
DECLINED = (
    "All right. I send you no news and I have forgotten your language, country and "
    "organisation. I keep only this chat's address, our messages and the record of your "
    "answer; write {deleteme} to delete them as well. If you change your mind, write {start}."
)


async def linked(stack: Stack) -> tuple[Member, Member]:
    """A member on Telegram (Romanian) and WhatsApp who linked the two chats."""
    tg, wa = Member(stack, "telegram", lang="ro"), Member(stack, "whatsapp")
    await onboard(tg, "ro", "MD")
    await onboard(wa, "ro", "MD")
    await wa.say(f"{word('ro', 'link')} {await ask_code(tg, 'ro')}")
    await tg.replies()
    assert (await contact_of(tg)).person_id == (await contact_of(wa)).person_id is not None
    return tg, wa


def asked(replies: list[Reply], t: Translator) -> bool:
    """The privacy notice is in these replies, waiting for an answer."""
    return any(t(AGREE) in r.text and "consent:yes" in r.payloads for r in replies)


async def answers(stack: Stack, member: Member) -> list[tuple[str, str, str]]:
    """The member's answers recorded in this chat: (event, version, channel)."""
    contact = await contact_of(member)
    async with stack.service.db.session() as session:
        rows: list[Consent] = await consent.history(session, [contact.id])
    return [(row.event, row.version, row.channel) for row in rows]


async def reached(stack: Stack) -> set[int]:
    """The contacts a broadcast to everyone would reach."""
    async with stack.service.db.session() as session:
        return {c.id for c in await session.scalars(audience_query(Audience(), None))}


async def test_agreeing_in_one_linked_chat_is_not_asked_again_in_the_other(backend):
    async with running(backend) as stack:
        tg, wa = await linked(stack)
        ro = Translator("ro")

        # Both chats meet the new notice; the member answers it on Telegram.
        stack.service.settings.privacy_version = "2"
        assert asked(await wa.say(QUESTION), ro)
        assert asked(await tg.say(QUESTION), ro)
        agreed = await tg.tap("consent:yes")
        assert agreed[0].text == ro("Thank you!")
        answer = texts(agreed[1:])  # the question they had written, answered now
        # WhatsApp still shows the question, but the person has answered it.
        through = await wa.say(QUESTION)
        assert not asked(through, ro) and texts(through) == answer
        assert (await contact_of(wa)).flow is None

        # A later notice asked in one chat only: the other chat never asks at all.
        stack.service.settings.privacy_version = "3"
        assert asked(await wa.say(QUESTION), ro)
        await wa.tap("consent:yes")
        through = await tg.say(QUESTION)
        assert not asked(through, ro) and texts(through) == answer
        for member in (tg, wa):
            assert (await contact_of(member)).consent_version == "3"

        # Each answer stays recorded in the chat it was given in.
        assert await answers(stack, tg) == [("given", "1", "telegram"), ("given", "2", "telegram")]
        assert await answers(stack, wa) == [("given", "1", "whatsapp"), ("given", "3", "whatsapp")]


async def test_no_thanks_in_one_linked_chat_stops_the_person_and_yes_in_any_brings_it_back(
    backend,
):
    async with running(backend) as stack:
        tg, wa = await linked(stack)
        ro = Translator("ro")
        ids = {(await contact_of(m)).id for m in (tg, wa)}
        assert ids <= await reached(stack)

        stack.service.settings.privacy_version = "2"
        assert asked(await tg.say(QUESTION), ro)
        confirm = await tg.tap("consent:no")  # a member who had agreed confirms first
        assert confirm[-1].payloads == ["consent:withdraw", "consent:keep"]
        declined = await tg.tap("consent:withdraw")
        assert texts(declined) == ro(DECLINED, start="/start", deleteme="/deleteme")
        for member in (tg, wa):
            contact = await contact_of(member)
            assert contact.status == "declined"
            assert contact.locale is None and contact.country is None  # kept nowhere
        assert not ids & await reached(stack)  # no news on either chat
        assert await answers(stack, tg) == [
            ("given", "1", "telegram"),
            ("withdrawn", "2", "telegram"),
        ]
        assert await answers(stack, wa) == [("given", "1", "whatsapp")]

        # The other chat asks too, as it asks anyone who said no; a yes there is for both.
        welcome = await wa.say("Bună ziua")
        assert asked(welcome, ro)
        assert texts(welcome).startswith(ro(HELLO))
        await wa.tap("consent:yes")
        await wa.tap("lang:ro")
        await wa.tap("country:MD")
        done = await wa.tap("org:skip")
        assert ro("Thank you, you are all set!") in texts(done)
        through = await tg.say(QUESTION)
        assert not asked(through, ro) and through
        for member in (tg, wa):
            contact = await contact_of(member)
            assert (contact.status, contact.locale, contact.consent_version) == (
                "active",
                "ro",
                "2",
            )
        assert ids <= await reached(stack)
        assert await answers(stack, wa) == [("given", "1", "whatsapp"), ("given", "2", "whatsapp")]


async def test_linking_a_chat_that_agreed_with_one_that_has_not_yet(backend):
    async with running(backend) as stack:
        tg, wa = Member(stack, "telegram", lang="ro"), Member(stack, "whatsapp")
        await onboard(tg, "ro", "MD")
        await onboard(wa, "uk", "MD")  # the newer choices, until Telegram agrees below
        code = await ask_code(wa, "uk")

        stack.service.settings.privacy_version = "2"
        ro = Translator("ro")
        assert asked(await tg.say(QUESTION), ro)
        await tg.tap("consent:yes")
        linked = await tg.say(f"/link {code}")
        assert texts(linked) == ro(
            "Done! Your chats on {channels} are now linked. You will get our news and surveys "
            "only once.",
            channels="Telegram, WhatsApp",
        )

        # Agreeing was the newest change: it holds for the person, with Telegram's settings.
        through = await wa.say(QUESTION)
        assert not asked(through, ro) and not asked(through, Translator("uk")) and through
        for member in (tg, wa):
            contact = await contact_of(member)
            assert (contact.consent_version, contact.locale) == ("2", "ro")
        assert await answers(stack, wa) == [("given", "1", "whatsapp")]
        assert await answers(stack, tg) == [("given", "1", "telegram"), ("given", "2", "telegram")]
