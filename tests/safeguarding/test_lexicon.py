"""The safeguarding lexicon on labelled messages: recall and false alarms per locale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from bot.i18n import LOCALES
from bot.knowledge.detector import CORPUS_DIR
from bot.knowledge.safeguarding import PARTS, Safeguarding, _alternatives, _compile, _fold

HERE = Path(__file__).parent
# The lexicon's own labelled texts are part of the classifier's training corpus now
PLACES = {"disclosures.yaml": CORPUS_DIR, "heldout.yaml": CORPUS_DIR, "sealed.yaml": HERE}
# (file, lowest recall, highest false-alarm share) per locale; a little below what the lexicon
# reaches, so that a change that loses real disclosures fails and noise does not
FLOORS = {
    "disclosures.yaml": (0.95, 0.05),
    "heldout.yaml": (0.95, 0.05),
    # two disclosures and one harmless text per locale, never tuned on: one miss is allowed
    "sealed.yaml": (0.50, 0.0),
}


@pytest.fixture(scope="module")
def safeguarding() -> Safeguarding:
    return Safeguarding()


def _messages(name: str) -> list[dict]:  # type: ignore[type-arg]
    return yaml.safe_load((PLACES[name] / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_every_locale_has_disclosures_and_harmless_texts(name: str) -> None:
    messages = _messages(name)
    for locale in LOCALES:
        mine = [m for m in messages if m["lang"] == locale]
        assert any(m["alert"] for m in mine) and not all(m["alert"] for m in mine), locale


@pytest.mark.parametrize("name", sorted(FLOORS))
@pytest.mark.parametrize("locale", LOCALES)
def test_recall_and_false_alarms(safeguarding: Safeguarding, name: str, locale: str) -> None:
    recall_floor, false_ceiling = FLOORS[name]
    missed, alarmed, disclosures, harmless = [], [], 0, 0
    for message in _messages(name):
        if message["lang"] != locale:
            continue
        # as the FAQ handler asks: the member's locale, the message's language, English
        found = safeguarding.is_disclosure(message["text"], [locale, "en"])
        if message["alert"]:
            disclosures += 1
            if not found:
                missed.append(message["text"])
        else:
            harmless += 1
            if found:
                alarmed.append(message["text"])
    recall, false_alarms = 1 - len(missed) / disclosures, len(alarmed) / harmless
    if name == "sealed.yaml":  # its texts are never shown: nothing is tuned on them
        missed, alarmed = [], []
    assert recall >= recall_floor, missed
    assert false_alarms <= false_ceiling, alarmed


@pytest.mark.parametrize(
    ("text", "locales"),
    [
        ("otac bije malog svaki dan", ["sr"]),  # a Serbian member typing Latin
        ("батько б'є дитину щодня", ["ru"]),  # Ukrainian from a member set to Russian
        ("ögey ata kızı dövüyor", ["az"]),  # Turkish from a member set to Azerbaijani
    ],
)
def test_kin_languages_are_read_too(
    safeguarding: Safeguarding, text: str, locales: list[str]
) -> None:
    assert safeguarding.is_disclosure(text, locales)


# Batch F families (locales/safeguarding.yaml, each locale's first harm patterns): an adult giving
# a child game currency, skins, top-ups or vouchers and asking for photos, a call, a meeting, the
# address or secrecy; a child gone from a children's home, a shelter, a centre, a boarding school
# or a foster family, or nobody looking for them or reporting it. Written for these tests, in none
# of the corpus files or evaluation sets.
GAME_GIFTS = [
    ("en", "a grown man keeps buying my 10 year old son v-bucks and asks him for pictures"),
    ("sq", "nje burre i dergon djalit tim 10 vjec diamante ne loje dhe i kerkon foto"),
    ("tr", "bir adam 10 yaşındaki oğluma sürekli elmas yüklüyor, karşılığında fotoğraf istiyor"),
    ("ru", "взрослый дарит моему сыну 10 лет робуксы и просит его фото"),
    ("uk", "дорослий дарує моєму синові 10 років робукси і просить його фото"),
    ("ka", "ვიღაც კაცი ჩემს 10 წლის ბიჭს რობაქსებს ყიდულობს და ფოტოებს სთხოვს"),
    ("sr_Latn", "neki čovek kupuje mom sinu od 10 godina dijamante u igrici i traži slike"),
]
GONE_FROM_CARE = [
    ("en", "the 12 year old boy from the children's home has been gone for four days"),
    (
        "sq",
        "djali 12 vjec nga qendra e femijeve mungon prej kater ditesh, nuk e ka raportuar njeri",
    ),
    ("tr", "çocuk evlerinden 12 yaşında bir oğlan dört gündür kayıp, kimse aramıyor"),
    ("ro", "un baiat de 12 ani de la centrul de plasament lipseste de patru zile"),
    ("bg", "момче на 12 от приюта липсва от четири дни и никой не го търси"),
    ("hy", "մանկատնից 12 տարեկան տղան չորս օր է չի վերադարձել"),
    ("bs", "dječak od 12 godina iz doma za djecu nije se vratio četiri dana"),
]
# the same words without the danger: a parent buying game currency, a home's open day, a
# question about how to report
NOT_THESE = [
    ("en", "bought my 10 year old son v-bucks for his birthday, how do I set a limit?"),
    ("tr", "10 yaşındaki oğluma doğum günü için elmas aldım, limit nasıl konur?"),
    ("ru", "купила сыну 10 лет робуксы на день рождения, как поставить лимит?"),
    ("sq", "dite e hapur ne shtepine e femijeve te dielen, femijet kane pergatitur embelsira"),
    ("sq", "si ta raportoj nje femije te zhdukur? cila eshte procedura?"),
    ("ro", "ziua portilor deschise la centrul de plasament, copiii au facut prajituri"),
]


@pytest.mark.parametrize(("locale", "text"), GAME_GIFTS + GONE_FROM_CARE)
def test_game_gifts_and_a_child_gone_from_care_are_read(
    safeguarding: Safeguarding, locale: str, text: str
) -> None:
    assert safeguarding.is_disclosure(text, [locale, "en"])


@pytest.mark.parametrize(("locale", "text"), NOT_THESE)
def test_their_harmless_look_alikes_are_not(
    safeguarding: Safeguarding, locale: str, text: str
) -> None:
    assert not safeguarding.is_disclosure(text, [locale, "en"])


def test_the_lexicon_compiled_for_speed_matches_where_the_patterns_as_written_match() -> None:
    # every locale's patterns of every part, over the labelled texts of the locale and of
    # English, each alone and all of them one after another (a long message): the same match
    # at the same place
    lexicon = yaml.safe_load(
        (Path(__file__).parents[2] / "locales" / "safeguarding.yaml").read_text(encoding="utf-8")
    )
    texts: dict[str, list[str]] = {}
    for name in ("disclosures.yaml", "heldout.yaml"):
        for message in _messages(name):
            texts.setdefault(message["lang"], []).append(_fold(message["text"]).replace("ı", "i"))
    quicker = 0
    for locale, entry in lexicon.items():
        read = [*texts.get(locale, []), *texts["en"]]
        read += [" ".join(read[i : i + 40]) for i in range(0, len(read), 40)]
        for part in PARTS:
            patterns = entry.get(part) or []
            written = re.compile("|".join(f"(?:{p})" for p in patterns or ["(?!)"]))
            fast = _compile(patterns)
            quicker += fast.pattern != written.pattern
            for text in read:
                found, expected = fast.search(text), written.search(text)
                assert (found and found.span()) == (expected and expected.span()), (locale, part)
    assert quicker > len(lexicon)  # most lists are compiled for speed


@pytest.mark.parametrize(
    ("pattern", "alternatives"),
    [
        (r"\bab(c|d)e|\bx(?P<n>y)z", [r"\bab(?:c|d)e", r"\bx(?:y)z"]),
        (r"[|(\]]+(?<!a )b|[^]|]c", [r"[|(\]]+(?<!a )b", "[^]|]c"]),
        (r"(a)\1", None),  # a reference to a group: compiled as written
        (r"(?x) a | b ", None),
    ],
)
def test_a_pattern_is_read_into_its_alternatives_without_capturing_groups(
    pattern: str, alternatives: list[str] | None
) -> None:
    assert _alternatives(pattern) == alternatives


@pytest.mark.parametrize(
    ("patterns", "texts"),
    [
        # the first alternative that matches at a place wins, however they are brought together
        ([r"\bab", r"\ba"], ["abc", "ac", "x ab a"]),
        ([r"\ba", r"\bab"], ["abc", "ac"]),
        ([r"\b(hit|hitting) him", r"\bhi(t|s)\w*"], ["hitting him", "his", "hit him", "hitter"]),
        # an alternative written otherwise stays between those of its letter
        ([r"\bab", r"\b[a-z]x", r"\ba"], ["ax", "ab", "a"]),
        ([r"\ba", r"\b[a-z]b"], ["ab", "cb"]),
        ([r"\b(|x)yz", r"\bx"], ["xyz", "yz", "xy"]),
        ([r"\b(ab)?c", r"\bab"], ["abc", "ab", "c"]),
        ([r"foo", r"\bfob", r"fo"], ["fob", "afob", "afoo", "fo"]),
        (
            [r"\b(dad|mum)'?s (\w+ ){0,2}(friend|boyfriend)", r"\bd\w+"],
            ["dad's new boyfriend", "dads"],
        ),
    ],
)
def test_alternatives_brought_together_by_their_first_letter_match_as_written(
    patterns: list[str], texts: list[str]
) -> None:
    written = re.compile("|".join(f"(?:{p})" for p in patterns))
    fast = _compile(patterns)
    for text in texts:
        assert [m.span() for m in fast.finditer(text)] == [
            m.span() for m in written.finditer(text)
        ], (patterns, text, fast.pattern)
