"""What the fake platform servers share: an aiohttp server in the test's loop or a thread of
its own, one-shot faults, a one-second rolling counter, and a guard that keeps tests off the
internet."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import web


class RollingCounter:
    """Events in the last second, and the most ever seen in any one-second window."""

    __slots__ = ("_times", "_window", "max")

    def __init__(self, window: float = 1.0) -> None:
        self._times: deque[float] = deque()
        self._window = window
        self.max = 0

    def count(self, now: float) -> int:
        times, edge = self._times, now - self._window
        while times and times[0] <= edge:
            times.popleft()
        return len(times)

    def hit(self, now: float) -> int:
        n = self.count(now) + 1
        self._times.append(now)
        if n > self.max:
            self.max = n
        return n

    def wait(self, now: float) -> float:
        """Seconds until the oldest event in the window leaves it."""
        return self._times[0] + self._window - now if self._times else 0.0


@dataclass(slots=True)
class Fault:
    """A one-shot misbehaviour for the next call: an error status, a flood wait or a delay."""

    status: int = 500
    retry_after: int = 0
    delay: float = 0.0


class FakeServer:
    """An aiohttp server on 127.0.0.1 that runs in the test's loop or in a thread of its own."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.url = ""
        self._faults: deque[Fault] = deque()  # deque: appends are safe from another thread
        self._runner: web.AppRunner | None = None
        # What the rate limits count by: a test of the limits themselves sets a clock of its
        # own, so that its requests fall in the same second however busy the machine is.
        self.clock: Callable[[], float] = time.monotonic

    def build_app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> None:
        self._runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port, backlog=1024).start()
        self.port = self._runner.addresses[0][1]  # the real one when asked for port 0
        self.url = f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, **options: Any) -> Iterator[Self]:
        """Run the fake in a background thread with its own loop, for benchmarks and subprocesses."""
        fake = cls(**options)
        loop = asyncio.new_event_loop()
        ready, failure = threading.Event(), []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(fake.start())
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(fake.stop())
            loop.close()

        thread = threading.Thread(target=run, name=f"{cls.__name__}-server", daemon=True)
        thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{cls.__name__} did not start within 10 s")
        if failure:
            raise failure[0]
        try:
            yield fake
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)

    # One-shot faults, consumed by the next calls in order, whatever the method.
    def fail_next(self, count: int = 1, status: int = 500) -> None:
        self._faults.extend(Fault(status=status) for _ in range(count))

    def flood_next(self, count: int = 1, retry_after: int = 1) -> None:
        self._faults.extend(Fault(status=429, retry_after=retry_after) for _ in range(count))

    def delay_next(self, count: int = 1, seconds: float = 0.5) -> None:
        self._faults.extend(Fault(status=0, delay=seconds) for _ in range(count))

    @property
    def faults_left(self) -> int:
        """Injected faults and delays no request has met yet."""
        return len(self._faults)

    async def _fault(self) -> Fault | None:
        """The next injected fault, after sleeping if it is a delay (then ``None``)."""
        if not self._faults:
            return None
        try:
            fault = self._faults.popleft()
        except IndexError:
            return None
        if fault.delay:
            await asyncio.sleep(fault.delay)
            return None
        return fault


def run_cli(fake: FakeServer, description: str) -> None:
    """Serve ``fake`` until interrupted, printing its URL first."""

    async def serve() -> None:
        async with fake:
            print(f"{description} listening on {fake.url}", flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


def refuse_internet(monkeypatch: Any) -> None:
    """Make any connection past this machine fail loudly (pass pytest's ``monkeypatch``)."""
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def local(host: Any) -> bool:
        if host is None or isinstance(host, bytes | str) and str(host) in ("localhost", ""):
            return True
        try:
            return ipaddress.ip_address(str(host).strip("[]")).is_loopback
        except ValueError:
            return False

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not local(host):
            raise OSError(f"test tried to resolve {host!r}: tests must stay on loopback")
        return real_getaddrinfo(host, *args, **kwargs)

    def checked(real: Callable[..., Any]) -> Callable[..., Any]:
        def connect(sock: socket.socket, address: Any) -> Any:
            if isinstance(address, tuple) and not local(address[0]):
                raise OSError(f"test tried to connect to {address[0]}: tests must stay on loopback")
            return real(sock, address)

        return connect

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", checked(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", checked(real_connect_ex))
