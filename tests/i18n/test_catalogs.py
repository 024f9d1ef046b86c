"""The catalogs: complete, unfuzzy, placeholders intact, compiling, and really loaded."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.conversation.commands import COMMAND_WORDS, COMMANDS, recognise, words_in
from bot.i18n import (
    DASHBOARD_DOMAIN,
    LOCALES,
    Translator,
    catalogs,
    fold,
    load_translations,
    normalize_locale,
    resolve_locale,
)


def test_every_catalog_is_complete_and_compiles():
    problems = catalogs.check()
    assert not problems, "\n".join(str(p) for p in problems)


def test_the_check_catches_a_missing_fuzzy_or_broken_entry(tmp_path, monkeypatch):
    import shutil

    copy = tmp_path / "locales"
    shutil.copytree(catalogs.LOCALES_DIR, copy)
    po = copy / "ro" / "LC_MESSAGES" / "messages.po"
    text = po.read_text(encoding="utf-8")
    lines = text.split("\n")
    at = next(
        i for i, line in enumerate(lines) if line.startswith("msgstr") and "{language}" in line
    )
    lines[at] = lines[at].replace(
        "{language}", "{limba}"
    )  # a translator "translated" a placeholder
    text = "\n".join(lines)
    text = text.replace('msgid "Okay, cancelled."', '#, fuzzy\nmsgid "Okay, cancelled."', 1)
    po.write_text(text, encoding="utf-8")
    (copy / "uk" / "LC_MESSAGES" / "messages.po").unlink()
    monkeypatch.setattr(catalogs, "LOCALES_DIR", copy)
    found = {(p.locale, p.what) for p in catalogs.check()}
    assert ("ro", "placeholders differ from the English text") in found
    assert ("ro", "fuzzy") in found
    assert ("uk", "catalog missing") in found


@pytest.mark.parametrize("locale", [loc for loc in LOCALES if loc != "en"])
def test_each_catalog_is_really_used(locale):
    # Babel falls back to English silently when a catalog does not load: prove it loads.
    t = Translator(locale)
    assert t("Which language do you prefer?") != "Which language do you prefer?"
    assert load_translations(locale).ugettext("Settings") != "Settings"


def test_serbian_cyrillic_and_latin_are_different_catalogs():
    assert Translator("sr")("Send") != Translator("sr_Latn")("Send")
    assert any("\u0400" <= c <= "\u04ff" for c in Translator("sr")("Send"))
    assert all(not ("\u0400" <= c <= "\u04ff") for c in Translator("sr_Latn")("Send"))


def test_no_command_word_means_two_things_in_any_language():
    owners: dict[str, set[str]] = {}
    for locale in LOCALES:
        t = Translator(locale)
        for command in COMMANDS:
            for word in words_in(t, command):
                owners.setdefault(fold(word), set()).add(command)
    clashes = {word: cmds for word, cmds in owners.items() if len(cmds) > 1}
    assert not clashes


def test_command_words_are_recognised_with_case_accents_and_slashes():
    assert recognise("/stop") == "stop"
    assert recognise("/start@ChildPactBot payload") == "start"
    assert recognise("STOP") == "stop"
    assert recognise("  Стоп ") == "stop"
    assert recognise("anuleaza") == recognise("anulează") == "cancel"
    assert recognise("stop sending me the newsletter about the general assembly please") is None
    assert recognise("/unknown") is None
    assert set(COMMAND_WORDS) == set(COMMANDS)


@pytest.mark.parametrize(
    ("tag", "locale"),
    [("sr-Latn", "sr_Latn"), ("sr-Latn-RS", "sr_Latn"), ("sr_RS", "sr"), ("sr", "sr"),
     ("ro-MD", "ro"), ("me", "sr_Latn"), ("cnr", "sr_Latn"), ("pt-br", None), ("UK", "uk"),
     ("en-US", "en"), ("", None), (None, None)],
)  # fmt: skip
def test_platform_language_tags_are_mapped(tag, locale):
    assert normalize_locale(tag) == locale


def test_the_locale_chain():
    assert resolve_locale("ka", "ru", "MD") == "ka"  # the member's choice first
    assert resolve_locale(None, "ru-RU", "MD") == "ru"  # then the platform's hint
    assert resolve_locale(None, "pt-br", "MD") == "ro"  # then their country's language
    assert resolve_locale(None, None, "XK") == "sq"
    assert resolve_locale(None, None, None) == "en"  # then English


def test_plural_forms_follow_each_language():
    ru = Translator("ru")
    one, few, many = (
        ru.ngettext("That is too long. Please keep it to {n} character.",
                    "That is too long. Please keep it to {n} characters.", n)
        for n in (21, 3, 200)
    )  # fmt: skip
    assert (
        len({one.split()[-1], few.split()[-1], many.split()[-1]}) == 3
    )  # символ, символа, символов


def test_numbers_and_dates_in_the_members_locale():
    assert Translator("ru").number(1234.5) == "1\xa0234,5"
    assert Translator("en").number(1234.5) == "1,234.5"
    assert Translator("ro").date(date(2026, 3, 1)) != Translator("en").date(date(2026, 3, 1))
    evening = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    assert "00:00" in Translator("ka", "Asia/Tbilisi").datetime(evening)  # already 2 March there
    assert "22:00" in Translator("ro", "Europe/Bucharest").datetime(evening)


def test_the_dashboard_catalogs_are_complete_in_english_romanian_and_russian_and_compile():
    from bot.i18n import admin as admin_catalog

    template = admin_catalog.extract()
    assert len(template) > 150  # the pages' texts were found, templates included
    problems = admin_catalog.check(template)
    assert not problems, "\n".join(str(p) for p in problems)
    for locale in ("ro", "ru"):
        texts = load_translations(locale, domain=DASHBOARD_DOMAIN)
        assert texts.ugettext("Sign in to the dashboard") != "Sign in to the dashboard"
        assert texts.upgettext("inbox tab", "Open") != texts.ugettext("Open")


def test_the_dashboard_catalog_check_catches_what_is_missing(tmp_path):
    import shutil

    from bot.i18n import admin as admin_catalog

    copy = tmp_path / "locales"
    for locale in ("en", "ro", "ru"):
        shutil.copytree(admin_catalog.po_path(locale).parent, copy / locale / "LC_MESSAGES")
    po = admin_catalog.po_path("ru", copy)
    text = po.read_text(encoding="utf-8").replace("Участник № {id}", "Участник № {номер}")
    text = text.replace('msgid "Overview"', '#, fuzzy\nmsgid "Overview"', 1)
    po.write_text(text, encoding="utf-8")
    admin_catalog.po_path("ro", copy).unlink()
    found = {(p.locale, p.what) for p in admin_catalog.check(directory=copy)}
    assert ("ru", "placeholders differ from the English text") in found
    assert ("ru", "fuzzy") in found
    assert ("ro", "catalog missing") in found


def test_no_dashboard_text_leaks_into_the_members_catalogs():
    # The member catalogs' extractor reads webhook/ too: the dashboard marks its texts with N_.
    from bot.i18n import admin as admin_catalog

    member_texts = {m.id for m in catalogs.extract() if m.id}
    assert not member_texts & {"Sign in to the dashboard", "Administrator", "Audit log"}
    assert admin_catalog.extract()
