"""A broadcast as its members will see it: each text the audience reads, who reads it (in
their own language or as a fallback), and how it looks on each of their channels."""

from __future__ import annotations

from dataclasses import dataclass

from bot import broadcasts
from bot.broadcasts import Preview, Readers, Seen
from bot.channels.base import MEMBER_CHANNELS
from bot.i18n import LOCALES
from bot.storage.models import Broadcast


@dataclass(frozen=True)
class LanguageView:
    locale: str  # the text's
    text: str
    readers: list[Readers]  # by their own language; a fallback where it is not this one
    members: int
    seen: list[Seen]  # per channel where it looks different


def language_views(
    b: Broadcast, counted: Preview, labels: dict[str, str], hints: dict[str, str]
) -> list[LanguageView]:
    """Every text the audience reads, the base first; before anyone is in the audience, every
    text written, as each member channel would show it. ``labels`` and ``hints`` are the bot's
    "tell me more" and "reply with the number" per locale."""
    reads: dict[str, list[Readers]] = {}
    for group in counted.readers:
        reads.setdefault(group.reads, []).append(group)
    if not reads:
        reads = {loc: [] for loc in broadcasts.locales_written(b) or [b.base_locale]}
    order = sorted(reads, key=lambda loc: (loc != b.base_locale, _place(loc)))
    views = []
    for loc in order:
        groups = sorted(reads[loc], key=lambda r: (r.how != "own", _place(r.language)))
        channels = sorted({ch for r in groups for ch in r.by_channel}) or list(MEMBER_CHANNELS)
        views.append(LanguageView(
            loc, broadcasts.text_of(b, loc), groups, sum(r.members for r in groups),
            broadcasts.as_seen(b, loc, channels, labels.get(loc), hints.get(loc)),
        ))  # fmt: skip
    return views


def _place(locale: str) -> int:
    return LOCALES.index(locale) if locale in LOCALES else len(LOCALES)
