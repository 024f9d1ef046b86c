"""Configuration: refusing what cannot work, with a message that says what to change."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings

TOKEN = "123456789:AA" + "x" * 33
GOOD_TWILIO = dict(
    twilio_account_sid="AC" + "0" * 32,
    twilio_auth_token="t" * 32,
    twilio_whatsapp_number="+40700000000",
    public_url="https://bot.example.org",
)


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_the_embedded_defaults_start_with_only_the_web_chat():
    s = settings()
    s.check()
    assert s.is_sqlite and not s.telegram_enabled and not s.whatsapp_enabled
    report = " ".join(s.channel_report())
    assert "telegram: off" in report and "whatsapp: off" in report and "web chat: on" in report


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        (
            {"telegram_bot_token": "changeme", "telegram_webhook_secret": "s" * 32},
            "TELEGRAM_BOT_TOKEN",
        ),
        ({"telegram_bot_token": TOKEN}, "TELEGRAM_WEBHOOK_SECRET"),
        (
            {"telegram_bot_token": TOKEN, "telegram_webhook_secret": "your-secret"},
            "TELEGRAM_WEBHOOK_SECRET",
        ),
        (
            {"telegram_bot_token": TOKEN, "telegram_webhook_secret": "short"},
            "TELEGRAM_WEBHOOK_SECRET",
        ),
        ({**GOOD_TWILIO, "twilio_auth_token": "xxxxxxxx"}, "TWILIO_AUTH_TOKEN"),
        ({**GOOD_TWILIO, "twilio_account_sid": "ACxyz"}, "TWILIO_ACCOUNT_SID"),
        ({**GOOD_TWILIO, "twilio_whatsapp_number": "0712345678"}, "TWILIO_WHATSAPP_NUMBER"),
        ({**GOOD_TWILIO, "public_url": None}, "PUBLIC_URL"),
        ({"web_concurrency": 2}, "REDIS_URL"),
        ({"admin_telegram_chat_id": "secretariat"}, "ADMIN_TELEGRAM_CHAT_ID"),
        ({"admin_telegram_chat_id": "-1001234567890"}, "TELEGRAM_BOT_TOKEN"),
    ],
)
def test_a_configuration_that_cannot_work_is_refused_clearly(values, complaint):
    with pytest.raises(ConfigError) as refused:
        settings(**values).check()
    assert complaint in str(refused.value)


def test_several_processes_need_redis_and_postgres():
    with pytest.raises(ConfigError, match="REDIS_URL"):
        settings().check(several_processes=True)
    with pytest.raises(ConfigError, match="PostgreSQL"):
        settings(redis_url="redis://127.0.0.1:6379/0").check(several_processes=True)
    with pytest.raises(ConfigError, match="SECRET_KEY is required"):
        settings(redis_url="redis://x:6379/0", database_url="postgresql://u@h/db").check(
            several_processes=True
        )
    settings(
        redis_url="redis://x:6379/0", database_url="postgresql://u@h/db", secret_key="k" * 40
    ).check(several_processes=True)


def test_the_signing_key_is_kept_beside_sqlite_and_rotates(tmp_path):
    embedded = settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/var/one.db")
    key = embedded.signing_keys[0]
    assert len(key) >= 32 and (tmp_path / "var" / "secret_key").read_text().strip() == key
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o077 == 0  # the owner's only
    again = settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/var/one.db")
    assert again.signing_keys == [key]  # kept across restarts
    rotated = settings(secret_key=f"{'n' * 40}, {'o' * 40}")
    assert rotated.signing_keys == ["n" * 40, "o" * 40]
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        settings(secret_key="short").check()
    assert "n" * 40 not in repr(rotated)


def test_the_secretariat_settings_that_work():
    s = settings(
        admin_telegram_chat_id=" -1001234567890 ",
        safeguarding_telegram_chat_id="-1009876543210",
        telegram_bot_token=TOKEN,
        telegram_webhook_secret="s" * 32,
    )
    s.check()
    assert s.staff_chats == {"-1001234567890", "-1009876543210"}
    assert "s" * 32 not in repr(s)


def test_hosting_platform_urls_get_the_async_drivers():
    assert (
        settings(database_url="postgres://u:p@h/db").database_url == "postgresql+asyncpg://u:p@h/db"
    )
    assert settings(database_url="sqlite:///x.db").database_url == "sqlite+aiosqlite:///x.db"


def test_secrets_never_show_in_the_settings_repr():
    s = settings(telegram_bot_token=TOKEN, telegram_webhook_secret="s" * 32, **GOOD_TWILIO)
    shown = repr(s) + str(s.model_dump())
    assert TOKEN not in shown and "t" * 32 not in shown


def test_the_configuration_page_documents_every_setting():
    page = Path(__file__).resolve().parent.parent / "docs" / "operations" / "configuration.md"
    table = page.read_text(encoding="utf-8")
    for name in Settings.model_fields:
        assert f"`{name.upper()}`" in table, f"{name.upper()} is missing from {page.name}"
