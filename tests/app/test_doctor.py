"""``childpact doctor`` against the fake Bot API and the fake Twilio, through the real clients:
"all good" for a right set-up, and the fix named for each wrong one."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.doctor import Verdict, diagnose, report
from bot.config import Settings
from bot.secretariat.service_health import BACKUP_ACTION
from bot.storage.db import Database
from bot.storage.models import AuditEntry, Broadcast, Contact
from tests.app.test_cli import childpact
from tests.backends import require_postgres, require_redis
from tests.fakes.server import refuse_internet
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.twilio_api import ContentTemplate, FakeTwilio, new_content_sid
from tests.harness import AUTH, NUMBER, PUBLIC, SECRET, SID, TOKEN

ADMIN_CHAT = "-1001000000001"
ALERT_CHAT = "-1001000000002"
NOW = 1_800_000_000.0  # the doctor's clock in these tests
EN, RO = new_content_sid(), new_content_sid()


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_internet(monkeypatch)


@dataclass
class Setup:
    telegram: FakeTelegram
    twilio: FakeTwilio
    env: dict[str, str]
    db_path: Path

    def settings(self, **changes: Any) -> Settings:
        values: dict[str, Any] = {k.lower(): v for k, v in self.env.items()}
        values.update(changes)
        return Settings(_env_file=None, **{k: v for k, v in values.items() if v is not None})

    async def diagnose(self, **changes: Any) -> list[Verdict]:
        return await diagnose(self.settings(**changes), clock=lambda: NOW)


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    """A right set-up: a migrated database whose next broadcast names approved templates, the
    webhook set where PUBLIC_URL says, both staff chats known to the bot."""
    db_path = tmp_path / "childpact.db"
    url = f"sqlite+aiosqlite:///{db_path}"
    db = Database(url)
    await db.migrate()
    async with db.session() as session, session.begin():
        session.add(Broadcast(title="news", status="scheduled", texts={},
                              templates={"en": EN, "ro": RO}))  # fmt: skip
        session.add(Contact(channel="whatsapp", address="whatsapp:+40711111111", status="active",
                            locale="ro"))  # fmt: skip
        session.add(AuditEntry(at=datetime.fromtimestamp(NOW - 3600, UTC), actor="system",
                               action=BACKUP_ACTION, detail={"file": "last.backup"}))  # fmt: skip
    await db.dispose()
    templates = [ContentTemplate(EN, "en"), ContentTemplate(RO, "ro")]
    async with (
        FakeTelegram(token=TOKEN, known_chats=[ADMIN_CHAT, ALERT_CHAT]) as telegram,
        FakeTwilio(account_sid=SID, auth_token=AUTH, sender=NUMBER, templates=templates) as twilio,
    ):
        telegram.webhook = {
            "url": f"{PUBLIC}/webhook/telegram",
            "allowed_updates": ["message", "callback_query", "my_chat_member"],
            "max_connections": 40,
        }
        env = {
            "DATABASE_URL": url,
            "SECRET_KEY": "doctor-signing-key-" + "d" * 32,  # PostgreSQL requires one
            "PUBLIC_URL": PUBLIC,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_API_URL": telegram.url,
            "ADMIN_TELEGRAM_CHAT_ID": ADMIN_CHAT,
            "SAFEGUARDING_TELEGRAM_CHAT_ID": ALERT_CHAT,
            "TWILIO_ACCOUNT_SID": SID,
            "TWILIO_AUTH_TOKEN": AUTH,
            "TWILIO_WHATSAPP_NUMBER": NUMBER,
            "TWILIO_API_URL": twilio.url,
        }
        yield Setup(telegram, twilio, env, db_path)


def failures(verdicts: list[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if v.level == "fail"]


def only_failure(verdicts: list[Verdict]) -> Verdict:
    found = failures(verdicts)
    assert len(found) == 1, report(verdicts)[0]
    return found[0]


async def test_a_right_set_up_is_all_good_from_the_command_line(setup: Setup):
    done = await childpact("doctor", **setup.env)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "all good", done.stdout
    assert any("migrations current" in line for line in lines)
    assert any(f"{PUBLIC}/webhook/telegram" in line for line in lines)
    assert any(EN in line and "approved" in line for line in lines)
    assert sum("reachable: Coalition group" in line for line in lines) == 2
    for secret in (TOKEN, SECRET, AUTH):
        assert secret not in done.stdout + done.stderr


async def test_a_failure_makes_the_command_fail_and_says_the_fix(setup: Setup):
    setup.telegram.webhook = {"url": ""}
    done = await childpact("doctor", **setup.env)
    assert done.returncode == 1
    assert "FAIL  telegram webhook: no webhook is set" in done.stdout
    assert "fix: run `childpact telegram set-webhook`" in done.stdout
    assert "would stop or lose members' messages" in done.stdout.splitlines()[-1]


async def test_set_webhook_then_doctor_agree_on_the_update_kinds(setup: Setup):
    setup.telegram.webhook = {"url": ""}
    done = await childpact("telegram", "set-webhook", **setup.env)
    assert done.returncode == 0, done.stderr
    assert failures(await setup.diagnose()) == []


# ---------------------------------------------------------------------- configuration, storage


async def test_a_placeholder_secret_fails(setup: Setup):
    found = only_failure(await setup.diagnose(telegram_webhook_secret="changeme"))
    assert "TELEGRAM_WEBHOOK_SECRET" in found.text and "configuration.md" in found.fix


async def test_a_plain_http_public_url_fails(setup: Setup):
    verdicts = await setup.diagnose(public_url="http://bot.example.org")
    assert any("is not https" in v.text and "reverse proxy" in v.fix for v in failures(verdicts))


async def test_a_missing_database_file_says_to_run_the_release_step(setup: Setup, tmp_path: Path):
    found = only_failure(
        await setup.diagnose(database_url=f"sqlite+aiosqlite:///{tmp_path}/none.db")
    )
    assert found.subject == "database" and "childpact db upgrade" in found.fix


async def test_a_database_behind_the_code_says_to_upgrade(setup: Setup):
    with sqlite3.connect(setup.db_path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    found = only_failure(await setup.diagnose())
    assert "schema is at 0001" in found.text and "childpact db upgrade" in found.fix


async def test_an_unreachable_postgresql_fails_without_its_password(setup: Setup):
    found = only_failure(
        await setup.diagnose(database_url="postgresql://user:hunter2@127.0.0.1:1/none")
    )
    assert "PostgreSQL not reachable" in found.text and "hunter2" not in report([found])[0]


@pytest.fixture
async def postgres_database() -> AsyncIterator[str]:
    """A database of its own on the test server, dropped afterwards."""
    import asyncpg

    server = require_postgres()
    name = f"doctor_{uuid.uuid4().hex[:12]}"
    plain = server.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(plain)
    await conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await conn.close()


async def test_postgresql_migrated_is_all_good_and_empty_is_not(
    setup: Setup, postgres_database: str
):
    found = only_failure(await setup.diagnose(database_url=postgres_database))
    assert "no revision (an empty database)" in found.text
    db = Database(postgres_database)
    await db.migrate()  # the release step
    await db.dispose()
    verdicts = await setup.diagnose(database_url=postgres_database)
    assert failures(verdicts) == []
    assert any(v.subject == "database" and "PostgreSQL reachable" in v.text for v in verdicts)


async def test_redis_unreachable_fails(setup: Setup):
    found = only_failure(await setup.diagnose(redis_url="redis://127.0.0.1:1/0"))
    assert found.subject == "redis" and "REDIS_URL" in found.fix
    verdicts = await setup.diagnose(redis_url=require_redis())
    assert failures(verdicts) == [] and any(v.subject == "redis" for v in verdicts)


# ---------------------------------------------------------------------- Telegram


async def test_a_token_telegram_rejects_fails(setup: Setup):
    found = only_failure(await setup.diagnose(telegram_bot_token="987654321:AB" + "y" * 33))
    assert "rejects TELEGRAM_BOT_TOKEN" in found.text and "@BotFather" in found.fix


async def test_a_webhook_pointing_elsewhere_fails(setup: Setup):
    setup.telegram.webhook["url"] = "https://old.example.org/webhook/telegram"
    found = only_failure(await setup.diagnose())
    assert "old.example.org" in found.text and f"not {PUBLIC}/webhook/telegram" in found.text
    assert "set-webhook" in found.fix


async def test_a_webhook_without_button_presses_fails(setup: Setup):
    setup.telegram.webhook["allowed_updates"] = ["message"]
    found = only_failure(await setup.diagnose())
    assert "callback_query" in found.text and "set-webhook" in found.fix


async def test_delivery_errors_with_updates_waiting_fail_with_telegrams_words(setup: Setup):
    setup.telegram.webhook.update(
        last_error_date=int(NOW - 300),
        last_error_message="SSL error {error:0A000086:SSL routines::certificate verify failed}",
        pending_update_count=42,
    )
    found = only_failure(await setup.diagnose())
    assert "5 min ago" in found.text and "certificate verify failed" in found.text
    assert "42 updates are waiting" in found.text and "reverse proxy" in found.fix


async def test_an_old_error_with_nothing_waiting_is_history(setup: Setup):
    setup.telegram.webhook.update(last_error_date=int(NOW - 3 * 86400), last_error_message="x")
    verdicts = await setup.diagnose()
    assert [v.level for v in verdicts if v.subject == "telegram webhook"] == ["ok"]
    setup.telegram.webhook["last_error_date"] = int(NOW - 600)
    verdicts = await setup.diagnose()
    assert [v.level for v in verdicts if v.subject == "telegram webhook"] == ["warn"]
    assert failures(verdicts) == []


async def test_a_staff_chat_the_bot_cannot_reach_fails(setup: Setup):
    setup.telegram.known_chats = {ADMIN_CHAT}
    found = only_failure(await setup.diagnose())
    assert found.subject == "telegram SAFEGUARDING_TELEGRAM_CHAT_ID"
    assert "add the bot to the staff group" in found.fix


async def test_a_group_upgraded_to_a_supergroup_names_the_new_id(setup: Setup):
    setup.telegram.migrated = {ADMIN_CHAT: -1009999999999}
    found = only_failure(await setup.diagnose())
    assert found.fix == "set ADMIN_TELEGRAM_CHAT_ID=-1009999999999"


async def test_a_bot_removed_from_the_group_fails(setup: Setup):
    setup.telegram.blocked = {ALERT_CHAT}
    found = only_failure(await setup.diagnose())
    assert "not a member" in found.text and "add the bot" in found.fix


# ---------------------------------------------------------------------- Twilio


async def test_a_wrong_auth_token_fails(setup: Setup):
    found = only_failure(await setup.diagnose(twilio_auth_token="u" * 32))
    assert "Twilio rejects" in found.text and "20003" in found.text
    assert "Account Info" in found.fix


async def test_a_suspended_account_fails(setup: Setup):
    setup.twilio.account_status = "suspended"
    found = only_failure(await setup.diagnose())
    assert "account is suspended" in found.text


async def test_a_sender_not_of_this_account_warns(setup: Setup):
    setup.twilio.numbers = {"+40799999999"}
    verdicts = await setup.diagnose()
    assert failures(verdicts) == []
    sender = next(v for v in verdicts if v.subject == "whatsapp sender")
    assert sender.level == "warn" and "TWILIO_WHATSAPP_NUMBER" in sender.fix


async def test_a_rejected_template_fails_with_its_reason(setup: Setup):
    setup.twilio.templates[RO].status = "rejected"
    setup.twilio.templates[RO].rejection_reason = "INVALID_FORMAT"
    found = only_failure(await setup.diagnose())
    assert f"{RO} (ro) is rejected for WhatsApp: INVALID_FORMAT" == found.text
    assert "submit it for approval" in found.fix


async def test_a_template_never_submitted_fails(setup: Setup):
    setup.twilio.templates[EN].status = "unsubmitted"
    found = only_failure(await setup.diagnose())
    assert f"{EN} (en) is not submitted" in found.text


async def test_a_template_waiting_for_approval_warns(setup: Setup):
    setup.twilio.templates[EN].status = "pending"
    verdicts = await setup.diagnose()
    assert failures(verdicts) == []
    assert any(v.level == "warn" and EN in v.text and "pending" in v.text for v in verdicts)


async def test_a_template_sid_of_another_account_fails(setup: Setup):
    del setup.twilio.templates[EN]
    found = only_failure(await setup.diagnose())
    assert f"{EN} (en) does not exist" in found.text


async def test_no_template_at_all_warns_about_members_outside_the_window(setup: Setup):
    with sqlite3.connect(setup.db_path) as conn:
        conn.execute("UPDATE broadcasts SET templates = '{}'")
    verdicts = await setup.diagnose()
    assert failures(verdicts) == []
    assert any(v.subject == "whatsapp templates" and "24 hours" in v.text for v in verdicts)


async def test_a_missing_or_old_backup_warns(setup: Setup, tmp_path: Path):
    verdicts = await setup.diagnose()
    (backup,) = [v for v in verdicts if v.subject == "backup"]
    assert backup.level == "ok" and "last.backup" in backup.text and "60 min ago" in backup.text
    three_days_on = await diagnose(setup.settings(), clock=lambda: NOW + 3 * 86400)
    (backup,) = [v for v in three_days_on if v.subject == "backup"]
    assert backup.level == "warn" and "childpact backup FILE" in backup.fix
    assert failures(three_days_on) == []
    empty = f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    db = Database(empty)
    await db.migrate()
    await db.dispose()
    (backup,) = [v for v in await setup.diagnose(database_url=empty) if v.subject == "backup"]
    assert backup.level == "warn" and backup.text == "no backup recorded"
