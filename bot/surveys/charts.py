"""A survey question's results as a PNG chart: bars for choices, yes/no, ratings and dates, a
histogram for numbers (short texts are a list, not a chart); and the signed links that let
Telegram fetch a chart for a staff member's chat without an account.

Drawn with matplotlib's Agg backend on a Figure of its own (no pyplot and its global state),
in a worker thread, so that the event loop goes on while a chart is drawn."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import time
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sqlalchemy.ext.asyncio import AsyncSession

from bot.storage.models import Survey
from bot.surveys import results as surveys_results

WIDTH, HEIGHT, DPI = 8.0, 4.5, 100  # 800 x 450 pixels: sharp on a phone, small to send
BAR = "#2b6cb0"
LABEL_CHARS = 40  # an option's label on the axis; the caption has it in full
TITLE_CHARS = 90
LINK_SECONDS = 3600  # Telegram fetches a chart at once; an hour covers an outbox held up by retries


def chartable(question: dict[str, Any]) -> bool:
    """Whether a question's summary (from ``surveys_results``) has a chart."""
    return "counts" in question or "histogram" in question


def _short(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _number(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e6 else f"{value:.3g}"


def bars(question: dict[str, Any]) -> list[tuple[str, int]]:
    """The chart's bars in order: (label, count)."""
    if "histogram" in question:
        return [
            (
                _number(b["from"])
                if b["from"] == b["to"]
                else f"{_number(b['from'])}–{_number(b['to'])}",
                int(b["count"]),
            )
            for b in question["histogram"]
        ]
    return [(str(c["label"]), int(c["count"])) for c in question.get("counts", [])]


def render(question: dict[str, Any]) -> bytes:
    """The PNG of one question's summary; ``ValueError`` for a question without a chart."""
    if not chartable(question):
        raise ValueError(f"a {question.get('type')} question has no chart")
    found = bars(question)
    labels = [_short(label, LABEL_CHARS) for label, _ in found]
    counts = [count for _, count in found]
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    # Choices read best as horizontal bars (long labels); ratings, dates and numbers in order
    # from left to right, a histogram without gaps.
    if question.get("type") in ("single", "multiple", "yes_no"):
        positions = list(range(len(found)))[::-1]
        drawn = axes.barh(positions, counts, color=BAR)
        axes.set_yticks(positions, labels)
        axes.set_xlim(0, max([*counts, 1]) * 1.15)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        width = 1.0 if "histogram" in question else 0.8
        drawn = axes.bar(range(len(found)), counts, color=BAR, width=width, edgecolor="white")
        axes.set_xticks(range(len(found)), labels, rotation=30 if len(found) > 8 else 0)
        axes.set_ylim(0, max([*counts, 1]) * 1.15)
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.bar_label(drawn, padding=2)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_title(_short(question.get("text", ""), TITLE_CHARS), loc="left")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


async def chart(question: dict[str, Any]) -> bytes:
    """``render`` in a worker thread: a chart takes tens of milliseconds of CPU."""
    return await asyncio.to_thread(render, question)


# ---------------------------------------------------------------- signed links


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"childpact survey chart\0" + secret.encode()).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign(
    secret: str, survey_id: int, question: str, country: str | None, now: float | None = None
) -> str:
    """A token naming one chart within a staff member's country scope, valid for an hour."""
    expires = int((now or time.time()) + LINK_SECONDS)
    body = _b64(json.dumps([survey_id, question, country, expires], separators=(",", ":")).encode())
    mac = hmac.new(_key(secret), body.encode(), hashlib.sha256).digest()[:18]
    return f"{body}.{_b64(mac)}"


def verify(secret: str, token: str, now: float | None = None) -> tuple[int, str, str | None] | None:
    """(survey id, question key, country scope) of a valid, unexpired token; else None."""
    body, _, mac = token.partition(".")
    wanted = _b64(hmac.new(_key(secret), body.encode(), hashlib.sha256).digest()[:18])
    if not mac or not hmac.compare_digest(mac, wanted):
        return None
    try:
        survey_id, question, country, expires = json.loads(
            base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        )
        if expires < (now or time.time()):
            return None
        if not 1 <= int(survey_id) < 2**63 or not isinstance(country, str | None):
            return None
        return int(survey_id), str(question), country
    except (ValueError, TypeError):
        return None


def link_secret(settings: Any) -> str:
    """What signs chart links: the deployment's own signing key (SECRET_KEY)."""
    return str(settings.signing_keys[0])


def verify_link(settings: Any, token: str) -> tuple[int, str, str | None] | None:
    """What a chart link signed with any of the deployment's keys names."""
    for key in settings.signing_keys:
        found = verify(key, token)
        if found is not None:
            return found
    return None


async def summary(
    session: AsyncSession, survey: Survey, key: str, filters: surveys_results.Filters
) -> dict[str, Any] | None:
    """One question's results, as the results page shows it; None for an unknown key."""
    found = await surveys_results.results(session, survey, filters)
    return next((q for q in found["questions"] if q["id"] == key), None)
