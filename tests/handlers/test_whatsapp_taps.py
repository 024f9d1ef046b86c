"""A WhatsApp member who only taps: quick replies and lists sent through Twilio's Content API,
their taps read back as the same choices as Telegram's buttons, old ones answered as expired."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.i18n import Translator
from bot.messages import InboundMessage
from bot.storage.models import Inbound
from tests.dialog import Member, texts
from tests.handlers.test_menu import contact_of
from tests.harness import running
from tests.surveys.helpers import open_survey, stored_answers

MENU = ["menu:about", "menu:surveys", "menu:settings", "menu:secretariat"]
SURVEY = {
    "title": {"en": "Quick check", "ro": "Verificare rapidă"},
    "closing": {"en": "Thanks, all saved.", "ro": "Mulțumim, totul e salvat."},
    "questions": [
        {"id": "role", "type": "single", "text": {"en": "Your role?", "ro": "Rolul?"},
         "options": [{"id": "lead", "label": {"en": "Lead", "ro": "Conducere"}},
                     {"id": "field", "label": {"en": "Field", "ro": "Teren"}}]},
        {"id": "funded", "type": "yes_no", "text": {"en": "Funded?", "ro": "Finanțat?"}},
        {"id": "often", "type": "single", "text": {"en": "How often do you meet?",
                                                    "ro": "Cât de des vă întâlniți?"},
         "options": [{"id": k, "label": {"en": e, "ro": r}} for k, e, r in [
             ("week", "Every week", "În fiecare săptămână"), ("month", "Every month", "Lunar"),
             ("quarter", "Every three months", "La trei luni"), ("year", "Once a year", "Anual"),
             ("never", "Never", "Niciodată")]]},
    ],
}  # fmt: skip


async def inbound_kinds(stack, member: Member) -> list[str]:
    """What each of the member's messages was, as the webhook read it, in order."""
    async with stack.service.db.session() as session:
        rows = await session.scalars(
            select(Inbound.message)
            .where(Inbound.channel == "whatsapp", Inbound.address == member.address)
            .order_by(Inbound.id)
        )
        return [InboundMessage.from_json(row).kind.value for row in rows]


async def onboard_by_taps(member: Member, locale: str, country: str) -> list:
    await member.say("Salut")  # a first message is typed: nothing to tap yet
    await member.tap("consent:yes")
    await member.tap(f"lang:{locale}")  # thirteen languages: two lists
    await member.tap(f"country:{country}")  # twelve countries: two lists
    return await member.tap("org:skip")


async def test_a_whatsapp_member_onboards_and_uses_the_menu_a_survey_and_settings_by_taps_alone(
    backend,
):
    t = Translator("ro")
    async with running(backend) as stack:
        survey, q = await open_survey(stack.service, SURVEY)
        member = Member(stack, "whatsapp", taps_only=True)
        menu = await onboard_by_taps(member, "ro", "MD")
        assert menu[-1].payloads == MENU
        contact = await contact_of(member)
        assert (contact.status, contact.locale, contact.country) == ("active", "ro", "MD")

        # The menu, a survey
        listed = await member.tap("menu:surveys")
        assert listed[-1].text == t("Which survey would you like to answer?")
        opened = await member.tap(f"survey:{survey}")
        assert opened[0].text.startswith("Verificare rapidă")
        funded = await member.tap(f"sv:a:{q['role']}:1")
        assert funded[-1].options[:2] == [t("Yes"), t("No")]
        often = await member.tap(f"sv:a:{q['funded']}:0")
        assert "Lunar" in often[-1].options  # five options: a list
        closing = await member.tap(f"sv:a:{q['often']}:1")
        assert closing[-1].text == "Mulțumim, totul e salvat."

        # Settings, every one that is a choice: country, topics, time zone (its 27 UTC
        # offsets too: three lists), the news, the language; Back goes to Settings.
        await member.tap("menu:main")
        await member.tap("menu:settings")
        await member.tap("set:country")
        saved = await member.tap("country:RO")
        assert saved[-1].payloads == ["set:back", "menu:main"]
        await member.tap("set:back")
        topics = await member.tap("set:topics")
        switched = await member.tap(topics[-1].payloads[0])
        assert switched[-1].options[0] == "✗" + topics[-1].options[0][1:]  # switched off
        await member.tap("set:back")
        await member.tap("set:timezone")
        await member.tap("tz:other")
        offsets = await member.tap("tz:offsets")
        assert len(offsets[-1].payloads) == 29
        made = {c.sid: c for c in stack.twilio.contents_made}
        lists = [made[m.content_sid] for m in stack.twilio.to(member.address)[-3:]]
        assert [len(c.items) for c in lists] == [10, 10, 9]  # one message: three lists
        zoned = await member.tap("tz:+5")  # on the second list
        assert zoned[-1].payloads == ["set:back", "menu:main"]
        await member.tap("set:back")
        stopped = await member.tap("set:news")
        assert stopped[-1].payloads == ["set:back", "menu:main"]
        settings = await member.tap("set:back")
        assert t("Resume the news") in settings[-1].options
        resumed = await member.tap("set:news")
        assert resumed[-1].payloads == ["set:back", "menu:main"]
        await member.tap("set:back")
        await member.tap("set:language")
        english = await member.tap("lang:en")
        assert english[-1].payloads == ["set:back", "menu:main"]
        await member.tap("set:back")
        await member.tap("set:language")
        await member.tap("lang:ro")
        back = await member.tap("menu:main")
        assert back[-1].payloads == MENU
        contact = await contact_of(member)
        assert (contact.country, contact.time_zone, contact.status, contact.locale) == (
            "RO", "Etc/GMT-5", "active", "ro"
        )
        about = await member.tap("menu:about")  # and the menu's other entry
        answer = await member.tap(about[-1].payloads[0])
        assert answer[-1].payloads[-1] == "menu:main"

        # Nothing was ever offered as numbered text, nor typed: the first hello aside, every
        # message came back as a ButtonPayload or a ListId; Twilio refused no content item.
        sent = stack.twilio.to(member.address)
        assert not any("\n1. " in m.body for m in sent)
        assert stack.twilio.content_refusals == []
        made = [c for c in stack.twilio.contents_made if c.items or c.actions]
        assert made and {c.language for c in made} <= {"ro", "en"}
        kinds = await inbound_kinds(stack, member)
        assert kinds[0] == "text" and set(kinds[1:]) == {"button"} and len(kinds) > 30
    (found,) = await stored_answers(stack.service, survey)
    assert found["answers"] == {"role": "field", "funded": False, "often": "month"}


async def test_whatsapp_buttons_of_an_old_message_have_expired(backend):
    t = Translator("ro")
    async with running(backend) as stack:
        member = Member(stack, "whatsapp", taps_only=True)
        await onboard_by_taps(member, "ro", "RO")
        answer = await member.tap("consent:no", old=True)  # the welcome's, days ago
        assert answer[0].text == t("That choice has expired.")
        assert answer[-1].payloads == MENU
        contact = await contact_of(member)
        assert (contact.status, contact.locale, contact.country) == ("active", "ro", "RO")
        again = await member.tap("org:skip", old=True)
        assert again[0].text == t("That choice has expired.")


@pytest.mark.parametrize(("locale", "country"), [
    ("ro", "RO"), ("ru", "MD"), ("sq", "AL"), ("ka", "GE"), ("hy", "AM"),
])  # fmt: skip
async def test_a_tapped_button_is_read_in_every_language(backend, locale, country):
    t = Translator(locale)
    async with running(backend) as stack:
        member = Member(stack, "whatsapp", taps_only=True)
        menu = await onboard_by_taps(member, locale, country)
        assert menu[-1].payloads == MENU
        settings = await member.tap("menu:settings")
        assert t("Change language") in settings[-1].options
        # What came back was the button's id and its title in the member's language.
        (message, content) = stack.twilio.offered(member.address)  # type: ignore[misc]
        assert content.language == locale
        assert (t("Change country")) in [title for _, title in content.choices()]
        changed = await member.tap("set:language")
        assert texts(changed).endswith(t("Which language do you prefer?"))
    contact = await contact_of(member)
    assert (contact.locale, contact.country) == (locale, country)


TAPPED = {
    "title": {"en": "Quick check", "ru": "Быстрый опрос"},
    "questions": [
        {"id": "topics", "type": "multiple", "text": {"en": "Topics?", "ru": "Темы?"},
         "options": [{"id": k, "label": {"en": e, "ru": r}} for k, e, r in [
             ("care", "Care", "Уход"), ("justice", "Justice", "Правосудие"),
             ("online", "Online", "Онлайн")]]},
        {"id": "useful", "type": "rating5", "text": {"en": "Useful, 1 to 5?",
                                                      "ru": "Полезно, от 1 до 5?"}},
        {"id": "support", "type": "rating10", "text": {"en": "Support, 0 to 10?",
                                                        "ru": "Поддержка, от 0 до 10?"}},
    ],
}  # fmt: skip


async def test_a_whatsapp_member_ticks_several_options_and_rates_by_taps_alone(backend):
    ru = Translator("ru")
    async with running(backend) as stack:
        survey, q = await open_survey(stack.service, TAPPED)
        member = Member(stack, "whatsapp", taps_only=True)
        await onboard_by_taps(member, "ru", "MD")
        await member.tap("menu:surveys")
        topics = await member.tap(f"survey:{survey}")
        # The typed way stays written out; the same options come as a list to tap.
        assert "1. Уход\n2. Правосудие\n3. Онлайн" in topics[-1].text
        assert topics[-1].payloads == [
            *(f"sv:t:{q['topics']}:{i}" for i in range(3)), f"sv:d:{q['topics']}"
        ]
        ticked = await member.tap(f"sv:t:{q['topics']}:0")
        assert "✅ Уход" in ticked[-1].options
        await member.tap(f"sv:t:{q['topics']}:2")
        useful = await member.tap(f"sv:d:{q['topics']}")
        assert useful[-1].options == ["1", "2", "3", "4", "5"]
        support = await member.tap(f"sv:a:{q['useful']}:4")
        # Eleven values: a list of ten, then the last in a second list.
        assert [o for r in support for o in r.options] == [str(n) for n in range(11)]
        assert ru("Reply with a number from {low} to {high}.", low="0", high="10") in support[-1].text
        closing = await member.tap(f"sv:a:{q['support']}:10")
        assert closing[-1].text == ru("Thank you! Your answers are saved.")
        assert not any("\n1. " in m.body and "sv:" in m.body for m in stack.twilio.to(member.address))
    (found,) = await stored_answers(stack.service, survey)
    assert found["answers"] == {"topics": ["care", "online"], "useful": 4, "support": 10}
