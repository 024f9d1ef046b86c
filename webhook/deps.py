"""Shared pieces of the routes: the service from the app state, bounded body reading, and
what makes a platform's payload safe to store."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Path, Request

from bot.messages import InboundMessage
from bot.storage.models import Inbound

if TYPE_CHECKING:
    # The one arrow from the web layer up to app/: the type only, never at run time.
    from app.service import Service

log = logging.getLogger(__name__)


# Ids are 64-bit in both databases; a larger number is no id at all, and must not reach them.
ItemId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def get_service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


if TYPE_CHECKING:
    ServiceDep = Annotated[Service, Depends(get_service)]
else:
    # FastAPI reads this at run time, where Service is not imported; routes only need the
    # dependency, not its type.
    ServiceDep = Annotated[Any, Depends(get_service)]


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or 413 as soon as it grows past ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise HTTPException(413, f"body larger than {limit} bytes")
        except ValueError:
            raise HTTPException(400, "bad Content-Length") from None
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise HTTPException(413, f"body larger than {limit} bytes")
    return bytes(body)


def client_address(request: Request) -> str:
    """The caller's network address: the peer's, or the one a proxy listed in TRUSTED_PROXIES
    forwarded (the app's proxy middleware has set it); nothing a client can claim itself."""
    return request.client.host if request.client is not None else "unknown"


def public_url(request: Request, base: str | None) -> str:
    """The URL the platform called: PUBLIC_URL + path + query, not the one behind the proxy."""
    url = (base or str(request.base_url).rstrip("/")) + request.url.path
    return f"{url}?{request.url.query}" if request.url.query else url


# Half of a UTF-16 pair can arrive escaped in JSON ("\ud800"); PostgreSQL refuses it, and NUL,
# in text and JSONB alike, so the same message would fail on every retry of the platform.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(value: Any) -> Any:
    """``value`` (parsed JSON or a form) with every string safe for both databases: lone
    surrogates become U+FFFD and NUL characters go (the JSON parser already joined pairs)."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value.replace("\x00", ""))
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


def fits(msg: InboundMessage) -> bool:
    """Whether the message's ids fit their columns; no platform sends longer ones."""
    columns = Inbound.__table__.c
    for name, value in (("platform_id", msg.platform_id), ("address", msg.address)):
        length = getattr(columns[name].type, "length", None)
        if length is not None and len(value) > length:
            return False
    return True


async def store_then_handle(service: Service, msg: InboundMessage) -> bool:
    """Store a member's message durably, then have it handled; 503 when it cannot be stored,
    so that the platform (or the chat page) sends it again. False for a repeat."""
    try:
        stored = await service.engine.accept(msg)
    except Exception as exc:
        log.exception("could not store %s message %s", msg.channel, msg.platform_id)
        raise HTTPException(503, "storage unavailable, try again") from exc
    service.handle_soon(msg.channel, msg.address)
    return stored
