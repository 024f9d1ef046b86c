"""XLSForms as organisations write them, made with openpyxl: the survey, choices and settings
sheets, with ``label::Language (code)`` columns or none, skip logic and constraints."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook


def workbook(
    survey: list[dict[str, Any]],
    choices: list[dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
) -> bytes:
    """An .xlsx with the given rows; each sheet's header is every key its rows use."""
    book = Workbook()
    sheets = [("survey", survey), ("choices", choices or []), ("settings", [settings or {}])]
    for index, (name, rows) in enumerate(sheets):
        if name == "settings" and not settings:
            continue
        sheet = book.active if index == 0 else book.create_sheet(name)
        sheet.title = name
        header: list[str] = []
        for row in rows:
            header.extend(k for k in row if k not in header)
        sheet.append(header)
        for row in rows:
            sheet.append([row.get(k) for k in header])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


EN, RO = "label::English (en)", "label::Română (ro)"

# A child-protection follow-up form in English and Romanian: a note, choices, a group shown
# under a condition, numbers and a date with constraints and their messages, a rating.
TWO_LANGUAGES = {
    "survey": [
        {"type": "start", "name": "start"},
        {"type": "note", "name": "welcome", EN: "A short follow-up.", RO: "O scurtă verificare."},
        {"type": "select_one role", "name": "role", EN: "Your role?", RO: "Rolul dumneavoastră?",
         "hint::English (en)": "Choose one.", "hint::Română (ro)": "Alegeți una.",
         "required": "yes"},
        {"type": "select_multiple topics", "name": "topics", EN: "Which topics?", RO: "Ce teme?",
         "required": "yes"},
        {"type": "begin_group", "name": "cases_group", "relevant": "${role} = 'field'"},
        {"type": "integer", "name": "cases", EN: "How many children?", RO: "Câți copii?",
         "constraint": ". >= 0 and . <= 500",
         "constraint_message::English (en)": "Between 0 and 500, please.",
         "constraint_message::Română (ro)": "Între 0 și 500, vă rog.", "required": "yes"},
        {"type": "end_group", "name": "cases_group"},
        {"type": "text", "name": "online_note", EN: "What happened online?",
         RO: "Ce s-a întâmplat online?",
         "relevant": "selected(${topics}, 'online') and (${cases} > 10 or ${role} = 'lead')"},
        {"type": "date", "name": "visit", EN: "Date of the last visit?",
         RO: "Data ultimei vizite?", "constraint": ". <= today()",
         "constraint_message::English (en)": "The visit cannot be in the future.",
         "constraint_message::Română (ro)": "Vizita nu poate fi în viitor.", "required": "yes"},
        {"type": "range", "name": "support", EN: "Support, 1 to 5?", RO: "Sprijin, 1-5?",
         "parameters": "start=1 end=5 step=1", "required": "yes"},
        {"type": "acknowledge", "name": "agree", EN: "I confirm the answers.",
         RO: "Confirm răspunsurile.", "required": "yes"},
        {"type": "end", "name": "end"},
    ],
    "choices": [
        {"list_name": "role", "name": "lead", EN: "Lead", RO: "Conducere"},
        {"list_name": "role", "name": "field", EN: "Field", RO: "Teren"},
        {"list_name": "topics", "name": "care", EN: "Care", RO: "Îngrijire"},
        {"list_name": "topics", "name": "online", EN: "Online", RO: "Online"},
        {"list_name": "topics", "name": "justice", EN: "Justice", RO: "Justiție"},
    ],
    "settings": {"form_title": "Follow-up", "form_id": "followup",
                 "default_language": "English (en)"},
}  # fmt: skip

# The same kind of form as many are written: one language, no language columns.
ONE_LANGUAGE = {
    "survey": [
        {"type": "select_one yes_no", "name": "funded", "label": "Is your work funded?",
         "required": "yes"},
        {"type": "decimal", "name": "gap", "label": "How much is missing (thousand EUR)?",
         "relevant": "${funded} = 'no'", "constraint": ". >= 0"},
        {"type": "text", "name": "comment", "label": "Anything else?"},
        {"type": "note", "name": "bye", "label": "Thank you!"},
    ],
    "choices": [
        {"list_name": "yes_no", "name": "yes", "label": "Yes"},
        {"list_name": "yes_no", "name": "no", "label": "No"},
    ],
    "settings": {"form_title": "Funding check"},
}  # fmt: skip

# Everything a chat cannot ask, one row each, beside a question it can.
UNSUPPORTED = {
    "survey": [
        {"type": "text", "name": "ok", "label": "Fine?"},
        {"type": "begin_repeat", "name": "children", "label": "Each child"},
        {"type": "text", "name": "child_name", "label": "Name"},
        {"type": "end_repeat", "name": "children"},
        {"type": "geopoint", "name": "where", "label": "Where?"},
        {"type": "image", "name": "photo", "label": "A photo"},
        {"type": "calculate", "name": "total", "calculation": "1 + 1"},
        {"type": "select_one region", "name": "region", "label": "Region?"},
        {"type": "select_one town", "name": "town", "label": "Town?",
         "choice_filter": "region = ${region}"},
        {"type": "time", "name": "at", "label": "At what time?"},
        {"type": "text", "name": "why", "label": "Why?", "relevant": "not(${ok} = 'x')"},
        {"type": "text", "name": "code", "label": "Code?",
         "constraint": "regex(., '^[A-Z]+$')"},
        {"type": "text", "name": "lang", "label::Français (fr)": "Langue?", "label": "Language?"},
    ],
    "choices": [
        {"list_name": "region", "name": "north", "label": "North"},
        {"list_name": "region", "name": "south", "label": "South"},
        {"list_name": "town", "name": "a", "label": "A", "region": "north"},
        {"list_name": "town", "name": "b", "label": "B", "region": "south"},
    ],
}  # fmt: skip


def xlsx(form: dict[str, Any]) -> bytes:
    return workbook(form["survey"], form.get("choices"), form.get("settings"))
