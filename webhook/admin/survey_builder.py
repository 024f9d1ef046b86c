"""Building a survey: its texts per language, its questions added, ordered, edited and removed,
checked by the survey format with each problem beside its field, and the preview beside the
form of what members see on Telegram and on WhatsApp, made as the bot itself renders a question."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from bot import broadcasts, surveys
from bot.channels.base import ChannelName, pieces
from bot.channels.registry import capabilities, text_limits
from bot.i18n import LOCALES, Translator
from bot.i18n.markers import N_
from bot.messages import Button, OutboundMessage
from bot.secretariat.audit import record
from bot.storage.models import Survey, SurveyQuestion, SurveyResponse
from bot.surveys import Step, wording
from bot.surveys import launch as surveys_launch
from bot.surveys.answers import CHOICE_KINDS, KINDS, label
from bot.surveys.format import MAX_OPTIONS
from bot.surveys.render import question_message
from webhook.admin import survey_form
from webhook.admin.broadcast_form import refusal
from webhook.admin.pages import AdminRoute, EditorVisit, Visit, render
from webhook.admin.survey_form import KIND_NAMES, MAX_QUESTIONS, TEST_NAMES, Builder, Option
from webhook.admin.surveys import load
from webhook.deps import ItemId, ServiceDep

if TYPE_CHECKING:
    from app.service import Service

router = APIRouter(route_class=AdminRoute)
# The preview shows both: a channel with buttons and one where choices are numbered.
TELEGRAM, WHATSAPP = ChannelName.TELEGRAM, ChannelName.WHATSAPP


def page(
    request: Request,
    visit: Visit,
    b: Builder,
    survey: Survey | None,
    status_code: int = 200,
    unsaved: bool = False,
) -> Response:
    zone = request.app.state.service.settings.secretariat_timezone
    return render(
        request, "survey_builder.html", visit, title=N_("Build a survey"), b=b, s=survey,
        locales=LOCALES, kinds=KIND_NAMES, tests=TEST_NAMES, choice_kinds=CHOICE_KINDS,
        max_options=MAX_OPTIONS, gaps=translation_gaps(b), zone_name=zone, unsaved=unsaved,
        shown_value=survey_form.shown_value, status_code=status_code,
    )  # fmt: skip


@router.get("/surveys/new")
async def new(request: Request, visit: EditorVisit) -> Response:
    return page(request, visit, survey_form.blank(), None)


@router.get("/surveys/{survey_id}/edit")
async def edit(
    request: Request, survey_id: ItemId, service: ServiceDep, visit: EditorVisit
) -> Response:
    async with service.db.session() as session:
        s = await load(session, survey_id, visit)
        questions = await surveys.questions_of(session, s.id)
    if s.status != "draft":  # answers given so far must keep their meaning
        return RedirectResponse(f"/admin/surveys/{s.id}", status_code=303)
    zone = service.settings.secretariat_timezone
    return page(request, visit, survey_form.from_survey(s, questions, zone), s)


@router.post("/surveys/new")
async def create(request: Request, service: ServiceDep, visit: EditorVisit) -> Response:
    return await _act(request, service, visit, None)


@router.post("/surveys/{survey_id}/edit")
async def save(
    request: Request, survey_id: ItemId, service: ServiceDep, visit: EditorVisit
) -> Response:
    return await _act(request, service, visit, survey_id)


def change(b: Builder, action: str, arg: str) -> bool:
    """A change of the form's shape, not yet saved; False when ``action`` is not one."""
    n = int(arg) if arg.isdigit() and int(arg) < len(b.questions) else None
    qs = b.questions
    if action == "add-question":
        if len(qs) < MAX_QUESTIONS:
            qs.append(survey_form.blank_question(b))
    elif action == "add-locale":
        if arg in LOCALES and arg not in b.locales:
            b.locales.append(arg)
    elif n is None:
        return action in ("remove", "up", "down", "add-option")
    elif action == "remove":
        del qs[n]
    elif action == "up" and n > 0:
        qs[n - 1], qs[n] = qs[n], qs[n - 1]
    elif action == "down" and n + 1 < len(qs):
        qs[n + 1], qs[n] = qs[n], qs[n + 1]
    elif action == "add-option":
        if len(qs[n].options) < MAX_OPTIONS:
            qs[n].options.append(Option())
    else:
        return action in ("up", "down")
    return True


async def _act(request: Request, service: Service, visit: Visit, survey_id: int | None) -> Response:
    """Reshape the form (shown again, unsaved), or save it when the format accepts it."""
    action, _, arg = visit.form.get("action", "save").partition(":")
    if action == "add-locale":
        arg = visit.form.get("add_locale", "")
    b = survey_form.read(visit.form)
    s: Survey | None = None
    if survey_id is not None:
        async with service.db.session() as session:
            s = await load(session, survey_id, visit)
        if s.status != "draft":
            raise HTTPException(409)
    if change(b, action, arg):
        return page(request, visit, b, s, unsaved=True)
    if action not in ("save", "launch"):
        raise HTTPException(400)
    zone = service.settings.secretariat_timezone
    definition = survey_form.check(b, zone)
    if definition is None:
        return page(request, visit, b, s, status_code=422)
    async with service.db.session() as session, session.begin():
        if survey_id is None:
            s = await surveys.create(session, definition, author=visit.staff.id,
                                     country=visit.staff.country)  # fmt: skip
            await record(session, visit.staff, "survey.create", f"survey:{s.id}")
        else:
            s = await load(session, survey_id, visit, lock=True)
            if s.status != "draft":
                raise HTTPException(409)
            await surveys.replace(session, s, definition)
            await record(session, visit.staff, "survey.update", f"survey:{s.id}")
        survey_id = s.id
    if action == "launch":
        return RedirectResponse(f"/admin/surveys/{survey_id}/launch", status_code=303)
    return RedirectResponse(f"/admin/surveys/{survey_id}/edit?done=survey-saved", status_code=303)


# ---------------------------------------------------------------- the preview


@dataclass
class Seen:
    """One message as a member sees it: on Telegram (text and rows of buttons) and on WhatsApp
    (the text the channel sends, in pieces of at most 1,600 characters)."""

    telegram: str
    rows: list[list[Button]]
    whatsapp: list[str]
    question: survey_form.Question | None = None
    number: int = 0


def _float(raw: str) -> float | None:
    try:
        return float(raw.replace(",", "."))
    except ValueError:
        return None


def _transient(b: Builder) -> tuple[Survey, list[SurveyQuestion]]:
    """The form as the bot's objects, never stored: what the handler builds messages from."""
    s = Survey(base_locale=b.base_locale, title=b.title, intro=b.intro, closing=b.closing,
               reminder=b.reminder)  # fmt: skip
    questions = [
        SurveyQuestion(
            id=n,
            position=n,
            key=q.key,
            kind=q.kind if q.kind in KINDS else "single",
            required=not q.skippable,
            text=q.text,
            options=[{"key": o.key or f"o{i}", "label": o.label} for i, o in enumerate(q.options)]
            if q.kind in CHOICE_KINDS
            else [],
            min_value=_float(q.min),
            max_value=_float(q.max),
            hint=survey_form.kept_hint(q),
        )  # fmt: skip
        for n, q in enumerate(b.questions, start=1)
    ]
    return s, questions


def translation_gaps(b: Builder) -> dict[str, wording.Gap]:
    """Per language shown, the texts written and those members would read in the base
    language instead."""
    s, questions = _transient(b)
    return wording.gaps(s, questions, b.locales)


def _plain(text: str, t: Translator) -> Seen:
    message = OutboundMessage(text=text, buttons=[[Button(t("Back to the menu"), "menu:main")]])
    return Seen(text, message.buttons, pieces(message, capabilities(WHATSAPP)))


def messages(b: Builder, locale: str) -> list[Seen]:
    """The introduction, each question and the closing, as the survey handler says them."""
    t = Translator(locale)
    s, questions = _transient(b)
    intro = [label(b.title, locale, b.base_locale), label(b.intro, locale, b.base_locale)]
    seen = [Seen("\n\n".join(p for p in intro if p), [], [])]
    seen[0].whatsapp = pieces(OutboundMessage(seen[0].telegram), capabilities(WHATSAPP))
    for n, (q, form_q) in enumerate(zip(questions, b.questions, strict=True), start=1):
        response = SurveyResponse(locale=locale, path=[1] if n > 1 else [])
        step = Step(response, q, {})
        on_telegram, _ = question_message(s, step, t, TELEGRAM)
        on_whatsapp, _ = question_message(s, step, t, WHATSAPP)
        if on_whatsapp.choices():  # as the handler's turn marks it for button-less channels
            on_whatsapp.choice_hint = t("Reply with the number of your choice.")
        bodies = pieces(on_whatsapp, capabilities(WHATSAPP))
        seen.append(Seen(on_telegram.text, on_telegram.buttons, bodies, form_q, n))
    closing = label(b.closing, locale, b.base_locale)
    seen.append(_plain(closing or t("Thank you! Your answers are saved."), t))
    return seen


@router.post("/surveys/preview")
async def preview(request: Request, service: ServiceDep, visit: EditorVisit) -> Response:
    """The preview of the form as it stands; nothing is saved."""
    b = survey_form.read(visit.form)
    wanted = visit.form.get("preview_locale", "")
    locale = wanted if wanted in b.locales else b.base_locale
    survey_form.check(b, service.settings.secretariat_timezone)
    found: list[Any] = messages(b, locale)
    return render(
        request, "survey_preview.html", visit, b=b, seen=found, preview_locale=locale,
        limits=text_limits(), tests=TEST_NAMES, gaps=translation_gaps(b),
        shown_value=survey_form.shown_value, question_named=survey_form.question_named,
        invitation=invitation_problems(b),
    )  # fmt: skip


def invitation_problems(b: Builder) -> list[tuple[str, dict[str, Any]]]:
    """The invitation is a broadcast: one too long for a channel is refused, not split."""
    s, _ = _transient(b)
    s.name = b.name
    try:
        invitation = surveys_launch.invitation(s, None, {})
    except broadcasts.BroadcastError:
        return []  # a language the bot does not speak: the format says so already
    return [refusal(p, invitation) for p in broadcasts.check(invitation) if p.code == "too_long"]
