"""Quick surveys, from the secretariat's definition to a member's answers and the results.

The package owns the survey format (``format``), storing a survey (``store``), reading a
member's answer (``answers``), taking a survey (``taking``), a question as the member sees it
(``render``), sending it out and reminding (``launch``), and the results with their charts
(``results``, ``charts``). What callers use most is named here: ``from bot import surveys;
surveys.begin(...)``."""

from bot.surveys.store import (
    apply,
    create,
    definition_of,
    questions_of,
    replace,
    response_counts,
)
from bot.surveys.taking import (
    Step,
    answer,
    answers_of,
    back,
    begin,
    for_member,
    is_open,
    latest_response,
    next_question,
    open_for,
    satisfied,
    survey_locale,
)

__all__ = [
    "Step",
    "answer",
    "answers_of",
    "apply",
    "back",
    "begin",
    "create",
    "definition_of",
    "for_member",
    "is_open",
    "latest_response",
    "next_question",
    "open_for",
    "questions_of",
    "replace",
    "response_counts",
    "satisfied",
    "survey_locale",
]
