"""A member with linked chats answers a survey once: begun on Telegram, it continues on
WhatsApp where it stopped, and once finished neither chat starts a second response."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from bot.conversation.commands import words_in
from bot.i18n import Translator
from bot.storage.models import SurveyResponse
from tests.dialog import Member, texts
from tests.handlers.test_menu import onboard
from tests.harness import running
from tests.surveys.helpers import open_survey

TWO_QUESTIONS = {
    "base_locale": "en",
    "title": {"en": "Two questions", "ro": "Două întrebări"},
    "questions": [
        {"id": "role", "type": "single", "text": {"en": "Your role?", "ro": "Rolul?"},
         "options": [{"id": "lead", "label": {"en": "Lead", "ro": "Conducere"}},
                     {"id": "field", "label": {"en": "Field", "ro": "Teren"}}]},
        {"id": "funded", "type": "yes_no", "text": {"en": "Funded?", "ro": "Finanțat?"}},
    ],
}  # fmt: skip


async def test_a_survey_begun_on_telegram_continues_on_whatsapp_and_is_answered_once(backend):
    async with running(backend) as stack:
        survey, q = await open_survey(stack.service, TWO_QUESTIONS)
        tg, wa = Member(stack, "telegram", lang="ro"), Member(stack, "whatsapp")
        await onboard(tg, "ro", "MD")
        await onboard(wa, "ro", "MD")
        ro = Translator("ro")
        offered = await wa.say(words_in(ro, "link")[0])
        code = re.search(r"\b(\d{6})\b", texts(offered))
        assert code
        await tg.say(f"/link {code.group(1)}")
        await wa.replies()

        await tg.say("/menu")
        await tg.tap("menu:surveys")
        await tg.tap(f"survey:{survey}")
        await tg.tap(f"sv:a:{q['role']}:1")

        await wa.say(words_in(ro, "menu")[0])
        listed = await wa.tap("menu:surveys")
        assert ro("{title} (continue)", title="Două întrebări") in listed[-1].options
        resumed = await wa.tap(f"survey:{survey}")
        assert resumed[0].text == ro("Welcome back! Let us continue where you left off.")
        assert resumed[-1].text.startswith("Finanțat?")
        await wa.say("1")  # yes

        await tg.say("/menu")
        await tg.tap("menu:surveys")
        assert texts(tg.last) == ro(
            "There are no surveys for you right now. We will tell you when there is one."
        )
        async with stack.service.db.session() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(SurveyResponse)
                .where(SurveyResponse.survey_id == survey)
            )
            status = await session.scalar(
                select(SurveyResponse.status).where(SurveyResponse.survey_id == survey)
            )
        assert count == 1 and status == "finished"
