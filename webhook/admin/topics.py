"""Topics on the dashboard: what members may subscribe to. Everyone sees them; editors of the
whole coalition add them, rename them in each language, set the default and the order, and
archive them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from bot.i18n import LOCALES
from bot.i18n.markers import N_
from bot.members import topics
from bot.members.topics import TopicError
from bot.secretariat.audit import record
from webhook.admin.pages import AdminRoute, EditorVisit, Visit, VisitDep, render
from webhook.deps import ServiceDep

router = APIRouter(route_class=AdminRoute)
REFUSALS = {
    "key": N_("The key is lower-case letters, digits and _, starting with a letter."),
    "no_english": N_("Give the English name: members without their own language read it."),
    "exists": N_("There is already a topic with that key."),
    "too_long": N_("A name has at most 60 characters: it goes on a button."),
    "locale": N_("That language is not one the bot speaks."),
}


async def _page(
    request: Request, service: ServiceDep, visit: Visit, *, error: str | None = None
) -> Response:
    async with service.db.session() as session:
        found = await topics.listed(session, archived=True)
    return render(request, "topics.html", visit, title=N_("News topics"), topics=found,
                  locales=LOCALES, name_of=topics.name_of, error=error,
                  can_change=visit.staff.can_send and visit.staff.country is None,
                  status_code=400 if error else 200)  # fmt: skip


def _coalition(visit: Visit) -> None:
    if visit.staff.country is not None:
        raise HTTPException(403)  # topics are the whole coalition's


@router.get("/topics")
async def topic_list(request: Request, service: ServiceDep, visit: VisitDep) -> Response:
    return await _page(request, service, visit)


@router.post("/topics")
async def create(request: Request, service: ServiceDep, visit: EditorVisit) -> Response:
    _coalition(visit)
    form = visit.form
    try:
        async with service.db.session() as session, session.begin():
            topic = await topics.create(
                session, form.get("key", "").strip(), {"en": form.get("name", "")},
                default_on=bool(form.get("default_on")),
            )  # fmt: skip
            await record(session, visit.staff, "topic.create", f"topic:{topic.id}", key=topic.key)
    except TopicError as exc:
        return await _page(request, service, visit, error=REFUSALS.get(exc.code))
    return RedirectResponse("/admin/topics?done=saved", status_code=303)


@router.post("/topics/{key}")
async def change(request: Request, key: str, service: ServiceDep, visit: EditorVisit) -> Response:
    """Names in every language, the default and the order; or archived, or back."""
    _coalition(visit)
    form = visit.form
    changes: dict[str, object] = {}
    if form.get("action") in ("archive", "restore"):
        changes["archived"] = form["action"] == "archive"
    else:
        position = form.get("position", "")
        if not position.isdigit() or int(position) > 10_000:
            raise HTTPException(400)
        changes = {
            "names": {loc: form.get(f"name:{loc}", "") for loc in LOCALES},
            "default_on": bool(form.get("default_on")),
            "position": int(position),
        }
    try:
        async with service.db.session() as session, session.begin():
            topic = await topics.by_key(session, key)
            if topic is None:
                raise HTTPException(404)
            topics.update(topic, changes)
            action = "topic.archive" if changes.get("archived") else "topic.update"
            await record(session, visit.staff, action, f"topic:{topic.id}")
    except TopicError as exc:
        return await _page(request, service, visit, error=REFUSALS.get(exc.code))
    return RedirectResponse("/admin/topics?done=saved", status_code=303)
