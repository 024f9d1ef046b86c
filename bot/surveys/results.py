"""A survey's results: response and completion rates, a summary per question (counts for
choices and ratings, a histogram for numbers, the list of texts), filtered and compared by
country, language, organisation and channel; and the export, one row per response and one
column per question, as CSV or XLSX. An anonymous survey's results never name a member."""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.spreadsheet import printable, safe_cell
from bot.storage.models import (
    Contact,
    Delivery,
    Survey,
    SurveyAnswer,
    SurveyQuestion,
    SurveyResponse,
)
from bot.surveys.answers import CHOICE_KINDS, RATINGS, label
from bot.surveys.store import questions_of

REACHED = ("sent", "delivered", "read")
GROUPS = ("country", "locale", "organisation", "channel")
TEXTS_SHOWN = 500  # newest short texts in the results; the export has them all
BINS = 10


@dataclass
class Filters:
    """Which responses count: those matching every filter that is set."""

    countries: list[str] = field(default_factory=list)
    locales: list[str] = field(default_factory=list)
    organisations: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)

    def keep(self, r: SurveyResponse) -> bool:
        orgs = {o.strip().lower() for o in self.organisations}
        return (
            (not self.countries or r.country in self.countries)
            and (not self.locales or r.locale in self.locales)
            and (not orgs or (r.organisation or "").strip().lower() in orgs)
            and (not self.channels or r.channel in self.channels)
        )


async def _responses(
    session: AsyncSession, survey_id: int, filters: Filters
) -> tuple[list[SurveyResponse], dict[int, dict[int, SurveyAnswer]]]:
    found = await session.scalars(
        select(SurveyResponse)
        .where(SurveyResponse.survey_id == survey_id)
        .order_by(SurveyResponse.id)
    )
    responses = [r for r in found if filters.keep(r)]
    answers: dict[int, dict[int, SurveyAnswer]] = {r.id: {} for r in responses}
    rows = await session.scalars(
        select(SurveyAnswer)
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .where(SurveyResponse.survey_id == survey_id)
    )
    for a in rows:
        if a.response_id in answers:
            answers[a.response_id][a.question_id] = a
    return responses, answers


async def invited(session: AsyncSession, survey: Survey, filters: Filters) -> int:
    """Members the invitation reached, within the filters (language: the invitation's)."""
    if survey.broadcast_id is None:
        return 0
    stmt = (
        select(func.count())
        .select_from(Delivery)
        .join(Contact, Contact.id == Delivery.contact_id)
        .where(Delivery.broadcast_id == survey.broadcast_id, Delivery.status.in_(REACHED))
    )
    if filters.countries:
        stmt = stmt.where(Contact.country.in_(filters.countries))
    if filters.locales:
        stmt = stmt.where(Delivery.locale.in_(filters.locales))
    if filters.channels:
        stmt = stmt.where(Delivery.channel.in_(filters.channels))
    if filters.organisations:
        orgs = [o.strip().lower() for o in filters.organisations]
        stmt = stmt.where(func.lower(func.trim(Contact.organisation)).in_(orgs))
    return int(await session.scalar(stmt) or 0)


def summarise(
    survey: Survey,
    questions: list[SurveyQuestion],
    responses: list[SurveyResponse],
    answers: dict[int, dict[int, SurveyAnswer]],
    bins: dict[str, list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Rates and a summary per question; ``bins`` gives number questions the histogram bins
    of another summary (a group's, the same as the whole's, so that groups compare)."""
    started = len(responses)
    finished = sum(r.status == "finished" for r in responses)
    return {
        "started": started,
        "finished": finished,
        "completion_rate": round(finished / started, 4) if started else None,
        "questions": [
            _question(
                survey,
                q,
                [answers[r.id][q.id] for r in responses if q.id in answers[r.id]],
                (bins or {}).get(q.key),
            )
            for q in questions
        ],
    }


def _question(
    survey: Survey,
    q: SurveyQuestion,
    given: list[SurveyAnswer],
    bins: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    base = survey.base_locale
    values = [a.value for a in given if not a.skipped and a.value is not None]
    found: dict[str, Any] = {
        "id": q.key,
        "type": q.kind,
        "text": label(q.text or {}, base, base),
        "answered": len(values),
        "skipped": sum(a.skipped for a in given),
    }
    if q.kind in CHOICE_KINDS:
        counts: Counter[str] = Counter()
        for v in values:
            counts.update(v if isinstance(v, list) else [v])
        found["counts"] = [
            {"option": o["key"], "label": label(o.get("label") or {}, base, base),
             "count": counts[str(o["key"])]}
            for o in q.options
        ]  # fmt: skip
    elif q.kind == "yes_no":
        found["counts"] = [
            {"option": "yes", "label": "yes", "count": sum(v is True for v in values)},
            {"option": "no", "label": "no", "count": sum(v is False for v in values)},
        ]
    elif q.kind in RATINGS:
        low, high = RATINGS[q.kind]
        ratings = Counter(int(v) for v in values if isinstance(v, int | float))
        found["counts"] = [
            {"option": str(n), "label": str(n), "count": ratings[n]} for n in range(low, high + 1)
        ]
        found.update(_stats([float(v) for v in values if isinstance(v, int | float)]))
    elif q.kind == "number":
        numbers = [float(v) for v in values if isinstance(v, int | float)]
        found.update(_stats(numbers))
        found["histogram"] = histogram(numbers) if bins is None else counted(numbers, bins)
    elif q.kind == "date":
        days = Counter(str(v) for v in values)
        found["counts"] = [{"option": d, "label": d, "count": days[d]} for d in sorted(days)]
    else:
        newest = sorted(given, key=lambda a: a.answered_at, reverse=True)
        found["texts"] = [str(a.value) for a in newest if a.value][:TEXTS_SHOWN]
    return found


def _stats(numbers: list[float]) -> dict[str, Any]:
    if not numbers:
        return {"mean": None, "median": None, "min": None, "max": None}
    return {
        "mean": round(statistics.fmean(numbers), 3),
        "median": statistics.median(numbers),
        "min": min(numbers),
        "max": max(numbers),
    }


def histogram(numbers: list[float], bins: int = BINS) -> list[dict[str, Any]]:
    """Equal-width bins from the smallest to the largest answer (whole numbers: no bin
    narrower than 1)."""
    if not numbers:
        return []
    low, high = min(numbers), max(numbers)
    if low == high:
        return [{"from": low, "to": high, "count": len(numbers)}]
    whole = all(float(n).is_integer() for n in numbers)
    width = (high - low) / bins
    if whole:
        width = max(1.0, float(int(width) + (width % 1 > 0)))
    edges: list[dict[str, Any]] = []
    start = low
    while start <= high:
        edges.append({"from": start, "to": start + width, "count": 0})
        start += width
    for n in numbers:
        index = min(int((n - low) // width), len(edges) - 1)
        edges[index]["count"] += 1
    if whole:
        for e in edges:
            e["to"] = e["to"] - 1  # "10–19", not "10–20"
    return edges


def counted(numbers: list[float], bins: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``numbers`` counted into given bins (each from its ``from`` up to the next one's)."""
    found = [{"from": b["from"], "to": b["to"], "count": 0} for b in bins]
    for n in numbers:
        for index, b in enumerate(found):
            last = index == len(found) - 1
            if n >= b["from"] and (last or n < found[index + 1]["from"]):
                b["count"] += 1
                break
    return found


async def results(
    session: AsyncSession, survey: Survey, filters: Filters, by: str | None = None
) -> dict[str, Any]:
    """Everything the results page shows, optionally compared across ``by`` groups."""
    questions = await questions_of(session, survey.id)
    responses, answers = await _responses(session, survey.id, filters)
    reached = await invited(session, survey, filters)
    from_invitation = sum(r.invited for r in responses)
    found = {
        "survey_id": survey.id,
        "status": survey.status,
        "anonymous": survey.anonymous,
        "invited": reached,
        "response_rate": round(min(from_invitation / reached, 1.0), 4) if reached else None,
        **summarise(survey, questions, responses, answers),
        "groups": {},
    }
    if by in GROUPS:
        keyed: dict[str, list[SurveyResponse]] = {}
        for r in responses:
            keyed.setdefault(str(getattr(r, by) or ""), []).append(r)
        # The whole's bins for every group: one histogram per group over the same bins.
        bins = {q["id"]: q["histogram"] for q in found["questions"] if "histogram" in q}
        found["groups"] = {
            key: summarise(survey, questions, members, answers, bins)
            for key, members in sorted(keyed.items())
        }
    return found


# ---------------------------------------------------------------- who answered


class AnonymousSurvey(Exception):
    """An anonymous survey names nobody: it has no list of respondents."""


@dataclass
class Respondent:
    """One member's response as the respondents list shows it: who (the member's number, gone
    once they asked to be deleted), from where, on which channel, when, and whether they
    finished."""

    response_id: int
    member_id: int | None
    organisation: str
    country: str
    channel: str
    locale: str
    started_at: datetime
    finished_at: datetime | None
    complete: bool
    answered: int


RESPONDENT_COLUMNS = ("member", "organisation", "country", "channel", "language", "started",
                      "finished", "complete", "answers")  # fmt: skip


async def respondents(session: AsyncSession, survey: Survey, filters: Filters) -> list[Respondent]:
    """Who answered a survey that names its members, the latest first; ``AnonymousSurvey``
    for one that does not."""
    if survey.anonymous:
        raise AnonymousSurvey(survey.id)
    responses, answers = await _responses(session, survey.id, filters)
    return [
        Respondent(
            response_id=r.id,
            member_id=r.contact_id,
            organisation=r.organisation or "",
            country=r.country or "",
            channel=r.channel,
            locale=r.locale,
            started_at=r.started_at,
            finished_at=r.finished_at,
            complete=r.status == "finished",
            answered=sum(not a.skipped for a in answers[r.id].values()),
        )  # fmt: skip
        for r in sorted(responses, key=lambda r: (r.updated_at or r.started_at, r.id), reverse=True)
    ]


def respondent_row(r: Respondent) -> list[Any]:
    return [
        r.member_id or "", r.organisation, r.country, r.channel, r.locale,
        r.started_at.isoformat(timespec="seconds"),
        r.finished_at.isoformat(timespec="seconds") if r.finished_at else "",
        "yes" if r.complete else "no", r.answered,
    ]  # fmt: skip


# ---------------------------------------------------------------- export


async def table(
    session: AsyncSession, survey: Survey, filters: Filters, *, labels: bool = True
) -> tuple[list[str], list[list[Any]], list[SurveyQuestion]]:
    """The export's header and rows, as analysts read a KoboToolbox export: one row per
    response, the metadata, then a column per question named by its id; a multiple choice
    also has a 0/1 column per option (``topics/care``). ``labels``: answers as their labels
    in the base language, else as option ids. An anonymous survey has no member column,
    numbers its responses instead of giving their ids, and gives days rather than moments."""
    questions = await questions_of(session, survey.id)
    responses, answers = await _responses(session, survey.id, filters)
    header = ["response"] + ([] if survey.anonymous else ["member"])
    header += ["status", "start", "end", "channel", "language", "country", "organisation"]
    for q in questions:
        header.append(q.key)
        if q.kind == "multiple":
            header += [f"{q.key}/{o['key']}" for o in q.options]
    rows: list[list[Any]] = []
    for number, r in enumerate(responses, start=1):
        row: list[Any] = [number if survey.anonymous else r.id]
        if not survey.anonymous:
            row.append(r.contact_id)
        row += [r.status, _when(r.started_at, survey.anonymous),
                _when(r.finished_at, survey.anonymous)]  # fmt: skip
        row += [r.channel, r.locale, r.country or "", r.organisation or ""]
        for q in questions:
            stored = answers[r.id].get(q.id)
            value = stored.value if stored and not stored.skipped else None
            row.append(cell(survey, q, value, labels=labels))
            if q.kind == "multiple":
                chosen = {str(k) for k in (value or [])}
                row += [("" if value is None else int(str(o["key"]) in chosen))
                        for o in q.options]  # fmt: skip
        rows.append(row)
    return header, rows, questions


def _when(moment: datetime | None, anonymous: bool) -> str:
    if moment is None:
        return ""
    return moment.date().isoformat() if anonymous else moment.isoformat(timespec="seconds")


def cell(survey: Survey, q: SurveyQuestion, value: Any, *, labels: bool = True) -> Any:
    base = survey.base_locale
    if value is None:
        return ""
    if q.kind == "yes_no":
        return "yes" if value else "no"
    if q.kind in CHOICE_KINDS:
        keys = value if isinstance(value, list) else [value]
        if not labels:
            return " ".join(str(k) for k in keys)  # as KoboToolbox writes names
        names = {str(o["key"]): label(o.get("label") or {}, base, base) for o in q.options}
        return "; ".join(names.get(str(k), str(k)) for k in keys)
    return value


_safe = safe_cell  # a member's text that starts like a formula stays text in a spreadsheet


def to_csv(header: list[str], rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_safe(v) for v in row])
    return ("\ufeff" + buf.getvalue()).encode()  # the BOM: Excel then reads UTF-8


def to_xlsx(
    survey: Survey, header: list[str], rows: list[list[Any]], questions: list[SurveyQuestion]
) -> bytes:
    from openpyxl import Workbook  # only the export needs it

    book = Workbook()
    sheet = book.active
    sheet.title = "Responses"
    sheet.append(header)
    for row in rows:
        sheet.append([_safe(printable(v)) for v in row])
    sheet.freeze_panes = "A2"
    legend = book.create_sheet("Questions")
    legend.append(["column", "type", "question"])
    base = survey.base_locale
    for q in questions:
        legend.append([q.key, q.kind, printable(label(q.text or {}, base, base))])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
