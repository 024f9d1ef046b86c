"""Recognising members' questions: the quality floors on the labelled set, small talk, the
language of the answer, and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.bench_faq import HELDOUT, SEALED, evaluate, load_questions, unseen
from bench.faq_eval import HELDOUT as EVAL_HELDOUT
from bench.faq_gate import trained_on
from bot.i18n import LOCALES
from bot.knowledge import load as knowledge_module
from bot.knowledge.load import Knowledge, SmallTalk, Topic, load_knowledge
from bot.knowledge.matcher import GATE_FIGURES, GATE_FILE, THRESHOLD, Match, Matcher, normalize
from bot.knowledge.matcher import _gate as gate_probability


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_knowledge())


@pytest.fixture(scope="module")
def tallies(matcher: Matcher):  # type: ignore[no-untyped-def]
    return evaluate(matcher, load_questions())


# ---------------------------------------------------------------- the floors (issue 3)


def test_the_set_covers_every_locale_and_topic(matcher: Matcher) -> None:
    questions = load_questions()
    assert len(questions) >= 400
    assert {q["lang"] for q in questions} == set(LOCALES)
    assert {q["topic"] for q in questions if q["topic"]} == set(matcher.knowledge.topic_ids)
    assert all(any(q["lang"] == locale and not q["topic"] for q in questions) for locale in LOCALES)


def test_at_least_90_percent_of_questions_get_the_right_topic(tallies) -> None:  # type: ignore[no-untyped-def]
    total = tallies["all"]
    assert total.accuracy >= 0.90, "\n".join(m for t in tallies.values() for m in t.mistakes)


@pytest.mark.parametrize("locale", LOCALES)
def test_at_least_80_percent_in_every_locale(tallies, locale: str) -> None:  # type: ignore[no-untyped-def]
    tally = tallies[locale]
    assert tally.accuracy >= 0.80, "\n".join(tally.mistakes)


def test_at_most_10_percent_of_out_of_scope_questions_get_a_topic(tallies) -> None:  # type: ignore[no-untyped-def]
    total = tallies["all"]
    assert total.false_topics <= 0.10, "\n".join(m for t in tallies.values() for m in t.mistakes)


# ---------------------------------------------------------------- questions it was not built with
# tests/faq/heldout.yaml is never used as examples; a question that a knowledge example spells the
# same way stops counting (bench_faq.unseen). Floors a little below what the matcher reaches.


@pytest.fixture(scope="module")
def unseen_tallies(matcher: Matcher):  # type: ignore[no-untyped-def]
    return evaluate(matcher, unseen(matcher.knowledge, load_questions(HELDOUT)))


def test_the_held_out_set_stays_held_out(matcher: Matcher) -> None:
    questions = load_questions(HELDOUT)
    assert {q["lang"] for q in questions} == set(LOCALES)
    assert len(unseen(matcher.knowledge, questions)) >= 0.7 * len(questions)


def test_held_out_questions_overall(unseen_tallies) -> None:  # type: ignore[no-untyped-def]
    total, mistakes = (
        unseen_tallies["all"],
        [m for t in unseen_tallies.values() for m in t.mistakes],
    )
    assert total.accuracy >= 0.96, "\n".join(mistakes)
    assert total.false_topics <= 0.10, "\n".join(mistakes)


@pytest.mark.parametrize("locale", LOCALES)
def test_held_out_questions_in_every_locale(unseen_tallies, locale: str) -> None:  # type: ignore[no-untyped-def]
    tally = unseen_tallies[locale]
    assert tally.accuracy >= 0.92, "\n".join(tally.mistakes)


def test_sealed_questions_overall(matcher: Matcher) -> None:
    """tests/faq/sealed.yaml is never tuned on: totals only, its questions never shown."""
    questions = load_questions(SEALED)
    assert {q["lang"] for q in questions} == set(LOCALES)
    total = evaluate(matcher, unseen(matcher.knowledge, questions))["all"]
    assert total.accuracy >= 0.90, f"{100 * total.accuracy:.1f} %"
    assert total.false_topics <= 0.10, f"{100 * total.false_topics:.1f} %"


# ---------------------------------------------------------------- the sets written apart (issue 14)
# tests/faq/eval_heldout.yaml was written by people who never saw the knowledge nor the matcher, a
# third of it out of scope; its figures (never its questions) chose OUTSIDE_RATIO and
# OUTSIDE_WORD. Floors a
# little below what is reached (docs/architecture.md); tests/faq/eval_sealed.yaml and
# eval_sealed2.yaml have no floor here: they are run by `python -m bench.faq_eval --sealed`, rarely.


@pytest.fixture(scope="module")
def eval_tallies(matcher: Matcher):  # type: ignore[no-untyped-def]
    tallies = evaluate(matcher, unseen(matcher.knowledge, load_questions(EVAL_HELDOUT)))
    for tally in tallies.values():
        tally.mistakes.clear()  # figures only: its questions are never shown
    return tallies


def test_questions_written_apart_get_the_right_topic(eval_tallies) -> None:  # type: ignore[no-untyped-def]
    total = eval_tallies["all"]
    assert total.asked >= 300
    assert total.accuracy >= 0.90, f"{100 * total.accuracy:.1f} %"
    lowest = min(eval_tallies[locale].accuracy for locale in LOCALES)
    assert lowest >= 0.85, f"{100 * lowest:.1f} %"


def test_out_of_scope_questions_written_apart_mostly_get_no_topic(eval_tallies) -> None:  # type: ignore[no-untyped-def]
    total = eval_tallies["all"]
    assert total.outside >= 150
    assert total.false_topics <= 0.10, f"{100 * total.false_topics:.1f} %"  # 7.9 % with the gate


@pytest.mark.parametrize(
    ("text", "locale"),
    [
        ("does unicef have any open calls for ngos this month", "en"),  # another organisation
        ("what documents do i need for guardianship of my grandson", "en"),  # a national procedure
        ("please translate this paragraph into romanian", "en"),
        ("tell me a joke please", "en"),
        ("как через суд оформить опекунство", "ru"),
        ("cum adoptam un copil, ce acte trebuie", "ro"),
        # wordings no `outside:` example has, of every kind, in several languages
        ("hello, does unicef give grants to ngos in 2025", "en"),
        ("who is the ombudsman for children in moldova", "en"),
        ("can grandma get custody of my son", "en"),
        ("what's the euro rate today pls", "en"),
        ("tell me a joke about teachers", "en"),
        ("какой курс евро сегодня", "ru"),
        ("расскажи смешной анекдот", "ru"),
        ("кто решает вопрос опеки над сиротой", "ru"),
        ("yak otrymaty sotsialnu dopomohu", "uk"),
        ("spune-mi o gluma", "ro"),
        ("dolar kuru ne kadar bugun", "tr"),
        ("koliko je alimentacija za dvoje djece", "bs"),
        ("kolko struva benzinat dnes", "bg"),
        ("si eshte moti neser", "sq"),
        ("ինչ արժե դոլարը այսօր", "hy"),
        ("რა ამინდია ხვალ ბათუმში", "ka"),
        ("manatin mezennesi nedir", "az"),
        # another network, a job, a grant: the coalition's words, but not its knowledge
        ("how do we become members of the eurochild network", "en"),
        ("can childpact pay for our training", "en"),
        # a word only out-of-scope examples have ("spring", "home") tips a reading
        # that a topic's words nearly took (OUTSIDE_WORD)
        (
            "hey, quick one: is plan international running any child protection trainings "
            "in georgia this spring?",
            "en",
        ),
        ("sorry to bother, what age can a kid legally be left home alone in romania", "en"),
    ],
)
def test_outside_the_knowledge_the_bot_abstains(matcher: Matcher, text: str, locale: str) -> None:
    assert matcher.match(text, locale).topic is None


def test_a_question_that_reads_like_none_the_knowledge_answers_gets_the_closest_topics(
    matcher: Matcher,
) -> None:
    # "who we are" is its best topic, far enough above out of scope and the threshold, but the
    # gate reads its figures as a question the knowledge does not answer (GATE): the member gets
    # the abstention with the closest topics as buttons and the secretariat, not the coalition's
    # description
    text = "our kindergarten needs new toys, who can donate"
    found = matcher.match(text, "en")
    assert found.topic is None and found.smalltalk is None
    assert "who_we_are" in found.near
    assert matcher.best(text)[0][1] == "who_we_are" and matcher.best(text)[0][0] >= THRESHOLD
    # while questions it answers pass, a greeting before them included
    assert matcher.match("hello! who are you, what is childpact?", "en").topic == "who_we_are"


def test_the_gate_was_trained_on_the_knowledge_as_it_stands() -> None:
    # after an edit of a knowledge.yaml or of the corpus: python -m bench.faq_gate
    shipped = json.loads(GATE_FILE.read_text(encoding="utf-8"))
    assert shipped["trained_on"] == trained_on(load_knowledge()), "python -m bench.faq_gate"


def test_the_gate_reads_the_figures_the_matcher_gives(matcher: Matcher) -> None:
    figures = matcher.gate_figures("when was childpact founded")
    assert figures is not None and len(figures) == len(GATE_FIGURES)
    assert 0.5 < gate_probability(figures) <= 1.0
    assert matcher.gate_figures("what's the weather in tbilisi tomorrow") is None  # no topic


def test_a_knowledge_of_two_topics_answers_as_well() -> None:
    # a small NGO's own knowledge, before it has grown: no third topic for the gate to read
    topics = {
        "founding": Topic("founding", "Founding", "In 2011.", None, ("when was it founded",)),
        "contact": Topic("contact", "Contact", "Write to us.", None, ("how do i reach you",)),
    }
    talk = {"greeting": SmallTalk("greeting", "Hello!", ("hi", "hello"))}
    small = Knowledge(topics={"en": topics}, smalltalk={"en": talk}, outside={"en": ("weather",)})
    matcher = Matcher(small, ("en",))
    assert matcher.match("hi! when was it founded?", "en").topic == "founding"
    assert matcher.gate_figures("how do i reach you") is not None


def test_an_abstention_offers_the_closest_topics_only_when_some_are_close(matcher: Matcher) -> None:
    # ("is there a newsletter" was one: the training corpus answers it with the bot's news)
    near = matcher.match("is there a podcast", "en")
    assert near.topic is None and 1 <= len(near.near) <= 3
    assert set(near.near) <= set(matcher.knowledge.topic_ids)
    assert matcher.match("what's the weather in tbilisi tomorrow", "en").near == ()
    assert matcher.match("when was childpact founded", "en").near == ()  # answered: none needed


# ---------------------------------------------------------------- messages of several parts


@pytest.mark.parametrize(
    ("text", "locale", "topics"),
    [
        ("hello! when was childpact founded?", "en", ("founding", None)),
        ("Good morning, how can our NGO join the coalition?", "en", ("get_involved", None)),
        (
            "When was ChildPact founded? And how can our organisation join?",
            "en",
            ("founding", "get_involved"),
        ),
        (
            "Când a fost fondat ChildPact? Și cum putem deveni membri?",
            "ro",
            ("founding", "get_involved"),
        ),
        ("how many countries are members? and how do i stop the messages?", "en", None),
    ],
)
def test_a_greeting_and_two_questions_in_one_message(
    matcher: Matcher, text: str, locale: str, topics: tuple[str, str | None] | None
) -> None:
    found = matcher.match(text, locale)
    if topics is None:  # two topics: both found, in either order; "how many countries are
        # members" is told by the numbers (10 countries) and by the member countries (named)
        assert found.also is not None
        assert {found.topic, found.also} - {"numbers", "members"} == {"bot_stop"}
    else:
        assert (found.topic, found.also) == topics


# ---------------------------------------------------------------- how members write


@pytest.mark.parametrize(
    ("text", "locale", "topic"),
    [
        ("hi! how many countries are in childpact", "en", "numbers"),  # a greeting glued on
        ("Hello, thanks. How do I unsubscribe?", "en", "bot_stop"),
        ("members", "en", "members"),  # one word
        ("history", "en", "history"),
        ("kogda sozdali koaliciyu", "ru", "founding"),  # Latin-typed Cyrillic
        ("Когда был основан ChildPact?", "ro", "founding"),
        ("cand s-a infiintat childpact", "ro", "founding"),  # no diacritics
        ("ЧАЙЛДПАКТ ЩО ЦЕ ТАКЕ", "uk", "who_we_are"),  # shouting
        ("ra aris bavshvta dacvis indeksi", "ka", "child_protection_index"),  # Latin-typed
        ("qani erkir ka", "hy", "numbers"),
        ("kak da se svarzha sas sekretariata", "bg", "contact"),
        ("yak zminyty movu", "uk", "bot_language"),
        ("how to chnage the langauge", "en", "bot_language"),  # typos
        # what the coalition does, beside out-of-scope examples with the same question words
        ("what does the childpact coalition actually do?", "en", "who_we_are"),
        ("что вообще делает эта коалиция?", "ru", "who_we_are"),
        ("a sta zapravo radi ChildPact?", "bs", "who_we_are"),
        ("რას აკეთებს ეს კოალიცია?", "ka", "who_we_are"),
        ("how can our organisation join?", "en", "get_involved"),
    ],
)
def test_questions_as_members_type_them(
    matcher: Matcher, text: str, locale: str, topic: str
) -> None:
    assert matcher.match(text, locale).topic == topic


@pytest.mark.parametrize(
    ("text", "locale", "talk"),
    [
        ("hi", "en", "greeting"),
        ("hello!!", "en", "greeting"),
        ("thanks a lot", "en", "thanks"),
        ("bye", "en", "bye"),
        ("are you a bot?", "en", "bot"),
        ("привет", "ru", "greeting"),
        ("hi, how are you?", "en", "greeting"),  # no "who are you"
        ("buna, ce mai faceti?", "ro", "greeting"),
        ("спасибо большое", "ru", "thanks"),
        ("дякую!", "uk", "thanks"),
        ("mulțumesc", "ro", "thanks"),
        ("faleminderit", "sq", "thanks"),
        ("teşekkürler", "tr", "thanks"),
        ("გმადლობთ", "ka", "thanks"),
        ("շնորհակալություն", "hy", "thanks"),
    ],
)
def test_small_talk_is_never_a_topic(matcher: Matcher, text: str, locale: str, talk: str) -> None:
    found = matcher.match(text, locale)
    assert (found.topic, found.smalltalk) == (None, talk)


@pytest.mark.parametrize(
    "text",
    [
        "what's the weather in tbilisi tomorrow",
        "who won the match last night",
        "recipe for sarmale",
        "asdfgh",
        "qwertyuiop zxcvbnm",
        "lol",
        "ok",
        "???",
        "...",
        "😀😀😀",
        "👍",
        "12345",
        "",
        "   \n\t ",
    ],
)
def test_nonsense_and_out_of_scope_get_no_topic(matcher: Matcher, text: str) -> None:
    assert matcher.match(text, "en").topic is None


# ---------------------------------------------------------------- the language of the answer


@pytest.mark.parametrize(
    ("text", "member", "lang"),
    [
        ("ինչ է childpact-ը", "en", "hy"),  # Armenian script
        ("რა არის childpact", "ru", "ka"),  # Georgian script
        ("Когда был основан ChildPact?", "ro", "ru"),  # Russian, 4 words, sure
        ("скільки країн у коаліції", "ru", "uk"),  # Ukrainian letters
        ("când a fost înregistrată coaliția oficial", "en", "ro"),
        ("how can our organisation join the coalition", "tr", "en"),
        ("koalisyona nasıl katılabiliriz acaba", "en", "tr"),
        ("koalisiyaya necə qoşula bilərik", "en", "az"),
        ("nasıl katılırız", "ru", "tr"),  # short, but only Turkish (or Azerbaijani) writes ı
        ("nasıl katılırız", "az", "az"),  # and an Azerbaijani member keeps their language
        ("si mund të bashkohemi me koalicionin", "en", "sq"),
        ("како да се придружимо коалицији", "en", "sr"),  # Serbian in Cyrillic
        ("kako da se pridružimo koaliciji", "en", "sr_Latn"),  # and in Latin
        ("kako da se pridružimo koaliciji", "bs", "bs"),  # the member's own variant stands
        ("kako da se pridružimo koaliciji", "sr", "sr"),
        ("members?", "ru", "ru"),  # too short to tell: the member's language
        ("world vision", "bg", "bg"),
        ("kak stat chlenom", "ru", "ru"),  # Latin-typed Russian: the member's language
        ("ok", "ka", "ka"),
        ("", "uk", "uk"),
        ("😀", "sq", "sq"),
    ],
)
def test_the_answer_language(matcher: Matcher, text: str, member: str, lang: str) -> None:
    assert matcher.match(text, member).lang == lang


def test_the_answer_language_is_always_a_supported_locale(matcher: Matcher) -> None:
    for question in load_questions():
        for member in ("en", "sr_Latn", "hy"):
            assert matcher.match(question["q"], member).lang in LOCALES


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\x00\x01\x02",
        "\u200b\u200d\ufeff",
        "😀" * 500,
        "a" * 4000,
        "how many countries " * 250,
        "Привет hello გამარჯობა Բարև مرحبا 你好 שלום",
        "childpact\u0301\u0301\u0301",
        "ＣＨＩＬＤＰＡＣＴ",  # full-width
        "<script>alert(1)</script>",
        "\n".join(["hi"] * 2000),
        "?!.,;:" * 600,
    ],
)
def test_bad_input_never_raises(matcher: Matcher, text: str) -> None:
    found = matcher.match(text, "en")
    assert isinstance(found, Match) and found.lang in LOCALES
    assert found.topic is None or found.topic in matcher.knowledge.topic_ids
    assert np.isfinite(found.score)


def test_the_knowledge_is_read_once(matcher: Matcher, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the knowledge was read again")

    monkeypatch.setattr(knowledge_module, "load_knowledge", refuse)
    monkeypatch.setattr(knowledge_module.yaml, "load", refuse)
    monkeypatch.setattr(knowledge_module.yaml, "safe_load", refuse)
    assert matcher.match("who founded childpact", "en").topic == "founding"


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("Ștefan ÎNREGISTRAT", "stefan inregistrat"),
        ("Сколько стран?", "skolko stran"),
        ("България", "balgariya"),
        ("👍 ok!!", "ok"),
        ("127/2012", "127 2012"),
    ],
)
def test_one_spelling_for_every_way_of_typing(text: str, normal: str) -> None:
    assert normalize(text) == normal
