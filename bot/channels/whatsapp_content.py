"""WhatsApp's interactive messages, made through Twilio's Content API: quick replies for up to
three choices, a list for up to ten, within WhatsApp's limits. What does not fit, or what
Twilio will not make, goes as numbered text (``base.as_text``)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bot.messages import Button

# Twilio's twilio/quick-reply and twilio/list-picker pages (docs/platforms.md).
BODY_LIMIT = 1024  # the text above the buttons or the list
QUICK_REPLIES = 3  # in a session message that needs no approval
BUTTON_TITLE_LIMIT = 20
LIST_ITEMS = 10
LISTS = 3  # messages of lists one set of choices may take, one after the other
ITEM_TITLE_LIMIT = 24
ITEM_DESCRIPTION_LIMIT = 72
LIST_BUTTON_LIMIT = 20  # the button that opens the list
ID_LIMIT = 200  # the payload that comes back as ButtonPayload or ListId

QUICK_REPLY = "twilio/quick-reply"
LIST_PICKER = "twilio/list-picker"


@dataclass(frozen=True, slots=True)
class Interactive:
    """One content item: what it shows (``types``), in what language; made once and found by
    ``digest``. A list's rows ride in variables (``{{1}}``, ``{{2}}``…, their values sent with
    each message): one item serves every list of the same shape whatever its rows read, so a
    time zone's clock, new each minute, makes no new item."""

    language: str
    types: dict[str, Any]

    def template(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The types as made, with the rows' variables, and the values this message gives them."""
        picker = self.types.get(LIST_PICKER)
        if picker is None:
            return self.types, {}
        values: dict[str, str] = {}
        items = []
        for row in picker["items"]:
            made = {"id": row["id"]}
            for key in ("item", "description"):
                if key in row:
                    name = str(len(values) + 1)
                    values[name], made[key] = row[key], f"{{{{{name}}}}}"
            items.append(made)
        return {LIST_PICKER: {**picker, "items": items}}, values

    @property
    def variables(self) -> dict[str, str]:
        return self.template()[1]

    @property
    def digest(self) -> str:
        shown = json.dumps(
            {"language": self.language, "types": self.template()[0]},
            sort_keys=True,
            ensure_ascii=False,
        )
        return hashlib.sha256(shown.encode()).hexdigest()

    def request(self) -> dict[str, Any]:
        """The Content API's create request; the variables' samples are this message's."""
        types, values = self.template()
        made: dict[str, Any] = {
            "friendly_name": f"choices_{self.digest[:40]}",
            "language": self.language,
            "types": types,
        }
        if values:
            made["variables"] = values
        return made


def interactive(
    body: str,
    choices: list[Button],
    language: str | None,
    picker: str | None,
    more: str | None = None,
) -> list[Interactive] | None:
    """The content items that offer ``choices`` under ``body``: quick replies when up to three
    short labels, else a list (its button labelled ``picker``) when up to ten, else up to three
    lists, the others under ``more``, when up to thirty (the UTC offsets and the way back are
    29); None when they cannot be shown so, and the member reads numbered lines instead."""
    if len(choices) > LIST_ITEMS and more:
        # All as lists, so that the rest reads as more of the same.
        parts = [choices[at : at + LIST_ITEMS] for at in range(0, len(choices), LIST_ITEMS)]
        if len(parts) > LISTS:
            return None
        found = [_one(body, parts[0], language, picker)]
        found += [_one(more, part, language, picker, listed=True) for part in parts[1:]]
        ok = [item for item in found if item is not None]
        return ok if len(ok) == len(found) else None
    one = _one(body, choices, language, picker)
    return [one] if one is not None else None


def _one(
    body: str,
    choices: list[Button],
    language: str | None,
    picker: str | None,
    *,
    listed: bool = False,
) -> Interactive | None:
    body = body.strip()
    labels = [b.label.strip() for b in choices]
    if (
        not body
        or len(body) > BODY_LIMIT
        or not choices
        or any(not label for label in labels)
        # WhatsApp shows two equal titles as one and refuses the message
        or len({label.casefold() for label in labels}) < len(labels)
        or len({b.payload for b in choices}) < len(choices)
        or any(not b.payload or len(b.payload) > ID_LIMIT for b in choices)
    ):
        return None
    language = language or "en"
    short = all(len(label) <= BUTTON_TITLE_LIMIT for label in labels)
    if len(choices) <= QUICK_REPLIES and short and not listed:
        actions = [
            {"type": "QUICK_REPLY", "title": label, "id": b.payload}
            for label, b in zip(labels, choices, strict=True)
        ]
        return Interactive(language, {QUICK_REPLY: {"body": body, "actions": actions}})
    picker = (picker or "").strip()
    if (
        len(choices) > LIST_ITEMS
        or not picker
        or len(picker) > LIST_BUTTON_LIMIT
        or any(len(label) > ITEM_DESCRIPTION_LIMIT for label in labels)
    ):
        return None
    items = [_item(label, b.payload) for label, b in zip(labels, choices, strict=True)]
    if len({item["item"].casefold() for item in items}) < len(items):
        return None  # two long labels that read the same once shortened
    return Interactive(language, {LIST_PICKER: {"body": body, "button": picker, "items": items}})


def _item(label: str, payload: str) -> dict[str, str]:
    """A list row: the label itself, or, when longer than a row's title, its start with the
    whole label below it as the row's description. On one line: a variable takes no newline,
    tab or run of spaces (Twilio's 21656)."""
    label = " ".join(label.split())
    if len(label) <= ITEM_TITLE_LIMIT:
        return {"item": label, "id": payload}
    cut = label.rfind(" ", 0, ITEM_TITLE_LIMIT)
    short = label[: cut if cut > ITEM_TITLE_LIMIT // 2 else ITEM_TITLE_LIMIT - 1].rstrip(" ,;:-")
    return {"item": short + "…", "id": payload, "description": label}


class ContentStore(Protocol):
    """Where the content items made so far are kept, shared by every process."""

    async def sid_for(self, digest: str, make: Callable[[], Awaitable[str | None]]) -> str | None:
        """The SID of the item with ``digest``; made with ``make`` (None: Twilio refused it,
        which is kept too) when nobody has made it yet. ``make`` raising leaves nothing kept."""
        ...

    async def forget(self, digest: str) -> None:
        """The item is gone from Twilio: the next message makes it again."""
        ...


class MemoryContentStore:
    """Content items kept by this process alone (a channel used without the service)."""

    def __init__(self) -> None:
        self._sids: dict[str, str | None] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def sid_for(self, digest: str, make: Callable[[], Awaitable[str | None]]) -> str | None:
        async with self._locks.setdefault(digest, asyncio.Lock()):
            if digest not in self._sids:
                self._sids[digest] = await make()
            return self._sids[digest]

    async def forget(self, digest: str) -> None:
        self._sids.pop(digest, None)
