"""Logs an operator can use: JSON lines, one request id through a message's whole trip, never a
phone number or a token, and error reports scrubbed the same way."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import logging
import os
import random
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import logs
from bot.storage.models import Delivery
from tests.conftest import Backend
from tests.harness import AUTH, SECRET, TOKEN, eventually, running, telegram_member

ROOT = Path(__file__).resolve().parents[2]
PHONE = "+40722111222"


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing through the service's JSON formatter and filter into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.ContextFilter())
    logger = logging.getLogger(f"test.logs.{id(buffer)}")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, buffer
    logger.removeHandler(handler)


def test_json_lines_carry_the_request_id_and_no_number_or_token(lines):
    logger, buffer = lines
    logs.hide(AUTH)
    with logs.bound("req-0123456789"):
        logger.info("sent to whatsapp:%s with %s", PHONE, AUTH)
        try:
            raise RuntimeError(f"https://api.telegram.org/bot{TOKEN}/sendMessage failed")
        except RuntimeError:
            logger.exception("sending failed")
    logger.warning("outside any request")
    first, second, third = (json.loads(line) for line in buffer.getvalue().splitlines())
    assert first["request_id"] == "req-0123456789" and first["level"] == "INFO"
    assert first["message"] == "sent to <phone> with <secret>"
    assert second["error"] == "RuntimeError" and "RuntimeError" in second["traceback"]
    assert "request_id" not in third
    text = buffer.getvalue()
    for secret in (PHONE, "40722111222", TOKEN, AUTH):
        assert secret not in text


def test_ids_an_operator_follows_stay_readable():
    assert logs.scrub("outbox 12345 to chat -1001234567890 (member 42)") == (
        "outbox 12345 to chat -1001234567890 (member 42)"
    )
    assert logs.scrub("from 40722111222 and +38970123456") == "from <phone> and <phone>"


def test_a_callers_request_id_is_kept_only_when_sane():
    assert logs.sane("abc-123_DEF.456") == "abc-123_DEF.456"
    for bad in ("short", "has space in it", "x" * 65, "+40722111222", "req-40722111222", None):
        assert logs.sane(bad) is None


async def test_one_request_id_follows_a_message_from_webhook_to_send(
    backend: Backend, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(logs.ContextFilter())
    rid = "trip-" + "".join(random.choices("abcdefghijklmnop", k=12))
    async with running(backend) as stack:
        member = telegram_member()
        response = await stack.http.post(
            "/webhook/telegram",
            json=member.message(f"hello, my number is {PHONE}"),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "X-Request-ID": rid},
        )
        assert response.status_code == 200 and response.headers["X-Request-ID"] == rid
        await eventually(lambda: stack.telegram.messages_to(member.chat_id))

        async with stack.service.db.session() as session:
            rows = (
                await session.scalars(
                    select(Delivery).where(Delivery.address == str(member.chat_id))
                )
            ).all()
        assert rows and all(row.message["request_id"] == rid for row in rows)

        def stages() -> set[str]:
            return {
                r.name
                for r in caplog.records
                if getattr(r, "request_id", None) == rid
                and r.name in ("bot.conversation.engine", "bot.delivery.sender")
            }

        await eventually(lambda: stages() == {"bot.conversation.engine", "bot.delivery.sender"})
        said = [r.getMessage() for r in caplog.records if getattr(r, "request_id", None) == rid]
        assert any("stored" in m for m in said) and any("handled" in m for m in said)
        assert any(" sent" in m for m in said)
        # A request without an id of its own gets a new one.
        other = await stack.post_telegram(telegram_member().message("hi"))
        assert re.fullmatch(r"[0-9a-f]{16}", other.headers["X-Request-ID"])
    for record in caplog.records:
        assert PHONE not in record.getMessage() and TOKEN not in record.getMessage()


class _Collector(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.received.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


SCRIPT = """
import logging, sentry_sdk
from app.cli import configure_logs
from bot.config import Settings
from bot import logs
settings = Settings(_env_file=None)
configure_logs(settings)
with logs.bound("req-sentry-0001"):
    try:
        raise RuntimeError("Twilio refused whatsapp:+40722111222 with " + settings.twilio_auth_token.get_secret_value())
    except RuntimeError:
        logging.getLogger("bot.delivery.sender").exception("sending to +40722111222 raised")
sentry_sdk.flush(5)
"""


async def test_errors_reach_a_sentry_endpoint_scrubbed_and_logs_are_json():
    _Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "TWILIO_"))
        }
        env.update(
            SENTRY_DSN=f"http://publickey@127.0.0.1:{server.server_port}/42",
            LOG_FORMAT="json",
            TWILIO_AUTH_TOKEN=AUTH,
        )
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    (line,) = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{")]
    assert line["request_id"] == "req-sentry-0001" and line["error"] == "RuntimeError"
    assert line["message"] == "sending to <phone> raised"
    reports = b"".join(_Collector.received).decode()
    assert "RuntimeError" in reports and "sending to <phone> raised" in reports
    for secret in ("40722111222", AUTH):
        assert secret not in reports and secret not in done.stderr
    assert "publickey" not in done.stderr  # the DSN is a secret too
