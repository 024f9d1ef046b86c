"""What the bot knows, on the dashboard: the topics it answers with, each language's texts
side by side with the English, example questions, archive and restore, each topic's history
with a revert, a box to try a question, and the child helplines per country (administrators).
Everyone reads; editors of the whole coalition change topics."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from anyascii import anyascii
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from bot.i18n import LOCALES, Translator
from bot.i18n.markers import N_
from bot.knowledge import helplines, library
from bot.knowledge.answers import understand
from bot.knowledge.helplines import HelplineError
from bot.knowledge.library import KnowledgeEditError
from bot.knowledge.live import changed
from bot.secretariat.audit import record
from bot.secretariat.inbox import top_unanswered
from bot.storage.db import Database
from webhook.admin.pages import AdminRoute, AdminVisit, EditorVisit, Visit, VisitDep, render
from webhook.api.knowledge import NewTopic, TeachIn, teach, trial
from webhook.deps import ServiceDep

router = APIRouter(route_class=AdminRoute)
UNANSWERED_SHOWN = 20
REFUSALS = {
    "key": N_("The key is lower-case letters, digits and _, starting with a letter."),
    "exists": N_("There is already a topic with that key."),
    "no_english": N_(
        "Give the English title and answer: members without their own language read them."
    ),
    "too_long": N_("A text is too long."),
    "locale": N_("That language is not one the bot speaks."),
    "shape": N_("The form is not complete."),
    "number": N_("A number is digits, spaces, + and -, with what it reaches in brackets."),
    "country": N_("That is not a country code."),
    "missing": N_("That no longer exists."),
}


# what a change in a topic's history shows, field by field, with the form's labels
HISTORY_FIELDS = (
    ("titles", N_("Title")), ("answers", N_("Answer")), ("more", N_("Tell me more")),
    ("examples", N_("Example questions")),
)  # fmt: skip


def _can_change(visit: Visit) -> bool:
    return visit.staff.can_send and visit.staff.country is None


def _coalition(visit: Visit) -> None:
    if not _can_change(visit):
        raise HTTPException(403)  # what the bot knows is the whole coalition's


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


async def _key(db: Database, given: str, title: str) -> str:
    """The key typed, or one made from the English title ("The annual forum" -> annual_forum,
    annual_forum_2 when taken): an officer need not invent one."""
    if given:
        return given
    words = [w for w in re.split(r"[^a-z0-9]+", anyascii(title).lower()) if w]
    words = [w for w in words if w not in ("the", "a", "an")] or words or ["topic"]
    base = "_".join(words)[:36].strip("_")
    base = base if base[:1].isalpha() else f"topic_{base}"[:36]
    async with db.session() as session:
        taken = {t.key for t in await library.listed(session, archived=True)}
    return next(k for n in range(1, 1000) if (k := base if n == 1 else f"{base}_{n}") not in taken)


def _title(found: library.TopicRecord, locale: str) -> str:
    return found.titles.get(locale) or found.titles.get("en") or found.key


@router.get("/knowledge")
async def knowledge_page(
    request: Request, service: ServiceDep, visit: VisitDep, error: str | None = None
) -> Response:
    """The topics with what each language lacks, the trial box, and a new topic."""
    question = request.query_params.get("q", "").strip()[:600]
    lang = request.query_params.get("lang", "en")
    lang = lang if lang in LOCALES else "en"
    tried = trial(service, question, lang) if question else None
    async with service.db.session() as session:
        topics = await library.listed(session, archived=True)
        unverified = await helplines.unverified(session)
        unanswered = await top_unanswered(session, UNANSWERED_SHOWN, None, staff=visit.staff)
    titles = {t.key: _title(t, visit.locale) for t in topics}
    live = {t.key for t in topics if not t.archived}
    closest = {(q.locale, q.question): _closest(service, q.question, q.locale, live)
               for q in unanswered}  # fmt: skip
    return render(
        request, "knowledge.html", visit, title=N_("Knowledge"), topics=topics, titles=titles,
        locales=LOCALES, can_change=_can_change(visit), question=question, lang=lang,
        tried=tried, unverified=unverified, error=error, unanswered=unanswered,
        closest=closest, status_code=400 if error else 200,
    )  # fmt: skip


def _closest(service: Any, question: str, locale: str, live: set[str]) -> str | None:
    """The topic the bot offered the member first as a near miss when it could not answer the
    question (the decision it makes when a member asks, in the language the question was
    asked in): the one chosen first when teaching it, the editor still chooses. None when the
    bot offered nothing (out of scope, a concern, nothing near enough): a wrong choice would
    tell the members who asked it a wrong answer."""
    locale = locale if locale in LOCALES else "en"
    features = service.features
    found = understand(features, question, Translator(locale), None, alerted=False)
    if found.kind != "unknown":
        return None
    offered = features.matcher.knowledge.topics.get(locale, {})
    return next((key for key in found.near if key in offered and key in live), None)


@router.post("/knowledge")
async def create(request: Request, service: ServiceDep, visit: EditorVisit) -> Response:
    _coalition(visit)
    form = visit.form
    key = await _key(service.db, form.get("key", "").strip(), form.get("title", ""))
    texts: dict[str, Any] = {
        "titles": {"en": form.get("title", "")},
        "answers": {"en": form.get("answer", "")},
        "more": {"en": form.get("more", "")},
        "examples": {"en": _lines(form.get("examples", ""))},
    }
    try:
        async with service.db.session() as session, session.begin():
            await library.create(session, visit.staff.email, key, texts)
            await record(session, visit.staff, "knowledge.create", f"knowledge:{key}")
    except KnowledgeEditError as exc:
        return await knowledge_page(request, service, visit, error=REFUSALS.get(exc.code))
    await changed(service.coordinator)
    return RedirectResponse(f"/admin/knowledge/{key}?lang=ro&done=saved", status_code=303)


@router.post("/knowledge/teach")
async def teach_question(request: Request, service: ServiceDep, visit: EditorVisit) -> Response:
    """An unanswered question as an example of a topic, or the start of a new one."""
    _coalition(visit)
    form = visit.form
    try:
        new = None
        if form.get("action") == "new":
            title = form.get("title", "").strip()
            key = await _key(service.db, form.get("key", "").strip(), title)
            new = NewTopic(key=key, title=title,
                           answer=form.get("answer", "").strip(),
                           local_title=form.get("local_title", "").strip() or None,
                           local_answer=form.get("local_answer", "").strip() or None)  # fmt: skip
        body = TeachIn(question=form.get("question", ""), locale=form.get("locale", ""),
                       topic=None if new else form.get("topic") or None, new=new,
                       tell=bool(form.get("tell")))  # fmt: skip
    except ValueError:
        return await knowledge_page(request, service, visit, error=REFUSALS["shape"])
    if body.locale not in LOCALES:
        raise HTTPException(400)
    try:
        found, told = await teach(service, visit.staff, body)
    except HTTPException as exc:
        if exc.status_code == 403:
            raise
        return await knowledge_page(request, service, visit, error=REFUSALS.get(
            "exists" if exc.status_code == 409 else "shape"))  # fmt: skip
    done = "told" if told else "saved"
    return RedirectResponse(
        f"/admin/knowledge/{found.key}?lang={quote(body.locale)}&done={done}", status_code=303
    )


async def _topic_page(
    request: Request, service: Any, visit: Visit, key: str, lang: str, *,
    error: str | None = None,
) -> Response:  # fmt: skip
    try:
        async with service.db.session() as session:
            found = await library.get(session, key)
            changes = await library.history(session, key)
    except KnowledgeEditError:
        raise HTTPException(404) from None
    return render(
        request, "knowledge_topic.html", visit, title=N_("Knowledge"), t=found,
        heading=_title(found, visit.locale), lang=lang, locales=LOCALES, changes=changes,
        fields=HISTORY_FIELDS,
        can_change=_can_change(visit), error=error, status_code=400 if error else 200,
    )  # fmt: skip


@router.get("/knowledge/{key}")
async def topic_page(request: Request, key: str, service: ServiceDep, visit: VisitDep) -> Response:
    """One topic: a language's texts beside the English, its examples, and the history."""
    lang = request.query_params.get("lang", "en")
    if lang not in LOCALES:
        raise HTTPException(404)
    return await _topic_page(request, service, visit, key, lang)


@router.post("/knowledge/{key}")
async def change(request: Request, key: str, service: ServiceDep, visit: EditorVisit) -> Response:
    """Save one language's title, answer, more and examples; or archive, or restore."""
    _coalition(visit)
    form = visit.form
    action = form.get("action", "save")
    lang = form.get("lang", "en")
    try:
        async with service.db.session() as session, session.begin():
            if action in ("archive", "restore"):
                await library.set_archived(session, visit.staff.email, key, action == "archive")
                await record(session, visit.staff, f"knowledge.{action}", f"knowledge:{key}")
            elif action == "example":
                await library.add_examples(session, visit.staff.email, key, lang,
                                           _lines(form.get("example", "")))  # fmt: skip
                await record(session, visit.staff, "knowledge.update", f"knowledge:{key}",
                             fields=["examples"])  # fmt: skip
            else:
                texts = {
                    "titles": {lang: form.get("title", "")},
                    "answers": {lang: form.get("answer", "")},
                    "more": {lang: form.get("more", "")},
                    "examples": {lang: _lines(form.get("examples", ""))},
                }
                await library.change(session, visit.staff.email, key, texts)
                await record(session, visit.staff, "knowledge.update", f"knowledge:{key}",
                             fields=sorted(texts), locale=lang)  # fmt: skip
    except KnowledgeEditError as exc:
        if exc.code == "missing":
            raise HTTPException(404) from None
        return await _topic_page(request, service, visit, key, lang,
                                 error=REFUSALS.get(exc.code))  # fmt: skip
    await changed(service.coordinator)
    return RedirectResponse(
        f"/admin/knowledge/{key}?lang={quote(lang)}&done=saved", status_code=303
    )


@router.post("/knowledge/{key}/revert/{change_id}")
async def revert(
    request: Request, key: str, change_id: int, service: ServiceDep, visit: EditorVisit
) -> Response:
    _coalition(visit)
    try:
        async with service.db.session() as session, session.begin():
            await library.revert(session, visit.staff.email, key, change_id)
            await record(session, visit.staff, "knowledge.revert", f"knowledge:{key}",
                         change=change_id)  # fmt: skip
    except KnowledgeEditError:
        raise HTTPException(404) from None
    await changed(service.coordinator)
    return RedirectResponse(f"/admin/knowledge/{key}?done=saved", status_code=303)


@router.get("/helplines")
async def helplines_page(
    request: Request, service: ServiceDep, visit: VisitDep, error: str | None = None
) -> Response:
    """The child helpline and emergency numbers of each country, and who verified them."""
    async with service.db.session() as session:
        rows = await helplines.listed(session)
    unverified = [row.country for row in rows if row.verified_at is None]
    return render(request, "helplines.html", visit, title=N_("Helplines"), rows=rows,
                  unverified=unverified, error=error,
                  status_code=400 if error else 200)  # fmt: skip


@router.post("/helplines/{country}")
async def put_helpline(
    request: Request, country: str, service: ServiceDep, visit: AdminVisit
) -> Response:
    if visit.staff.country is not None and visit.staff.country != country:
        raise HTTPException(403)
    form = visit.form
    fields = {
        "name": form.get("name", ""), "number": form.get("number", ""),
        "hours": form.get("hours", ""), "emergency": _lines(form.get("emergency", "")),
        "note": form.get("note", ""),
    }  # fmt: skip
    verified = bool(form.get("verified"))
    try:
        async with service.db.session() as session, session.begin():
            await helplines.put(session, visit.staff.email, country, fields, verified=verified)
            await record(session, visit.staff, "helpline.update", f"helpline:{country}",
                         verified=verified)  # fmt: skip
    except HelplineError as exc:
        return await helplines_page(request, service, visit, error=REFUSALS.get(exc.code))
    await changed(service.coordinator)
    return RedirectResponse(f"/admin/helplines?done=saved#line-{country}", status_code=303)
