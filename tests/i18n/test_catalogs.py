"""The catalogs: complete, unfuzzy, placeholders intact, compiling, and really loaded."""

from __future__ import annotations

import shutil
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


@pytest.mark.parametrize("domain", catalogs.DOMAINS, ids=lambda d: d.name)
def test_every_catalog_is_complete_and_compiles(domain):
    problems = catalogs.check(domain)
    assert not problems, "\n".join(str(p) for p in problems)


def _copy_of_the_locales(tmp_path):
    copy = tmp_path / "locales"
    shutil.copytree(catalogs.LOCALES_DIR, copy)
    return copy


def _without_entry(text: str, msgid: str) -> str:
    """The catalog's text with one entry (its msgid and msgstr lines) taken out."""
    start = text.index(f'\nmsgid "{msgid}"\n')
    end = text.index("\n\n", start + 1)
    return text[:start] + text[end:]


def test_the_check_catches_a_missing_fuzzy_or_broken_entry(tmp_path):
    copy = _copy_of_the_locales(tmp_path)
    po = catalogs.po_path(catalogs.MEMBERS, "ro", copy)
    text = po.read_text(encoding="utf-8")
    lines = text.split("\n")
    at = next(
        i for i, line in enumerate(lines) if line.startswith("msgstr") and "{language}" in line
    )
    lines[at] = lines[at].replace("{language}", "{limba}")  # a translator "translated" it
    text = "\n".join(lines)
    text = text.replace('msgid "Okay, cancelled."', '#, fuzzy\nmsgid "Okay, cancelled."', 1)
    po.write_text(_without_entry(text, "Settings"), encoding="utf-8")
    catalogs.po_path(catalogs.MEMBERS, "uk", copy).unlink()
    found = {(p.locale, p.what, p.msgid) for p in catalogs.check(catalogs.MEMBERS, directory=copy)}
    assert ("ro", "missing", "Settings") in found
    assert ("ro", "fuzzy", "Okay, cancelled.") in found
    assert ("uk", "catalog missing", "") in found
    assert ("ro", "placeholders differ from the English text") in {(p[0], p[1]) for p in found}


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


def test_the_dashboard_catalogs_are_really_used():
    template = catalogs.extract(catalogs.DASHBOARD)
    assert len(template) > 150  # the pages' texts were found, templates included
    for locale in ("ro", "ru"):
        texts = load_translations(locale, domain=DASHBOARD_DOMAIN)
        assert texts.ugettext("Sign in to the dashboard") != "Sign in to the dashboard"
        assert texts.upgettext("inbox tab", "Open") != texts.ugettext("Open")


def test_the_dashboard_catalog_check_catches_what_is_missing(tmp_path):
    copy = _copy_of_the_locales(tmp_path)
    po = catalogs.po_path(catalogs.DASHBOARD, "ru", copy)
    text = po.read_text(encoding="utf-8").replace("Участник № {id}", "Участник № {номер}")
    text = text.replace('msgid "Overview"', '#, fuzzy\nmsgid "Overview"', 1)
    po.write_text(_without_entry(text, "Audit log"), encoding="utf-8")
    catalogs.po_path(catalogs.DASHBOARD, "ro", copy).unlink()
    found = {(p.locale, p.what) for p in catalogs.check(catalogs.DASHBOARD, directory=copy)}
    assert ("ru", "placeholders differ from the English text") in found
    assert ("ru", "fuzzy") in found
    assert ("ru", "missing") in found
    assert ("ro", "catalog missing") in found


def test_the_catalogs_command_checks_both_domains(tmp_path):
    # `childpact catalogs check` (and so `make test`) fails on a gap in either domain.
    copy = _copy_of_the_locales(tmp_path)
    assert not catalogs.check_all(copy)
    member_po = catalogs.po_path(catalogs.MEMBERS, "ka", copy)
    member_po.write_text(_without_entry(member_po.read_text("utf-8"), "Settings"), "utf-8")
    dashboard_po = catalogs.po_path(catalogs.DASHBOARD, "ro", copy)
    dashboard_po.write_text(_without_entry(dashboard_po.read_text("utf-8"), "Audit log"), "utf-8")
    found = {(p.domain, p.locale, p.msgid, p.what) for p in catalogs.check_all(copy)}
    assert found == {
        ("messages", "ka", "Settings", "missing"),
        ("admin", "ro", "Audit log", "missing"),
    }


def test_each_domain_keeps_its_own_texts():
    # Both read the same Python folders; the marks decide: N_ is the dashboard's, _ and t the
    # members'. A staff-chat text in the members' 13 languages, or the reverse, is a mistake.
    member_texts = {m.id for m in catalogs.extract(catalogs.MEMBERS) if m.id}
    dashboard_texts = {m.id for m in catalogs.extract(catalogs.DASHBOARD) if m.id}
    assert not member_texts & {"Sign in to the dashboard", "Administrator", "Audit log"}
    assert not dashboard_texts & {"Do you agree?", "Yes, I agree", "Which language do you prefer?"}
    assert "Viewers can read but not send broadcasts." in dashboard_texts  # the staff chat's
