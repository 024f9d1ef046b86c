"""The ``childpact`` command as an operator runs it: set-up, migrations, refusals."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from tests.fakes.telegram_api import FakeTelegram
from tests.harness import PUBLIC, SECRET, TOKEN

ROOT = Path(__file__).resolve().parents[2]


async def childpact(*args: str, wait: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "TWILIO_", "REDIS_", "DATABASE_"))
    }
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=wait,
    )


async def test_set_webhook_registers_the_url_secret_and_update_types():
    async with FakeTelegram() as fake:
        done = await childpact(
            "telegram", "set-webhook",
            TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET,
            TELEGRAM_API_URL=fake.url, PUBLIC_URL=PUBLIC,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert fake.webhook["url"] == f"{PUBLIC}/webhook/telegram"
        assert fake.webhook["secret_token"] == SECRET
        # every kind the bot reads: without my_chat_member no block or unblock is ever seen
        assert set(fake.webhook["allowed_updates"]) == {
            "message",
            "callback_query",
            "my_chat_member",
        }
        assert TOKEN not in done.stdout + done.stderr and SECRET not in done.stdout + done.stderr


async def test_set_webhook_sends_the_secret_the_webhook_compares():
    # A secret pasted with a space or a newline around it: the webhook compares it stripped,
    # so Telegram must be given it stripped (it would refuse the space anyway).
    async with FakeTelegram() as fake:
        done = await childpact(
            "telegram", "set-webhook",
            TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=f" {SECRET}\n",
            TELEGRAM_API_URL=fake.url, PUBLIC_URL=PUBLIC,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert fake.webhook["secret_token"] == SECRET


async def test_set_commands_gives_telegram_the_menu_and_descriptions_in_every_language():
    from bot.conversation.commands import MENU_LINES
    from bot.i18n import LOCALES, Translator

    async with FakeTelegram() as fake:
        done = await childpact(
            "telegram", "set-commands",
            TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET, TELEGRAM_API_URL=fake.url,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "command menu and descriptions set for" in done.stdout
        # English for anyone else; Serbian in Latin letters has no code of its own
        assert set(fake.commands) == {""} | {c for c in LOCALES if c not in ("en", "sr_Latn")}
        ka = Translator("ka")
        assert [c["command"] for c in fake.commands["ka"]] == list(MENU_LINES)
        assert fake.commands["ka"][0]["description"] == ka.pgettext(
            "command menu", MENU_LINES[fake.commands["ka"][0]["command"]]
        )
        assert fake.descriptions["ka"] and fake.short_descriptions["ka"]
        assert fake.descriptions["ka"] != fake.descriptions[""]
        assert TOKEN not in done.stdout + done.stderr


async def test_set_webhook_without_public_url_says_what_is_missing():
    async with FakeTelegram() as fake:
        done = await childpact(
            "telegram", "set-webhook",
            TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_SECRET=SECRET, TELEGRAM_API_URL=fake.url,
        )  # fmt: skip
        assert done.returncode == 2
        assert "PUBLIC_URL" in done.stderr
        assert fake.webhook["url"] == ""


async def test_a_placeholder_token_stops_the_start_with_a_clear_message():
    done = await childpact(
        "serve", TELEGRAM_BOT_TOKEN="your-token-here", TELEGRAM_WEBHOOK_SECRET=SECRET
    )
    assert done.returncode == 2
    assert "TELEGRAM_BOT_TOKEN" in done.stderr


async def test_a_worker_without_redis_is_refused():
    done = await childpact("worker", DATABASE_URL="postgresql://postgres@127.0.0.1/test")
    assert done.returncode == 2
    assert "REDIS_URL" in done.stderr


async def test_db_upgrade_creates_the_tables(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path}/fresh.db"
    for _ in range(2):  # the release step runs on every deploy: the second time is a no-op
        done = await childpact("db", "upgrade", DATABASE_URL=url)
        assert done.returncode == 0, done.stderr
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    assert {"contacts", "inbound", "outbox", "alembic_version"} <= tables


async def test_catalogs_check_passes():
    done = await childpact("catalogs", "check")
    assert done.returncode == 0, done.stderr


async def test_terminal_chat_talks_like_a_member_would(tmp_path):
    from bot.i18n import Translator

    ro = Translator("ro")
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "app.cli", "chat", "--lang", "ro"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/chat.db"},
        input="1\n1\n",  # agree, then the first language offered (Romanian, from --lang)
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert ro("Do you agree?") in done.stdout
    assert f"1. {ro('Yes, I agree')}" in done.stdout
    assert ro("Which country do you work in?") in done.stdout


async def test_knowledge_check_passes():
    done = await childpact("knowledge", "check")
    assert done.returncode == 0, done.stderr
    assert "13 locales" in done.stdout


async def test_knowledge_train_builds_the_safeguarding_model_once_for_every_later_start(tmp_path):
    # make run and make test call it first, so that no process waits for training at its start
    # training from nothing takes about 30 s, more with the other tests on the cores
    done = await childpact("knowledge", "train", wait=170, XDG_CACHE_HOME=str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "safeguarding model ready" in done.stdout
    cached = list((tmp_path / "childpact").glob("safeguarding-*.npz"))
    assert len(cached) == 1
