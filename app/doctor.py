"""``childpact doctor``: what the configuration reaches, one plain verdict a line, with the fix.

Each check asks the real thing: the database and its migrations, Redis, the Bot API (getMe,
getWebhookInfo, getChat), Twilio's account, numbers and Content API. A ``fail`` is something
that loses or stops members' messages; a ``warn`` is worth a look. Nothing here writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from bot.config import ConfigError, Settings

log = logging.getLogger(__name__)

Level = Literal["ok", "warn", "fail"]
TIMEOUT = 15.0  # seconds for any one check
PENDING_WARN = 100  # updates Telegram holds for us before it is worth a word
RECENT_ERROR = 24 * 3600.0  # a webhook error older than this is history
BACKUP_WARN = 2 * 24 * 3600.0  # a last backup older than this is worth a word
DEFAULT_TWILIO_API = "https://api.twilio.com"
# Statuses of a WhatsApp template that lets it reach members (Content API approval).
APPROVED = frozenset({"approved"})
WAITING = frozenset({"pending", "received"})


@dataclass(frozen=True, slots=True)
class Verdict:
    level: Level
    subject: str
    text: str
    fix: str = ""

    def lines(self) -> list[str]:
        mark = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}[self.level]
        out = [f"{mark}  {self.subject}: {self.text}"]
        if self.fix:
            out.append(f"      fix: {self.fix}")
        return out


def ok(subject: str, text: str) -> Verdict:
    return Verdict("ok", subject, text)


def warn(subject: str, text: str, fix: str = "") -> Verdict:
    return Verdict("warn", subject, text, fix)


def fail(subject: str, text: str, fix: str = "") -> Verdict:
    return Verdict("fail", subject, text, fix)


def report(verdicts: Iterable[Verdict]) -> tuple[str, int]:
    """The text an operator reads and the exit status: 1 when anything fails."""
    verdicts = list(verdicts)
    lines = [line for v in verdicts for line in v.lines()]
    failed = sum(v.level == "fail" for v in verdicts)
    warned = sum(v.level == "warn" for v in verdicts)
    if failed:
        lines.append(
            f"{failed} problem{'s' * (failed != 1)} would stop or lose members' messages; "
            f"{warned} warning{'s' * (warned != 1)}"
        )
    elif warned:
        lines.append(f"all good, with {warned} warning{'s' * (warned != 1)} worth a look")
    else:
        lines.append("all good")
    return "\n".join(lines), 1 if failed else 0


class Doctor:
    """Runs every check that the configuration calls for."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.templates: dict[str, set[str]] = {}  # content SID: locales, read from broadcasts
        self.whatsapp_locales: set[str] = set()

    async def run(self) -> list[Verdict]:
        verdicts = self.configuration()
        verdicts += await self._guarded("database", self.database)
        if self.settings.redis_url:
            verdicts += await self._guarded("redis", self.redis)
        if self.settings.telegram_enabled:
            verdicts += await self._guarded("telegram", self.telegram)
        else:
            verdicts.append(ok("telegram", "off (TELEGRAM_BOT_TOKEN unset)"))
        if self.settings.whatsapp_enabled:
            verdicts += await self._guarded("whatsapp", self.whatsapp)
        else:
            verdicts.append(ok("whatsapp", "off (TWILIO_* unset)"))
        return verdicts

    async def _guarded(self, subject: str, check: Callable[[], Any]) -> list[Verdict]:
        try:
            return list(await asyncio.wait_for(check(), TIMEOUT))
        except TimeoutError:
            return [fail(subject, f"no answer within {TIMEOUT:.0f} s", "check the address and "
                         "the network between this server and it")]  # fmt: skip
        except Exception as exc:  # a check that breaks is a verdict, not a crash
            log.debug("the %s check failed", subject, exc_info=True)
            return [fail(subject, f"the check failed: {_kind(exc)}")]

    # ------------------------------------------------------------------ configuration

    def configuration(self) -> list[Verdict]:
        s = self.settings
        found: list[Verdict] = []
        try:
            s.check()
        except ConfigError as exc:
            for line in str(exc).splitlines()[1:]:
                found.append(fail("configuration", line.strip(" -"), "set it in the environment "
                                  "or .env (docs/operations/configuration.md)"))  # fmt: skip
        if s.public_url and not s.public_url.startswith("https://"):
            found.append(fail("configuration", f"PUBLIC_URL {s.public_url} is not https",
                              "Telegram and Twilio call https addresses only: put the service "
                              "behind the reverse proxy and use its https address"))  # fmt: skip
        if not found:
            found.append(ok("configuration", "secrets set and well-formed"))
        return found

    # ------------------------------------------------------------------ storage

    async def database(self) -> list[Verdict]:
        from sqlalchemy import select

        from bot.secretariat.service_health import last_backup
        from bot.storage.db import Database
        from bot.storage.models import Broadcast, Contact

        s = self.settings
        kind = "SQLite" if s.is_sqlite else "PostgreSQL"
        if s.is_sqlite:
            path = s.database_url.split("///", 1)[-1]
            if path and path != ":memory:" and not await asyncio.to_thread(Path(path).exists):
                return [fail("database", f"no SQLite file at {path}",
                             "run `childpact db upgrade` (or start `childpact serve` once), or "
                             "correct DATABASE_URL")]  # fmt: skip
        db = Database(s.database_url)
        try:
            try:
                async with db.engine.connect() as conn:
                    current, heads = await conn.run_sync(_revisions)
            except Exception as exc:
                return [fail("database", f"{kind} not reachable ({_kind(exc)})",
                             "check DATABASE_URL and that the database server runs")]  # fmt: skip
            if current != heads:
                return [fail("database", f"{kind} reachable, but its schema is at "
                             f"{_names(current)} and the code needs {_names(heads)}",
                             "run `childpact db upgrade` (the release step)")]  # fmt: skip
            async with db.session() as session:
                rows = await session.execute(
                    select(Broadcast.templates).where(
                        Broadcast.status.in_(("awaiting_approval", "scheduled", "sending"))
                    )
                )
                upcoming = [t for (t,) in rows if t]
                if not upcoming:
                    last = await session.scalar(
                        select(Broadcast.templates)
                        .where(Broadcast.status == "sent")
                        .order_by(Broadcast.finished_at.desc().nullslast(), Broadcast.id.desc())
                        .limit(1)
                    )
                    upcoming = [last] if last else []
                for templates in upcoming:
                    for locale, sid in templates.items():
                        if sid:
                            self.templates.setdefault(str(sid), set()).add(str(locale))
                self.whatsapp_locales = {
                    locale
                    for (locale,) in await session.execute(
                        select(Contact.locale)
                        .distinct()
                        .where(Contact.channel == "whatsapp", Contact.status == "active")
                    )
                    if locale
                }
                backup = await last_backup(session)
            return [
                ok("database", f"{kind} reachable, migrations current ({_names(heads)})"),
                self._backup(backup.at if backup else None, backup.file if backup else ""),
            ]
        finally:
            await db.dispose()

    def _backup(self, at: datetime | None, file: str) -> Verdict:
        fix = ("run `childpact backup FILE` every day and keep the files off this server "
               "(docs/operations/server.md, Backups)")  # fmt: skip
        if at is None:
            return warn("backup", "no backup recorded", fix)
        age = self.clock() - at.timestamp()
        if age > BACKUP_WARN:
            return warn("backup", f"the last backup ({file}) was taken {_ago(age, at)}", fix)
        return ok("backup", f"the last backup ({file}) was taken {_ago(age, at)}")

    async def redis(self) -> list[Verdict]:
        import redis.asyncio as redis

        client = redis.from_url(self.settings.redis_url or "")
        try:
            await client.ping()
        except Exception as exc:
            return [fail("redis", f"not reachable ({_kind(exc)})",
                         "check REDIS_URL and that Redis runs; without it no process "
                         "sends")]  # fmt: skip
        finally:
            await client.aclose()
        return [ok("redis", "reachable")]

    # ------------------------------------------------------------------ Telegram

    async def telegram(self) -> list[Verdict]:
        from telegram.error import InvalidToken, TelegramError

        from bot.channels.telegram import TelegramChannel

        channel = TelegramChannel(self.settings)
        bot = channel.bot
        assert bot is not None
        try:
            try:
                await bot.initialize()  # getMe
            except InvalidToken:
                return [fail("telegram", "the Bot API rejects TELEGRAM_BOT_TOKEN",
                             "copy the token again from @BotFather (/token), or issue a new "
                             "one (/revoke) and set TELEGRAM_BOT_TOKEN")]  # fmt: skip
            except TelegramError as exc:
                return [fail("telegram", f"getMe failed ({_kind(exc)})",
                             f"check that this server reaches {self.settings.telegram_api_url}")]  # fmt: skip
            found = [ok("telegram", f"token accepted: the bot is @{bot.username}")]
            found += await self._webhook(bot)
            for name, chat in (
                ("ADMIN_TELEGRAM_CHAT_ID", self.settings.admin_telegram_chat_id),
                ("SAFEGUARDING_TELEGRAM_CHAT_ID", self.settings.safeguarding_telegram_chat_id),
            ):
                if chat and chat.strip():
                    found.append(await self._chat(bot, name, chat.strip()))
            return found
        finally:
            await channel.stop()

    async def _webhook(self, bot: Any) -> list[Verdict]:
        from bot.channels.telegram import ALLOWED_UPDATES

        subject = "telegram webhook"
        info = await bot.get_webhook_info()
        fix = "run `childpact telegram set-webhook`"
        public = self.settings.public_url
        expected = f"{public}/webhook/telegram" if public else None
        found: list[Verdict] = []
        if expected is None:
            return [fail(subject, "PUBLIC_URL is unset, so no webhook can be checked or set",
                         "set PUBLIC_URL to the service's https address, then " + fix)]  # fmt: skip
        if not info.url:
            return [fail(subject, "no webhook is set: Telegram holds members' messages "
                         f"({info.pending_update_count} waiting)", fix)]  # fmt: skip
        if info.url != expected:
            found.append(fail(subject, f"Telegram sends updates to {info.url}, not {expected}",
                              fix))  # fmt: skip
        missing = [
            u for u in ALLOWED_UPDATES if info.allowed_updates and u not in info.allowed_updates
        ]
        if missing:
            found.append(fail(subject, "Telegram does not send the update kinds "
                              f"{', '.join(missing)} that the bot needs", fix))  # fmt: skip
        pending = info.pending_update_count
        if info.last_error_date is not None:
            when = info.last_error_date
            age = self.clock() - when.timestamp()
            said = f"Telegram's last delivery failed {_ago(age, when)}: {info.last_error_message}"
            if pending:
                found.append(fail(subject, f"{said}; {pending} updates are waiting",
                                  "make PUBLIC_URL answer over https from the internet (DNS, "
                                  "the reverse proxy, its certificate), then see that the "
                                  "number waiting falls"))  # fmt: skip
            elif age < RECENT_ERROR:
                found.append(warn(subject, f"{said}; nothing is waiting now"))
        if pending >= PENDING_WARN and not any(v.level == "fail" for v in found):
            found.append(warn(subject, f"{pending} updates are waiting to be delivered",
                              "see that the web process answers; the number should fall"))  # fmt: skip
        if not found:
            found.append(ok(subject, f"{info.url}, {pending} waiting"))
        return found

    async def _chat(self, bot: Any, name: str, chat_id: str) -> Verdict:
        from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError

        subject = f"telegram {name}"
        try:
            chat = await bot.get_chat(chat_id)
        except ChatMigrated as exc:
            return fail(subject, "the group became a supergroup with a new id",
                        f"set {name}={exc.new_chat_id}")  # fmt: skip
        except Forbidden:
            return fail(subject, "the bot is not a member of that chat any more",
                        "add the bot to the group again")  # fmt: skip
        except BadRequest:
            return fail(subject, f"Telegram knows no chat {chat_id} for this bot",
                        "add the bot to the staff group, then send a message there and read "
                        "the group's id (a supergroup's starts with -100)")  # fmt: skip
        except TelegramError as exc:
            return fail(subject, f"getChat failed ({_kind(exc)})")
        title = chat.title or chat.username or chat.id
        return ok(subject, f"reachable: {title} ({chat.type})")

    # ------------------------------------------------------------------ Twilio

    async def whatsapp(self) -> list[Verdict]:
        from twilio.base.exceptions import TwilioRestException

        from bot.channels.whatsapp import WhatsAppChannel

        s = self.settings
        channel = WhatsAppChannel(s)
        client = channel.client
        if s.twilio_api_url != DEFAULT_TWILIO_API:
            # A stand-in for Twilio (a proxy or a test fake) serves the Content API too.
            client.content.base_url = s.twilio_api_url
        sid = s.twilio_account_sid or ""
        try:
            try:
                account = await client.api.v2010.accounts(sid).fetch_async()
            except TwilioRestException as exc:
                if exc.status in (401, 403, 404):
                    return [fail("whatsapp", "Twilio rejects TWILIO_ACCOUNT_SID with "
                                 f"TWILIO_AUTH_TOKEN (error {exc.code})",
                                 "copy both again from the Twilio console's Account Info; a "
                                 "token rotated there must be changed here too")]  # fmt: skip
                raise
            except Exception as exc:
                return [fail("whatsapp", f"Twilio not reachable ({_kind(exc)})",
                             f"check that this server reaches {s.twilio_api_url}")]  # fmt: skip
            if account.status != "active":
                return [fail("whatsapp", f"the Twilio account is {account.status}",
                             "settle it in the Twilio console; nothing is sent meanwhile")]  # fmt: skip
            found = [ok("whatsapp", "Twilio credentials accepted, account active")]
            number = s.whatsapp_from.removeprefix("whatsapp:")
            owned = await client.api.v2010.accounts(sid).incoming_phone_numbers.list_async(
                phone_number=number, limit=1
            )
            if owned:
                found.append(ok("whatsapp sender", f"{number} is a number of this account"))
            else:
                found.append(warn("whatsapp sender", f"{number} is not among this account's "
                                  "phone numbers", "if it is a WhatsApp sender registered "
                                  "elsewhere, see it listed under Messaging > Senders > WhatsApp "
                                  "senders; otherwise correct TWILIO_WHATSAPP_NUMBER"))  # fmt: skip
            found += await self._templates(client)
            return found
        finally:
            await channel.stop()

    async def _templates(self, client: Any) -> list[Verdict]:
        from twilio.base.exceptions import TwilioRestException

        subject = "whatsapp templates"
        if not self.templates:
            return [warn(subject, "no broadcast names a WhatsApp template yet: members who "
                         "have not written in the last 24 hours receive no broadcast",
                         "create a template in Twilio's Content Template Builder for each "
                         "language, submit it for WhatsApp approval and name its HX… SID in "
                         "the broadcast")]  # fmt: skip
        found: list[Verdict] = []
        covered: set[str] = set()
        for sid, locales in sorted(self.templates.items()):
            where = f"{sid} ({', '.join(sorted(locales))})"
            try:
                approval = await client.content.v1.contents(sid).approval_fetch().fetch_async()
            except TwilioRestException as exc:
                if exc.status == 404:
                    found.append(fail(subject, f"{where} does not exist in this Twilio account",
                                      "correct the SID in the broadcast"))  # fmt: skip
                    continue
                raise
            status = str((approval.whatsapp or {}).get("status") or "not submitted")
            if status in APPROVED:
                covered |= locales
                found.append(ok(subject, f"{where} approved for WhatsApp"))
            elif status in WAITING:
                found.append(warn(subject, f"{where} waits for WhatsApp's approval ({status})",
                                  "wait for it, or send the broadcast later"))  # fmt: skip
            else:
                reason = (approval.whatsapp or {}).get("rejection_reason") or ""
                found.append(fail(subject, f"{where} is {status} for WhatsApp"
                                  + (f": {reason}" if reason else ""),
                                  "submit it for approval (Content Template Builder), or name "
                                  "an approved template in the broadcast"))  # fmt: skip
        uncovered = sorted(self.whatsapp_locales - covered)
        if uncovered and covered:
            found.append(warn(subject, f"no approved template in {', '.join(uncovered)}, "
                              "languages of WhatsApp members: they get the base language's "
                              "template, or none", "add a template in each of them"))  # fmt: skip
        return found


def _revisions(connection: Any) -> tuple[set[str], set[str]]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from bot.storage.db import alembic_config

    current = set(MigrationContext.configure(connection).get_current_heads())
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    return current, heads


def _names(revisions: set[str]) -> str:
    return ", ".join(sorted(revisions)) or "no revision (an empty database)"


def _kind(exc: BaseException) -> str:
    """An error's kind, never its text: drivers put URLs with passwords or tokens there."""
    return type(exc).__name__


def _ago(seconds: float, when: datetime) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h ago"
    return f"on {when.astimezone(UTC):%Y-%m-%d}"


async def diagnose(settings: Settings, *, clock: Callable[[], float] = time.time) -> list[Verdict]:
    return await Doctor(settings, clock=clock).run()
