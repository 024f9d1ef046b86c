"""A fake Telegram Bot API server with the real one's limits and errors, for tests and benchmarks."""

from __future__ import annotations

import argparse
import html
import itertools
import json
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import FakeServer, Fault, RollingCounter, run_cli

JSON = dict[str, Any]

# Tags Telegram accepts in parse_mode=HTML; anything else is "Unsupported start tag".
_HTML_TAGS = frozenset(
    "b strong i em u ins s strike del span tg-spoiler a code pre blockquote tg-emoji".split()
)
_TAG = re.compile(r"<(/?)([^\s>/]*)")
_ANY_TAG = re.compile(r"<[^>]*>")
_BOT_TOKEN = re.compile(r"\d+:[\w-]+")
_CHAT_ID = re.compile(r"-?\d+")
_MESSAGE_METHODS = frozenset({"sendmessage", "sendphoto", "senddocument", "editmessagereplymarkup"})
# Sending a document by URL works only for these (the Bot API's documentation says so).
_DOCUMENT_BY_URL = (".pdf", ".zip", ".gif")
DOCUMENT_LIMIT = 50 * 1024 * 1024  # bytes a bot may upload


@dataclass(slots=True)
class SentMessage:
    """A message the fake accepted."""

    method: str
    chat_id: str
    message_id: int
    text: str | None
    parse_mode: str | None
    reply_markup: JSON | None
    time: float
    photo: str | None = None
    caption: str | None = None
    document: str | None = None  # the file's name, or the URL it was sent by
    file: bytes | None = None  # an uploaded document's content


@dataclass(slots=True)
class AnsweredCallback:
    callback_query_id: str
    text: str | None
    show_alert: bool
    time: float


class TelegramApiError(Exception):
    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters


def bad_request(description: str) -> TelegramApiError:
    return TelegramApiError(400, f"Bad Request: {description}")


@dataclass
class _ChatBucket:
    tokens: float
    stamp: float
    attempts: RollingCounter = field(default_factory=RollingCounter)


class FakeTelegram(FakeServer):
    """The Bot API's methods we use, its flood limits and its refusals, in memory."""

    def __init__(
        self,
        *,
        token: str | None = None,
        rate: float | None = 30.0,
        chat_rate: float | None = 1.0,
        chat_burst: int = 3,
        blocked: Iterable[int | str] = (),
        deactivated: Iterable[int | str] = (),
        missing: Iterable[int | str] = (),
        known_chats: Iterable[int | str] | None = None,
        migrated: dict[int | str, int] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.token = token  # None: any well-formed token is accepted
        # None lifts a limit (for benchmarks of our own code rather than of the limits)
        self.rate = math.inf if rate is None else rate
        self.chat_rate = math.inf if chat_rate is None else chat_rate
        self.chat_burst = chat_burst
        self.blocked = {str(c) for c in blocked}
        self.deactivated = {str(c) for c in deactivated}
        self.missing = {str(c) for c in missing}
        self.known_chats = None if known_chats is None else {str(c) for c in known_chats}
        self.migrated = {str(k): v for k, v in (migrated or {}).items()}
        self.expired_callbacks: set[str] = set()
        self.messages: list[SentMessage] = []
        self.callbacks: list[AnsweredCallback] = []
        self.webhook: JSON = {"url": ""}
        self.requests = 0
        self.rate_limited = 0  # 429s answered
        self._me: JSON | None = None
        self._me_token: str | None = None
        self._accepted = RollingCounter()
        self._attempts = RollingCounter()
        self._chats: dict[str, _ChatBucket] = {}
        self._message_ids = itertools.count(1)
        self._methods: dict[str, Callable[[JSON], JSON | bool]] = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "answercallbackquery": self._answer_callback_query,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getchat": self._get_chat,
            "editmessagereplymarkup": self._edit_reply_markup,
            "editmessagetext": self._edit_text,
        }

    # -------------------------------------------------------------- what tests read

    @property
    def max_per_second(self) -> int:
        """Most message requests (accepted or refused) seen in any rolling second."""
        return self._attempts.max

    @property
    def max_per_second_chat(self) -> dict[str, int]:
        return {chat: bucket.attempts.max for chat, bucket in self._chats.items()}

    def messages_to(self, chat_id: int | str) -> list[SentMessage]:
        key = str(chat_id)
        return [m for m in self.messages if m.chat_id == key]

    @property
    def me(self) -> JSON:
        """The bot's User object, as getMe answers it."""
        if self._me is None or self._me_token != self.token:
            self._me, self._me_token = self._bot_user(), self.token
        return self._me

    def _bot_user(self) -> JSON:
        bot_id = int((self.token or "123456789:x").split(":")[0])
        return {
            "id": bot_id,
            "is_bot": True,
            "first_name": "ChildPact",
            "username": "childpact_test_bot",
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    # -------------------------------------------------------------- HTTP

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        fault = await self._fault() if self._faults else None
        try:
            if fault is not None:
                raise _fault_error(fault)
            token = request.match_info["token"]
            if not _BOT_TOKEN.fullmatch(token):
                raise TelegramApiError(404, "Not Found")
            if self.token is not None and token != self.token:
                raise TelegramApiError(401, "Unauthorized")
            method = request.match_info["method"].lower()
            handler = self._methods.get(method)
            if handler is None:
                raise TelegramApiError(404, "Not Found")
            params = await _read_params(request)
            if method in _MESSAGE_METHODS:
                self._check_flood(params)
            result = handler(params)
        except TelegramApiError as exc:
            if exc.status == 429:
                self.rate_limited += 1
            return _answer(exc.status, _error_body(exc))
        return _answer(200, {"ok": True, "result": result})

    def _check_flood(self, params: JSON) -> None:
        now = self.clock()
        self._attempts.hit(now)
        chat = str(params.get("chat_id", ""))
        bucket = self._chats.get(chat)
        if bucket is None:
            bucket = self._chats[chat] = _ChatBucket(float(self.chat_burst), now)
        bucket.attempts.hit(now)
        if self._accepted.count(now) >= self.rate:
            raise _flood(self._accepted.wait(now))
        if self.chat_rate == math.inf:
            self._accepted.hit(now)
            return
        bucket.tokens = min(self.chat_burst, bucket.tokens + (now - bucket.stamp) * self.chat_rate)
        bucket.stamp = now
        if bucket.tokens < 1.0:
            raise _flood((1.0 - bucket.tokens) / self.chat_rate)
        bucket.tokens -= 1.0
        self._accepted.hit(now)

    # -------------------------------------------------------------- methods

    def _get_me(self, params: JSON) -> JSON:
        return self.me

    def _chat(self, params: JSON) -> JSON:
        """The chat a message goes to, or the error Telegram gives for it."""
        raw = params.get("chat_id")
        if raw in (None, ""):
            raise bad_request("chat_id is empty")
        key = str(raw)
        if key in self.migrated:
            raise TelegramApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": self.migrated[key]},
            )
        known = self.known_chats is None or key in self.known_chats
        if key in self.missing or not known or not _CHAT_ID.fullmatch(key):
            raise bad_request("chat not found")
        if key in self.blocked:
            raise TelegramApiError(403, "Forbidden: bot was blocked by the user")
        if key in self.deactivated:
            raise TelegramApiError(403, "Forbidden: user is deactivated")
        chat_id = int(key)
        if chat_id > 0:
            return {"id": chat_id, "first_name": "Member", "type": "private"}
        kind = "supergroup" if key.startswith("-100") else "group"
        return {"id": chat_id, "title": "Coalition group", "type": kind}

    def _message(self, chat: JSON, **content: Any) -> JSON:
        message = {
            "message_id": next(self._message_ids),
            "from": self.me,
            "chat": chat,
            "date": int(time.time()),
        }
        message.update({k: v for k, v in content.items() if v is not None})
        return message

    def _record(self, method: str, params: JSON, message: JSON, **extra: Any) -> None:
        self.messages.append(
            SentMessage(
                method=method,
                chat_id=str(params["chat_id"]),
                message_id=message["message_id"],
                text=params.get("text"),
                parse_mode=params.get("parse_mode"),
                reply_markup=_json_field(params.get("reply_markup")),
                time=time.time(),
                **extra,
            )
        )

    def _send_message(self, params: JSON) -> JSON:
        chat = self._chat(params)
        text = str(params.get("text") or "")
        visible = _visible_text(text, params.get("parse_mode"))
        if not visible.strip():
            raise bad_request("message text is empty")
        if len(visible) > 4096:
            raise bad_request("message is too long")
        markup = _check_markup(params.get("reply_markup"))
        message = self._message(chat, text=visible, reply_markup=markup)
        self._record("sendMessage", params, message)
        return message

    def _send_photo(self, params: JSON) -> JSON:
        chat = self._chat(params)
        photo = params.get("photo")
        if not photo:
            raise bad_request("there is no photo in the request")
        caption = params.get("caption")
        visible = _visible_text(str(caption), params.get("parse_mode")) if caption else None
        if visible and len(visible) > 1024:
            raise bad_request("message caption is too long")
        markup = _check_markup(params.get("reply_markup"))
        sizes = [
            {"file_id": f"AgACAgQAAxk{n}", "file_unique_id": f"AQAD{n}", "width": w, "height": w}
            for n, w in ((1, 90), (2, 320), (3, 800))
        ]
        message = self._message(chat, photo=sizes, caption=visible, reply_markup=markup)
        url = photo if isinstance(photo, str) else "<upload>"
        self._record("sendPhoto", params, message, photo=url, caption=caption)
        return message

    def _send_document(self, params: JSON) -> JSON:
        chat = self._chat(params)
        sent = params.get("document")
        if not sent:
            raise bad_request("there is no document in the request")
        if isinstance(sent, web.FileField):
            content = sent.file.read()
            if not content:
                raise bad_request("file must be non-empty")
            if len(content) > DOCUMENT_LIMIT:
                raise TelegramApiError(413, "Request Entity Too Large")
            name, file = sent.filename or "document", content
        else:
            name, file = str(sent), None
            if name.startswith(("http://", "https://")) and not name.lower().endswith(
                _DOCUMENT_BY_URL
            ):
                raise bad_request("wrong type of the web page content")
        caption = params.get("caption")
        visible = _visible_text(str(caption), params.get("parse_mode")) if caption else None
        if visible and len(visible) > 1024:
            raise bad_request("message caption is too long")
        markup = _check_markup(params.get("reply_markup"))
        document = {
            "file_name": name.rsplit("/", 1)[-1],
            "file_id": f"BQACAgQAAxk{len(self.messages)}",
            "file_unique_id": f"AgAD{len(self.messages)}",
            "file_size": len(file or b""),
        }
        message = self._message(chat, document=document, caption=visible, reply_markup=markup)
        self._record("sendDocument", params, message, caption=caption, document=name, file=file)
        return message

    def _edit_reply_markup(self, params: JSON) -> JSON | bool:
        if params.get("inline_message_id"):
            return True
        chat = self._chat(params)
        wanted = int(params.get("message_id") or 0)
        if not any(m.message_id == wanted for m in self.messages_to(chat["id"])):
            raise bad_request("message to edit not found")
        markup = _check_markup(params.get("reply_markup"))
        message = self._message(chat, reply_markup=markup)
        message["message_id"], message["edit_date"] = wanted, int(time.time())
        self._record("editMessageReplyMarkup", params, message)
        return message

    def _edit_text(self, params: JSON) -> JSON:
        chat = self._chat(params)
        wanted = int(params.get("message_id") or 0)
        earlier = [m for m in self.messages_to(chat["id"]) if m.message_id == wanted]
        if not earlier:
            raise bad_request("message to edit not found")
        text = _visible_text(str(params.get("text") or ""), params.get("parse_mode"))
        if not text.strip():
            raise bad_request("message text is empty")
        if earlier[-1].text == text:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        message = self._message(chat, text=text)
        message["message_id"], message["edit_date"] = wanted, int(time.time())
        self._record("editMessageText", params, message)
        return message

    def _answer_callback_query(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if not query_id or query_id in self.expired_callbacks:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        alert = params.get("show_alert") in (True, "true", "True", "1")
        self.callbacks.append(AnsweredCallback(query_id, text, alert, time.time()))
        return True

    def _set_webhook(self, params: JSON) -> bool:
        url = str(params.get("url") or "")
        if not url:
            return self._delete_webhook(params)
        if not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        port = re.match(r"https://[^/:]+(?::(\d+))?", url)
        if port and port.group(1) and int(port.group(1)) not in (80, 88, 443, 8443):
            raise bad_request(
                "bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
            )
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad_request("secret token contains unallowed characters")
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": _json_field(params.get("allowed_updates")),
            "max_connections": int(params.get("max_connections") or 40),
        }
        return True

    def _get_chat(self, params: JSON) -> JSON:
        """A ChatFullInfo: the chat and the fields the Bot API always sends with it."""
        return {**self._chat(params), "accent_color_id": 0, "max_reaction_count": 11}

    def _delete_webhook(self, params: JSON) -> bool:
        self.webhook = {"url": ""}
        return True

    def _get_webhook_info(self, params: JSON) -> JSON:
        info: JSON = {"url": self.webhook["url"], "has_custom_certificate": False}
        info["pending_update_count"] = int(self.webhook.get("pending_update_count") or 0)
        if self.webhook["url"]:
            # What Telegram reports after failing to deliver: a test sets these.
            for key in ("last_error_date", "last_error_message"):
                if self.webhook.get(key) is not None:
                    info[key] = self.webhook[key]
            info["max_connections"] = self.webhook["max_connections"]
            info["ip_address"] = "203.0.113.10"
            if self.webhook.get("allowed_updates"):
                info["allowed_updates"] = self.webhook["allowed_updates"]
        return info


def _fault_error(fault: Fault) -> TelegramApiError:
    if fault.status == 429:
        return _flood(fault.retry_after)
    if fault.status == 502:
        return TelegramApiError(502, "Bad Gateway")
    return TelegramApiError(fault.status, "Internal Server Error")


def _flood(wait: float) -> TelegramApiError:
    seconds = max(1, math.ceil(wait))
    return TelegramApiError(
        429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds}
    )


def _error_body(exc: TelegramApiError) -> JSON:
    body: JSON = {"ok": False, "error_code": exc.status, "description": exc.description}
    if exc.parameters:
        body["parameters"] = exc.parameters
    return body


def _answer(status: int, body: JSON) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(body).encode(), content_type="application/json"
    )


async def _read_params(request: web.Request) -> JSON:
    """Query string, JSON, urlencoded or multipart: the Bot API accepts them all."""
    params: JSON = dict(request.query)
    if request.method != "POST" or not request.can_read_body:
        return params
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON object") from None
        if not isinstance(body, dict):
            raise bad_request("can't parse JSON object")
        params.update(body)
    else:
        params.update(await request.post())
    return params


def _json_field(value: Any) -> Any:
    """Form and multipart bodies carry objects as JSON strings."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request("can't parse reply keyboard markup JSON object") from None
    return value


def _visible_text(text: str, parse_mode: Any) -> str:
    """What the member sees: HTML is checked like Telegram does, then stripped."""
    if str(parse_mode or "").upper() != "HTML":
        return text
    for match in _TAG.finditer(text):
        name = match.group(2).lower()
        if name not in _HTML_TAGS:
            where = len(text[: match.start()].encode())
            kind = "end" if match.group(1) else "start"
            raise bad_request(
                f'can\'t parse entities: Unsupported {kind} tag "{name}" at byte offset {where}'
            )
    return html.unescape(_ANY_TAG.sub("", text))


def _check_markup(raw: Any) -> JSON | None:
    markup = _json_field(raw)
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= 64:
                raise bad_request("BUTTON_DATA_INVALID")
            if not button.get("text"):
                raise bad_request("text buttons are unallowed in the inline keyboard")
    return markup


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake Telegram Bot API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--rate", type=float, default=30.0, help="messages per second per bot")
    parser.add_argument("--chat-rate", type=float, default=1.0, help="messages per second per chat")
    parser.add_argument("--chat-burst", type=int, default=3)
    parser.add_argument("--token", default=None, help="accept only this token")
    args = parser.parse_args(argv)
    fake = FakeTelegram(
        token=args.token,
        rate=args.rate,
        chat_rate=args.chat_rate,
        chat_burst=args.chat_burst,
        host=args.host,
        port=args.port,
    )
    run_cli(fake, "fake Telegram Bot API")


if __name__ == "__main__":
    main()
