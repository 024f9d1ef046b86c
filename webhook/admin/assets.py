"""The dashboard's static files: its stylesheet, its small script, htmx and the icon."""

from __future__ import annotations

import gzip
from functools import cache

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from webhook.admin.pages import STATIC

router = APIRouter()
FILES = {
    "admin.css": "text/css",
    "admin.js": "text/javascript",
    "htmx.min.js": "text/javascript",
    "icon.svg": "image/svg+xml",
}


@cache
def _content(name: str, zipped: bool) -> bytes:
    body = (STATIC / name).read_bytes()
    return gzip.compress(body, mtime=0) if zipped else body


@router.get("/static/{name}")
async def static_file(name: str, request: Request) -> Response:
    if name not in FILES:
        raise HTTPException(404)
    # On a slow connection htmx is 53 kB as it is and 17 kB zipped; the URLs carry ?v=, so a
    # long cache is safe and spares the next page a round trip.
    zipped = "gzip" in request.headers.get("accept-encoding", "")
    headers = {"Cache-Control": "public, max-age=604800, immutable", "Vary": "Accept-Encoding"}
    if zipped:
        headers["Content-Encoding"] = "gzip"
    return Response(_content(name, zipped), media_type=FILES[name], headers=headers)
