"""A child writing of their own harm in a few words ("dad is hitting me", "help, he beats us")
is an alert in every language, whatever the classifier makes of so short a text; the same words
about a childhood long past, a training script, a game or a joke are not. No service is
started."""

from __future__ import annotations

import pytest

from bot.knowledge.safeguarding import ALERT, Safeguarding

# Written for this test, each in the way a frightened child types: few words, no capitals,
# sometimes in Latin letters for a language of another script.
OWN = [
    ("en", "my stepdad keeps hitting me pls"),
    ("en", "mom hurts us when shes drunk"),
    ("ro", "ma bate tatal meu vitreg"),
    ("ro", "ajutor ne bate mama"),
    ("ru", "мачеха бьет меня ремнем"),
    ("ru", "pomogite papa menya bet"),
    ("uk", "батько б'є мене кожен вечір"),
    ("uk", "dopomozhit vitchym b'ye mene"),
    ("bg", "пастрокът ми ме бие"),
    ("bg", "pomosht, bashta mi me bie"),
    ("sr", "очух ме туче свако вече"),
    ("sr_Latn", "ćale me mlati, pomozite"),
    ("bs", "amidza me udario, upomoc"),
    ("sq", "njerka me rreh cdo nate"),
    ("tr", "imdat babam bizi dövüyor"),
    ("az", "ögey anam məni vurur"),
    ("ka", "მამინაცვალი მცემს"),
    ("ka", "dedinacvali mcems"),
    ("hy", "խորթ հայրս ինձ խփում է"),
    ("hy", "khort hayrs indz khpuma"),
]

NOT_NOW = [
    ("en", "my brother beat me at chess again"),
    ("en", "dad hit me up about the budget call"),
    ("en", "my dad hit me when I was a kid; I'd like to volunteer with you now"),
    ("en", "Role-play script for the training: the pupil says 'my dad hits me'"),
    ("ro", "fratele meu m-a batut la table aseara"),
    ("ru", "когда я был маленьким, отец меня бил. хочу стать волонтером"),
    ("bg", "дядо ми ме биеше като малък, сега съм социален работник"),
    ("tr", "babam beni satrançta yine yendi"),
    ("az", "uşaq vaxtı ögey atam məni döyürdü, indi könüllü olmaq istəyirəm"),
    ("hy", "մանկության տարիներին հայրս ինձ ծեծում էր, հիմա ուզում եմ կամավոր լինել"),
    ("sr_Latn", "tata me pobedio u šahu"),
]


@pytest.fixture(scope="module")
def safeguarding() -> Safeguarding:
    return Safeguarding()


@pytest.mark.parametrize(("lang", "text"), OWN)
def test_a_child_telling_of_their_own_harm_is_an_alert(
    safeguarding: Safeguarding, lang: str, text: str
) -> None:
    found = safeguarding.assess(text, [lang, "en"])
    assert found is not None and found.level == ALERT
    assert found.kind == "abuse" and found.words  # the focal point sees which words


@pytest.mark.parametrize(("lang", "text"), NOT_NOW)
def test_the_same_words_about_a_game_the_past_or_a_script_raise_nothing(
    safeguarding: Safeguarding, lang: str, text: str
) -> None:
    assert safeguarding.assess(text, [lang, "en"]) is None


MINUTES = (
    "Minutes of the training on the new reporting template, Tuesday. We went through the annual "
    "report, the budget lines for the summer camp and the project plan for next year. The "
    "volunteers asked for more sessions on the database and on how to fill in the attendance "
    "sheets. The next training is in March, in the same room. "
)


def test_a_child_s_own_words_inside_long_minutes_are_an_alert(safeguarding: Safeguarding) -> None:
    """Minutes pasted in, with a child's few words reported in one sentence: the "training"
    and "report" elsewhere frame nothing, and the focal point reads the child's words."""
    told = "Also a girl from the after-school group whispered: my stepdad keeps hitting me pls. "
    text = MINUTES * 2 + told + MINUTES
    assert len(text) > 600  # read in parts
    assert safeguarding.assess(MINUTES * 3, ["en"]) is None
    found = safeguarding.assess(text, ["en"])
    assert found is not None and found.level == ALERT
    assert "stepdad keeps hitting me" in found.words


def test_in_a_long_report_the_focal_point_reads_the_phrase_that_told_of_harm(
    safeguarding: Safeguarding,
) -> None:
    """The lexicon reads the part of a long message the classifier found likeliest, not the
    whole report, whose grants and deadline would silence it: its phrase is shown."""
    report = (
        "The quarterly report covers the training of 40 social workers in three regions. "
        "The budget line for travel was spent at 80 percent and the rest moves to spring. "
    ) * 8
    told = "My neighbour's girl is 14 and her father is marrying her to a man of 40 next week. "
    grants = "First, the grants and the call for proposals: the deadline is Friday. "
    found = safeguarding.assess(grants + report + told + report, ["en"])
    assert found is not None and found.lexicon
    assert any(word.startswith("marrying her to") for word in found.words), found.words


@pytest.mark.parametrize(("lang", "text"), OWN)
@pytest.mark.parametrize("where", [0, 5, 12])
def test_a_child_s_own_words_are_found_wherever_they_are_in_a_long_message(
    safeguarding: Safeguarding, lang: str, text: str, where: int
) -> None:
    """A long message's sentences are searched at once before any is read alone: the child's
    words are found first, among or last, in every language, as the same words as alone."""
    sentences = [f"{s.strip()}." for s in (MINUTES * 3).split(". ") if s.strip()]
    sentences.insert(where, f"{text}.")
    found = safeguarding.assess(" ".join(sentences), [lang, "en"])
    alone = safeguarding.assess(text, [lang, "en"])
    assert found is not None and alone is not None and found.level == ALERT
    assert found.words[0] == alone.words[0]
