"""The Bot API's own description of its methods and types (specs/telegram-bot-api.json, see
specs/README.md), and the check of one call's parameters against it: every parameter must
exist, the required ones must be there, and each value must have the type the spec names.

Values come as Telegram takes them: real JSON types in a JSON body, strings in a form or a
query (numbers, booleans, and objects or arrays as JSON text), uploads in a multipart body.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from aiohttp import web

JSON = dict[str, Any]

SPEC_PATH = Path(__file__).parent / "specs" / "telegram-bot-api.json"
_INTEGER = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")
_TRUE, _FALSE = ("true", "True", "1"), ("false", "False", "0")

# What Telegram answers when a required parameter is missing, where it says more than the name.
_MISSING = {
    "chat_id": "chat_id is empty",
    "text": "message text is empty",
    "photo": "there is no photo in the request",
    "document": "there is no document in the request",
    "callback_query_id": "query is too old and response timeout expired or query ID is invalid",
    "url": "bad webhook: Failed to resolve host: Name or service not known",
}
# What it answers when a value of these does not parse.
_UNPARSABLE = {
    "reply_markup": "can't parse reply keyboard markup JSON object",
    "allowed_updates": "can't parse allowed updates JSON array",
    "chat_id": "chat not found",
}


class SpecError(ValueError):
    """A call the Bot API refuses (``description`` follows "Bad Request: ")."""


@functools.cache
def spec() -> JSON:
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@functools.cache
def methods() -> dict[str, JSON]:
    """Method entries by lower-case name: the Bot API's method names are case-insensitive."""
    return {name.lower(): entry for name, entry in spec()["methods"].items()}


def version() -> str:
    return str(spec()["version"])


def update_kinds() -> frozenset[str]:
    """The kinds of update a webhook may ask for: the Update type's optional fields."""
    fields = spec()["types"]["Update"]["fields"]
    return frozenset(f["name"] for f in fields if f["name"] != "update_id")


def check_call(method: str, params: JSON) -> JSON:
    """``params`` checked against the spec's entry for ``method`` (which must exist), with
    numbers, booleans, arrays and objects decoded; raises ``SpecError``."""
    entry = methods()[method.lower()]
    fields = {f["name"]: f for f in entry.get("fields", [])}
    for name in params:
        if name not in fields:
            raise SpecError(f'unknown parameter "{name}" of {entry["name"]} in {version()}')
    checked: JSON = {}
    for name, field in fields.items():
        if name not in params or params[name] is None:
            if field["required"]:
                raise SpecError(_MISSING.get(name, f'parameter "{name}" is required'))
            continue
        try:
            checked[name] = _value(params[name], field["types"], f"{name}")
        except SpecError as exc:
            raise SpecError(_UNPARSABLE.get(name, str(exc))) from None
    return checked


def _value(value: Any, types: list[str], where: str) -> Any:
    """``value`` as the first of ``types`` it is; ``SpecError`` when it is none of them."""
    errors: list[str] = []
    for kind in types:
        try:
            return _as(value, kind, where)
        except SpecError as exc:
            errors.append(str(exc))
    raise SpecError(errors[0] if len(errors) == 1 else f"{where} must be {' or '.join(types)}")


def _as(value: Any, kind: str, where: str) -> Any:
    if kind.startswith("Array of "):
        items = _decoded(value, list, where)
        return [_as(item, kind[len("Array of ") :], f"{where}[{n}]") for n, item in enumerate(items)]
    if kind == "Integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INTEGER.fullmatch(value):
            return int(value)
    elif kind == "Float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _FLOAT.fullmatch(value):
            return float(value)
    elif kind == "String":
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # Telegram takes a number where it wants a string
    elif kind == "Boolean":
        if isinstance(value, bool):
            return value
        if value in _TRUE or value in _FALSE:
            return value in _TRUE
    elif kind == "InputFile":
        if isinstance(value, web.FileField) or (
            isinstance(value, str) and value.startswith("attach://")
        ):
            return value
    else:
        return _object(value, kind, where)
    raise SpecError(f"{where} must be {kind}")


def _object(value: Any, kind: str, where: str) -> JSON:
    entry = spec()["types"].get(kind)
    if entry is None:
        raise SpecError(f"{where}: the spec has no type {kind}")
    if "subtypes" in entry:
        return _value(value, entry["subtypes"], where)  # type: ignore[no-any-return]
    found = _decoded(value, dict, where)
    fields = {f["name"]: f for f in entry.get("fields", [])}
    if not fields:
        return found  # a placeholder type (CallbackGame, InputFile ...): any object
    for name in found:
        if name not in fields:
            raise SpecError(f'{where}: {kind} has no field "{name}"')
    checked: JSON = {}
    for name, field in fields.items():
        if name not in found:
            if field["required"]:
                raise SpecError(f'{where}: field "{name}" of {kind} is required')
            continue
        checked[name] = _value(found[name], field["types"], f"{where}.{name}")
    return checked


def _decoded(value: Any, shape: type, where: str) -> Any:
    """An array or object, given as itself or as JSON text (in a form or a query)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise SpecError(f"{where} is not valid JSON") from None
    if not isinstance(value, shape):
        raise SpecError(f"{where} must be a JSON {'array' if shape is list else 'object'}")
    return value
