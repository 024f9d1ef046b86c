"""Reading a typed answer to the options a member was offered, in any language."""

from __future__ import annotations

import pytest

from bot.conversation.choosing import entry, read
from bot.countries import MEMBER_COUNTRIES
from bot.i18n import LANGUAGE_NAMES, LOCALES, Translator


def countries(locale: str) -> list[str]:
    t = Translator(locale)
    kept = [entry(f"country:{c}", t.country_name(c)) for c in MEMBER_COUNTRIES]
    return [*kept, entry("country:OTHER", t("Another country"))]


LANGUAGES = [entry(f"lang:{c}", LANGUAGE_NAMES[c]) for c in LOCALES]


@pytest.mark.parametrize("locale", ["ro", "sq", "ru", "ka", "hy"])
@pytest.mark.parametrize(("typed", "code"), [
    ("Moldova", "MD"), ("serbia", "RS"), ("Bosnia", "BA"), ("AL", "AL"), ("kosovo", "XK"),
    ("România", "RO"), ("Грузия", "GE"), ("Sakartvelo", "GE"), ("3", "AZ"),
    ("Shqipëria", "AL"), ("shqiperia", "AL"), ("Moldovan", "MD"),
])  # fmt: skip
def test_a_country_by_its_short_or_long_name_in_any_language(locale, typed, code):
    assert read(typed, countries(locale)) == f"country:{code}"


@pytest.mark.parametrize(("typed", "code"), [
    ("English", "en"), ("romanian", "ro"), ("русский", "ru"), ("Armenian", "hy"),
    ("georgian", "ka"), ("Albanian", "sq"), ("türkçe", "tr"), ("Serbian", "sr"),
])  # fmt: skip
def test_a_language_by_its_name_in_any_language(typed, code):
    assert read(typed, LANGUAGES) == f"lang:{code}"


def test_words_in_another_order_a_part_of_a_label_or_nothing_at_all():
    kept = [entry("x:unsure", "Încă nu știm"), entry("x:yes", "Da, participăm")]
    assert read("nu stim inca", kept) == "x:unsure"
    assert read("particip", kept) == "x:yes"
    assert read("nu", kept) is None  # two letters are a yes or no word, not a label
    assert read("9", kept) is None and read("", kept) is None
    assert read("What does the coalition do in Moldova this year?", countries("en")) is None
    both = [entry("a:1", "Child protection"), entry("a:2", "Child participation")]
    assert read("child", both) is None  # names two options: asked again


@pytest.mark.parametrize(("typed", "command"), [
    ("setări", "settings"), ("setari", "settings"), ("настройки", "settings"),
    ("Sondaje", "surveys"), ("Chestionare", "surveys"), ("опросы", "surveys"),
    ("Cilësimet", "settings"), ("პარამეტრები", "settings"), ("/settings", "settings"),
    ("talk to a person", "secretariat"), ("хочу поговорить с человеком", "secretariat"),
    ("vreau sa vorbesc cu un om", "secretariat"),
    ("I want to talk to someone at the secretariat, please", "secretariat"),
    ("Despre ChildPact", "about"),
])  # fmt: skip
def test_menu_entries_and_asking_for_a_person_are_commands_in_any_language(typed, command):
    from bot.conversation.commands import recognise

    assert recognise(typed) == command


def test_a_question_that_names_a_menu_word_is_still_a_question():
    from bot.conversation.commands import recognise

    assert recognise("How do I change my settings for the news about surveys?") is None
