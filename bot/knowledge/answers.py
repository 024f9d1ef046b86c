"""What the bot makes of a question: a safeguarding disclosure, small talk, a topic, or an
honest "I don't know"; shared by the FAQ, a survey's questions asked on the way and
``childpact ask``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.i18n import LOCALES, Translator
from bot.knowledge.safeguarding import ALERT, Finding


@dataclass(frozen=True, slots=True)
class Answer:
    """What the bot makes of a question, before it becomes buttons on a channel."""

    kind: str  # "topic", "smalltalk", "safeguarding" or "unknown"
    topic: str | None
    score: float
    lang: str
    text: str
    # a possible disclosure (or the alert behind kind "safeguarding"): a concern is answered as
    # usual and offered the helpline and the focal point as well
    finding: Finding | None = None
    near: tuple[str, ...] = ()  # "unknown": the closest topics, to offer as buttons
    also: str | None = None  # "topic": a second question's topic, answered after the first


def understand(
    services: Any, text: str, t: Translator, country: str | None, *, alerted: bool
) -> Answer:
    """Safeguarding first, then the knowledge, or an honest "I don't know"; a possible concern
    comes with the answer (``finding``), never instead of the care it needs."""
    matcher = services.matcher  # one matcher and its knowledge, even while a new one is swapped in
    match = matcher.match(text, t.locale)
    found = services.safeguarding.assess(text, [t.locale, match.lang, "en"])
    if found is not None and found.level == ALERT:
        reply = services.safeguarding.answer(t, country, alerted=alerted)
        return Answer("safeguarding", None, match.score, t.locale, reply, found)
    lang = match.lang if match.lang in LOCALES else t.locale
    if match.smalltalk:
        talk = matcher.knowledge.smalltalk[lang][match.smalltalk]
        return Answer("smalltalk", None, match.score, lang, talk.answer, found)
    if match.topic:
        topic = matcher.knowledge.topics[lang][match.topic]
        return Answer("topic", match.topic, match.score, lang, topic.answer, found, also=match.also)
    if match.near:
        unknown = t(
            "I am not sure I understood. I answer questions about ChildPact: who we are, our "
            "members, our work and how to take part, and about this chat. Perhaps you meant one "
            "of these topics; if not, the secretariat can answer you."
        )
    else:
        unknown = t(
            "I am not sure I can answer that. I answer questions about ChildPact: who we are, "
            "our members, our work and how to take part, and about this chat. You can look "
            "through the topics, or ask the secretariat."
        )
    return Answer("unknown", None, match.score, t.locale, unknown, found, match.near)
