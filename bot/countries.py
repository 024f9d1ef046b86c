"""The coalition's member countries, their usual languages, time zones and phone prefixes."""

from __future__ import annotations

import re

# The ten member countries, in the order the country picker shows them.
MEMBER_COUNTRIES: tuple[str, ...] = ("AL", "AM", "AZ", "BA", "BG", "GE", "XK", "MD", "RO", "RS")
OTHER = "OTHER"

# The language most members in a country read; the third link of the locale chain.
COUNTRY_LOCALE: dict[str, str] = {
    "AL": "sq",
    "AM": "hy",
    "AZ": "az",
    "BA": "bs",
    "BG": "bg",
    "GE": "ka",
    "XK": "sq",
    "MD": "ro",
    "RO": "ro",
    "RS": "sr",
    "ME": "sr_Latn",
    "TR": "tr",
    "UA": "uk",
    "RU": "ru",
    "BY": "ru",
    "KZ": "ru",
}

COUNTRY_TIMEZONE: dict[str, str] = {
    "AL": "Europe/Tirane",
    "AM": "Asia/Yerevan",
    "AZ": "Asia/Baku",
    "BA": "Europe/Sarajevo",
    "BG": "Europe/Sofia",
    "GE": "Asia/Tbilisi",
    "XK": "Europe/Belgrade",
    "MD": "Europe/Chisinau",
    "RO": "Europe/Bucharest",
    "RS": "Europe/Belgrade",
    "TR": "Europe/Istanbul",
    "UA": "Europe/Kyiv",
}

# E.164 calling codes of the region and its neighbours, longest first when matched.
_CALLING_CODES: dict[str, str] = {
    "355": "AL",
    "374": "AM",
    "994": "AZ",
    "387": "BA",
    "359": "BG",
    "995": "GE",
    "383": "XK",
    "373": "MD",
    "40": "RO",
    "381": "RS",
    "382": "ME",
    "90": "TR",
    "380": "UA",
    "375": "BY",
    "7": "RU",
    "44": "GB",
    "1": "US",
    "49": "DE",
    "33": "FR",
    "39": "IT",
    "30": "GR",
}
_CODES_LONGEST_FIRST = sorted(_CALLING_CODES, key=len, reverse=True)


def country_from_phone(number: str) -> str | None:
    """The ISO country of an E.164 number (``whatsapp:+40...`` works too), if we know it."""
    digits = re.sub(r"\D", "", number.removeprefix("whatsapp:"))
    if digits.startswith("7") and digits[1:2] in ("6", "7"):
        return "KZ"
    for code in _CODES_LONGEST_FIRST:
        if digits.startswith(code):
            return _CALLING_CODES[code]
    return None
