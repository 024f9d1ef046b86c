"""Answering a survey in the chat: opened from the menu or an invitation's button, a question at
a time, with buttons on Telegram and the web and numbered options on WhatsApp; back, skip,
pause and resume, a FAQ question answered on the way.

Payloads: ``survey:<id>`` opens (or resumes) a survey; ``sv:<action>:<question id>[:<arg>]``
answers (a), ticks (t), finishes a multiple choice (d), skips (s), goes back (b) or pauses (p).
Everything that needs the database runs as an effect, in the message's own transaction."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from bot.conversation.router import Context, Handled, Router
from bot.i18n import Translator
from bot.knowledge.answers import understand
from bot.members.linking import person_contact_ids
from bot.messages import Button, OutboundMessage
from bot.storage import outbox
from bot.storage.models import Survey, SurveyQuestion, SurveyResponse
from bot.surveys import (
    Step,
    answer,
    answers_of,
    back,
    begin,
    for_member,
    is_open,
    latest_response,
    open_for,
    questions_of,
    survey_locale,
)
from bot.surveys.answers import RATINGS, AnswerError, label, meaning, parse
from bot.surveys.render import question_message
from handlers.safeguarding import disclosed
from handlers.ui import command_word

router = Router("survey")
log = logging.getLogger(__name__)
FLOW = "survey"
# Mid-survey, text that is not an answer is taken for a question about the coalition only when
# the FAQ is this sure ("many" at a number question is a wrong answer, not a question about
# the coalition's size), and for a short text only when it ends in "?" ("more funding?").
FAQ_MID_SURVEY = 0.3


class Turn:
    """What one step of a survey says back: outbox rows in the message's transaction, and
    the options a WhatsApp member may answer with a number."""

    def __init__(self, ctx: Context, done: Handled) -> None:
        self.ctx, self.done = ctx, done
        self.messages: list[OutboundMessage] = []
        self.choices: list[str] = []

    def say(self, text: str, buttons: list[list[Button]] | None = None) -> None:
        self.messages.append(OutboundMessage(text=text, buttons=buttons or []))

    def send(self, t: Translator) -> None:
        contact, done = self.ctx.contact, self.done
        outbox.remember_choices(contact, self.messages, t, self.choices)
        for message in self.messages:
            outbox.enqueue(done.session, contact, message, inbound_id=done.inbound_id)


def _menu_row(t: Translator) -> list[Button]:
    return [Button(t("Back to the menu"), "menu:main")]


# ---------------------------------------------------------------- opening a survey


def list_surveys(ctx: Context) -> None:
    """The "Surveys" menu entry: the surveys open to this member."""

    async def effect(done: Handled) -> None:
        turn, t = Turn(ctx, done), ctx.t
        found = await open_for(done.session, ctx.contact)
        if not found:
            turn.say(
                t("There are no surveys for you right now. We will tell you when there is one."),
                [_menu_row(t)],
            )
        else:
            rows = []
            for survey, state in found:
                locale = survey_locale(survey, ctx.contact)  # as the survey will speak
                title = label(survey.title or {}, locale, survey.base_locale)
                if state == "started":
                    title = t("{title} (continue)", title=title)
                rows.append([Button(title[:120], f"survey:{survey.id}")])
            turn.say(t("Which survey would you like to answer?"), [*rows, _menu_row(t)])
        turn.choices = [b.payload for m in turn.messages for b in m.choices()]
        turn.send(t)

    ctx.effects.append(effect)


@router.button("survey")
async def open_survey(ctx: Context) -> None:
    """From the invitation or the list: start, resume, or say why not."""
    raw = (ctx.payload or "").partition(":")[2]
    survey_id = int(raw) if raw.isdigit() and len(raw) < 19 else 0

    async def effect(done: Handled) -> None:
        turn, session, t = Turn(ctx, done), done.session, ctx.t
        survey = await session.get(Survey, survey_id) if survey_id else None
        if survey is None or survey.status == "draft" or not for_member(survey, ctx.contact):
            turn.say(t("This survey is not available."), [_menu_row(t)])
            return _finish_turn(turn, t, ["menu:main"])
        if not is_open(survey):
            turn.say(t("This survey is closed. Thank you for your interest!"), [_menu_row(t)])
            return _finish_turn(turn, t, ["menu:main"])
        questions = await questions_of(session, survey.id)
        latest = await latest_response(session, survey.id, ctx.contact)
        if latest is not None and latest.status == "started":
            turn.say(t("Welcome back! Let us continue where you left off."))
            step = Step(latest, _current(latest, questions), await answers_of(session, latest.id))
        elif latest is not None and not survey.allow_again:
            turn.say(t("You have already answered this survey. Thank you!"), [_menu_row(t)])
            return _finish_turn(turn, t, ["menu:main"])
        else:
            attempt = latest.attempt + 1 if latest is not None else 1
            step = await begin(session, survey, ctx.contact, questions, attempt, ctx.msg.channel)
            base, locale = survey.base_locale, step.response.locale
            intro = [
                label(survey.title or {}, locale, base),
                label(survey.intro or {}, locale, base),
            ]
            turn.say("\n\n".join(part for part in intro if part))
            log.info("survey %s: contact %s started response %s", survey.id, ctx.contact.id,
                     step.response.id)  # fmt: skip
        ctx.start_flow(FLOW, response=step.response.id, survey=survey.id)
        ask(turn, ctx, survey, step, t)
        turn.send(t)

    ctx.effects.append(effect)


def _finish_turn(turn: Turn, t: Translator, choices: list[str]) -> None:
    turn.choices = choices
    turn.send(t)


def _current(response: SurveyResponse, questions: list[SurveyQuestion]) -> SurveyQuestion | None:
    return next((q for q in questions if q.id == response.current_question_id), None)


# ---------------------------------------------------------------- asking


def ask(turn: Turn, ctx: Context, survey: Survey, step: Step, t: Translator) -> None:
    """The current question, or the closing message when there is none left."""
    if step.question is None:
        ctx.end_flow()
        closing = label(survey.closing or {}, step.response.locale, survey.base_locale)
        turn.say(closing or t("Thank you! Your answers are saved."), [_menu_row(t)])
        turn.choices = ["menu:main"]
        log.info("survey %s: response %s finished", survey.id, step.response.id)
        return
    message, choices = question_message(survey, step, t, ctx.msg.channel)
    turn.messages.append(message)
    turn.choices = choices


# ---------------------------------------------------------------- answering


@router.button("sv")
async def on_tap(ctx: Context) -> None:
    parts = (ctx.payload or "").split(":")
    action = parts[1] if len(parts) > 1 else ""
    question_id = _int(parts[2]) if len(parts) > 2 else None
    arg = _int(parts[3]) if len(parts) > 3 else None
    if action == "p":
        return pause(ctx, stopping=False)
    if action not in ("a", "t", "d", "s", "b") or question_id is None:
        return _step(ctx, None, "repeat")
    _step(ctx, question_id, action, arg=arg)


@router.flow(FLOW)
async def typed(ctx: Context) -> None:
    """A typed answer, a word (back, skip, done), or a question for the FAQ."""
    if ctx.msg.kind == "media" or not ctx.text:
        ctx.reply(ctx.t("I can only read text for now. Please type your message."))
        return _step(ctx, None, "repeat")
    if disclosed(ctx):
        # The helplines first; the survey waits, and can be resumed from the menu.
        return ctx.end_flow()
    # "done" only means something to a multiple choice: elsewhere it may be the answer.
    action = {"back": "b", "skip": "s"}.get(meaning(ctx.text) or "")
    if action:
        return _step(ctx, None, action)
    _step(ctx, None, "text", text=ctx.text)


def repeat(ctx: Context) -> None:
    """The question the member's survey is waiting for, asked again."""
    _step(ctx, None, "repeat")


def pause(ctx: Context, *, stopping: bool) -> None:
    """ "stop", "cancel" or "Continue later": the survey waits where it is, in the database."""
    survey_id = (ctx.contact.flow_data or {}).get("survey")
    ctx.end_flow()
    t = ctx.t
    text = t("Paused. Your answers are saved: you can continue whenever you like.")
    if stopping:
        text += " " + t(
            "To stop the news as well, write {stop} again.", stop=command_word(ctx, "stop")
        )
    rows = [[Button(t("Continue the survey"), f"survey:{survey_id}")]] if survey_id else []
    ctx.reply(text, [*rows, _menu_row(t)])


def _int(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


def _step(
    ctx: Context, question_id: int | None, action: str, *, arg: int | None = None, text: str = ""
) -> None:
    async def effect(done: Handled) -> None:
        await _act(Turn(ctx, done), ctx, question_id, action, arg, text)

    ctx.effects.append(effect)


async def _response(turn: Turn, question_id: int | None) -> SurveyResponse | None:
    """The member's response this message is about: from the flow, or from the question of a
    button tapped after a pause (which resumes the survey)."""
    session, ctx = turn.done.session, turn.ctx
    if question_id is not None:
        survey_id = await session.scalar(
            select(SurveyQuestion.survey_id).where(SurveyQuestion.id == question_id)
        )
        if survey_id is None:
            return None
        return await latest_response(session, survey_id, ctx.contact)
    response_id = (ctx.contact.flow_data or {}).get("response")
    found = await session.get(SurveyResponse, response_id) if isinstance(response_id, int) else None
    if found is None or found.contact_id is None:
        return None
    return found if found.contact_id in await person_contact_ids(session, ctx.contact) else None


async def _act(
    turn: Turn, ctx: Context, question_id: int | None, action: str, arg: int | None, text: str
) -> None:
    session = turn.done.session
    response = await _response(turn, question_id)
    survey = await session.get(Survey, response.survey_id) if response is not None else None
    if response is None or survey is None or response.status != "started":
        ctx.end_flow()
        if question_id is not None:  # a button of a survey finished since: never acted on
            turn.say(ctx.t("That choice has expired."))
        turn.say(ctx.t("This survey is no longer waiting for your answers."), [_menu_row(ctx.t)])
        return _finish_turn(turn, ctx.t, ["menu:main"])
    t = ctx.t
    if not is_open(survey):
        ctx.end_flow()
        turn.say(t("This survey is closed. Thank you for your interest!"), [_menu_row(t)])
        return _finish_turn(turn, t, ["menu:main"])
    ctx.start_flow(FLOW, response=response.id, survey=survey.id)
    questions = await questions_of(session, survey.id)
    answers = await answers_of(session, response.id)
    current = _current(response, questions)
    step = Step(response, current, answers)
    if current is None:
        step = await back(session, response, questions)  # its question was removed
    elif question_id is not None and question_id != current.id:
        pass  # a button of another question: ask the one that is waiting
    else:
        step = await _apply(turn, ctx, survey, questions, step, action, arg, text, t)
    ask(turn, ctx, survey, step, t)
    turn.send(t)


async def _apply(
    turn: Turn,
    ctx: Context,
    survey: Survey,
    questions: list[SurveyQuestion],
    step: Step,
    action: str,
    arg: int | None,
    text: str,
    t: Translator,
) -> Step:
    session, response, q = turn.done.session, step.response, step.question
    assert q is not None
    stored = step.answers.get(q.id)
    if action == "text" and q.kind == "multiple" and meaning(text) == "done":
        action = "d"
    if action == "b":
        if not response.path:
            turn.say(t("This is the first question."))
        return await back(session, response, questions)
    if action == "s":
        if q.required:
            turn.say(t("This question needs an answer."))
            return step
        return await answer(session, response, questions, q, None, skipped=True)
    if action == "t" and q.kind == "multiple" and arg is not None and arg < len(q.options):
        ticked = list(stored.value or []) if stored is not None and not stored.skipped else []
        key = str(q.options[arg]["key"])
        ticked = [k for k in ticked if k != key] if key in ticked else [*ticked, key]
        order = [str(o["key"]) for o in q.options]
        ticked.sort(key=order.index)
        return await answer(session, response, questions, q, ticked, move_on=False)
    if action == "d" and q.kind == "multiple":
        chosen = list(stored.value or []) if stored is not None and not stored.skipped else []
        if chosen:
            return await answer(session, response, questions, q, chosen)
        if not q.required:
            return await answer(session, response, questions, q, None, skipped=True)
        turn.say(t("Please choose at least one option."))
        return step
    if action == "a" and arg is not None:
        value = _tapped(q, arg)
        if value is not None:
            return await answer(session, response, questions, q, value)
    if action == "text":
        return await _typed(turn, ctx, survey, questions, step, text, t)
    return step  # a button that does not fit the question: ask it again


def _tapped(q: SurveyQuestion, arg: int) -> Any:
    if q.kind == "single" and arg < len(q.options):
        return str(q.options[arg]["key"])
    if q.kind == "yes_no" and arg in (0, 1):
        return arg == 1
    if q.kind in RATINGS and RATINGS[q.kind][0] <= arg <= RATINGS[q.kind][1]:
        return arg
    return None


async def _typed(
    turn: Turn,
    ctx: Context,
    survey: Survey,
    questions: list[SurveyQuestion],
    step: Step,
    text: str,
    t: Translator,
) -> Step:
    q = step.question
    assert q is not None
    if q.kind == "short_text" and text.rstrip().endswith("?") and _faq(turn, ctx, text, topic=True):
        return step  # a question about the coalition, not the answer: answered, then asked again
    try:
        value = parse(q, text, t, survey.base_locale)
    except AnswerError as why:
        if not _faq(turn, ctx, text, topic=False):
            turn.say(t("Sorry, I could not read that as an answer.") + " " + str(why))
        return step
    return await answer(turn.done.session, step.response, questions, q, value)


def _faq(turn: Turn, ctx: Context, text: str, *, topic: bool) -> bool:
    """Answer a question about the coalition asked in the middle of the survey."""
    if getattr(ctx.services, "matcher", None) is None:
        return False
    country = ctx.contact.country or ctx.contact.country_hint
    found = understand(ctx.services, text, ctx.t, country, alerted=False)
    sure = found.kind == "topic" and found.score >= FAQ_MID_SURVEY
    if sure or (found.kind == "smalltalk" and not topic):
        turn.say(found.text)
        log.info("survey: contact %s asked the FAQ mid-survey (%s)", ctx.contact.id, found.kind)
        return True
    return False
