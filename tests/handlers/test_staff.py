"""The secretariat in the bot: a staff member links their Telegram chat with a one-time code
and composes a broadcast step by step, which then reaches members in their languages."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert

from bot import broadcasts
from bot.broadcasts import Preview
from bot.secretariat import accounts
from bot.secretariat.staff import Staff
from bot.secretariat.staff_chat import telegram_link_code
from bot.storage.models import Contact
from tests.conftest import Backend
from tests.dialog import Member, texts
from tests.harness import PUBLIC, Stack, eventually, running

PASSWORD = "correct horse battery"


async def account(
    stack: Stack, role: str = "editor", country: str | None = None
) -> tuple[Staff, str]:
    async with stack.service.db.session() as session, session.begin():
        user = await accounts.create_account(
            session, f"{role}{country or ''}@childpact.org", role, password=PASSWORD,
            name="Elena", country=country,
        )  # fmt: skip
        person = Staff.of(user)
        code, _until = await telegram_link_code(session, person)
    return person, code


async def members(stack: Stack) -> None:
    async with stack.service.db.session() as session, session.begin():
        await session.execute(
            insert(Contact),
            [
                {"channel": "telegram", "address": address, "status": "active", "locale": locale,
                 "country": country, "flow_data": {}, "choices": []}
                for address, locale, country in (
                    ("31001", "ro", "MD"), ("31002", "ru", "MD"), ("31003", "ka", "GE"),
                )
            ],
        )  # fmt: skip


async def test_a_linked_editor_composes_and_sends_a_broadcast_from_telegram(
    backend: Backend,
) -> None:
    async with running(backend) as stack:
        await members(stack)
        _person, code = await account(stack)
        elena = Member(stack, "telegram", lang="en")

        linked = await elena.say(f"/staff {code}")
        assert "now linked" in texts(linked)
        again = await elena.say(f"/staff {code}")  # the code worked once
        assert "now linked" not in texts(again)

        asked = await elena.say("/news")
        assert "Write the news in English" in texts(asked)
        menu = await elena.say("The General Assembly meets on 12 May.")
        assert "English" in texts(menu)
        await elena.tap("staffnews:translate")
        prompt = await elena.tap("staffnews:lang:ro")
        assert "Write the text in Romanian" in texts(prompt)
        await elena.say("Adunarea Generală are loc pe 12 mai.")
        await elena.tap("staffnews:audience")
        ticked = await elena.tap("staffnews:country:MD")
        assert any("✓" in label and "Moldova" in label for r in ticked for label in r.options)
        await elena.tap("staffnews:menu")
        preview = await elena.tap("staffnews:preview")
        assert "2 members will get it" in texts(preview)
        sending = await elena.tap("staffnews:send")
        assert "Sending to 2 members" in texts(sending)

        await eventually(lambda: {"31001", "31002"} <= {m.chat_id for m in stack.telegram.messages})
        got = {m.chat_id: m.text for m in stack.telegram.messages if m.chat_id.startswith("310")}
        assert got == {
            "31001": "Adunarea Generală are loc pe 12 mai.",
            "31002": "Adunarea Generală are loc pe 12 mai.",  # Russian not written: Moldova's
        }

        # The "Sending…" message keeps up with the broadcast until it is finished.
        def edits() -> list[str]:
            return [
                m.text or "" for m in stack.telegram.messages_to(elena.address)
                if m.method == "editMessageText"
            ]  # fmt: skip

        await eventually(lambda: any("Finished" in e for e in edits()), timeout=60)
        assert "100% done. Sent 2 of 2" in edits()[-1]


async def test_wrong_codes_lock_the_chat_and_strangers_get_the_members_help(
    backend: Backend,
) -> None:
    async with running(backend) as stack:
        _person, code = await account(stack)
        stranger = Member(stack, "telegram", lang="en")
        help_reply = texts(await stranger.say("/news"))
        assert "Write the news" not in help_reply and help_reply
        for guess in ("AAAA2222", "BBBB3333", "CCCC4444", "DDDD5555", "EEEE6666"):
            assert "now linked" not in texts(await stranger.say(f"/staff {guess}"))
        # Five wrong guesses: even the right code no longer works from this chat.
        assert "now linked" not in texts(await stranger.say(f"/staff {code}"))


async def test_a_viewer_cannot_send_and_a_coordinator_sends_to_their_country(
    backend: Backend,
) -> None:
    async with running(backend) as stack:
        await members(stack)
        _viewer, viewer_code = await account(stack, "viewer")
        viewer = Member(stack, "telegram", lang="en")
        await viewer.say(f"/staff {viewer_code}")
        assert "Viewers can read" in texts(await viewer.say("/news"))

        _md, md_code = await account(stack, "editor", "MD")
        maria = Member(stack, "telegram", lang="en")
        await maria.say(f"/staff {md_code}")
        await maria.say("/news")
        await maria.say("Meeting of the Moldovan members on Friday.")
        scoped = await maria.tap("staffnews:audience")
        assert "Moldova" in texts(scoped)
        preview = await maria.tap("staffnews:preview")
        assert "2 members will get it" in texts(preview)


async def answer(stack: Stack, survey_id: int, roles: dict[str, str]) -> None:
    """Members at these addresses answer the first question (who they are) and stop there."""
    from sqlalchemy import select

    from bot import surveys
    from bot.storage.models import Survey

    async with stack.service.db.session() as session, session.begin():
        survey = await session.get(Survey, survey_id)
        questions = await surveys.questions_of(session, survey_id)
        for address, role in roles.items():
            contact = await session.scalar(select(Contact).where(Contact.address == address))
            step = await surveys.begin(session, survey, contact, questions, 1, "telegram")
            await surveys.answer(session, step.response, questions, step.question, role)


async def test_results_come_as_one_chart_per_question_with_the_numbers_in_the_caption(
    backend: Backend,
) -> None:
    from tests.surveys.helpers import open_survey

    async with running(backend) as stack:
        sid, _ids = await open_survey(stack.service)
        theirs, _ = await open_survey(stack.service, country="MD")
        await members(stack)
        await answer(stack, sid, {"31001": "lead", "31002": "field", "31003": "field"})
        member = Member(stack, "telegram", lang="en")
        _viewer, code = await account(stack, "viewer")
        elena = Member(stack, "telegram", lang="en")
        await elena.say(f"/staff {code}")
        assert "/results 12" in texts(await elena.say("/results"))
        assert "/results 12" in texts(await elena.say("/results 999"))

        got = await elena.say(f"/results {sid}")
        assert got[0].text.startswith("Quick check: 3 started, 0 finished.")
        captions = [r.text for r in got[1:]]
        assert len(captions) == 6  # seven questions; the short text has no chart
        assert captions[0].splitlines() == ["Your role?", "Lead: 1 (33%)", "Field: 2 (67%)",
                                            "n = 3 answered, 0 skipped"]  # fmt: skip
        assert all(len(c) < 1024 for c in captions)

        photos = [m for m in stack.telegram.messages_to(elena.address) if m.method == "sendPhoto"]
        assert len(photos) == 6 and photos[0].caption.startswith("Your role?")
        png = await stack.http.get(photos[0].photo.removeprefix(PUBLIC))
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")

        # A Moldovan coordinator sees Moldova's surveys only.
        _md, md_code = await account(stack, "editor", "MD")
        maria = Member(stack, "telegram", lang="en")
        await maria.say(f"/staff {md_code}")
        assert "/results 12" in texts(await maria.say(f"/results {sid}"))
        scoped = await maria.say(f"/results {theirs}")
        assert len(scoped) == 7 and scoped[0].text.startswith("Quick check: 0 started")
        # A member who is not staff gets the members' help.
        assert "Quick check" not in texts(await member.say(f"/results {sid}"))


async def test_the_preview_in_the_chat_estimates_the_time_at_the_operators_telegram_rate(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    previews: list[Preview] = []
    counted = broadcasts.preview

    async def keep(*args: Any, **kwargs: Any) -> Preview:
        previews.append(await counted(*args, **kwargs))
        return previews[-1]

    monkeypatch.setattr(broadcasts, "preview", keep)
    async with running(backend, telegram_rate=3.0) as stack:
        await members(stack)
        _person, code = await account(stack)
        elena = Member(stack, "telegram", lang="en")
        await elena.say(f"/staff {code}")
        await elena.say("/news")
        await elena.say("The General Assembly meets on 12 May.")
        await elena.tap("staffnews:preview")
    seen = previews[-1]
    assert seen.recipients >= 3  # all on Telegram: TELEGRAM_RATE alone sets the pace
    assert seen.estimated_seconds == pytest.approx(seen.recipients / (3.0 * 0.95))
