"""The ``childpact`` command: serve, worker, chat, database and Telegram set-up, catalogs,
broadcasts and surveys."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import uuid
from pathlib import Path

from app import cli_broadcast, cli_survey
from bot.config import ConfigError, Settings, get_settings
from bot.i18n import DASHBOARD_LOCALES
from bot.secretariat.staff import ROLES

log = logging.getLogger("childpact")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="childpact", description="ChildPact Messenger")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web service (embedded mode runs everything)")
    serve.add_argument("--host", help="interface to listen on (HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (PORT, default 8000)")
    serve.add_argument(
        "--web-only",
        action="store_true",
        help="scaled mode: web requests only; `childpact worker` processes send",
    )
    sub.add_parser("worker", help="scaled mode: handle the backlog and send, on PostgreSQL + Redis")

    chat = sub.add_parser("chat", help="talk to the bot in this terminal, as a member would")
    chat.add_argument("--lang", help="your language, e.g. ro, ru, sr-Latn")

    ask = sub.add_parser("ask", help="what the bot answers to a question, without any channel")
    ask.add_argument("question")
    ask.add_argument("--lang", help="the member's language (default en)")
    ask.add_argument("--country", help="the member's country, e.g. MD")
    ask.add_argument(
        "--json", action="store_true", help="one JSON object: topic, score, lang, answer"
    )

    sub.add_parser(
        "doctor", help="check the configuration against what it reaches, each line with its fix"
    )

    db = sub.add_parser("db", help="database").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="apply the migrations (the Procfile's release step)")

    backup = sub.add_parser(
        "backup", help="copy the database to FILE, safely while the service runs"
    )
    backup.add_argument("file", help="where to write the backup")
    restore = sub.add_parser(
        "restore", help="put a backup in the place DATABASE_URL names (service stopped)"
    )
    restore.add_argument("file", help="a file `childpact backup` wrote")
    restore.add_argument(
        "--replace", action="store_true", help="overwrite the database that is there"
    )

    telegram = sub.add_parser("telegram", help="Telegram set-up").add_subparsers(
        dest="action", required=True
    )
    telegram.add_parser("set-webhook", help="point Telegram at PUBLIC_URL/webhook/telegram")
    telegram.add_parser("webhook-info", help="what Telegram knows about our webhook")
    telegram.add_parser(
        "set-commands", help="the command menu and the bot's descriptions in every language"
    )

    catalogs = sub.add_parser("catalogs", help="translations").add_subparsers(
        dest="action", required=True
    )
    catalogs.add_parser("check", help="fail when a catalog misses, fuzzes or breaks an entry")
    catalogs.add_parser("extract", help="refresh the template and every catalog from the code")
    export = catalogs.add_parser(
        "export", help="one locale's member texts as a CSV file for a reviewer's spreadsheet"
    )
    export.add_argument("locale")
    export.add_argument("file")
    export.add_argument("--locales", type=Path, help="the locales folder (default: the project's)")
    import_ = catalogs.add_parser(
        "import", help="take a reviewed CSV back, refusing it with reasons by row"
    )
    import_.add_argument("file")
    import_.add_argument("--locales", type=Path, help="the locales folder (default: the project's)")
    latin = catalogs.add_parser(
        "serbian-latin", help="rewrite sr_Latn (catalog and knowledge) from Serbian Cyrillic"
    )
    latin.add_argument("--locales", type=Path, help="the locales folder (default: the project's)")

    knowledge = sub.add_parser("knowledge", help="the knowledge base").add_subparsers(
        dest="action", required=True
    )
    knowledge.add_parser("check", help="fail when a topic is missing or empty in any locale")
    knowledge.add_parser(
        "train", help="build the safeguarding model now (else the first start trains it)"
    )
    exported = knowledge.add_parser(
        "export", help="the database's topics as YAML files, one folder per language"
    )
    exported.add_argument("folder", type=Path)
    imported = knowledge.add_parser(
        "import", help="topics from YAML files (export's layout, or locales/) into the database"
    )
    imported.add_argument("folder", type=Path)

    admin = sub.add_parser("admin", help="the secretariat's accounts").add_subparsers(
        dest="action", required=True
    )
    create = admin.add_parser("create", help="create an account (the first administrator)")
    create.add_argument("email")
    create.add_argument("--name", default="")
    create.add_argument("--role", choices=ROLES, default="admin")
    create.add_argument("--country", help="limit the account to one country's members, e.g. MD")
    create.add_argument("--locale", choices=DASHBOARD_LOCALES, default="en")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    password = admin.add_parser("set-password", help="set a new password; ends its sessions")
    password.add_argument("email")
    password.add_argument("--password-stdin", action="store_true")
    unlock = admin.add_parser("unlock", help="lift a sign-in lock after too many failures")
    unlock.add_argument("email")

    cli_broadcast.add_parser(sub)
    cli_survey.add_parser(sub)

    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logs(settings)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its lines carry the bot token
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        return COMMANDS[args.command](args, settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2


def configure_logs(settings: Settings) -> None:
    """Plain or JSON lines, scrubbed of the service's secrets; Sentry when SENTRY_DSN is set."""
    from app.errors import start_error_reports
    from bot import logs

    secrets = [
        s.get_secret_value() if s else None
        for s in (settings.telegram_bot_token, settings.telegram_webhook_secret,
                  settings.twilio_auth_token, settings.sentry_dsn)
    ]  # fmt: skip
    logs.configure(settings.log_level, settings.log_format, secrets)
    start_error_reports(settings)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from app.web import create_app

    settings.check(several_processes=args.web_only)
    app = create_app(
        settings,
        workers=not args.web_only,
        migrate=not args.web_only,  # the scaled mode migrates in the Procfile's release step
        # Without Redis this is the only process, so nobody else can be mid-send.
        only_process=settings.redis_url is None,
    )
    uvicorn.run(
        app,
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's lines go through our handler: the same format and scrubbing
        proxy_headers=False,  # the app itself trusts only the proxies in TRUSTED_PROXIES
        access_log=False,  # access lines would carry chat session ids
    )
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from app.service import Service

    settings.check(several_processes=True)

    async def run() -> None:
        service = Service(settings)
        await service.start(migrate=False, workers=True, only_process=False)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("worker running")
        await stop.wait()
        await service.stop()

    asyncio.run(run())
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from app.terminal import chat

    settings.check()
    asyncio.run(chat(settings, lang=args.lang, session=f"terminal-{uuid.uuid4().hex}"))
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    import json

    from app.service import Features
    from bot.i18n import Translator, normalize_locale
    from bot.knowledge.answers import understand
    from bot.storage.db import Database

    locale = normalize_locale(args.lang) or "en"
    alerted = bool(settings.safeguarding_telegram_chat_id)
    features = Features.load()

    async def current() -> None:  # the database's knowledge, as the service answers from it
        db = Database(settings.database_url)
        try:
            await db.migrate()
            await features.refresh(db)
        finally:
            await db.dispose()

    asyncio.run(current())
    found = understand(features, args.question, Translator(locale), args.country, alerted=alerted)
    if args.json:
        result = {
            "topic": found.topic,
            "score": round(found.score, 4),
            "lang": found.lang,
            "answer": found.text,
        }
        if found.kind in ("smalltalk", "safeguarding"):
            result["kind"] = found.kind
        if found.finding:
            result["safeguarding"] = {
                "level": found.finding.level,
                "kind": found.finding.kind,
                "words": list(found.finding.words),
            }
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"[{found.kind} {found.topic or '-'} {found.score:.2f} {found.lang}]\n{found.text}")
        if found.finding:
            print(f"[safeguarding {found.finding.level}: {found.finding.reason}]")
    return 0


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from app.doctor import diagnose, report

    text, status = report(asyncio.run(diagnose(settings)))
    print(text)
    return status


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from bot.storage.db import Database

    async def upgrade() -> None:
        db = Database(settings.database_url)
        await db.migrate()
        await db.dispose()

    asyncio.run(upgrade())
    print("database is up to date")
    return 0


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from app.backup import BackupError, backup

    try:
        done = asyncio.run(backup(settings, Path(args.file)))
    except BackupError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"backup written: {Path(args.file).expanduser().resolve()} ({done.size} bytes, "
          f"{done.at:%Y-%m-%d %H:%M} UTC)")  # fmt: skip
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from pathlib import Path

    from app.backup import BackupError, restore

    try:
        where = asyncio.run(restore(settings, Path(args.file), replace=args.replace))
    except BackupError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"restored {args.file} into {where}; the schema is up to date")
    return 0


def cmd_telegram(args: argparse.Namespace, settings: Settings) -> int:
    from bot.channels.telegram import TelegramChannel

    settings.check()
    if not settings.telegram_enabled:
        raise ConfigError("set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET first")

    async def run() -> int:
        channel = TelegramChannel(settings)
        await channel.start()
        try:
            if args.action == "set-webhook":
                if not settings.public_url:
                    raise ConfigError("set PUBLIC_URL, the https address Telegram should call")
                url = f"{settings.public_url}/webhook/telegram"
                # The channel's own secret: stripped as the webhook compares it, and every
                # update kind the bot reads (ALLOWED_UPDATES).
                await channel.set_webhook(url)
                print(f"Telegram now sends updates to {url}")
            elif args.action == "set-commands":
                from bot.conversation.commands import set_telegram_profiles

                done = await set_telegram_profiles(channel)
                print(f"command menu and descriptions set for: {', '.join(done)}")
            else:
                print(await channel.webhook_info())
        finally:
            await channel.stop()
        return 0

    return asyncio.run(run())


def cmd_catalogs(args: argparse.Namespace, settings: Settings) -> int:
    from bot.i18n import catalogs

    if args.action in ("export", "import", "serbian-latin"):
        return _review_sheet(args)
    if args.action == "extract":
        catalogs.extract_all()
        print("catalogs updated; translate the new entries, then run `childpact catalogs check`")
        return 0
    problems = catalogs.check_all()
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problems in the catalogs", file=sys.stderr)
        return 1
    print("catalogs complete in every locale, the members' and the dashboard's")
    return 0


def _review_sheet(args: argparse.Namespace) -> int:
    from bot.i18n import LOCALES_DIR, sheet

    directory = args.locales or LOCALES_DIR
    if args.action == "serbian-latin":
        print(f"sr_Latn rewritten from sr: {sheet.write_serbian_latin(directory)} texts changed")
        return 0
    if args.action == "export":
        try:
            rows = sheet.export(args.locale, Path(args.file), directory)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
        print(f"{rows} texts written to {args.file}")
        return 0
    problems = sheet.import_(Path(args.file), directory)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"nothing imported: {len(problems)} rows to correct", file=sys.stderr)
        return 1
    print(f"imported {args.file}; run `make catalogs`")
    return 0


def cmd_knowledge(args: argparse.Namespace, settings: Settings) -> int:
    from bot.knowledge.load import KnowledgeError, load_knowledge

    if args.action in ("export", "import"):
        return asyncio.run(_knowledge_files(args, settings))
    if args.action == "train":
        from bot.knowledge.detector import Detector

        detector = Detector.from_corpus()
        print(f"safeguarding model ready: {detector.examples} texts, {detector.seconds:.1f} s")
        return 0
    try:
        knowledge = load_knowledge()
    except KnowledgeError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(
        f"knowledge complete: {len(knowledge.topic_ids)} topics in {len(knowledge.topics)} locales"
    )
    return 0


async def _knowledge_files(args: argparse.Namespace, settings: Settings) -> int:
    """Export the database's knowledge, or import it; the running service answers from an
    import within seconds."""
    from bot.coordination import create_coordinator
    from bot.knowledge import transfer
    from bot.knowledge.library import KnowledgeEditError
    from bot.knowledge.live import changed
    from bot.storage.db import Database

    db = Database(settings.database_url)
    try:
        await db.migrate()
        if args.action == "export":
            async with db.session() as session:
                count = await transfer.export(session, args.folder)
            print(f"exported {count} topics to {args.folder}")
            return 0
        try:
            async with db.session() as session, session.begin():
                made, altered = await transfer.load_into(session, "command line", args.folder)
        except KnowledgeEditError as exc:
            print(f"nothing imported: {exc}", file=sys.stderr)
            return 1
        if settings.redis_url:
            async with create_coordinator(settings.redis_url, settings.redis_prefix) as coordinator:
                await changed(coordinator)
        print(f"imported {args.folder}: {made} topics created, {altered} changed")
        return 0
    finally:
        await db.dispose()


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    import getpass

    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConfigError("the two passwords differ")
    return first


def cmd_admin(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from bot.secretariat import accounts, audit, signin
    from bot.secretariat.staff import AccountError, normalise_email
    from bot.storage.db import Database
    from bot.storage.models import StaffUser

    secret = _read_password(args) if args.action in ("create", "set-password") else ""

    async def run() -> str:
        db = Database(settings.database_url)
        await db.migrate()
        try:
            async with db.session() as session, session.begin():
                if args.action == "create":
                    user = await accounts.create_account(
                        session, args.email, args.role, password=secret, name=args.name,
                        country=args.country, locale=args.locale,
                    )  # fmt: skip
                    await audit.record(session, None, "account.create", f"account:{user.id}",
                                       role=user.role, country=user.country, via="command line")  # fmt: skip
                    return f"{user.role} {user.email} created; sign in at /admin"
                user = await session.scalar(
                    select(StaffUser).where(StaffUser.email == normalise_email(args.email))
                )
                if user is None:
                    raise AccountError("no account with that e-mail address")
                if args.action == "set-password":
                    revoked = await accounts.set_password(session, user, secret)
                    user.status = "active" if user.status == "invited" else user.status
                    await audit.record(session, None, "account.password", f"account:{user.id}",
                                       via="command line", tokens_revoked=revoked)  # fmt: skip
                    return (f"new password set for {user.email}; its sessions ended and "
                            f"{revoked} API token(s) were revoked")  # fmt: skip
                await signin.unlock(session, user.email)
                await audit.record(session, None, "account.unlock", f"account:{user.id}",
                                   via="command line")  # fmt: skip
                return f"{user.email} may sign in again"
        finally:
            await db.dispose()

    try:
        print(asyncio.run(run()))
    except AccountError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


COMMANDS = {
    "admin": cmd_admin,
    "broadcast": lambda args, settings: cli_broadcast.run(args, settings),
    "survey": lambda args, settings: cli_survey.run(args, settings),
    "serve": cmd_serve,
    "worker": cmd_worker,
    "chat": cmd_chat,
    "ask": cmd_ask,
    "db": cmd_db,
    "backup": cmd_backup,
    "restore": cmd_restore,
    "doctor": cmd_doctor,
    "telegram": cmd_telegram,
    "catalogs": cmd_catalogs,
    "knowledge": cmd_knowledge,
}

if __name__ == "__main__":
    sys.exit(main())
