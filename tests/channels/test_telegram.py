"""The Telegram channel: captured updates, the webhook secret, and sends through the fake Bot API."""

from __future__ import annotations

import html
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.channels.base import Outcome
from bot.channels.telegram import SECRET_HEADER, TelegramChannel, classify_error, split_text
from bot.config import Settings
from bot.messages import Button, Kind, OutboundMessage
from tests.clock import VirtualClock
from tests.fakes.server import refuse_internet
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.telegram_updates import UpdateBuilder

FIXTURES = Path(__file__).parent.parent / "fixtures" / "telegram"
TOKEN = "123456789:AA" + "x" * 33
SECRET = "s" * 32
URL = "https://bot.example.org/webhook/telegram"
MEMBER = "412345678"

# PTB 22 itself reads RetryAfter.retry_after while building it, which warns about the
# coming timedelta type; the channel handles both types.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after:telegram.warnings.PTBDeprecationWarning"
)


def make_settings(api_url: str = "http://127.0.0.1:9", **overrides: Any) -> Settings:
    values: dict[str, Any] = dict(
        telegram_bot_token=TOKEN,
        telegram_webhook_secret=SECRET,
        telegram_api_url=api_url,
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="t" * 32,
        twilio_whatsapp_number="+40700000000",
        twilio_api_url=api_url,
        public_url="https://bot.example.org",
    )
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def captured(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    refuse_internet(monkeypatch)


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN, blocked=[666], deactivated=[667], missing=[404]) as fake:
        yield fake


@pytest.fixture
async def telegram(fake: FakeTelegram) -> AsyncIterator[TelegramChannel]:
    channel = TelegramChannel(make_settings(fake.url))
    assert channel.bot is not None
    assert channel.bot.base_url == f"{fake.url}/bot{TOKEN}"
    assert fake.url.startswith("http://127.0.0.1:")
    yield channel
    await channel.stop()


# ---------------------------------------------------------------- parsing

PARSED: list[tuple[str, dict[str, Any]]] = [
    ("text_private_ro", dict(kind=Kind.TEXT, platform_id="783421001", address=MEMBER,
                             text="Bună ziua! Cum pot deveni membru al coaliției?", lang_hint="ro")),
    ("start_command_uk", dict(kind=Kind.TEXT, address="397112233", text="/start", lang_hint="uk")),
    ("text_georgian", dict(kind=Kind.TEXT, address="5081234567", lang_hint="ka",
                           text="გამარჯობა, როგორ დავუკავშირდე ცხელ ხაზს?")),
    ("text_no_language", dict(kind=Kind.TEXT, text="Përshëndetje", lang_hint=None)),
    ("callback_query", dict(kind=Kind.BUTTON, platform_id="783421005", address=MEMBER,
                            payload="lang:ro", callback_id="1773318822476541903", lang_hint="ro")),
    ("callback_query_group", dict(kind=Kind.UNSUPPORTED, address="-1001876543210",
                                  callback_id="1773318822476541904")),
    ("edited_message", dict(kind=Kind.EDITED, address=MEMBER, platform_id="783421007")),
    ("sticker", dict(kind=Kind.MEDIA, address=MEMBER, text="")),
    ("photo_with_caption", dict(kind=Kind.MEDIA, address="397112233", text="Фото з тренінгу")),
    ("voice", dict(kind=Kind.MEDIA, address="5081234567")),
    ("document", dict(kind=Kind.MEDIA, address=MEMBER)),
    ("location", dict(kind=Kind.MEDIA, address=MEMBER)),
    ("group_message", dict(kind=Kind.UNSUPPORTED, address="-1001876543210", text="")),
    ("old_group_message", dict(kind=Kind.UNSUPPORTED, address="-987654321")),
    ("channel_post", dict(kind=Kind.UNSUPPORTED, address="-1002233445566")),
    ("my_chat_member_kicked", dict(kind=Kind.UNSUPPORTED, address=MEMBER,
                                   payload="my_chat_member:kicked", platform_id="783421016")),
    ("inline_query", dict(kind=Kind.UNSUPPORTED, address=MEMBER)),
    ("pinned_service_message", dict(kind=Kind.UNSUPPORTED, address=MEMBER)),
]  # fmt: skip


def test_every_captured_update_has_an_expectation() -> None:
    assert {name for name, _ in PARSED} == {p.stem for p in FIXTURES.glob("*.json")}


@pytest.mark.parametrize(("fixture", "expected"), PARSED, ids=[name for name, _ in PARSED])
def test_parse_captured_update(fixture: str, expected: dict[str, Any]) -> None:
    found = TelegramChannel(make_settings()).parse(captured(fixture))
    assert found is not None
    assert found.channel == "telegram"
    assert found.platform_id == str(captured(fixture)["update_id"])
    assert {name: getattr(found, name) for name in expected} == expected


def test_parse_built_updates() -> None:
    channel, member = TelegramChannel(make_settings()), UpdateBuilder(language_code="sr-Latn")
    kinds = [
        channel.parse(update).kind  # type: ignore[union-attr]
        for update in (
            member.message("Zdravo"),
            member.callback_query("faq:3"),
            member.edited_message("Zdravo!"),
            member.sticker(),
            member.photo(),
            member.voice(),
            member.group_message("Zdravo svima"),
            member.my_chat_member(),
        )
    ]
    assert kinds == [Kind.TEXT, Kind.BUTTON, Kind.EDITED, Kind.MEDIA, Kind.MEDIA, Kind.MEDIA,
                     Kind.UNSUPPORTED, Kind.UNSUPPORTED]  # fmt: skip
    assert channel.parse(member.message("x")).lang_hint == "sr-Latn"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "data",
    [
        [],
        "update",
        None,
        {},
        {"ok": True, "result": []},
        {"update_id": "783421001", "message": {}},
        {"update_id": True},
        {"update_id": 1, "message": "hello"},
        {"update_id": 1, "message": {"message_id": 1, "text": "no chat, no date"}},
        {"update_id": 1, "callback_query": {"id": "1", "data": "x"}},
    ],
)
def test_parse_refuses_malformed_json(data: Any) -> None:
    with pytest.raises(ValueError):
        TelegramChannel(make_settings()).parse(data)


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        (SECRET, True),
        (None, False),
        ("", False),
        ("s" * 31, False),
        ("s" * 33, False),
        ("S" * 32, False),
        ("ş" * 32, False),
    ],
)
def test_verify_checks_the_secret_header(header: str | None, accepted: bool) -> None:
    headers = {} if header is None else {SECRET_HEADER: header}
    assert TelegramChannel(make_settings()).verify(URL, headers, {}) is accepted


def test_verify_refuses_everything_without_a_configured_secret() -> None:
    channel = TelegramChannel(make_settings(telegram_webhook_secret=None))
    assert not channel.verify(URL, {SECRET_HEADER: ""}, {})
    assert not channel.verify(URL, {}, {})


def test_there_are_no_status_callbacks_to_read() -> None:
    with pytest.raises(ValueError):
        TelegramChannel(make_settings()).parse_status({"MessageSid": "1", "MessageStatus": "read"})


# ---------------------------------------------------------------- sending


async def test_text_is_html_escaped(telegram: TelegramChannel, fake: FakeTelegram) -> None:
    text = "Fees < 5 & > 2: <b>not bold</b>"
    result = await telegram.send(MEMBER, OutboundMessage(text=text))
    assert result.outcome == Outcome.SENT
    [sent] = fake.messages
    assert result.platform_id == str(sent.message_id)
    assert (sent.method, sent.chat_id, sent.parse_mode) == ("sendMessage", MEMBER, "HTML")
    assert sent.text == html.escape(text, quote=False)
    assert sent.reply_markup is None


async def test_buttons_become_an_inline_keyboard(
    telegram: TelegramChannel, fake: FakeTelegram
) -> None:
    buttons = [
        [Button("Română", "lang:ro"), Button("Српски", "lang:sr")],
        [Button("Website", "web", url="https://childpact.org")],
    ]
    assert (await telegram.send(MEMBER, OutboundMessage("Limba?", buttons))).outcome == "sent"
    assert fake.messages[0].reply_markup == {
        "inline_keyboard": [
            [
                {"text": "Română", "callback_data": "lang:ro"},
                {"text": "Српски", "callback_data": "lang:sr"},
            ],
            [{"text": "Website", "url": "https://childpact.org"}],
        ]
    }


async def test_long_text_is_split_in_order_with_buttons_last(fake: FakeTelegram) -> None:
    fake.chat_burst = 10
    channel = TelegramChannel(make_settings(fake.url))
    paragraphs = [f"{n:02d} " + ("Protecția copilului. " * 60).strip() for n in range(12)]
    text = "\n\n".join(paragraphs)
    assert len(text) > 3 * 4096
    result = await channel.send(MEMBER, OutboundMessage(text, [[Button("OK", "ok")]]))
    await channel.stop()
    assert result.outcome == Outcome.SENT
    texts = [m.text or "" for m in fake.messages]
    assert len(texts) == 4 and all(len(t) <= 4096 for t in texts)
    assert "\n\n".join(texts) == text.strip()  # cut at paragraph breaks, nothing lost
    assert [m.reply_markup is not None for m in fake.messages] == [False, False, False, True]
    assert result.platform_id == str(fake.messages[-1].message_id)


def test_split_text_falls_back_to_lines_words_and_hard_cuts() -> None:
    assert split_text("short", 10) == ["short"]
    assert split_text("", 10) == []
    assert split_text("aaaa\nbbbb\ncccc", 10) == ["aaaa\nbbbb", "cccc"]
    assert split_text("one two three four", 9) == ["one two", "three", "four"]
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


async def test_image_with_short_text_is_one_captioned_photo(
    telegram: TelegramChannel, fake: FakeTelegram
) -> None:
    fake.host_photo("https://childpact.org/a.jpg")
    message = OutboundMessage("Training <Chișinău>", image_url="https://childpact.org/a.jpg")
    assert (await telegram.send(MEMBER, message)).outcome == Outcome.SENT
    [sent] = fake.messages
    assert (sent.method, sent.photo) == ("sendPhoto", "https://childpact.org/a.jpg")
    assert sent.caption == "Training &lt;Chișinău&gt;"


async def test_image_with_long_text_is_a_photo_then_the_text(
    telegram: TelegramChannel, fake: FakeTelegram
) -> None:
    fake.host_photo("https://childpact.org/a.jpg")
    message = OutboundMessage("a " * 700, image_url="https://childpact.org/a.jpg")
    assert (await telegram.send(MEMBER, message)).outcome == Outcome.SENT
    assert [(m.method, m.caption) for m in fake.messages] == [
        ("sendPhoto", None),
        ("sendMessage", None),
    ]


async def test_callback_query_is_answered_and_nothing_sent(
    telegram: TelegramChannel, fake: FakeTelegram
) -> None:
    message = OutboundMessage("", callback_id="1773318822476541903", notice="Salvat! " * 40)
    assert (await telegram.send(MEMBER, message)).outcome == Outcome.SENT
    assert fake.messages == []
    [answer] = fake.callbacks
    assert answer.callback_query_id == "1773318822476541903"
    assert answer.text == ("Salvat! " * 40)[:200]


async def test_expired_callback_query_fails_without_retry(
    telegram: TelegramChannel, fake: FakeTelegram
) -> None:
    fake.expired_callbacks.add("42")
    result = await telegram.send(MEMBER, OutboundMessage("", callback_id="42"))
    assert result.outcome == Outcome.FAILED


async def test_flood_wait_is_rate_limited_with_its_retry_after(
    telegram: TelegramChannel, fake: FakeTelegram
) -> None:
    fake.flood_next(retry_after=7)
    result = await telegram.send(MEMBER, OutboundMessage("Salut"))
    assert (result.outcome, result.retry_after) == (Outcome.RATE_LIMITED, 7.0)
    assert fake.rate_limited == 1 and fake.messages == []


async def test_per_chat_limit_answers_429(telegram: TelegramChannel, fake: FakeTelegram) -> None:
    fake.clock = VirtualClock()  # the four sends in one second, however slow they are
    results = [await telegram.send(MEMBER, OutboundMessage(f"n{n}")) for n in range(4)]
    assert [r.outcome for r in results] == ["sent"] * 3 + ["rate_limited"]
    assert results[-1].retry_after >= 1.0


@pytest.mark.parametrize(
    ("chat", "outcome", "code"),
    [
        ("666", Outcome.UNREACHABLE, "blocked"),
        ("667", Outcome.UNREACHABLE, "deactivated"),
        ("404", Outcome.UNREACHABLE, "chat_not_found"),
    ],
)
async def test_refusals(
    telegram: TelegramChannel, fake: FakeTelegram, chat: str, outcome: Outcome, code: str
) -> None:
    result = await telegram.send(chat, OutboundMessage("Salut"))
    assert (result.outcome, result.error_code) == (outcome, code)


async def test_a_migrated_group_is_followed_to_its_supergroup(
    telegram: TelegramChannel, fake: FakeTelegram
) -> None:
    fake.migrated["-987654321"] = -1009876543210
    result = await telegram.send("-987654321", OutboundMessage("Salut"))
    assert (result.outcome, result.moved_to) == (Outcome.SENT, "-1009876543210")
    requests = fake.requests
    again = await telegram.send("-987654321", OutboundMessage("Salut"))
    assert again.outcome == Outcome.SENT and fake.requests == requests + 1  # straight there
    assert [m.chat_id for m in fake.messages] == ["-1009876543210"] * 2


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_server_errors_are_retried(
    telegram: TelegramChannel, fake: FakeTelegram, status: int
) -> None:
    fake.fail_next(status=status)
    assert (await telegram.send(MEMBER, OutboundMessage("Salut"))).outcome == Outcome.RETRY
    assert (await telegram.send(MEMBER, OutboundMessage("Salut"))).outcome == Outcome.SENT


async def test_too_long_callback_data_fails(telegram: TelegramChannel) -> None:
    message = OutboundMessage("?", [[Button("Да", "answer:" + "я" * 30)]])
    result = await telegram.send(MEMBER, message)
    assert (result.outcome, result.error_code) == (Outcome.FAILED, "bad_request")


async def test_empty_message_fails_without_a_request(
    telegram: TelegramChannel, fake: FakeTelegram
) -> None:
    assert (await telegram.send(MEMBER, OutboundMessage("  "))).outcome == Outcome.FAILED
    assert fake.requests == 0


async def test_unreachable_api_is_retried() -> None:
    channel = TelegramChannel(make_settings("http://127.0.0.1:9"))  # nothing listens there
    result = await channel.send(MEMBER, OutboundMessage("Salut"))
    await channel.stop()
    assert (result.outcome, result.error_code) == (Outcome.RETRY, "network")


async def test_rejected_token_is_retried_and_never_logged(
    fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.token = "987654321:" + "y" * 35
    channel = TelegramChannel(make_settings(fake.url))
    await channel.start()
    result = await channel.send(MEMBER, OutboundMessage("secret member text"))
    await channel.stop()
    assert (result.outcome, result.error_code) == (Outcome.RETRY, "invalid_token")
    assert "rejected" in caplog.text
    assert TOKEN not in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text
    assert "secret member text" not in caplog.text


async def test_logs_hold_no_token_and_no_text(
    telegram: TelegramChannel, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await telegram.start()
    await telegram.send(MEMBER, OutboundMessage("Numele meu este Ana"))
    await telegram.send("666", OutboundMessage("Numele meu este Ana"))
    assert fake.messages_to(MEMBER)  # it went out, and the logs say nothing of it
    assert TOKEN.split(":")[1] not in caplog.text
    assert "Numele meu" not in caplog.text


async def test_start_checks_the_token_and_tolerates_a_dead_api(
    telegram: TelegramChannel, fake: FakeTelegram
) -> None:
    await telegram.start()
    assert telegram.bot is not None and telegram.bot.username == "childpact_test_bot"
    dead = TelegramChannel(make_settings("http://127.0.0.1:9"))
    await dead.start()  # logs a warning, does not raise
    await dead.stop()


async def test_webhook_management(telegram: TelegramChannel, fake: FakeTelegram) -> None:
    assert await telegram.set_webhook("https://bot.example.org/webhook/telegram")
    assert fake.webhook["secret_token"] == SECRET
    # every kind the bot reads, my_chat_member (blocked, unblocked) among them
    assert fake.webhook["allowed_updates"] == ["message", "callback_query", "my_chat_member"]
    info = await telegram.webhook_info()
    assert info["url"] == "https://bot.example.org/webhook/telegram"
    assert info["pending_update_count"] == 0
    assert await telegram.delete_webhook()
    assert (await telegram.webhook_info())["url"] == ""


async def test_disabled_channel_sends_nothing() -> None:
    channel = TelegramChannel(make_settings(telegram_bot_token=None))
    assert not channel.enabled and channel.bot is None
    await channel.start()
    assert (await channel.send(MEMBER, OutboundMessage("x"))).error_code == "channel_off"
    assert channel.parse(UpdateBuilder().message("x")).kind == Kind.TEXT  # type: ignore[union-attr]
    await channel.stop()


def test_classify_unknown_errors_as_retry() -> None:
    from telegram.error import Conflict, TelegramError

    assert classify_error(Conflict("terminated by other getUpdates")).outcome == Outcome.RETRY
    assert classify_error(TelegramError("Invalid server response")).outcome == Outcome.RETRY


def test_a_staff_reply_in_the_admin_chat_is_a_staff_message() -> None:
    admin = "-1001112223334"
    channel = TelegramChannel(make_settings(admin_telegram_chat_id=admin))
    staff = UpdateBuilder(chat_id=777000111, language_code="en")
    ours = {"message_id": 4242, "from": {"id": 123456789, "is_bot": True, "first_name": "ChildPact"},
            "chat": {"id": int(admin), "type": "supergroup", "title": "Secretariat"}, "date": 1,
            "text": "#3 member 12 (ro, MD, web): hello"}  # fmt: skip

    def reply(to: dict[str, Any], chat: str = admin) -> dict[str, Any]:
        update = staff.group_message("We answer on Monday.", chat_id=int(chat))
        update["message"]["reply_to_message"] = to
        return update

    found = channel.parse(reply(ours))
    assert found is not None
    assert (found.kind, found.payload, found.text, found.address, found.lang_hint) == (
        Kind.STAFF, "4242", "We answer on Monday.", admin, None
    )  # fmt: skip
    colleague = {**ours, "from": {"id": 555, "is_bot": False, "first_name": "Ion"}}
    other_bot = {**ours, "from": {"id": 987654321, "is_bot": True, "first_name": "Other"}}
    for update in (
        reply(colleague),  # staff talking among themselves
        reply(other_bot),
        staff.group_message("Good morning all", chat_id=int(admin)),  # not a reply
        reply(ours, chat="-1009999999999"),  # some other group
    ):
        assert channel.parse(update).kind == Kind.UNSUPPORTED  # type: ignore[union-attr]
    without_admin_chat = TelegramChannel(make_settings())
    assert without_admin_chat.parse(reply(ours)).kind == Kind.UNSUPPORTED  # type: ignore[union-attr]
