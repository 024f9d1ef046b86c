"""Both fakes with their limits lifted, from the command line, and the guard that keeps tests
off the internet (their speed: bench_fakes)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.clock import VirtualClock
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.test_telegram_api import TOKEN, call
from tests.fakes.test_twilio_api import MESSAGES, basic, create
from tests.fakes.twilio_api import FakeTwilio

ROOT = Path(__file__).parent.parent.parent


async def test_limits_lifted_refuse_nothing(http: httpx.AsyncClient) -> None:
    # How fast the fakes answer with their limits lifted is `python -m bench fakes`.
    async with FakeTelegram(rate=None, chat_rate=None) as telegram, FakeTwilio(rate=None) as twilio:
        telegram.clock = twilio.clock = VirtualClock()  # every request in the same instant
        for _ in range(40):
            assert (await call(http, telegram, "sendMessage", chat_id=42, text="x"))[0] == 200
            assert (await create(http, twilio, Body="x")).status_code == 201
    assert telegram.rate_limited == twilio.rate_limited == 0
    assert telegram.max_per_second == twilio.max_per_second == 40


@pytest.mark.parametrize("module", ["tests.fakes.telegram_api", "tests.fakes.twilio_api"])
def test_command_line(module: str) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", "--rate", "5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        url = line.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:"), line
        with httpx.Client() as http:
            if "telegram" in module:
                answer = http.get(f"{url}/bot{TOKEN}/getMe")
                assert answer.status_code == 200 and answer.json()["ok"] is True
            else:
                answer = http.post(f"{url}{MESSAGES}", headers=basic(),
                                   data={"From": "whatsapp:+40700000000",
                                         "To": "whatsapp:+40722111222", "Body": "x"})  # fmt: skip
                assert answer.status_code == 201
    finally:
        server.terminate()
        server.wait(10)


def test_tests_cannot_reach_the_internet() -> None:
    with pytest.raises(OSError, match="loopback"):
        socket.create_connection(("93.184.216.34", 443), timeout=1)
    with pytest.raises(httpx.ConnectError, match="loopback"), httpx.Client() as http:
        http.get("https://api.telegram.org/bot123:abc/getMe")
