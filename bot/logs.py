"""Logs an operator can use: plain or JSON lines, a request id through a message's whole trip,
and nothing personal or secret in them, whoever wrote the line.

A webhook request gets a request id (``X-Request-ID`` when the caller sent a sane one); it is
stored with the inbound message, bound again while the engine handles it, stored with each
reply in the outbox and bound again while the sender sends it, so that one id finds every line
of one message's trip, across processes.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

KEY = "request_id"  # the key beside a stored message's fields
_current: ContextVar[str | None] = ContextVar("request_id", default=None)
_SANE = re.compile(r"[A-Za-z0-9._:-]{8,64}")

# Phone numbers (E.164, with or without WhatsApp's prefix), bot tokens, and the token inside a
# Bot API URL. Chat and member ids stay: they are how an operator follows a case.
_PHONE = re.compile(r"(?:whatsapp:)?\+\d{7,15}\b|(?<![\w.-])\d{11,15}(?![\w.])")
_BOT_TOKEN = re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{30,}")
_DIGITS = re.compile(r"\d{7,}")  # in a caller's request id: perhaps a phone number
_SECRETS: set[str] = set()


# ---------------------------------------------------------------------- request ids


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


def current() -> str | None:
    return _current.get()


def sane(value: str | None) -> str | None:
    """A caller's request id, if it is one worth keeping (no spaces, no personal data)."""
    return value if value and _SANE.fullmatch(value) and not _DIGITS.search(value) else None


@contextmanager
def bound(request_id: str | None) -> Iterator[str | None]:
    """Lines logged inside carry ``request_id``; nothing changes when it is None."""
    if request_id is None:
        yield _current.get()
        return
    token = _current.set(request_id)
    try:
        yield request_id
    finally:
        _current.reset(token)


def stamp(stored: dict[str, Any]) -> dict[str, Any]:
    """A message's stored form with the current request id beside its fields."""
    rid = _current.get()
    return {**stored, KEY: rid} if rid else stored


def stamped(stored: dict[str, Any] | None) -> str | None:
    return stored.get(KEY) if stored else None


# ---------------------------------------------------------------------- scrubbing


def hide(*secrets: str | None) -> None:
    """Secrets (tokens, passwords) to blank out of every line, whoever logs them."""
    _SECRETS.update(s for s in secrets if s and len(s) >= 8)


def scrub(text: str) -> str:
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "<secret>")
    text = _BOT_TOKEN.sub("<token>", text)
    return _PHONE.sub("<phone>", text)


def scrub_value(value: Any) -> Any:
    """``scrub`` through nested data (an error report's variables and breadcrumbs)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(v) for v in value]
    return value


class ContextFilter(logging.Filter):
    """Adds the request id and scrubs the message, the arguments folded in."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get()
        text = record.getMessage()
        clean = scrub(text)
        if clean != text:
            record.msg, record.args = clean, None
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(rid)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None)
        record.rid = f" [{rid}]" if rid else ""
        return scrub(super().format(record))  # the traceback too


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, request_id, error."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            line[KEY] = rid
        if record.exc_info and record.exc_info[1] is not None:
            line["error"] = type(record.exc_info[1]).__name__
            line["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return scrub(json.dumps(line, ensure_ascii=False))


def configure(level: str = "INFO", fmt: str = "text", secrets: Iterable[str | None] = ()) -> None:
    """The root logger's one handler, on standard error, in ``fmt`` ("text" or "json")."""
    hide(*secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


__all__ = [
    "KEY",
    "ContextFilter",
    "JsonFormatter",
    "TextFormatter",
    "bound",
    "configure",
    "current",
    "hide",
    "new_request_id",
    "sane",
    "scrub",
    "scrub_value",
    "stamp",
    "stamped",
]
