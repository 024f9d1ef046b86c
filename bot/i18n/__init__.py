"""Languages: the supported locales, the one locale chain, catalogs and formatting."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from anyascii import anyascii
from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

from bot.countries import COUNTRY_LOCALE, COUNTRY_TIMEZONE

LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"
DEFAULT_LOCALE = "en"
LOCALES: tuple[str, ...] = (
    "en", "sq", "hy", "az", "bs", "bg", "ka", "ro", "ru", "sr", "sr_Latn", "tr", "uk",
)  # fmt: skip

# Each language named in itself: a member finds their own language whatever the screen says.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "sq": "Shqip",
    "hy": "Հայերեն",
    "az": "Azərbaycanca",
    "bs": "Bosanski",
    "bg": "Български",
    "ka": "ქართული",
    "ro": "Română",
    "ru": "Русский",
    "sr": "Српски",
    "sr_Latn": "Srpski (latinica)",
    "tr": "Türkçe",
    "uk": "Українська",
}

# The secretariat works in fewer languages: the dashboard and the staff chat speak these.
DASHBOARD_LOCALES: tuple[str, ...] = ("en", "ro", "ru")
DASHBOARD_LANGUAGE_NAMES = {code: LANGUAGE_NAMES[code] for code in DASHBOARD_LOCALES}

# The two gettext domains: the members' texts, and the dashboard's and staff chat's.
MEMBER_DOMAIN = "messages"
DASHBOARD_DOMAIN = "admin"

# Tags that Babel cannot negotiate by itself (see PLATFORMS.md, "Babel and locales").
_ALIASES: dict[str, str] = {
    "sr-latn": "sr_Latn",
    "sr-cyrl": "sr",
    "sr@latin": "sr_Latn",
    "me": "sr_Latn",
    "cnr": "sr_Latn",
    "sh": "sr_Latn",
    "hr": "bs",
    "mo": "ro",
    "al": "sq",
}


def normalize_locale(tag: str | None) -> str | None:
    """Map an IETF or POSIX tag (``pt-br``, ``sr-Latn-RS``, ``ro_MD``) to a supported locale."""
    if not tag:
        return None
    raw = tag.strip().replace("_", "-").lower()
    if raw in _ALIASES:
        return _ALIASES[raw]
    parts = raw.split("-")
    if parts[0] == "sr" and "latn" in parts[1:]:
        return "sr_Latn"
    if parts[0] in _ALIASES:
        return _ALIASES[parts[0]]
    return parts[0] if parts[0] in LOCALES else None


def resolve_locale(
    chosen: str | None = None, hint: str | None = None, country: str | None = None
) -> str:
    """The locale chain used everywhere: the member's choice, the platform's hint,
    their country's usual language, English."""
    for candidate in (chosen, hint):
        locale = normalize_locale(candidate)
        if locale:
            return locale
    if country and country in COUNTRY_LOCALE:
        return COUNTRY_LOCALE[country]
    return DEFAULT_LOCALE


@cache
def load_translations(
    locale: str, directory: Path = LOCALES_DIR, domain: str = MEMBER_DOMAIN
) -> Translations:
    """Compile a catalog from its ``.po`` in memory (fuzzy entries left out), once per process,
    so that a fresh checkout works without ``make catalogs``."""
    po = directory / locale / "LC_MESSAGES" / f"{domain}.po"
    if not po.exists():
        return Translations(domain=domain)
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=locale, domain=domain)
    buf = BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(fp=buf, domain=domain)


@dataclass(frozen=True, slots=True)
class Translator:
    """Gettext and formatting in one member's locale and time zone."""

    locale: str
    timezone: str = "UTC"

    @property
    def _t(self) -> Translations:
        return load_translations(self.locale)

    def gettext(self, message: str, **values: object) -> str:
        text = self._t.ugettext(message)
        return text.format(**values) if values else text

    __call__ = gettext

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        text = self._t.ungettext(singular, plural, n)
        return text.format(n=self.number(n), **values)

    def pgettext(self, context: str, message: str, **values: object) -> str:
        """One English text that needs different words by where it stands (``msgctxt``): "not
        given" for a language, a country, an organisation or a time zone agrees with each."""
        text = self._t.upgettext(context, message)
        return text.format(**values) if values else text

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.babel_locale)

    def date(self, value: date) -> str:
        return format_date(value, format="medium", locale=self.babel_locale)

    def datetime(self, value: datetime) -> str:
        return format_datetime(
            value, format="medium", tzinfo=ZoneInfo(self.timezone), locale=self.babel_locale
        )

    def country_name(self, code: str) -> str:
        return str(self.babel_locale.territories.get(code, code))

    @property
    def babel_locale(self) -> Locale:
        return _babel_locale(self.locale)


@cache
def _babel_locale(locale: str) -> Locale:
    return Locale.parse(locale)


def translator_for(locale: str, country: str | None = None) -> Translator:
    return Translator(locale, COUNTRY_TIMEZONE.get(country or "", "UTC"))


def searchable(text: str | None) -> str | None:
    """How a name is kept for searching: in Latin letters, without case or accents
    ("Salvați Copiii" and "Партнерство" become "salvati copiii" and "partnerstvo"), so that
    staff find it as they type it."""
    if text is None:
        return None
    latin = anyascii(unicodedata.normalize("NFKC", text)).casefold()
    return " ".join(latin.split())


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a word, for matching typed commands and answers."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join("".join(c if c.isalnum() else " " for c in stripped).split())
