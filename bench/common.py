"""Helpers shared by the benchmarks: the machine, scratch databases, pinned child processes,
percentiles, tables."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# The same shapes as the test harness uses (tests/harness.py): accepted by Settings.check().
TOKEN = "123456789:AA" + "x" * 33
SECRET = "s" * 32
PG = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# ---------------------------------------------------------------- the machine


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return " ".join(line.split(":", 1)[1].split())
    return platform.processor() or platform.machine()


def usable_cores() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def python_speed() -> float:
    """Microseconds for ``sum(range(1000))``, best of a few: a yardstick for comparing
    figures across machines (about 8 on a recent laptop)."""
    best = math.inf
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(1000):
            sum(range(1000))
        best = min(best, (time.perf_counter() - began) * 1000)  # ms per 1000 = us per loop
    return best


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


def machine_line() -> str:
    cores = usable_cores()
    return (
        f"machine: {len(cores)} cores usable of {os.cpu_count()} ({cpu_model()}), "
        f"{platform.system()} {platform.release()}, "
        f"Python {platform.python_version()} ({platform.python_implementation()}); "
        f"sum(range(1000)) takes {python_speed():.1f} us; load average {load_average()}"
    )


class CoreClock:
    """How idle one core was since this was made, from /proc/stat (NaN elsewhere)."""

    def __init__(self, core: int | None) -> None:
        self.core = core
        self._start = self._read()

    def _read(self) -> tuple[int, int] | None:
        if self.core is None:
            return None
        try:
            for line in Path("/proc/stat").read_text().splitlines():
                if line.startswith(f"cpu{self.core} "):
                    ticks = [int(x) for x in line.split()[1:]]
                    return sum(ticks), ticks[3] + ticks[4]  # all, idle + iowait
        except OSError:
            pass
        return None

    def idle_share(self) -> float:
        end = self._read()
        if self._start is None or end is None or end[0] == self._start[0]:
            return math.nan
        return (end[1] - self._start[1]) / (end[0] - self._start[0])


def pin_plan(wanted_server: int | None = None) -> tuple[list[int] | None, list[int] | None]:
    """One core for the server, the others for the load and the fakes; None where taskset
    is missing or there is only one core (then nothing is pinned)."""
    cores = usable_cores()
    if shutil.which("taskset") is None or len(cores) < 2:
        return None, None
    server = wanted_server if wanted_server in cores else cores[0]
    return [server], [c for c in cores if c != server]


def pinned(command: Sequence[str], cores: Iterable[int] | None) -> list[str]:
    """``command`` run on ``cores`` only (through taskset, which execs: the pid stays the same)."""
    if not cores:
        return list(command)
    return ["taskset", "-c", ",".join(map(str, cores)), *command]


def pin_self(cores: Iterable[int] | None) -> None:
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, set(cores))


# ---------------------------------------------------------------- databases


async def scratch_database(backend: str, folder: str) -> tuple[str, str | None, str | None]:
    """A database of its own for one run: a SQLite file in ``folder``, or a PostgreSQL
    database made for it (with Redis beside it). Returns its URL, the Redis URL, and the name
    to give ``drop_scratch`` afterwards (None for SQLite)."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{folder}/bench-{uuid.uuid4().hex[:6]}.db", None, None
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(PG, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"CREATE DATABASE {name}"))
    await admin.dispose()
    return PG.rsplit("/", 1)[0] + f"/{name}", REDIS, name


async def drop_scratch(name: str | None) -> None:
    if name is None:
        return
    admin = create_async_engine(PG, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    await admin.dispose()


# ---------------------------------------------------------------- servers and ports


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def reachable(url_or_host: str, port: int | None = None, timeout: float = 1.0) -> bool:
    """Whether something listens there: a URL (``redis://h:p/15``) or a host and a port."""
    host = url_or_host
    if "://" in url_or_host:
        parts = urlsplit(url_or_host)
        host, port = parts.hostname or "127.0.0.1", parts.port or port
    try:
        with socket.create_connection((host, int(port or 0)), timeout=timeout):
            return True
    except OSError:
        return False


def proc_cpu_seconds(pid: int | None) -> float:
    """User + system CPU time process ``pid`` has used so far (Linux), NaN if unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / TICKS


class Child:
    """A child process of the benchmark, with its output in a log file, stopped by its pid."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        log: Path,
        stdout_pipe: bool = False,
    ) -> None:
        self.name = name
        self.log_path = log
        self._log: IO[bytes] = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            list(command),
            env=dict(env) if env is not None else None,
            cwd=cwd,
            stdout=subprocess.PIPE if stdout_pipe else self._log,
            stderr=self._log,
            start_new_session=True,  # a Ctrl-C in the terminal reaches the bench, not them
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def first_line(self, timeout: float = 20.0) -> str:
        """The first line the child prints on stdout (with ``stdout_pipe``)."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        os.set_blocking(self.process.stdout.fileno(), False)
        buffer = b""
        while time.monotonic() < deadline:
            chunk = self.process.stdout.read()
            if chunk:
                buffer += chunk
                if b"\n" in buffer:
                    return buffer.split(b"\n", 1)[0].decode()
            elif not self.alive():
                break
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} printed nothing within {timeout} s; see {self.log_path}")

    def cpu_seconds(self) -> float:
        """User + system CPU time the process has used so far (Linux)."""
        return proc_cpu_seconds(self.pid)

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()
        return self.process.returncode


def clean_env(**values: str) -> dict[str, str]:
    """This environment without any of the service's settings, then ``values``."""
    from bot.config import Settings

    ours = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in ours}
    env.update(values)
    return env


# ---------------------------------------------------------------- figures


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile with linear interpolation; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def fmt(value: Any, digits: int = 0) -> str:
    if value is None or isinstance(value, float) and math.isnan(value):
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned."""
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in cells[1:])
    return "\n".join(out)


def run_main(
    main: Callable[[list[str] | None], Awaitable[int]],
    argv: list[str] | None = None,
    interrupted: str = "interrupted",
) -> int:
    """Run a benchmark's async `main` on uvloop where it is installed; Ctrl-C prints `interrupted`
    (after the benchmark's own clean-up has run) and exits 130."""
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        return asyncio.run(main(argv))
    except KeyboardInterrupt:
        print(interrupted)
        return 130
