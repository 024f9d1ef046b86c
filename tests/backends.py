"""Which real servers the tests may use: skip without them on a laptop, fail without them in CI."""

from __future__ import annotations

import os
import socket
import uuid

import pytest

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require(server: str, host: str, port: int) -> None:
    """Skip the test when ``server`` is not listening, unless CI promised it is."""
    if _reachable(host, port):
        return
    reason = f"{server} is not running on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{reason}, and CI=true requires it")
    pytest.skip(f"{reason} (start it, or set CI=true to make this a failure)")


def require_postgres() -> str:
    require("PostgreSQL", "127.0.0.1", 5432)
    return POSTGRES_URL


def require_redis() -> str:
    require("Redis", "127.0.0.1", 6379)
    return REDIS_URL


def unique_prefix() -> str:
    """A Redis key prefix of one test, so that tests running side by side never meet."""
    return f"test:{uuid.uuid4().hex[:12]}:"
