"""The fake platforms' own speed, limits lifted: they must answer far faster than we send.

    python -m bench.bench_fakes [--requests 2048] [--connections 32]

Each fake runs in a thread of its own, as in the benches that use it, hammered by a raw
keep-alive client much lighter than the server. Target: over 600 requests a second each on
a busy two-core machine (1,500 to 2,500 on an idle one), far above any platform limit.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import time
from typing import Any

from bench.common import machine_line
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import FakeTwilio

TOKEN = "123456789:AA" + "x" * 33
SID, AUTH = "AC" + "0" * 32, "t" * 32
MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"


async def hammer(port: int, request: bytes, total: int, connections: int) -> float:
    """Requests per second over keep-alive sockets."""

    async def worker(count: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(count):
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith((b"HTTP/1.1 200", b"HTTP/1.1 201")), head
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(total // connections) for _ in range(connections)))
    return total / (time.perf_counter() - started)


def raw_post(path: str, body: bytes, content_type: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {content_type}",
             f"Content-Length: {len(body)}", *headers]  # fmt: skip
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2048)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    body = json.dumps({"chat_id": 42, "text": "Salut"}).encode()
    telegram = raw_post(f"/bot{TOKEN}/sendMessage", body, "application/json")
    auth = "Basic " + base64.b64encode(f"{SID}:{AUTH}".encode()).decode()
    form = b"To=whatsapp%3A%2B40722111222&From=whatsapp%3A%2B40700000000&Body=Salut"
    twilio = raw_post(MESSAGES, form, "application/x-www-form-urlencoded", f"Authorization: {auth}")
    print(machine_line())
    for name, fake_class, request in (
        ("fake Telegram", FakeTelegram, telegram),
        ("fake Twilio", FakeTwilio, twilio),
    ):
        # The member wrote lately: inside the 24-hour window, the fake Twilio takes free text.
        options: dict[str, Any] = (
            {"chat_rate": None} if fake_class is FakeTelegram else {"wrote": ["+40722111222"]}
        )
        with fake_class.in_thread(rate=None, **options) as fake:
            rates = [
                asyncio.run(hammer(fake.port, request, args.requests, args.connections))
                for _ in range(2)
            ]
        print(f"{name:<14} {max(rates):>7.0f} requests/s (best of 2 x {args.requests})")
    print("target: over 600 requests/s each")


if __name__ == "__main__":
    main()
