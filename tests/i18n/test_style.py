"""The house style of every locale, kept: placeholders and markup, one script per locale,
Serbian Latin as the transliteration of Serbian Cyrillic, Romanian comma-below letters, the
polite pronoun as each style sheet writes it, buttons quoted as the buttons say them, and no
text over a platform's limit. Each check is shown to fail on a copy with that error put in."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import write_po

from bot.i18n import LOCALES, LOCALES_DIR, catalogs, style
from bot.i18n.scripts import serbian_latin


def test_every_locale_keeps_the_house_style():
    findings = style.check_all()
    assert not findings, "\n".join(str(f) for f in findings)


def test_serbian_latin_is_the_transliteration_letter_for_letter():
    assert (
        serbian_latin("Љубав, ЉУБАВ, Џеп, њих, ђак, ћуд") == "Ljubav, LJUBAV, Džep, njih, đak, ćud"
    )
    assert serbian_latin("ChildPact у Telegram-у, {link}") == "ChildPact u Telegram-u, {link}"


@pytest.fixture
def copy(tmp_path):
    target = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, target)
    return target


def _edit(copy, locale, msgid, change, context=None):
    """Change one translation in the copy's catalog: ``change`` maps the old text to the new."""
    catalog = catalogs.load(catalogs.MEMBERS, locale, copy)
    message = catalog.get(msgid, context=context)
    if isinstance(message.string, tuple):
        message.string = tuple(change(s) for s in message.string)
    else:
        message.string = change(message.string)
    with catalogs.po_path(catalogs.MEMBERS, locale, copy).open("wb") as fh:
        write_po(fh, catalog, sort_output=True, no_location=True, width=100)


def _edit_knowledge(copy, locale, old, new):
    path = copy / locale / "knowledge.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _found(copy):
    return {(f.locale, f.where, f.what.split(":")[0]) for f in style.check_all(copy)}


SETTINGS = "Your settings:\nLanguage: {language}\nCountry: {country}\nOrganisation: {organisation}\nNews: {news}"  # noqa: E501


@pytest.mark.parametrize(
    ("locale", "msgid", "change", "what"),
    [
        ("ro", SETTINGS, lambda s: s.replace("{language}", "{limba}"),
         "placeholders or markup differ from the English"),
        ("ru", "Thank you!", lambda s: f"<b>{s}</b>", "placeholders or markup differ from the English"),
        ("sr", "Thank you!", lambda s: s + " Hvala", "Latin letters in Serbian Cyrillic"),
        ("bs", "Thank you!", lambda s: s + " Хвала", "Cyrillic letters in a Latin-script locale"),
        ("sq", "Survey: {title}", lambda s: s + " “Gati”", "quotation marks"),
        ("ro", "Change country", lambda s: s.replace("ț", "ţ"), "Romanian cedilla ş/ţ"),
        ("bg", "Here is what ChildPact keeps about you:", lambda s: s.replace("Вас", "вас"),
         "polite pronoun"),
        ("sr", "Here is what ChildPact keeps about you:", lambda s: s.replace("Вама", "вама"),
         "polite pronoun"),
        ("sq", "Here is what ChildPact keeps about you:", lambda s: s.replace(" ju", " Ju"),
         "polite pronoun"),
        ("ru", "Here is what ChildPact keeps about you:", lambda s: s.replace("вас", "Вас"),
         "polite pronoun"),
        ("uk", "Thank you!", lambda s: s * 300, "longer than 1600 characters (a WhatsApp message)"),
        ("tr", "Delete me", lambda s: s + " ve tüm verilerimi hemen sil", "button label over 33 characters"),
        ("uk", "Unlink this chat", lambda s: s.replace("’", "'"), "apostrophe"),
        ("hy", "Do you agree?", lambda s: "Լավ. " + s.lower(), "punctuation"),
        ("ka", "Thank you!", lambda s: s + " Thank you", "Latin letters in ka text (English left behind?)"),
        ("hy", "Thank you!", lambda s: s + " hotline", "Latin letters in hy text (English left behind?)"),
        ("ru", "Preferred channel", lambda s: "Основной канал", "terminology"),
        ("sq", "Survey: {title}", lambda s: s.replace("Anketa", "Pyetësori"), "terminology"),
        ("tr", "Thank you!", lambda s: "Tamam, Size teşekkür ederiz!", "polite pronoun"),
        ("tr", "Send", lambda s: "Gönderin", "button in the «siz» imperative"),
        ("ro", "Delete me", lambda s: "Șterge-mă", "button in the informal register"),
        ("bg", "Yes, delete everything", lambda s: "Да, изтрий всичко", "button in the informal register"),
        ("ka", "No, keep it", lambda s: "არა, დატოვე", "button in the informal register"),
        ("sr", "Continue the survey", lambda s: "Настави анкету", "button in the informal register"),
        ("sq", "{title} (continue)", lambda s: "{title} (vazhdo)", "button in the informal register"),
        ("uk", "Surveys", lambda s: "Анкети", "glossary"),
        ("bs", "Write your message here, in any language. ChildPact's safeguarding focal point "
               "will read it and answer you in this chat.",
         lambda s: s.replace("Osoba zadužena za zaštitu djece", "Kontakt osoba"), "glossary"),
        ("hy", "You have already answered this survey. Thank you!",
         lambda s: s.replace("Դուք", "դուք"), "polite pronoun"),
        ("az", "Talk to the focal point", lambda s: "Məsul şəxslə danışın", "button in the «siz» imperative"),
        ("ro", "If you would like to talk about it, ChildPact's safeguarding focal point is here for you: "
               "choose Talk to the focal point.", lambda s: s.replace("„", "").replace("”", ""),
         "does not name the button as it says"),
    ],
)  # fmt: skip
def test_each_check_fails_on_its_kind_of_error(copy, locale, msgid, change, what):
    _edit(copy, locale, msgid, change)
    assert (locale, msgid, what.split(":")[0]) in _found(copy)


def test_a_topic_name_leaves_room_for_its_mark_on_the_button(copy):
    _edit(
        copy, "bg", "Events", lambda s: "Събития и срещи на коалицията в региона", context="topic"
    )
    assert ("bg", "Events", "button label over 31 characters") in _found(copy)


def _button_labels() -> set[str]:
    """Every text the handlers put on a button for members: the string literals inside the
    first argument of each ``Button(...)`` that are msgids of the members' catalog."""
    english = catalogs.load(catalogs.MEMBERS, "en")
    labels = set()
    for path in (Path(__file__).parents[2] / "handlers").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            called = getattr(node, "func", None)
            if isinstance(node, ast.Call) and getattr(called, "id", None) == "Button":
                labels |= {
                    sub.value
                    for sub in ast.walk(node.args[0])
                    if isinstance(sub, ast.Constant) and english.get(sub.value) is not None
                }
    return labels


def test_every_button_the_handlers_show_is_held_to_the_button_limit():
    labels = _button_labels()
    assert {"Delete me", "Talk to the focal point", "Skip"} <= labels  # the scan finds them
    assert labels <= set(style.BUTTONS), sorted(labels - set(style.BUTTONS))


def test_every_button_fits_a_phone_in_every_locale():
    """The 33-character limit, read directly: every button label and topic title as members see
    it, in each of the 13 locales."""
    too_long = []
    for locale in LOCALES:
        catalog = catalogs.load(catalogs.MEMBERS, locale)
        for label in style.BUTTONS:
            text = catalog.get(label).string or label
            if len(text) > style.BUTTON_LIMIT:
                too_long.append((locale, text))
        for message in catalog:
            if message.context == style.TOPIC_CONTEXT:
                text = message.string or message.id
                if len(text) + style.TOPIC_MARK > style.BUTTON_LIMIT:
                    too_long.append((locale, text))
        knowledge = style.knowledge_texts(style.load_knowledge(locale))
        too_long += [
            (locale, text)
            for where, text in knowledge.items()
            if where.endswith(".title") and len(text) > style.BUTTON_LIMIT
        ]
    assert not too_long


def test_a_text_naming_a_button_unlike_the_button_is_found(copy):
    _edit(copy, "ka", "Skip", lambda s: s + "ა")  # the button changed, the text naming it not
    asking = "Which organisation do you work for? Type its name, or choose Skip."
    assert ("ka", asking, "does not name the button as it says") in _found(copy)


def test_serbian_latin_that_drifts_from_the_cyrillic_is_found(copy):
    _edit(copy, "sr_Latn", "Thank you!", lambda s: s.replace("Hvala", "Fala"))
    _edit(copy, "sr_Latn", "Send", lambda s: s + " Пошаљи")
    found = _found(copy)
    assert ("sr_Latn", "Thank you!", "not the transliteration of sr") in found
    assert ("sr_Latn", "Send", "Cyrillic letters in a Latin-script locale") in found


def test_a_knowledge_answer_quoting_a_button_unlike_the_button_is_found(copy):
    _edit_knowledge(copy, "ro", "„Ștergeți-mi datele”", "„Șterge-mă”")
    _edit_knowledge(copy, "sr_Latn", "Pozdrav! Pitajte", "Zdravo! Pitajte")
    _edit_knowledge(
        copy,
        "bg",
        "Индекс за закрила на детето\n",
        "Индекс за закрила на детето и правата на детето в региона\n",
    )  # noqa: E501
    _edit_knowledge(
        copy,
        "ru",
        "ChildPact, выберите «Связаться с секретариатом» в меню",
        "ChildPact, выберите Связаться с секретариатом в меню",
    )
    _edit_knowledge(copy, "hy", "title: Նորությունների դադար/վերսկսում", "title: Դադար/վերսկսում")
    _edit_knowledge(copy, "uk", "напишіть «стоп»: ви", "напишіть «стопп»: ви")
    found = {(f.locale, f.where, f.what) for f in style.check_all(copy)}
    assert ("hy", "topics.bot_stop.title", "glossary: 'news' is said 'նորություն'") in found
    assert any(
        f[:2] == ("uk", "topics.bot_stop.answer")
        and f[2].startswith("tells members to type 'stop'")
        for f in found
    )
    assert (
        "ru",
        "topics.contact.answer",
        "quotes the button 'Talk to the secretariat' unlike the button itself "
        "('Связаться с секретариатом')",
    ) in found
    assert (
        "ro",
        "topics.bot_data.answer",
        "quotes the button 'Delete me' unlike the button itself ('Ștergeți-mi datele')",
    ) in found
    found = _found(copy)
    assert ("sr_Latn", "smalltalk.greeting.answer", "not the transliteration of sr") in found
    assert ("bg", "topics.child_protection_index.title", "title over 33 characters") in found
