"""A survey's results on the dashboard: response and completion rates and a chart per question,
drawn on the server as SVG bars, filtered and compared by country, language, organisation
and channel, refreshed by the page every few seconds while answers arrive."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from bot.countries import MEMBER_COUNTRIES, OTHER
from bot.i18n import LOCALES
from bot.i18n.markers import N_
from bot.surveys import results as surveys_results
from bot.surveys.results import Filters
from webhook.admin.broadcast_form import CHANNELS
from webhook.admin.pages import AdminRoute, Visit, VisitDep, render
from webhook.admin.surveys import load, title_of
from webhook.deps import ItemId, ServiceDep

if TYPE_CHECKING:
    from app.service import Service

router = APIRouter(route_class=AdminRoute)
POLL_SECONDS = 4
SERIES = 6  # groups compared at once: the largest ones; more would not read on a phone
TEXTS_SHOWN = 50
YES_NO = {"yes": N_("Yes"), "no": N_("No")}
BY = ("country", "locale", "organisation", "channel")


@dataclass
class Chart:
    """One question's chart: a row per option (or bin), a count per series."""

    kind: str  # bars or texts
    rows: list[tuple[str, list[int]]] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)  # answers per series, for the shares
    top: int = 1


def chart(q: dict[str, Any], groups: list[dict[str, Any]]) -> Chart:
    """Bars for choices, yes/no, ratings and dates, a histogram for numbers; with groups,
    one series per group (the groups' histograms share the whole's bins)."""
    if "texts" in q:
        return Chart("texts")
    series = groups or [q]
    totals = [int(found["answered"]) for found in series]
    if "histogram" in q:
        rows = [
            (_bin(b), [int(found["histogram"][i]["count"]) for found in series])
            for i, b in enumerate(q["histogram"])
        ]
        return _scaled(Chart("bars", rows, totals))
    keys: list[tuple[str, str]] = []
    for found in series:
        for c in found.get("counts", []):
            if (str(c["option"]), str(c["label"])) not in keys:
                keys.append((str(c["option"]), str(c["label"])))
    rows = []
    for key, name in keys:
        counts = [
            next((int(c["count"]) for c in found.get("counts", []) if str(c["option"]) == key), 0)
            for found in series
        ]
        rows.append((YES_NO.get(key, name) if q["type"] == "yes_no" else name, counts))
    return _scaled(Chart("bars", rows, totals))


def _scaled(c: Chart) -> Chart:
    c.top = max([1, *(n for _, counts in c.rows for n in counts)])
    return c


def _bin(b: dict[str, Any]) -> str:
    def n(value: float) -> str:
        return f"{value:g}"

    return n(b["from"]) if b["from"] == b["to"] else f"{n(b['from'])}–{n(b['to'])}"


def _filters(visit: Visit, country: str, locale: str, organisation: str, channel: str) -> Filters:
    countries = [visit.staff.country] if visit.staff.country else ([country] if country else [])
    return Filters(
        countries=countries, locales=[locale] if locale else [],
        organisations=[organisation] if organisation else [], channels=[channel] if channel else [],
    )  # fmt: skip


Country = Annotated[str, Query(max_length=8)]
Locale = Annotated[str, Query(max_length=16)]
Organisation = Annotated[str, Query(max_length=200)]
Channel = Annotated[Literal["", "telegram", "whatsapp", "web"], Query()]
By = Annotated[Literal["", "country", "locale", "organisation", "channel"], Query()]


async def _results(
    request: Request, service: Service, visit: Visit, survey_id: int, template: str,
    chosen: dict[str, str],
) -> Response:  # fmt: skip
    filters = _filters(visit, chosen["country"], chosen["locale"], chosen["organisation"],
                       chosen["channel"])  # fmt: skip
    async with service.db.session() as session:
        s = await load(session, survey_id, visit)
        found = await surveys_results.results(session, s, filters, chosen["by"] or None)
    groups = sorted(found["groups"].items(), key=lambda g: -g[1]["started"])[:SERIES]
    charts = [
        chart(q, [g["questions"][i] for _, g in groups]) for i, q in enumerate(found["questions"])
    ]
    query = {k: v for k, v in chosen.items() if v}
    exported = urlencode({k: v for k, v in query.items() if k != "by"})
    return render(
        request, template, visit, title=N_("Results"), s=s, r=found, charts=charts,
        groups=groups, by=chosen["by"], chosen=chosen, query=urlencode(query),
        exported=f"?{exported}" if exported else "", title_of=title_of, poll=POLL_SECONDS,
        texts_shown=TEXTS_SHOWN, locales=LOCALES, channels=CHANNELS,
        countries=(*MEMBER_COUNTRIES, OTHER), compare=BY,
    )  # fmt: skip


@router.get("/surveys/{survey_id}/results")
async def results_page(
    request: Request, survey_id: ItemId, service: ServiceDep, visit: VisitDep,
    country: Country = "", locale: Locale = "", organisation: Organisation = "",
    channel: Channel = "", by: By = "",
) -> Response:  # fmt: skip
    chosen = {"country": country.upper(), "locale": locale, "organisation": organisation.strip(),
              "channel": channel, "by": by}  # fmt: skip
    return await _results(request, service, visit, survey_id, "survey_results.html", chosen)


@router.get("/surveys/{survey_id}/results/live")
async def live(
    request: Request, survey_id: ItemId, service: ServiceDep, visit: VisitDep,
    country: Country = "", locale: Locale = "", organisation: Organisation = "",
    channel: Channel = "", by: By = "",
) -> Response:  # fmt: skip
    """The rates and charts alone, for the page's polling."""
    chosen = {"country": country.upper(), "locale": locale, "organisation": organisation.strip(),
              "channel": channel, "by": by}  # fmt: skip
    return await _results(request, service, visit, survey_id, "survey_results_live.html", chosen)


@router.get("/surveys/{survey_id}/respondents")
async def respondents_page(
    request: Request, survey_id: ItemId, service: ServiceDep, visit: VisitDep,
    country: Country = "", locale: Locale = "", organisation: Organisation = "",
    channel: Channel = "",
) -> Response:  # fmt: skip
    """Who answered, for a survey that names its members; an anonymous one has no such page."""
    filters = _filters(visit, country.upper(), locale, organisation.strip(), channel)
    async with service.db.session() as session:
        s = await load(session, survey_id, visit)
        try:
            found = await surveys_results.respondents(session, s, filters)
        except surveys_results.AnonymousSurvey:
            raise HTTPException(404) from None
    chosen = {"country": country.upper(), "locale": locale, "organisation": organisation.strip(),
              "channel": channel}  # fmt: skip
    return render(
        request, "survey_respondents.html", visit, title=N_("Who answered"), s=s, found=found,
        complete=sum(r.complete for r in found), title_of=title_of,
        query=urlencode({k: v for k, v in chosen.items() if v}),
    )  # fmt: skip
