"""A member's time zone: the one they set, else their country's; the zones a member may pick,
and how they read in the member's language."""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from anyascii import anyascii
from babel.core import get_global
from babel.dates import format_time, get_timezone_location

from bot.countries import COUNTRY_TIMEZONE
from bot.i18n import fold
from bot.storage.models import Contact, utcnow

# Whole-hour offsets for members outside the countries we know. IANA's Etc zones count the
# other way round: Etc/GMT-4 is four hours ahead of UTC.
OFFSETS: tuple[int, ...] = tuple(range(-12, 15))


def offset_zone(hours: int) -> str:
    return "Etc/UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"


@cache
def known(name: str | None) -> ZoneInfo | None:
    """The zone of that name, or None when there is no such zone."""
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def country_zone(country: str | None) -> str | None:
    return COUNTRY_TIMEZONE.get(country or "")


def zone_of(contact: Contact) -> ZoneInfo | None:
    """The member's zone: the one they chose, else their country's; None when unknown."""
    chosen = known(contact.time_zone)
    if chosen is not None:
        return chosen
    return known(country_zone(contact.country or contact.country_hint))


def zone_name(contact: Contact) -> str:
    zone = zone_of(contact)
    return zone.key if zone is not None else "UTC"


def country_zones(country: str | None) -> list[str]:
    """The zones of a country, its usual one first."""
    usual = country_zone(country)
    found = [usual] if usual else []
    for name in get_global("territory_zones").get(country or "", []):
        if name not in found and known(name) is not None:
            found.append(name)
    return found


def offered(name: str) -> bool:
    """A zone the pickers offer: any real zone, but not a typing mistake or a path."""
    return known(name) is not None and len(name) <= 60


def label(name: str, locale: str, now: datetime | None = None) -> str:
    """How a zone reads on a button: its place and the time there now (``Tbilisi 09:14``,
    ``UTC+4 09:14``), in the member's language."""
    zone = known(name)
    if zone is None:
        return name
    now = now or utcnow()
    return f"{place(name, locale, now)} {format_time(now, 'short', tzinfo=zone, locale=locale)}"


def place(name: str, locale: str, now: datetime | None = None) -> str:
    """A zone's city in the member's language (``Tbilisi``), or ``UTC+4`` for an offset: how
    a text names it without the time (WhatsApp makes a message with buttons once per text)."""
    zone = known(name)
    if zone is None:
        return name
    if name.startswith("Etc/"):
        offset = (now or utcnow()).astimezone(zone).utcoffset()
        hours = int(offset.total_seconds() // 3600) if offset else 0
        return f"UTC{hours:+d}" if hours else "UTC"
    return str(get_timezone_location(zone, locale=locale, return_city=True))


# "UTC+3", "GMT -2", "+3", "UTC+03:00", or an offset button's own words ("UTC+3 19:28").
_OFFSET = re.compile(
    r"^(?:utc|gmt)?\s*(?:([+\-\u2212])\s*(\d{1,2})(?::?00)?)?(?:\s+\d{1,2}[:.]\d{2})?$"
)


def typed_offset(text: str) -> str | None:
    """The whole-hour UTC offset zone a member typed, or None when the text is no offset."""
    typed = text.strip().casefold()
    found = _OFFSET.match(typed)
    if found is None or not typed:
        return None
    sign, hours = found.groups()
    if sign is None:  # "UTC" or "GMT" alone, or the UTC button's words ("UTC 19:28")
        return offset_zone(0) if typed.startswith(("utc", "gmt")) else None
    value = int(hours) * (1 if sign == "+" else -1)
    return offset_zone(value) if value in OFFSETS else None


# Zones of the region and its neighbours, offered by name before any search or offset.
REGION_ZONES: tuple[str, ...] = (
    "Europe/Chisinau", "Europe/Bucharest", "Europe/Kyiv", "Asia/Tbilisi", "Asia/Yerevan",
    "Asia/Baku", "Europe/Istanbul", "Europe/Sofia", "Europe/Belgrade", "Europe/Tirane",
    "Europe/Berlin", "Europe/London",
)  # fmt: skip
SEARCH_LIMIT = 8


def _loose(text: str) -> str:
    return fold(anyascii(fold(text)).replace("'", ""))


@cache
def _cities(locale: str) -> dict[str, tuple[str, ...]]:
    """Every named zone and the names its city goes by: its IANA name and the name in
    ``locale`` and in English, folded."""
    found: dict[str, tuple[str, ...]] = {}
    aliases = get_global("zone_aliases")  # old names of zones (Europe/Tiraspol): skipped
    for name in sorted(available_timezones()):
        if "/" not in name or name in aliases or name.startswith(("Etc/", "SystemV/", "US/")):
            continue
        city = name.rsplit("/", 1)[1].replace("_", " ")
        names = {_loose(city)}
        zone = known(name)
        for shown in {locale, "en"}:
            try:
                names.add(_loose(get_timezone_location(zone, locale=shown, return_city=True)))
            except (LookupError, ValueError):
                pass
        found[name] = tuple(n for n in names if n)
    return found


def search(text: str, locale: str) -> list[str]:
    """The zones whose city is named ``text`` (whole, or its start), exact names first."""
    typed = _loose(text)
    if len(typed) < 2:
        return []
    exact, starts = [], []
    for name, cities in _cities(locale).items():
        if typed in cities:
            exact.append(name)
        elif len(typed) >= 3 and any(c.startswith(typed) for c in cities):
            starts.append(name)
    return (exact + starts)[:SEARCH_LIMIT]
