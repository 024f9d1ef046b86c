"""The secretariat's dashboard at /admin: server-rendered pages on the same permissions as /api."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/admin", include_in_schema=False)
