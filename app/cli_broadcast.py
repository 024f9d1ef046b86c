"""``childpact broadcast``: compose, preview, send (once or repeating) and follow a broadcast
from a shell, and stop a series."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date, datetime

from sqlalchemy import select

from bot import broadcasts
from bot.broadcasts import Audience, BroadcastError, actions, repeats
from bot.broadcasts import series as broadcast_series
from bot.channels.base import MEMBER_CHANNELS
from bot.channels.registry import send_rates
from bot.config import Settings
from bot.coordination import create_coordinator
from bot.members import topics
from bot.storage.db import Database
from bot.storage.models import Broadcast

BAR = 30  # characters of the progress bar
VIA = "command line"  # how the audit log names this front end


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    verbs = sub.add_parser("broadcast", help="send news to members").add_subparsers(
        dest="action", required=True
    )
    send = verbs.add_parser("send", help="preview, confirm, send, and show the progress")
    send.add_argument(
        "--text", action="append", required=True, metavar="LOCALE=TEXT",
        help="the text in one language; repeat for each translation (en=... ro=...)",
    )  # fmt: skip
    send.add_argument("--base", default="en", help="the locale every fallback ends at")
    send.add_argument("--title", default="", help="for the secretariat's list only")
    send.add_argument("--country", action="append", default=[], help="e.g. MD; repeatable")
    send.add_argument("--locale", action="append", default=[], help="members reading it")
    send.add_argument(
        "--channel", action="append", default=[], choices=[name.value for name in MEMBER_CHANNELS]
    )
    send.add_argument("--organisation", action="append", default=[])
    send.add_argument(
        "--topic", action="append", default=[], help="only who receives it, e.g. events"
    )
    send.add_argument("--image", help="an image's https address")
    send.add_argument("--at", help="when, with its offset: 2026-12-01T09:00+02:00")
    send.add_argument("--local-hour", type=int, help="at this hour of each member's own day")
    send.add_argument(
        "--repeat", choices=repeats.REPEATS,
        help="again every day, week or month, at the same time of the secretariat's day",
    )  # fmt: skip
    send.add_argument("--until", type=date.fromisoformat, help="the series' last day: 2027-06-30")
    send.add_argument("--times", type=int, help="how many times the series goes out in all")
    send.add_argument("--yes", action="store_true", help="do not ask before sending")
    send.add_argument("--no-wait", action="store_true", help="return once it is queued")
    for verb, words in (
        ("progress", "follow a broadcast until it finishes"),
        ("cancel", "stop what has not gone yet"),
        ("stop-series", "no further occurrence of a repeating broadcast"),
    ):
        verbs.add_parser(verb, help=words).add_argument("id", type=int)
    verbs.add_parser("list", help="the latest broadcasts")


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        return asyncio.run(_run(args, settings))
    except BroadcastError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopped watching; the broadcast goes on", file=sys.stderr)
        return 130


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    db = Database(settings.database_url)
    await db.migrate()
    coordinator = create_coordinator(settings.redis_url, settings.redis_prefix)
    await coordinator.start()
    try:
        if args.action == "list":
            async with db.session() as session:
                for b in await session.scalars(
                    select(Broadcast).order_by(Broadcast.id.desc()).limit(20)
                ):
                    print(f"{b.id:>5}  {b.status:<18} {b.created_at:%Y-%m-%d %H:%M}  {b.title}")
            return 0
        if args.action == "send":
            launched = await _send(args, db, settings)
            if launched is None:
                return 1
            broadcast_id, wake = launched
            await coordinator.notify(wake)
            if args.no_wait:
                return 0
        elif args.action == "cancel":
            async with db.session() as session, session.begin():
                found = await session.get(Broadcast, args.id)
                if found is None:
                    raise BroadcastError("missing", f"there is no broadcast {args.id}")
                held = (await actions.cancel(session, found, None)).held_back
            print(f"cancelled: {held} messages held back")
            return 0
        elif args.action == "stop-series":
            return await _stop_series(db, args.id)
        await _follow(db, args.id if args.action == "progress" else broadcast_id)
        return 0
    finally:
        await coordinator.close()
        await db.dispose()


async def _send(
    args: argparse.Namespace, db: Database, settings: Settings
) -> tuple[int, str] | None:
    """The broadcast launched and the topic to notify once it is committed; None when the
    author said no."""
    texts: dict[str, str] = {}
    for item in args.text:
        locale, sep, text = item.partition("=")
        if not sep:
            raise BroadcastError("text", f"write --text LOCALE=TEXT, not {item!r}")
        texts[locale.strip()] = text
    audience = Audience(
        countries=[c.upper() for c in args.country], locales=args.locale,
        channels=args.channel, organisations=args.organisation, topics=args.topic,
    )  # fmt: skip
    at = datetime.fromisoformat(args.at) if args.at else None
    if at is not None and at.tzinfo is None:
        raise BroadcastError("at", "give --at with its offset, e.g. 2026-12-01T09:00+02:00")
    async with db.session() as session, session.begin():
        missing = await topics.not_offered(session, audience.topics)
        if missing:
            raise BroadcastError("topic", f"no such topic: {', '.join(missing)}")
        b = Broadcast(
            title=args.title, base_locale=args.base, status="draft", texts={}, buttons=[],
            audience=audience.to_json(), templates={}, image_url=args.image, expanded_to=0,
        )  # fmt: skip
        for locale, text in texts.items():
            broadcasts.set_text(b, locale, text)
        broadcast_series.set_rule(b, args.repeat, until=args.until, times=args.times,
                                  zone=settings.secretariat_timezone)  # fmt: skip
        session.add(b)
        await session.flush()
        seen = await broadcasts.preview(session, b, None, send_rates(settings))
        _print_preview(seen)
        if seen.problems:
            raise BroadcastError("problems", "not sent: " + "; ".join(seen.problems))
        question = f"send to {seen.recipients} members? [y/N] "
        if not args.yes and (await asyncio.to_thread(input, question)).strip().lower() != "y":
            print("not sent; nothing was saved")
            await session.rollback()
            return None
        sent = await actions.send(
            session, b, None, approval_above=settings.broadcast_approval_above, at=at,
            local_hour=args.local_hour, counted=seen, via=VIA,
        )  # fmt: skip
        print(f"broadcast {b.id}: {sent.status.replace('_', ' ')}")
        if b.repeat:
            print(f"repeats {b.repeat} in {b.repeat_zone}; stop it with: childpact broadcast "
                  f"stop-series {b.id}")  # fmt: skip
        return b.id, sent.wake


async def _stop_series(db: Database, broadcast_id: int) -> int:
    async with db.session() as session, session.begin():
        found = await session.get(Broadcast, broadcast_id)
        if found is None:
            raise BroadcastError("missing", f"there is no broadcast {broadcast_id}")
        stopped = await actions.stop_series(session, found, None, via=VIA)
    print(f"series stopped: {stopped.cancelled} upcoming occurrence(s) cancelled")
    return 0


def _print_preview(seen: broadcasts.Preview) -> None:
    def line(counts: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "-"

    print(f"recipients: {seen.recipients}")
    print(f"  by channel:  {line(seen.by_channel)}")
    print(f"  by language: {line(seen.by_locale)}")
    print(f"  text chosen: {line(seen.by_fallback)} (own language, country's, base)")
    print(f"skipped:       {line(seen.skipped)}")
    if seen.missing_locales:
        print(f"no text yet for: {line(seen.missing_locales)}")
    if seen.stale_locales:
        print(f"translations older than the base text: {', '.join(seen.stale_locales)}")
    print(f"about {seen.estimated_seconds:.0f} s at the channels' limits")


async def _follow(db: Database, broadcast_id: int) -> None:
    """A progress bar until the broadcast is sent or cancelled."""
    tty = sys.stdout.isatty()
    last, told = "", False
    while True:
        async with db.session() as session:
            b = await session.get(Broadcast, broadcast_id)
            if b is None:
                raise BroadcastError("missing", f"there is no broadcast {broadcast_id}")
            found = await broadcasts.progress(session, broadcast_id)
        share = found["done_share"]
        filled = int(share * BAR)
        counts = ", ".join(f"{k} {v}" for k, v in sorted(found["statuses"].items()))
        text = f"[{'#' * filled}{'.' * (BAR - filled)}] {share:>4.0%}  {b.status}  {counts}"
        if text != last:
            print(("\r" + text.ljust(100)) if tty else text, end="" if tty else "\n", flush=True)
            last = text
        if b.status in ("sent", "cancelled"):
            print()
            return
        if b.status in ("scheduled", "awaiting_approval") and not found["total"] and not told:
            waiting = "an administrator's approval" if b.status == "awaiting_approval" else (
                "its time, or a running worker (childpact serve / childpact worker)"
            )  # fmt: skip
            print(f"{chr(10) if tty else ''}waiting for {waiting}", flush=True)
            told = True
        await asyncio.sleep(1.0)
