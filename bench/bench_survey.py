"""Surveys: 1,000 members answering a 10-question survey at once through the Telegram webhook,
on SQLite (embedded) and on PostgreSQL + Redis; then every answer is counted in the database.

    python -m bench.bench_survey [--members 1000] [--backends sqlite,postgres]

The real service runs as its own process (`childpact serve`, one uvicorn worker) pinned to one
core, with the fake Telegram Bot API (its limits lifted) beside the load, as in
bench_inbound. The members are stored already onboarded and the survey already open; each
member taps the survey's button, then answers ten questions (buttons for choices, yes/no and
ratings; typed text for a number, a date and a short text). A member's next update leaves
only after the previous one was answered, as Telegram does; all members interleave.

Columns:
  answers/s      answers stored per second (first request sent to last answer stored)
  HTTP p50/p99   an answer's request sent to its HTTP answer, at the client
  answer p50/p99 an answer's request sent to the next question (or the closing message)
                 queued in `outbox`: stored in the same transaction as the answer
  stored         rows in `survey_answers` of the members' responses, against answers sent
  lost / dup     answers sent and not stored (or stored with another value) / rows beyond
                 one per response and question
  finished       responses finished, of members
  errors         non-2xx answers and failed requests
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.bench_inbound import (
    DEFAULT_POSTGRES,
    DEFAULT_REDIS,
    TELEGRAM_CONNECTIONS,
    Item,
    Sent,
    Store,
    Target,
    childpact,
    closed_loop,
    fake_telegram,
    prepared,
    service_env,
    settle,
    wait_ready,
)
from bench.common import (
    Child,
    fmt,
    free_port,
    machine_line,
    percentile,
    pin_plan,
    pin_self,
    pinned,
    reachable,
    run_main,
    table,
)

CHAT_BASE = 6_000_000_000
OPTIONS = [{"id": k, "label": k.title()} for k in ("lead", "field", "advocacy", "finance")]
# Ten questions, each answered with one update: what a short pulse survey looks like.
SURVEY: dict[str, Any] = {
    "title": "Members' pulse",
    "questions": [
        {"id": "role", "type": "single", "text": "Your role?", "options": OPTIONS},
        {"id": "funded", "type": "yes_no", "text": "Is your work funded this year?"},
        {"id": "mood", "type": "rating5", "text": "How is the work going, 1 to 5?"},
        {"id": "support", "type": "rating10", "text": "The coalition's support, 0 to 10?"},
        {"id": "cases", "type": "number", "min": 0, "max": 10000,
         "text": "How many children did your team support this month?"},
        {"id": "meeting", "type": "date", "text": "When is your next team meeting?"},
        {"id": "need", "type": "short_text", "text": "What would help most?"},
        {"id": "area", "type": "single", "text": "Your main area?", "options": OPTIONS},
        {"id": "training", "type": "yes_no", "text": "Would you join a training?"},
        {"id": "again", "type": "rating5", "text": "Would you answer again, 1 to 5?"},
    ],
}  # fmt: skip
NEEDS = ("more funding", "training for staff", "a lawyer", "supervision", "transport")


@dataclass(slots=True)
class Answer:
    """One answer a member gives: the update that carries it and the value to find stored."""

    key: str
    update_id: int
    value: Any


@dataclass
class Load:
    items: list[Item]
    answers: dict[int, list[Answer]]  # by member
    answer_updates: set[int] = field(default_factory=set)


def answer_for(q: dict[str, Any], qid: int, rng: random.Random) -> tuple[str, Any, bool]:
    """(payload or text, the value it stores, whether it is a button)."""
    kind = q["type"]
    if kind == "single":
        n = rng.randrange(len(q["options"]))
        return f"sv:a:{qid}:{n}", q["options"][n]["id"], True
    if kind == "yes_no":
        yes = rng.random() < 0.6
        return f"sv:a:{qid}:{int(yes)}", yes, True
    if kind in ("rating5", "rating10"):
        n = rng.randint(1, 5) if kind == "rating5" else rng.randint(0, 10)
        return f"sv:a:{qid}:{n}", n, True
    if kind == "number":
        n = rng.randint(0, 400)
        return str(n), n, False
    if kind == "date":
        day = rng.randint(1, 28)
        return f"{day:02d}.03.2027", f"2027-03-{day:02d}", False
    need = rng.choice(NEEDS)
    return need, need, False


def build_load(members: int, survey_id: int, ids: dict[str, int], seed: int) -> Load:
    """Every member's updates: the survey's button, then ten answers; turn by turn, each turn
    in a random order of members, so that chats interleave as in real life."""
    from tests.fakes.telegram_updates import UpdateBuilder

    rng = random.Random(seed)
    chats: list[list[tuple[dict[str, Any], Answer | None]]] = []
    answers: dict[int, list[Answer]] = {}
    for n in range(members):
        b = UpdateBuilder(chat_id=CHAT_BASE + n, first_name=f"Member{n}",
                          first_update_id=10**9 + n * 100)  # fmt: skip
        chat: list[tuple[dict[str, Any], Answer | None]] = [
            (b.callback_query(f"survey:{survey_id}"), None)
        ]
        for q in SURVEY["questions"]:
            said, value, tap = answer_for(q, ids[q["id"]], rng)
            update = b.callback_query(said) if tap else b.message(said)
            chat.append((update, Answer(q["id"], update["update_id"], value)))
        answers[n] = [a for _, a in chat if a is not None]
        chats.append(chat)
    load = Load([], answers)
    for turn in range(len(chats[0])):
        order = list(range(members))
        rng.shuffle(order)
        for n in order:
            update, given = chats[n][turn]
            load.items.append(Item(update["update_id"], n, json.dumps(update).encode()))
            if given is not None:
                load.answer_updates.add(given.update_id)
    return load


async def seed(url: str, members: int) -> tuple[int, dict[str, int]]:
    """Onboarded members and the open survey, straight into the database."""
    from sqlalchemy import insert

    from bot import surveys
    from bot.config import Settings
    from bot.storage.db import Database
    from bot.storage.models import Contact
    from bot.surveys.format import parse_definition

    version = Settings(_env_file=None).privacy_version
    db = Database(url)
    try:
        async with db.session() as session, session.begin():
            await session.execute(
                insert(Contact),
                [
                    {"channel": "telegram", "address": str(CHAT_BASE + n), "status": "active",
                     "locale": ("en", "ro", "ru")[n % 3], "country": ("MD", "RO", "UA")[n % 3],
                     "organisation": f"Organisation {n % 40}", "consent_version": version,
                     "flow_data": {}, "choices": []}
                    for n in range(members)
                ],
            )  # fmt: skip
            survey = await surveys.create(
                session, parse_definition(SURVEY), author=None, country=None
            )
            survey.status = "open"
            questions = await surveys.questions_of(session, survey.id)
            return survey.id, {q.key: q.id for q in questions}
    finally:
        await db.dispose()


async def stored(url: str, survey_id: int) -> dict[str, Any]:
    """What the database holds: answers by member and question, and duplicate rows."""
    from sqlalchemy import func, select
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from bot.storage.models import Contact, SurveyAnswer, SurveyQuestion, SurveyResponse

    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(Contact.address, SurveyQuestion.key, SurveyAnswer.value)
                    .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
                    .join(Contact, Contact.id == SurveyResponse.contact_id)
                    .join(SurveyQuestion, SurveyQuestion.id == SurveyAnswer.question_id)
                    .where(SurveyResponse.survey_id == survey_id, SurveyAnswer.skipped.is_(False))
                )
            ).all()
            statuses = dict(
                (
                    await conn.execute(
                        select(SurveyResponse.status, func.count())
                        .where(SurveyResponse.survey_id == survey_id)
                        .group_by(SurveyResponse.status)
                    )
                ).all()
            )
            last = await conn.scalar(
                select(func.max(SurveyAnswer.answered_at))
                .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
                .where(SurveyResponse.survey_id == survey_id)
            )
    finally:
        await engine.dispose()
    return {"rows": rows, "statuses": statuses, "last": last}


@dataclass
class Result:
    backend: str
    members: int
    sent: list[Sent]
    replies: dict[int, tuple[float | None, float | None]]
    found: dict[str, Any]
    load: Load
    notes: list[str] = field(default_factory=list)

    def row(self) -> list[str]:
        answers = [s for s in self.sent if s.update_id in self.load.answer_updates]
        ok = [s for s in answers if s.ok]
        http = [s.latency * 1000 for s in ok]
        queued, last_queued = [], 0.0
        for s in ok:
            at = self.replies.get(s.update_id, (None, None))[0]
            if at is not None:
                queued.append((at - s.sent_at) * 1000)
                last_queued = max(last_queued, at)
        began = min((s.sent_at for s in self.sent), default=0.0)
        wanted = {
            (str(CHAT_BASE + n), a.key): a.value for n, given in self.load.answers.items()
            for a in given
        }  # fmt: skip
        seen: dict[tuple[str, str], int] = {}
        matching = 0
        for address, key, value in self.found["rows"]:
            seen[(address, key)] = seen.get((address, key), 0) + 1
            matching += wanted.get((address, key), object()) == value
        duplicated = sum(n - 1 for n in seen.values())
        lost = len(wanted) - matching
        finished = self.found["statuses"].get("finished", 0)
        if len(queued) < len(ok):
            self.notes.append(f"{len(ok) - len(queued)} accepted answers have no reply queued")
        span = last_queued - began
        return [
            self.backend,
            fmt(len(answers)),
            fmt(len(self.found["rows"]) / span if span > 0 else float("nan"), 1),
            fmt(percentile(http, 50), 0),
            fmt(percentile(http, 99), 0),
            fmt(percentile(queued, 50), 0),
            fmt(percentile(queued, 99), 0),
            fmt(len(self.found["rows"])),
            fmt(lost),
            fmt(duplicated),
            f"{finished:,}/{self.members:,}",
            fmt(len(self.sent) - sum(s.ok for s in self.sent)),
        ]


HEADINGS = [
    "backend", "answers", "answers/s", "HTTP p50", "p99", "answer p50", "p99", "stored",
    "lost", "dup", "finished", "errors",
]  # fmt: skip


async def run_backend(name: str, options: argparse.Namespace, cores: tuple[Any, Any]) -> Result:
    server_cores, client_cores = cores
    workdir = Path(tempfile.mkdtemp(prefix=f"childpact-bench-survey-{name}-"))
    try:
        async with prepared(name, options, workdir) as target:
            with fake_telegram(client_cores, workdir) as telegram_url:
                migrate = Child(
                    "migrations", childpact("db", "upgrade"), cwd=workdir,
                    env=service_env(target, telegram_url, 0), log=workdir / "migrate.log",
                )  # fmt: skip
                if migrate.process.wait(120) != 0:
                    raise RuntimeError(f"childpact db upgrade failed:\n{migrate.tail()}")
                migrate.stop()
                survey_id, ids = await seed(target.database_url, options.members)
                load = build_load(options.members, survey_id, ids, options.seed)
                return await measure(target, telegram_url, options, load, survey_id,
                                     server_cores)  # fmt: skip
    finally:
        if options.keep:
            print(f"  {name}: logs and files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


async def measure(
    target: Target,
    telegram_url: str,
    options: argparse.Namespace,
    load: Load,
    survey_id: int,
    server_cores: list[int] | None,
) -> Result:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Child(
        "service", pinned(childpact("serve", "--port", str(port)), server_cores),
        env=service_env(target, telegram_url, port), cwd=target.workdir,
        log=target.workdir / "service.log",
    )  # fmt: skip
    store = Store(target.database_url)
    try:
        await wait_ready(url, server)
        connector = aiohttp.TCPConnector(limit=options.connections)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=60)
        ) as session:
            sent = await closed_loop(
                session, f"{url}/webhook/telegram", load.items, options.connections
            )
        settled = await settle(store, server, options.settle_timeout, sent=False)
        result = Result(
            target.name, options.members, sent, await store.replies(),
            await stored(target.database_url, survey_id), load,
        )  # fmt: skip
        if not settled:
            result.notes.append(f"after {options.settle_timeout:.0f} s messages were pending")
        if not server.alive():
            result.notes.append(f"the service died:\n{server.tail()}")
        return result
    finally:
        await store.close()
        server.stop()
        errors = [line for line in server.tail(400).splitlines()
                  if " ERROR " in line or "Traceback" in line]  # fmt: skip
        if errors:
            print(f"  {target.name}: the service logged {len(errors)} errors, "
                  f"e.g. {errors[0][:200]}")  # fmt: skip


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_survey",
        description="Members answering a survey at once: answers/s, p99, nothing lost.",
    )
    add = parser.add_argument
    add("--members", type=int, default=1000, help="members answering at once (1000)")
    add("--connections", type=int, default=TELEGRAM_CONNECTIONS,
        help=f"requests in flight, as Telegram's max_connections ({TELEGRAM_CONNECTIONS})")  # fmt: skip
    add("--backends", default="sqlite,postgres", help="sqlite,postgres (both)")
    add("--postgres-url", default=DEFAULT_POSTGRES,
        help="a database to connect to; the bench creates and drops a database of its own")  # fmt: skip
    add("--redis-url", default=DEFAULT_REDIS,
        help="a Redis database for the bench alone: it is flushed before and after")  # fmt: skip
    add("--server-core", type=int, default=None, help="the core for the service (the first)")
    add("--settle-timeout", type=float, default=60.0,
        help="seconds to wait for the backlog after sending (60)")  # fmt: skip
    add("--seed", type=int, default=7)
    add("--keep", action="store_true", help="keep the service's log and files")
    return parser.parse_args(argv)


async def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    print(machine_line())
    server_cores, client_cores = pin_plan(options.server_core)
    pin_self(client_cores)
    if server_cores:
        print(f"pinned: the service on core {server_cores[0]}; load and fake Telegram on "
              f"{','.join(map(str, client_cores or []))}")  # fmt: skip
    else:
        print("not pinned (no taskset, or a single core): load and service share the CPU")
    questions = len(SURVEY["questions"])
    print(f"survey: {options.members:,} members x {questions} questions (+1 tap to open), "
          f"{options.connections} requests in flight; times in ms")  # fmt: skip
    results: list[Result] = []
    failed = False
    for name in [b.strip() for b in options.backends.split(",") if b.strip()]:
        if name not in ("sqlite", "postgres"):
            print(f"{name}: unknown backend (sqlite, postgres)")
            failed = True
            continue
        if name == "postgres" and not (
            reachable(options.postgres_url.replace("+asyncpg", ""), 5432)
            and reachable(options.redis_url, 6379)
        ):
            print("postgres: skipped, PostgreSQL or Redis not reachable")
            continue
        started = time.monotonic()
        try:
            results.append(await run_backend(name, options, (server_cores, client_cores)))
        except Exception as exc:
            print(f"{name}: failed: {type(exc).__name__}: {exc}")
            failed = True
            continue
        print(f"  {name}: done in {time.monotonic() - started:.0f} s")
    if not results:
        return 1
    rows = [r.row() for r in results]
    print()
    print(table(HEADINGS, rows))
    for r in results:
        for note in r.notes:
            print(f"{r.backend}: {note}")
    bad = any(row[8] != "0" or row[9] != "0" for row in rows)
    return 1 if failed or bad else 0


def run(argv: list[str] | None = None) -> int:
    return run_main(main, argv, "interrupted; the service, the fake and the scratch database are gone")


if __name__ == "__main__":
    sys.exit(run())
