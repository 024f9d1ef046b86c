"""What a member who discloses reads, and when a message counts as a disclosure: the helpline
of their own country (written out here by hand, not read through the code under test), the
levels at the edges of their thresholds, a disclosure late in a long message, and a lexicon
with a part missing. No service is started: these run in a second."""

from __future__ import annotations

import copy
import dataclasses
import shutil
from pathlib import Path

import pytest

from bot.i18n import LOCALES_DIR, Translator
from bot.knowledge.safeguarding import (
    ALERT,
    CONCERN,
    KIN,
    KINDS,
    Finding,
    Helpline,
    Safeguarding,
    decide,
)

# The national child helplines and the first emergency number, as locales/helplines.yaml
# gives them, copied by hand: a change there must be made here too, on purpose.
HELPLINES: dict[str | None, tuple[str | None, str | None, str]] = {
    "AL": ("ALO 116 111 - Linja Kombëtare e Telefonit për Fëmijë", "116 111", "112"),
    "AM": ("Երեխաների պաշտպանության թեժ գիծ", "0800 61 111", "911"),
    "AZ": ("Uşaq Qaynar Xətti", "116 111", "112"),
    "BA": ("Plavi telefon", "080 05 03 05", "122"),  # "(police)": for the secretariat
    "BG": ("Национална телефонна линия за деца", "116 111", "112"),
    "GE": ("ბავშვთა ცხელი ხაზი", "116 111", "112"),
    "XK": (None, None, "112"),
    "MD": ("Telefonul Copilului", "116 111", "112"),
    "RO": ("Telefonul Copilului", "116 111", "112"),
    "RS": ("Nacionalna dečja linija Srbije (NADEL)", "116 111", "192"),
    "TR": ("ALO 183 Sosyal Destek Hattı", "183", "112"),
    "UA": ("Національна дитяча гаряча лінія (La Strada-Ukraine)", "116 111", "112"),
    "RU": ("Детский телефон доверия", "8 800 2000 122", "112"),
    # not listed: the European numbers, the line without a name of its own
    "ME": (None, "116 111", "112"),
    "BY": (None, "116 111", "112"),
    None: (None, "116 111", "112"),
}
EN = Translator("en")
TOLD = "ChildPact's safeguarding focal point has been told about your message."
ASK = "Please also tell ChildPact's secretariat: choose Talk to the secretariat in the menu."


@pytest.fixture(scope="module")
def safeguarding() -> Safeguarding:
    return Safeguarding()


@pytest.mark.parametrize("country", list(HELPLINES))
def test_a_member_who_discloses_gets_the_helpline_of_their_own_country(
    safeguarding: Safeguarding, country: str | None
) -> None:
    name, number, emergency = HELPLINES[country]
    answer = safeguarding.answer(EN, country, alerted=True)
    first = f"Thank you for telling us. If a child is in danger right now, call {emergency}."
    parts = [first]
    if number and name:
        parts.append(f"You can also call the child helpline {name}: {number}.")
    elif number:
        parts.append(f"You can also call the child helpline: {number}.")
    parts.append(TOLD)
    assert answer == "\n\n".join(parts)


def test_where_no_child_helpline_is_known_only_the_emergency_number_is_given(
    safeguarding: Safeguarding,
) -> None:
    answer = safeguarding.answer(EN, "XK", alerted=False)
    assert answer == (
        "Thank you for telling us. If a child is in danger right now, call 112.\n\n" + ASK
    )
    assert "116 111" not in answer


ALWAYS_OPEN = " The helpline is open day and night, every day."


@pytest.mark.parametrize(
    ("hours", "told"),
    [
        ("24/7", ALWAYS_OPEN),
        ("24 / 7", ALWAYS_OPEN),
        ("24h", ALWAYS_OPEN),
        ("24 hours", ALWAYS_OPEN),
        ("Non-stop", ALWAYS_OPEN),
        ("Mon-Fri  09:00-17:00.", " The helpline's hours: Mon-Fri 09:00-17:00."),
        (None, ""),
        ("  ", ""),
    ],
)
def test_the_helplines_hours_follow_its_number_when_the_secretariat_knows_them(
    safeguarding: Safeguarding, hours: str | None, told: str
) -> None:
    lines = copy.copy(safeguarding)
    lines.use_helplines({"DEFAULT": Helpline("Telefonul Copilului", "116 111", ("112",), hours)})
    assert lines.answer(EN, "MD", alerted=True) == (
        "Thank you for telling us. If a child is in danger right now, call 112.\n\n"
        f"You can also call the child helpline Telefonul Copilului: 116 111.{told}\n\n{TOLD}"
    )


def test_a_helplines_hours_are_told_in_the_members_language_and_only_with_its_number(
    safeguarding: Safeguarding,
) -> None:
    lines = copy.copy(safeguarding)
    lines.use_helplines({
        "MD": Helpline("Telefonul Copilului", "116 111", ("112",), "24/7"),
        "DEFAULT": Helpline(None, None, ("112",), "24/7"),
    })  # fmt: skip
    assert (
        "Telefonul Copilului: 116 111. Linia este deschisă zi și noapte, în fiecare zi."
        in lines.answer(Translator("ro"), "MD", alerted=True)
    )
    assert lines.answer(EN, "XK", alerted=True) == (
        f"Thank you for telling us. If a child is in danger right now, call 112.\n\n{TOLD}"
    )


def test_the_answer_is_in_the_members_language(safeguarding: Safeguarding) -> None:
    ro = Translator("ro")
    answer = safeguarding.answer(ro, "MD", alerted=True)
    assert ro(TOLD) in answer and ro(TOLD) != TOLD
    assert "Telefonul Copilului" in answer and "116 111" in answer


@pytest.mark.parametrize(
    ("danger", "matched", "level"),
    [
        (0.98, False, ALERT),  # the classifier alone, at its alert threshold
        (0.9799, False, CONCERN),
        (0.80, False, CONCERN),  # ...at its concern threshold
        (0.7999, False, None),
        (0.90, True, ALERT),  # the lexicon with a classifier likely enough
        (0.8999, True, CONCERN),
        (0.35, True, CONCERN),  # the lexicon with a classifier that does not find it unlikely
        (0.3499, True, None),
        (0.0, False, None),
        (1.0, False, ALERT),
    ],
)
def test_the_levels_at_the_edges_of_their_thresholds(
    danger: float, matched: bool, level: str | None
) -> None:
    assert decide(danger, matched) == level


DISCLOSURE = "my stepfather beats my little brother every night"
FILLER = "We would like to ask about the membership fee and the next general assembly. "


def test_a_disclosure_late_in_a_long_message_is_still_found(safeguarding: Safeguarding) -> None:
    assert safeguarding.is_disclosure(DISCLOSURE, ["en"])
    late = FILLER * 20 + DISCLOSURE  # about 1,500 characters before it
    assert 1000 < late.index(DISCLOSURE) < 3900
    assert safeguarding.is_disclosure(late, ["en"])
    assert not safeguarding.is_disclosure(FILLER * 20, ["en"])


# Not in the lexicon's words: only the classifier can find it
UNSAID = "the kids next door have been alone since friday, their mother does not answer the phone"


def test_the_classifier_reads_as_far_into_a_long_message_as_the_lexicon(
    safeguarding: Safeguarding,
) -> None:
    assert not safeguarding.is_disclosure(UNSAID, ["en"])
    late = FILLER * 35 + UNSAID  # about 2,700 characters before it
    assert 2000 < late.index(UNSAID) and len(late) < 4000
    found = safeguarding.assess(late, ["en"])
    assert found is not None and found.kind == "left_alone"
    assert found.words and all(word in UNSAID for word in found.words)  # not the filler's
    assert safeguarding.assess(FILLER * 35, ["en"]) is None


def test_a_disclosure_inside_a_long_text_without_full_stops_is_read_on_its_own(
    safeguarding: Safeguarding,
) -> None:
    """A text typed as one long sentence is read in windows of words: the disclosure in its
    middle is not drowned by the hundreds of words around it, and the focal point reads its
    words, not the others'."""
    chatter = FILLER.replace(".", "") * 20
    flat = f"{chatter}{UNSAID} {chatter}"
    assert len(flat.split()) > 500 and "." not in flat
    found = safeguarding.assess(flat, ["en"])
    assert found is not None and found.kind == "left_alone"
    assert found.words and all(word in UNSAID for word in found.words)
    assert safeguarding.assess(f"{chatter} {chatter}", ["en"]) is None


def test_a_disclosure_in_a_kin_language_is_found(safeguarding: Safeguarding) -> None:
    russian = "отчим избивает мальчика, ему 9 лет"
    assert safeguarding.is_disclosure(russian, ["ru"])
    assert "ru" in KIN["uk"]
    assert safeguarding.is_disclosure(russian, ["uk"])
    assert not safeguarding.is_disclosure(russian, ["ro"])


def test_a_lexicon_without_harmless_phrases_still_only_finds_disclosures(
    safeguarding: Safeguarding, tmp_path: Path
) -> None:
    """A locale that lacks a part of the lexicon must match nothing for that part."""
    (tmp_path / "safeguarding.yaml").write_text(
        "xx:\n  harm: ['beats?']\n  child: ['brother']\n  urgent: ['right now']\n",
        encoding="utf-8",
    )
    shutil.copy(LOCALES_DIR / "helplines.yaml", tmp_path / "helplines.yaml")
    partial = Safeguarding(tmp_path, detector=safeguarding.detector)
    assert partial.is_disclosure("he beats my brother", ["xx"])
    assert partial.is_disclosure("come right now", ["xx"])
    assert not partial.is_disclosure("the drummer beats the drum", ["xx"])
    (tmp_path / "safeguarding.yaml").write_text(
        "xx:\n  harm: ['beats?']\n  child: ['brother']\n  benign: ['drum']\n", encoding="utf-8"
    )
    no_urgent = Safeguarding(tmp_path, detector=safeguarding.detector)
    assert not no_urgent.is_disclosure("see you tomorrow", ["xx"])
    assert no_urgent.is_disclosure("he beats my brother", ["xx"])
    assert not no_urgent.is_disclosure("he beats my brother on the drum", ["xx"])


def test_the_focal_point_reads_the_kind_in_plain_words_and_the_words_behind_it() -> None:
    found = Finding(ALERT, "left_alone", 0.97, True, ("alone", "toddler"))
    assert found.reason == 'a young child left alone; words: "alone", "toddler"'
    assert Finding(CONCERN, "other", 0.8, False, ()).reason == "other; words: -"
    assert KINDS["unspecified"] == "harm to a child"


def test_the_lexicon_reads_the_first_four_thousand_characters(safeguarding: Safeguarding) -> None:
    """A message is read up to its 4,000th character: a disclosure that ends there is found,
    one cut by that limit is not (the classifier, not the lexicon, reads on)."""
    told = "my stepfather beats my little brother"
    filler = "x" * (4000 - len(told) - 1) + " "
    assert len(filler + told) == 4000
    assert safeguarding.is_disclosure(filler + told, ["en"])
    assert not safeguarding.is_disclosure("x" + filler + told, ["en"])


def test_a_disclosure_is_assessed_with_its_level_kind_and_words(
    safeguarding: Safeguarding,
) -> None:
    found = safeguarding.assess(DISCLOSURE, ["en"])
    assert found is not None and found.lexicon and found.level in (ALERT, CONCERN)
    assert found.kind == "abuse"
    assert found.words[:2] == ("beats", "little brother")  # the lexicon's words first
    assert found.level == decide(found.danger, True)
    assert safeguarding.assess("When is the general assembly this year?", ["en"]) is None
    urgent = safeguarding.assess("he is raping my 12 year old daughter right now, help", ["en"])
    assert urgent is not None and urgent.level == ALERT
    # The focal point reads at most six words: the lexicon's, then the classifier's.
    many = "my stepfather beats my little brother right now, please help, he is bleeding and screaming"
    lexicon = safeguarding._lexicon(many, ["en"])
    candidates = dict.fromkeys([*lexicon, *safeguarding.detector.words(many)])
    assert len(candidates) > 6  # else choose a text with more words to show
    found = safeguarding.assess(many, ["en"])
    assert found is not None and found.words == tuple(candidates)[:6]
    assert found.words[: len(lexicon)] == tuple(lexicon)


def test_a_language_without_a_lexicon_does_not_stop_the_others_from_being_read(
    safeguarding: Safeguarding,
) -> None:
    # A member's language may have no lexicon (a locale added later, a platform's code).
    assert safeguarding.is_disclosure(DISCLOSURE, ["xx", "en"])
    assert not safeguarding.is_disclosure(DISCLOSURE, ["xx"])


def test_what_is_shared_between_members_cannot_be_changed_by_one_answer(
    safeguarding: Safeguarding,
) -> None:
    """The helplines are loaded once for every member, and a finding goes to the member's answer,
    the focal point's alert and the review as it was assessed: none of them can alter it."""
    line = safeguarding.helpline("TR")
    with pytest.raises(dataclasses.FrozenInstanceError):
        line.number = "116 111"  # type: ignore[misc]
    assert safeguarding.helpline("TR").number == "183"
    found = safeguarding.assess(DISCLOSURE, ["en"])
    assert found is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.level = CONCERN if found.level == ALERT else ALERT  # type: ignore[misc]
