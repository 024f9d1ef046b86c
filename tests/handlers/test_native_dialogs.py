"""Conversations that hold up the way members really use them: old buttons tapped again, answers
typed instead of tapped, a language changed half-way, menu entries typed by name, settings that
never leave a dead end; on every channel, in several languages."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.i18n import LANGUAGE_NAMES, Translator
from bot.privacy import consent, export
from bot.storage.models import Contact
from tests.dialog import Member, Reply, texts
from tests.handlers.test_menu import command, contact_of, onboard
from tests.harness import running
from tests.surveys.helpers import open_survey, stored_answers

MENU = ["menu:about", "menu:surveys", "menu:settings", "menu:secretariat"]
DECLINED = (
    "All right. I send you no news and I have forgotten your language, country and "
    "organisation. I keep only this chat's address, our messages and the record of your "
    "answer; write {deleteme} to delete them as well. If you change your mind, write {start}."
)
CHANGED = (
    "Our privacy notice has changed, please read it again. I answer your questions, "
    "bring you the secretariat's news and send short surveys."
)
CODES = {"sq": "355", "az": "994", "sr": "381"}
COUNTRIES_OF = {"373": "MD", "355": "AL", "995": "GE", "374": "AM", "40": "RO", "381": "RS"}


async def from_menu(member: Member, locale: str, *taps: str, country: str = "RO") -> list[Reply]:
    """A new member onboards, opens the menu and taps ``taps`` in turn; the last tap's replies."""
    await onboard(member, locale, country)
    await member.say(command(member, "menu", locale))
    for payload in taps:
        answer = await member.tap(payload)
    return answer


async def consent_events(member: Member) -> list[str]:
    contact = await contact_of(member)
    async with member.stack.service.db.session() as session:
        return [c.event for c in await consent.history(session, [contact.id])]


# ---------------------------------------------------------------- old buttons


@pytest.mark.parametrize(("channel", "locale"), [
    ("telegram", "ro"), ("web", "ro"), ("telegram", "ru"), ("web", "sq"), ("telegram", "hy"),
])  # fmt: skip
async def test_the_old_welcomes_no_thanks_has_expired_and_changes_nothing(backend, channel, locale):
    async with running(backend) as stack:
        member = Member(stack, channel, lang=locale)
        t = Translator(locale)
        await onboard(member, locale, "MD")

        answer = await member.tap("consent:no", old=True)  # scrolled up to the first welcome
        assert answer[0].text == t("That choice has expired.")
        assert answer[-1].payloads == MENU  # and the question that stands now
        contact = await contact_of(member)
        assert (contact.status, contact.locale, contact.country) == ("active", locale, "MD")
        assert await consent_events(member) == ["given"]

        again = await member.tap("org:skip", old=True)  # onboarding's Skip, long answered
        assert again[0].text == t("That choice has expired.")
        assert (await contact_of(member)).status == "active"


@pytest.mark.parametrize(("channel", "locale"), [
    ("telegram", "ro"), ("web", "en"), ("whatsapp", "ru"),
])  # fmt: skip
async def test_a_finished_surveys_button_has_expired_and_changes_no_answer(
    backend, channel, locale
):
    short = {"title": "One", "questions": [{"id": "ok", "type": "yes_no", "text": "OK?"}]}
    async with running(backend) as stack:
        survey, questions = await open_survey(stack.service, short)
        member = Member(stack, channel, lang=locale)
        t = Translator(locale)
        await from_menu(member, locale, "menu:surveys", f"survey:{survey}")
        await member.tap(f"sv:a:{questions['ok']}:1")  # yes
        answer = await member.tap(f"sv:a:{questions['ok']}:0", old=True)  # no, too late
        assert answer[0].text == t("That choice has expired.")
        assert answer[-1].payloads == ["menu:main"]
    (stored,) = await stored_answers(stack.service, survey)
    assert stored["answers"] == {"ok": True}


@pytest.mark.parametrize(("channel", "locale"), [("telegram", "uk"), ("web", "bg")])
async def test_a_deletion_confirmed_long_ago_deletes_nothing(backend, channel, locale):
    async with running(backend) as stack:
        member = Member(stack, channel, lang=locale)
        t = Translator(locale)
        await onboard(member, locale)
        await member.say(command(member, "deleteme", locale))
        await member.tap("erase:no")
        answer = await member.tap("erase:yes", old=True)
        assert answer[0].text == t("That choice has expired.")
        assert (await contact_of(member)).status == "active"


@pytest.mark.parametrize(("channel", "locale"), [
    ("telegram", "ro"), ("whatsapp", "ka"), ("web", "tr"),
])  # fmt: skip
async def test_withdrawing_consent_takes_a_confirmation_and_says_what_is_kept(
    backend, channel, locale
):
    async with running(backend) as stack:
        member = Member(stack, channel, lang=locale, country_code="995")
        t = Translator(locale)
        await onboard(member, locale, "GE")
        stack.service.settings.privacy_version = "2"  # a changed notice, and they say no
        await member.say("hello")
        confirm = await member.tap("consent:no")
        assert confirm[-1].payloads == ["consent:withdraw", "consent:keep"]
        assert (await contact_of(member)).country == "GE"  # nothing lost yet
        back = await member.tap("consent:keep")
        assert back[-1].payloads == ["consent:yes", "consent:no"]

        await member.tap("consent:no")
        done = await member.tap("consent:withdraw")
        said = done[-1].text
        assert said.startswith(t(DECLINED)[:15])
        deleteme = command(member, "deleteme", locale)
        assert deleteme in said  # what is kept, and how to delete it too
        contact = await contact_of(member)
        assert (contact.status, contact.country, contact.locale) == ("declined", None, None)
        assert await consent_events(member) == ["given", "withdrawn"]


@pytest.mark.parametrize(("channel", "locale", "old"), [
    ("telegram", "ro", "consent:yes"), ("whatsapp", "ka", "consent:yes"), ("web", "sq", "consent:no"),
    ("telegram", "ru", "consent:no"), ("whatsapp", "hy", "consent:no"), ("web", "bs", "consent:yes"),
])  # fmt: skip
async def test_a_button_of_an_older_privacy_notice_answers_nothing(backend, channel, locale, old):
    async with running(backend) as stack:
        member = Member(stack, channel, lang=locale, country_code="995")
        t = Translator(locale)
        await onboard(member, locale, "GE")
        stack.service.settings.privacy_version = "2"  # a changed notice, not yet shown to them
        answer = await member.tap(old, old=True)  # under the first notice, scrolled up to
        assert answer[0].text == t("That choice has expired.")
        assert answer[-1].text.startswith(t(CHANGED))  # the notice that stands now
        assert answer[-1].payloads == ["consent:yes", "consent:no"]
        contact = await contact_of(member)
        assert (contact.status, contact.consent_version, contact.country) == ("active", "1", "GE")
        assert await consent_events(member) == ["given"]  # agreed to nothing unseen
        agreed = await member.tap("consent:yes")  # under the notice they have now read
        assert agreed[-1].payloads == MENU
        assert (await contact_of(member)).consent_version == "2"
        assert await consent_events(member) == ["given", "given"]


@pytest.mark.parametrize(("channel", "locale"), [
    ("telegram", "ru"), ("whatsapp", "ro"), ("web", "hy"),
])  # fmt: skip
async def test_after_withdrawing_only_what_the_text_names_is_kept(backend, channel, locale):
    async with running(backend) as stack:
        survey, q = await open_survey(stack.service, TYPED)
        member = Member(stack, channel, lang=locale, country_code="40")
        await onboard(member, locale, "GE")
        await member.say(command(member, "menu", locale))  # a time zone, a topic, a survey
        await member.tap("menu:settings")
        await member.tap("set:timezone")
        await member.tap("tz:other")
        await member.tap("tz:Europe/Istanbul")
        await member.tap("set:back")
        topics = await member.tap("set:topics")
        await member.tap(topics[-1].payloads[0])
        await member.tap("menu:main")
        await member.tap("menu:surveys")
        await member.tap(f"survey:{survey}")
        await member.tap(f"sv:a:{q['coming']}:0")
        await member.tap(f"sv:a:{q['funded']}:1")
        stack.service.settings.privacy_version = "2"
        await member.say("hello")
        await member.tap("consent:no")
        done = await member.tap("consent:withdraw")
        assert done[-1].text.startswith(Translator(locale)(DECLINED)[:15])
        contact = await contact_of(member)
        async with stack.service.db.session() as session:
            kept = {s.name: s.rows for s in await export.collect(session, [contact.id])}
        # "I keep only this chat's address, our messages and the record of your answer"
        assert {name for name, rows in kept.items() if rows} == {"profile", "consents", "messages"}
        (profile,) = kept["profile"]
        assert [k for k in ("language", "country", "organisation", "time_zone") if profile[k]] == []
    (answered,) = await stored_answers(stack.service, survey)  # in the results, without them
    assert answered["answers"] == {"coming": "yes", "funded": True}


# ---------------------------------------------------------------- typed answers


@pytest.mark.parametrize(("channel", "locale", "code", "yes", "language", "country", "skip"), [
    ("whatsapp", "ro", "373", "da", "română", "Moldova", "omiteti"),
    ("web", "sq", "355", "po", "shqip", "Albania", "Kapërce"),
    ("telegram", "ru", "373", "да", "русский", "Молдова", "пропустить"),
    ("whatsapp", "ka", "995", "ok", "ქართული", "Georgia", "გამოტოვება"),
    ("web", "hy", "374", "👍", "Armenian", "Армения", "-"),
    ("whatsapp", "sr", "381", "да", "srpski", "Serbia", "прескочи"),
    ("whatsapp", "sq", "355", "ok", "albanian", "Shqiperia", "N/A"),
    ("whatsapp", "hy", "374", "ha", "armenian", "Armenia", "բաց թողնել"),
    ("web", "bg", "40", "да", "български", "Румъния", "пропусни"),
    ("web", "bs", "381", "da", "bosanski", "Srbija", "preskoci"),
    ("web", "az", "374", "bəli", "azerbaijani", "Ermenistan", "keç"),
    ("telegram", "ro", "373", "Da, sunt de acord", "romana", "moldova", "sari peste"),
    ("telegram", "uk", "355", "ага", "Ukrainian", "Албанія", "далі"),
    ("telegram", "hy", "374", "այո", "հայերեն", "Հայաստան", "բաց թողնել"),
    ("telegram", "en", "40", "yes", "english", "Romania", "none"),
])  # fmt: skip
async def test_typed_answers_are_read_at_every_onboarding_question(
    backend, channel, locale, code, yes, language, country, skip
):
    async with running(backend) as stack:
        member = Member(stack, channel, lang=locale, country_code=code)
        t = Translator(locale)
        await member.say("hello")
        wrong = await member.say("what is this?")  # not an answer: told so, asked again, short
        assert wrong[0].text == t("Sorry, I did not understand. Please choose one of the options.")
        assert wrong[-1].payloads == ["consent:yes", "consent:no"]

        languages = await member.say(yes)
        assert languages[-1].payloads[0].startswith("lang:")
        countries = await member.say(language)
        assert countries[-1].text == t("Which country do you work in?")
        retry = await member.say("Atlantis")
        assert retry[0].text == t("Sorry, I did not understand. Please choose one of the options.")
        assert retry[-1].payloads == countries[-1].payloads  # the options again
        organisation = await member.say(country)
        assert organisation[-1].payloads == ["org:skip"]
        done = await member.say(skip)
        assert done[-1].payloads == MENU
        contact = await contact_of(member)
        assert contact.locale == locale and contact.country == COUNTRIES_OF[code]
        assert contact.organisation is None  # the Skip word is never kept as a name


@pytest.mark.parametrize(("channel", "locale", "typed", "payload"), [
    ("telegram", "sq", "Serbia", "country:RS"),
    ("whatsapp", "ro", "bosnia", "country:BA"),
    ("web", "en", "Kosovo", "country:XK"),
])  # fmt: skip
async def test_settings_read_country_names_too(backend, channel, locale, typed, payload):
    async with running(backend) as stack:
        member = Member(stack, channel, lang=locale)
        t = Translator(locale)
        await from_menu(member, locale, "menu:settings", "set:country")
        saved = await member.say(typed)
        code = payload.partition(":")[2]
        assert saved[-1].text == t("Saved: {value}.", value=t.country_name(code))
        assert saved[-1].payloads == ["set:back", "menu:main"]  # the next useful buttons
        assert (await contact_of(member)).country == code


@pytest.mark.parametrize(("channel", "locale", "typed", "then"), [
    ("telegram", "ro", "english", "en"), ("whatsapp", "ru", "romana", "ro"),
    ("web", "sq", "Русский", "ru"), ("whatsapp", "ka", "Armenian", "hy"),
    ("telegram", "hy", "georgian", "ka"), ("web", "uk", "türkçe", "tr"),
])  # fmt: skip
async def test_settings_read_a_language_by_its_name(backend, channel, locale, typed, then):
    async with running(backend) as stack:
        member = Member(stack, channel, lang=locale)
        await from_menu(member, locale, "menu:settings", "set:language")
        done = await member.say(typed)  # not "type 'language'": the language itself
        t = Translator(then)
        assert done[-1].text == t("Done, I will write to you in {language}.",
                                  language=LANGUAGE_NAMES[then])  # fmt: skip
        assert done[-1].payloads == ["set:back", "menu:main"]
        assert (await contact_of(member)).locale == then


TYPED = {
    "title": {"en": "Assembly", "ro": "Adunarea", "ru": "Собрание"},
    "questions": [
        {"id": "coming", "type": "single",
         "text": {"en": "Are you coming?", "ro": "Veniți?", "ru": "Вы придёте?"},
         "options": [{"id": k, "label": {"en": e, "ro": r, "ru": u}} for k, e, r, u in [
             ("yes", "Yes, we take part", "Da, participăm", "Да, участвуем"),
             ("unsure", "We do not know yet", "Încă nu știm", "Пока не знаем"),
             ("no", "No, not this time", "Nu de data asta", "Нет, не в этот раз")]]},
        {"id": "funded", "type": "yes_no",
         "text": {"en": "Funded?", "ro": "Finanțat?", "ru": "Есть финансирование?"}},
    ],
}  # fmt: skip


@pytest.mark.parametrize(("channel", "locale", "option", "yes"), [
    ("web", "ro", "nu stim inca", "da"), ("whatsapp", "ru", "не знаем", "да"),
    ("telegram", "en", "not know yet", "yes"), ("telegram", "ro", "NU STIM", "ok"),
    ("whatsapp", "en", "know yet", "yep"), ("web", "ru", "poka ne znaem", "👍"),
])  # fmt: skip
async def test_survey_answers_are_read_by_their_words(backend, channel, locale, option, yes):
    async with running(backend) as stack:
        survey, _ = await open_survey(stack.service, TYPED)
        member = Member(stack, channel, lang=locale)
        await from_menu(member, locale, "menu:surveys", f"survey:{survey}")
        funded = await member.say(option)  # the option's words, shortened, any order
        assert funded[-1].text.startswith(TYPED["questions"][1]["text"][locale])
        await member.say(yes)
    (stored,) = await stored_answers(stack.service, survey)
    assert stored["answers"] == {"coming": "unsure", "funded": True}


# ---------------------------------------------------------------- detours


@pytest.mark.parametrize(("channel", "first", "then"), [
    ("telegram", "sq", "en"), ("whatsapp", "ro", "ru"), ("web", "ka", "hy"),
    ("whatsapp", "tr", "az"), ("web", "bs", "sr_Latn"),
])  # fmt: skip
async def test_changing_language_mid_onboarding_goes_on_where_it_was(backend, channel, first, then):
    async with running(backend) as stack:
        member = Member(stack, channel, lang=first)
        await member.say("hello")
        await member.tap("consent:yes")
        await member.tap(f"lang:{first}")  # the wrong language, by mistake
        picker = await member.say(command(member, "language", first))
        assert picker[-1].payloads[0].startswith("lang:")
        countries = await member.tap(f"lang:{then}")
        t = Translator(then)
        assert countries[-1].text == t("Which country do you work in?")  # not the end
        organisation = await member.tap("country:AM")
        assert organisation[-1].payloads == ["org:skip"]
        # Again, at the organisation question: it is asked again in the new language.
        await member.say(command(member, "language", then))
        asked = await member.tap(f"lang:{first}")
        assert asked[-1].payloads == ["org:skip"]
        assert asked[-1].text == Translator(first)(
            "Which organisation do you work for? Type its name, or choose Skip."
        )
        done = await member.say("Hope and Homes for Children")
        assert done[-1].payloads == MENU
        contact = await contact_of(member)
        assert (contact.locale, contact.country, contact.organisation) == (
            first,
            "AM",
            "Hope and Homes for Children",
        )


@pytest.mark.parametrize(("channel", "locale"), [
    ("telegram", "ro"), ("whatsapp", "ru"), ("web", "uk"),
])  # fmt: skip
async def test_settings_answers_lead_on_and_back_goes_one_step(backend, channel, locale):
    async with running(backend) as stack:
        member = Member(stack, channel, lang=locale)
        t = Translator(locale)
        topics = await from_menu(member, locale, "menu:settings", "set:topics", country="MD")
        assert topics[-1].payloads[-2:] == ["set:back", "menu:main"]
        settings = await member.tap("set:back")  # Back from Topics: Settings, not the menu
        assert "set:topics" in settings[-1].payloads

        await member.tap("set:organisation")
        named = await member.say("Partnerships for Every Child")
        assert named[-1].text == t("Saved: {value}.", value="Partnerships for Every Child")
        assert named[-1].payloads == ["set:back", "menu:main"]

        await member.tap("set:back")
        stopped = await member.tap("set:news")
        assert stopped[-1].payloads == ["set:back", "menu:main"]
        await member.tap("set:back")
        resumed = await member.tap("set:news")
        assert resumed[-1].text == t("Welcome back! You will receive ChildPact news again.")
        assert resumed[-1].payloads == ["set:back", "menu:main"]
        await member.tap("set:back")
        await member.tap("set:timezone")
        others = await member.tap("tz:other")
        assert t("Type the name of a city near you, or choose a time zone:") in others[-1].text
        assert len(others[-1].payloads) <= 14  # not a wall of 28 offsets
        found = await member.say("Berlin")
        assert found[-1].payloads == ["set:back", "menu:main"]
        assert (await contact_of(member)).time_zone == "Europe/Berlin"


@pytest.mark.parametrize("locale", ["ro", "ru", "ka", "hy", "sq"])
async def test_the_web_chats_new_conversation_keeps_the_member(backend, locale):
    """The page's "Start a new conversation" (after its question, which says what is kept:
    tests/webhook/chat/test_chat_page.py) keeps the session and sends /start, as
    webhook/static/chat.js does: the same member is greeted back, nothing lost."""
    async with running(backend) as stack:
        member = Member(stack, "web", lang=locale)
        t = Translator(locale)
        await onboard(member, locale, "AM")
        await member.say("Hope and Homes for Children")  # typed at the menu: a question
        before = await contact_of(member)

        greeted = await member.say("/start")  # the page's restart, on the same session
        assert greeted[-1].text == t("Hello again!") + " " + t("What would you like to do?")
        assert greeted[-1].payloads == MENU
        after = await contact_of(member)
        assert after.id == before.id
        assert (after.status, after.locale, after.country) == ("active", locale, "AM")
        async with stack.service.db.session() as session:
            chats = await session.scalar(
                select(func.count()).select_from(Contact).where(Contact.channel == "web")
            )
        assert chats == 1  # no second member made


# ---------------------------------------------------------------- menu names


@pytest.mark.parametrize(("channel", "locale", "typed", "shows"), [
    ("web", "ro", "setări", "set:topics"),
    ("whatsapp", "ru", "настройки", "set:topics"),
    ("telegram", "ro", "Sondaje", "menu:main"),
    ("web", "en", "I want to talk to someone at the secretariat", "handoff:menu"),
    ("whatsapp", "ka", "პარამეტრები", "set:topics"),
    ("telegram", "hy", "Կարգավորումներ", "set:topics"),
])  # fmt: skip
async def test_a_menu_entry_typed_by_name_opens_it(backend, channel, locale, typed, shows):
    async with running(backend) as stack:
        member = Member(stack, channel, lang=locale)
        await onboard(member, locale)
        opened = await member.say(typed)
        assert shows in opened[-1].payloads, texts(opened)


@pytest.mark.parametrize(("channel", "locale"), [
    ("whatsapp", "sq"), ("telegram", "az"), ("web", "sr"),
])  # fmt: skip
async def test_help_and_menu_work_in_the_middle_of_onboarding(backend, channel, locale):
    async with running(backend) as stack:
        member = Member(stack, channel, lang=locale, country_code=CODES[locale])
        t = Translator(locale)
        await member.say("hello")
        helped = await member.say(command(member, "help", locale))  # before agreeing, too
        assert command(member, "menu", locale) in helped[0].text
        languages = await member.say("ok")  # the notice still waits for its answer
        assert languages[-1].payloads[0].startswith("lang:")
        await member.tap(f"lang:{locale}")
        menu = await member.say(command(member, "menu", locale))
        assert menu[-1].payloads == MENU
        assert t("What would you like to do?") in menu[-1].text


@pytest.mark.parametrize(("channel", "locale"), [
    ("whatsapp", "ro"), ("telegram", "ru"), ("web", "en"),
])  # fmt: skip
async def test_help_and_menu_work_in_the_middle_of_a_survey(backend, channel, locale):
    async with running(backend) as stack:
        survey, _ = await open_survey(stack.service, TYPED)
        member = Member(stack, channel, lang=locale)
        t = Translator(locale)
        await from_menu(member, locale, "menu:surveys", f"survey:{survey}")
        helped = await member.say(command(member, "help", locale))
        assert command(member, "menu", locale) in helped[0].text
        assert helped[-1].payloads[-1] == "menu:main"
        menu = await member.say(command(member, "menu", locale))
        assert menu[-1].payloads == MENU
        assert t("What would you like to do?") in menu[-1].text
