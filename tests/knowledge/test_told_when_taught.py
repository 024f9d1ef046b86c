"""From unanswered to known, as members live it: a member who asked what the bot could not
answer is told the answer once the secretariat teaches it, in their language, on the chat they
asked from; a member who erased their data is not told, nor counted; on WhatsApp outside the
24-hour window the notice template goes first and the answer when they write. On both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.secretariat.inbox import count_unanswered
from bot.storage.models import AuditEntry, Delivery, UnansweredAsker, utcnow
from tests.dialog import Member, texts
from tests.handlers.test_menu import onboard
from tests.handlers.test_privacy import word
from tests.harness import Stack, eventually
from tests.webhook.admin.dashboard import dashboard
from tests.webhook.api.test_api_inbox import token_of

# Nothing in the knowledge answers it (the bot offers to pass it to the secretariat).
QUESTION = "Unde găsesc grila trimestrială zorblax a coaliției?"
ANSWER_EN = "The quarterly zorblax grid is on childpact.org, under Resources."
ANSWER_RO = "Grila trimestrială zorblax este pe childpact.org, la Resurse."
TOLD_RO = f"Ați întrebat: „{QUESTION}”\n\nIată răspunsul:\n\n{ANSWER_RO}"
NOTICE = "HX" + "d" * 32


def received(stack: Stack, member: Member) -> list[str]:
    """What reached the member's phone or page: the platform's record, not our outbox."""
    if member.channel == "telegram":
        return [m.text or "" for m in stack.telegram.messages_to(member.address)]
    if member.channel == "whatsapp":
        return [m.body or "" for m in stack.twilio.to(member.address)]
    raise AssertionError("a web chat member reads the page")


async def waiting(stack: Stack, api: dict[str, str]) -> dict[str, int]:
    found = await stack.http.get("/api/unanswered", headers=api)
    assert found.status_code == 200, found.text
    return {q["question"]: q["waiting"] for q in found.json()["questions"]}


@pytest.mark.parametrize("channel", ["telegram", "whatsapp"])
async def test_a_member_is_told_the_answer_once_an_editor_teaches_the_question(backend, channel):
    async with dashboard(backend) as board:
        stack = board.stack
        viewer = await token_of(stack, "api@childpact.org", "viewer")
        asker = Member(stack, channel, lang="ro")
        await onboard(asker, "ro", "RO")
        offered = await asker.say(QUESTION)
        assert "ask:secretariat" in offered[-1].payloads  # the bot did not know
        await asker.say(QUESTION.lower())  # asked twice: told once

        # Another member asks the same, then deletes everything the bot keeps about them.
        gone = Member(stack, "web", lang="ro")
        await onboard(gone, "ro", "RO")
        await gone.say(QUESTION + "?")
        assert (await waiting(stack, viewer))[QUESTION] == 2
        await gone.say(word("ro", "deleteme", "web"))
        await gone.tap("erase:yes")
        assert (await waiting(stack, viewer))[QUESTION] == 1
        async with stack.service.db.session() as session:
            assert len(list(await session.scalars(select(UnansweredAsker)))) == 1

        editor = await board.sign_in("editor@childpact.org")
        page = await editor.get("/admin/knowledge")
        assert "members waiting for the answer: 1" in page.text
        assert 'name="tell" value="1" checked' in page.text  # on unless the editor says no
        before = len(received(stack, asker))
        taught = await editor.post("/admin/knowledge/teach", {
            "question": QUESTION, "locale": "ro", "action": "new", "key": "zorblax_grid",
            "title": "The zorblax grid", "answer": ANSWER_EN, "local_title": "Grila zorblax",
            "local_answer": ANSWER_RO, "tell": "1",
        })  # fmt: skip
        assert taught.status_code == 303, taught.text
        assert taught.headers["location"].endswith("done=told")
        shown = await editor.get(taught.headers["location"])
        assert "The members who asked it are being told the answer." in shown.text

        await eventually(lambda: TOLD_RO in received(stack, asker))
        assert received(stack, asker)[before:] == [TOLD_RO]  # once, though asked twice
        assert QUESTION not in await waiting(stack, viewer)
        async with stack.service.db.session() as session:
            told = (await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "knowledge.tell")
            )).all()  # fmt: skip
        assert [(e.target, e.detail.get("members")) for e in told] == [("knowledge:zorblax_grid", 1)]

        # What the member asks next is answered by the bot itself.
        async def known() -> bool:
            tried = await stack.http.post(
                "/api/knowledge/try", json={"question": QUESTION, "locale": "ro"}, headers=viewer
            )
            return tried.json()["topic"] == "zorblax_grid"

        await eventually(known)
        assert ANSWER_RO in texts(await asker.say(QUESTION))
        await editor.close()


async def test_a_member_of_another_language_is_told_in_theirs_and_staff_may_choose_not_to(
    backend,
):
    async with dashboard(backend) as board:
        stack = board.stack
        editor = await token_of(stack, "api-editor@childpact.org", "editor")
        asker = Member(stack, "telegram", lang="ru")
        await onboard(asker, "ru", "MD")
        asked = "Где найти квартальную сетку зорбланс коалиции?"
        assert "ask:secretariat" in (await asker.say(asked))[-1].payloads
        quiet = Member(stack, "telegram", lang="en")
        await onboard(quiet, "en", "RO")
        question = "where is the zorblax quarterly grid?"
        assert "ask:secretariat" in (await quiet.say(question))[-1].payloads
        before = len(received(stack, quiet))

        # An example of an existing topic, with an answer in Russian: the Russian is sent.
        body = {"question": asked, "locale": "ru", "topic": "contact"}
        taught = await stack.http.post("/api/knowledge/teach", json=body, headers=editor)
        assert taught.status_code == 200, taught.text
        assert taught.json()["told"] == 1
        contact_ru = taught.json()["answers"]["ru"]
        expected = f"Вы спрашивали: «{asked}»\n\nВот ответ:\n\n{contact_ru}"
        await eventually(lambda: expected in received(stack, asker))

        # Staff who do not want the members told say so.
        body = {"question": question, "locale": "en", "topic": "contact", "tell": False}
        taught = await stack.http.post("/api/knowledge/teach", json=body, headers=editor)
        assert taught.status_code == 200 and taught.json()["told"] == 0
        assert await quiet.replies() == []  # nothing was queued for them
        assert received(stack, quiet)[before:] == []


async def test_outside_the_whatsapp_window_the_notice_goes_first_and_the_answer_when_they_write(
    backend,
):
    async with dashboard(backend, whatsapp_notice_templates=f"ro={NOTICE}") as board:
        stack = board.stack
        address = "whatsapp:+40700000777"
        two_days = timedelta(days=2)
        member = await board.member(
            "RO", channel="whatsapp", address=address, locale="ro", consent_version="1",
            consent_at=utcnow() - two_days, last_inbound_at=utcnow() - two_days,
        )  # fmt: skip
        stack.twilio.received(address, ago=two_days.total_seconds())
        async with stack.service.db.session() as session, session.begin():
            await count_unanswered(session, "ro", QUESTION, "RO", member)
        editor = await token_of(stack, "api-editor@childpact.org", "editor")
        body = {"question": QUESTION, "locale": "ro", "new": {
            "key": "zorblax_grid", "title": "The zorblax grid", "answer": ANSWER_EN,
            "local_answer": ANSWER_RO}}  # fmt: skip
        taught = await stack.http.post("/api/knowledge/teach", json=body, headers=editor)
        assert taught.status_code == 200 and taught.json()["told"] == 1, taught.text

        await eventually(lambda: stack.twilio.to(address))
        [notice] = stack.twilio.to(address)
        assert notice.content_sid == NOTICE and not notice.body  # only the notice went

        async def kept() -> bool:  # the sender records the answer it holds after the notice
            async with stack.service.db.session() as session:
                found = await session.scalar(
                    select(Delivery.id).where(Delivery.address == address,
                                              Delivery.status == "held")
                )  # fmt: skip
                return found is not None

        await eventually(kept)
        await stack.post_whatsapp(From=address, Body="Bună ziua")
        await eventually(lambda: any(m.body == TOLD_RO for m in stack.twilio.to(address)))
