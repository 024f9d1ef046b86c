"""Configuration: one settings class read from the environment and a ``.env`` file."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

_PLACEHOLDERS = re.compile(
    r"^(|x+|changeme|change-me|change_me|secret|token|todo|tbd|none|null|placeholder|"
    r"your[-_ ].*|<.*>|\.\.\.|123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11)$",
    re.IGNORECASE,
)
_TELEGRAM_TOKEN = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")


# The secretariat's usual time to a first answer, as members are told it (REPLY_TIME).
REPLY_TIMES = ("hours", "working_day", "two_working_days", "three_working_days", "week")


class ConfigError(RuntimeError):
    """The configuration cannot work; the message says what to change."""


class Settings(BaseSettings):
    """Every setting of the service. docs/operations/configuration.md has the same table for
    operators."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./var/childpact.db"
    redis_url: str | None = None
    redis_prefix: str = "childpact:"  # lets several deployments share one Redis
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    log_level: str = "INFO"
    log_format: str = "text"  # "json": one JSON object a line, for a log collector
    # Errors reported to Sentry (or a compatible service) when set; needs sentry-sdk.
    sentry_dsn: SecretStr | None = None
    sentry_environment: str = "production"
    web_concurrency: int = 1

    # Signs the links the bot sends (a member's data, survey charts): the first of these
    # comma-separated keys signs, every one verifies, so a new key goes first and the old one
    # stays until its links have expired. Unset with SQLite: made once and kept in
    # var/secret_key beside the database; required with PostgreSQL.
    secret_key: SecretStr | None = None

    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_rate: float = 30.0  # messages per second for the whole bot
    telegram_chat_rate: float = 1.0  # messages per second to one chat
    telegram_group_rate: float = 20.0  # messages per minute to one group (staff chats)
    # At start, give Telegram the command menu and descriptions in every language (as
    # `childpact telegram set-commands` does).
    telegram_set_commands: bool = False

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_whatsapp_number: str | None = None
    twilio_api_url: str = "https://api.twilio.com"
    twilio_rate: float = 80.0  # messages per second for the sender
    # Approved WhatsApp templates (content SIDs) per language, "en=HX…,ro=HX…": the notice a
    # member outside the 24-hour window gets for an answer of the secretariat ("reply to
    # read"); its variable {{1}} carries the notice, its quick reply (id "read") asks for it.
    whatsapp_notice_templates: str = ""

    # The Telegram chat (a group of secretariat staff) that receives safeguarding alerts.
    safeguarding_telegram_chat_id: str | None = None
    # The Telegram group of secretariat staff: members' messages go there, replies come back.
    admin_telegram_chat_id: str | None = None

    # The dashboard: a browser session ends after this long, or sooner when left idle.
    session_hours: float = 12.0
    session_idle_minutes: float = 60.0

    # A broadcast to more members than this waits for an administrator's approval (a second
    # person); unset: no approval step.
    broadcast_approval_above: int | None = None
    # The secretariat's own time zone: scheduled broadcasts are written and shown in it.
    secretariat_timezone: str = "Europe/Bucharest"
    # No broadcast reaches a member in these hours of their own day; "off" lifts them.
    quiet_hours: str = "21:00-08:00"
    # The texts of messages older than this are erased (0: kept until the member is deleted).
    message_retention_days: int = 365
    # What a member who writes to the secretariat is told of its usual first answer: one of
    # REPLY_TIMES ("working_day": "the secretariat usually answers within a working day").
    reply_time: str = "working_day"

    # GET /metrics: with a token, for whoever sends it as a bearer token; without, only from
    # this machine (not through a proxy). API_DOCS: "public" serves /docs and /openapi.json
    # to anyone, "off" serves neither.
    metrics_token: SecretStr | None = None
    api_docs: str = "public"

    # The reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For and
    # X-Forwarded-Proto are believed; unset: none, the peer's address is the client's.
    trusted_proxies: str = ""

    # The web chat's limits, shared by every process (through Redis when scaled): messages a
    # minute from one visitor and from one client address, new visitors an hour from one
    # client address; above them the chat answers 429.
    web_chat_visitor_per_minute: float = 30.0
    web_chat_client_per_minute: float = 120.0
    web_chat_new_visitors_per_hour: float = 20.0

    max_body_bytes: int = 256 * 1024
    sender_concurrency: int = 128
    send_max_attempts: int = 8
    privacy_version: str = "1"

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, fmt: str) -> str:
        if fmt.lower() not in ("text", "json"):
            raise ValueError(f"LOG_FORMAT must be text or json, not {fmt!r}")
        return fmt.lower()

    @field_validator("secretariat_timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"SECRETARIAT_TIMEZONE {zone!r} is not a time zone name") from exc
        return zone

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, text: str) -> str:
        from bot.broadcasts.quiet import QuietHours

        QuietHours.parse(text)  # says what is wrong
        return text

    @field_validator("reply_time")
    @classmethod
    def _reply_time(cls, value: str) -> str:
        value = value.strip().lower().replace("-", "_")
        if value not in REPLY_TIMES:
            raise ValueError(f"REPLY_TIME is one of {', '.join(REPLY_TIMES)}, not {value!r}")
        return value

    @field_validator("api_docs")
    @classmethod
    def _api_docs(cls, value: str) -> str:
        if value not in ("public", "off"):
            raise ValueError("API_DOCS is public or off")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, url: str) -> str:
        # Hosting platforms hand out plain postgres:// URLs; we talk asyncpg.
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
        return url

    @field_validator("whatsapp_notice_templates")
    @classmethod
    def _notice_templates(cls, text: str) -> str:
        _templates(text)  # says what is wrong
        return text

    @property
    def notice_templates(self) -> dict[str, str]:
        """WHATSAPP_NOTICE_TEMPLATES as {locale: content SID}."""
        return _templates(self.whatsapp_notice_templates)

    @field_validator("public_url", "telegram_api_url", "twilio_api_url")
    @classmethod
    def _no_trailing_slash(cls, url: str | None) -> str | None:
        return url.rstrip("/") if url else url

    @property
    def signing_keys(self) -> list[str]:
        """The keys of the signed links: the first signs, every one verifies."""
        given = [k.strip() for k in _secret(self.secret_key).split(",") if k.strip()]
        return given or [_kept_key(self.database_url)]

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def staff_chats(self) -> frozenset[str]:
        """The Telegram chats where staff answer members by replying to the bot's messages."""
        chats = (self.admin_telegram_chat_id, self.safeguarding_telegram_chat_id)
        return frozenset(c.strip() for c in chats if c and c.strip())

    @property
    def whatsapp_enabled(self) -> bool:
        return any((self.twilio_account_sid, self.twilio_auth_token, self.twilio_whatsapp_number))

    def channel_report(self) -> list[str]:
        """One line per channel saying whether it is on, for the start-up log."""
        lines = ["web chat: on (/chat)"]
        lines.append(
            "telegram: on" if self.telegram_enabled else "telegram: off (TELEGRAM_BOT_TOKEN unset)"
        )
        lines.append(
            "whatsapp: on"
            if self.whatsapp_enabled
            else "whatsapp: off (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_WHATSAPP_NUMBER unset)"
        )
        return lines

    def check(self, *, several_processes: bool = False) -> None:
        """Refuse to start with a configuration that cannot work, saying why."""
        problems: list[str] = []
        if self.telegram_enabled:
            token = _secret(self.telegram_bot_token)
            if _PLACEHOLDERS.match(token) or not _TELEGRAM_TOKEN.match(token):
                problems.append("TELEGRAM_BOT_TOKEN does not look like a bot token from @BotFather")
            secret = _secret(self.telegram_webhook_secret)
            if _PLACEHOLDERS.match(secret) or not _WEBHOOK_SECRET.match(secret):
                problems.append(
                    "TELEGRAM_WEBHOOK_SECRET must be 16 to 256 characters of A-Z a-z 0-9 _ - "
                    "(and not a placeholder)"
                )
        if self.whatsapp_enabled:
            sid = self.twilio_account_sid or ""
            if not re.fullmatch(r"AC[0-9a-fA-F]{32}", sid):
                problems.append(
                    "TWILIO_ACCOUNT_SID must be an account SID (AC followed by 32 hex digits)"
                )
            auth = _secret(self.twilio_auth_token)
            if _PLACEHOLDERS.match(auth) or len(auth) < 16:
                problems.append("TWILIO_AUTH_TOKEN is missing or a placeholder")
            number = self.twilio_whatsapp_number or ""
            if not re.fullmatch(r"(whatsapp:)?\+[1-9]\d{6,14}", number):
                problems.append(
                    "TWILIO_WHATSAPP_NUMBER must be an E.164 number such as +40712345678"
                )
            if not self.public_url:
                problems.append("PUBLIC_URL is needed to check Twilio's signatures")
        for name, chat in (
            ("ADMIN_TELEGRAM_CHAT_ID", self.admin_telegram_chat_id),
            ("SAFEGUARDING_TELEGRAM_CHAT_ID", self.safeguarding_telegram_chat_id),
        ):
            if chat is None:
                continue
            if not re.fullmatch(r"-?\d{1,20}", chat.strip()):
                problems.append(f"{name} must be a Telegram chat id such as -1001234567890")
            elif not self.telegram_enabled:
                problems.append(f"{name} needs the Telegram channel: set TELEGRAM_BOT_TOKEN")
        if several_processes or self.web_concurrency > 1:
            if not self.redis_url:
                problems.append(
                    "several processes need REDIS_URL to share locks and rate limits; "
                    "set it, or run one process with `childpact serve`"
                )
            if self.is_sqlite:
                problems.append("several processes need PostgreSQL: set DATABASE_URL")
        keys = [k.strip() for k in _secret(self.secret_key).split(",") if k.strip()]
        if any(_PLACEHOLDERS.match(k) or len(k) < 32 for k in keys):
            problems.append("SECRET_KEY: each key needs at least 32 random characters")
        if not keys and not self.is_sqlite:
            problems.append(
                "SECRET_KEY is required with PostgreSQL: every process signs and checks links "
                "with it (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        for proxy in self.trusted_proxy_list:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                problems.append(f"TRUSTED_PROXIES: {proxy!r} is not an address or a network")
        if problems:
            raise ConfigError("cannot start:\n  - " + "\n  - ".join(problems))

    @property
    def whatsapp_from(self) -> str:
        number = self.twilio_whatsapp_number or ""
        return number if number.startswith("whatsapp:") else f"whatsapp:{number}"


_KEPT: dict[str, str] = {}


def _kept_key(database_url: str) -> str:
    """The embedded mode's signing key: made once, kept in ``secret_key`` beside the SQLite
    file (readable by its owner only). Without a file (an in-memory database, or PostgreSQL
    without SECRET_KEY, which ``check`` refuses) a key for this process only."""
    if database_url in _KEPT:
        return _KEPT[database_url]
    key = None
    database = make_url(database_url).database if database_url.startswith("sqlite") else None
    if database and database != ":memory:":
        path = Path(database).resolve().parent / "secret_key"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        except FileExistsError:
            pass
        key = path.read_text().strip() or None
    _KEPT[database_url] = key or secrets.token_urlsafe(48)
    return _KEPT[database_url]


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""


@lru_cache
def get_settings() -> Settings:
    return Settings()


__all__ = ["ConfigError", "Settings", "get_settings"]


def _templates(text: str) -> dict[str, str]:
    """``en=HX…,ro=HX…`` as a dict; each SID as Twilio's OpenAPI draws it (HX + 32 hex)."""
    found: dict[str, str] = {}
    for item in text.replace(";", ",").split(","):
        if not item.strip():
            continue
        locale, _, sid = item.partition("=")
        locale, sid = locale.strip(), sid.strip()
        if not locale or not re.fullmatch(r"HX[0-9a-fA-F]{32}", sid):
            raise ValueError(
                f"WHATSAPP_NOTICE_TEMPLATES: {item.strip()!r} is not locale=HX followed by 32 hex"
            )
        found[locale] = sid
    return found
