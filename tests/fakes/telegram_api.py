"""A fake Telegram Bot API server with the real one's limits and errors, for tests and benchmarks.

Strict where Telegram is: every call is checked against the Bot API's own description of its
methods (``botapi_spec``: names, parameters, required ones, types), texts and captions against
their limits after HTML is parsed, HTML against the tags Telegram supports, keyboards against
its button rules; the flood limits (per bot, per chat, per group) answer 429 with
``retry_after`` on the fake's clock. Updates reach the service only through ``deliver``, which
posts them to the webhook set with setWebhook, with its secret, and only the kinds it asked for.
"""

from __future__ import annotations

import argparse
import html
import inspect
import ipaddress
import itertools
import json
import math
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiohttp import web

from tests.fakes import botapi_spec
from tests.fakes.server import FakeServer, Fault, RollingCounter, run_cli

JSON = dict[str, Any]

# Tags Telegram accepts in parse_mode=HTML (the Bot API's "formatting options"); anything else
# is "Unsupported start tag".
_HTML_TAGS = frozenset(
    "b strong i em u ins s strike del span tg-spoiler a code pre blockquote tg-emoji".split()
)
_TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)"
    r"((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*>"
)
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
_BOT_TOKEN = re.compile(r"\d+:[\w-]+")
_CHAT_ID = re.compile(r"-?\d+")
# Methods that put a message in a chat: they count against the flood limits.
_MESSAGE_METHODS = frozenset(
    {"sendmessage", "sendphoto", "senddocument", "editmessagereplymarkup", "editmessagetext"}
)
# The button fields that say what a button does: exactly one of them (the Bot API's rule).
_BUTTON_EXTRAS = frozenset({"text", "icon_custom_emoji_id", "style"})
# Update kinds a webhook gets when it asks for none in particular (setWebhook's description).
_NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
GROUP_WINDOW = 60.0  # seconds over which the group limit counts
# Sending a document by URL works only for these (the Bot API's documentation says so).
_DOCUMENT_BY_URL = (".pdf", ".zip", ".gif")
DOCUMENT_LIMIT = 50 * 1024 * 1024  # bytes a bot may upload
PHOTO_BY_URL_LIMIT = 5 * 1024 * 1024  # bytes of a photo Telegram fetches by URL
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
WRONG_FILE = "wrong file identifier/HTTP URL specified"


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
    minute: RollingCounter = field(default_factory=lambda: RollingCounter(GROUP_WINDOW))


class FakeTelegram(FakeServer):
    """The Bot API's methods we use, its flood limits and its refusals, in memory."""

    def __init__(
        self,
        *,
        token: str | None = None,
        rate: float | None = 30.0,
        chat_rate: float | None = 1.0,
        chat_burst: int = 3,
        group_rate: int | None = 20,
        blocked: Iterable[int | str] = (),
        deactivated: Iterable[int | str] = (),
        missing: Iterable[int | str] = (),
        known_chats: Iterable[int | str] | None = None,
        migrated: dict[int | str, int] | None = None,
        deliver_to: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.token = token  # None: any well-formed token is accepted
        # None lifts a limit (for benchmarks of our own code rather than of the limits)
        self.rate = math.inf if rate is None else rate
        self.chat_rate = math.inf if chat_rate is None else chat_rate
        self.chat_burst = chat_burst
        self.group_rate = math.inf if group_rate is None else group_rate  # messages a minute
        self.blocked = {str(c) for c in blocked}
        self.deactivated = {str(c) for c in deactivated}
        self.missing = {str(c) for c in missing}
        self.known_chats = None if known_chats is None else {str(c) for c in known_chats}
        self.migrated = {str(k): v for k, v in (migrated or {}).items()}
        self.expired_callbacks: set[str] = set()
        # Photos off this machine the fake can fetch (``host_photo``); URLs on the service's
        # public host are fetched from the service itself (through ``deliver_to``).
        self.photos: dict[str, tuple[str, bytes]] = {}
        self.photo_fetches: list[str] = []  # every URL the fake fetched for a sendPhoto
        self.file_ids: dict[str, str] = {}  # a photo's file_id: the URL it came from
        self.pressed: list[str] = []  # callback query ids delivered to the webhook
        self.answer_calls = 0  # answerCallbackQuery calls, refused ones included
        self._answer_tried: set[str] = set()
        self._sizes: dict[str, list[JSON]] = {}  # a stored photo's sizes, by its source
        self.messages: list[SentMessage] = []
        self.callbacks: list[AnsweredCallback] = []
        self.webhook: JSON = {"url": ""}
        # Where deliver() posts: the service's real address stands in for the public one
        # the webhook names (None: the webhook's URL itself).
        self.deliver_to = deliver_to
        self.allowed_updates: list[str] = []  # kept across setWebhook calls that omit it
        self.delivered: list[JSON] = []  # updates posted to the webhook
        self.withheld: list[JSON] = []  # updates of a kind the webhook did not ask for
        self.requests = 0
        self.refused: list[tuple[str, int, str]] = []  # (method, status, description) answered
        self.rate_limited = 0  # 429s answered
        self.limited_by: dict[str, int] = {"bot": 0, "chat": 0, "group": 0}  # which limit
        self._client: httpx.AsyncClient | None = None
        self._me: JSON | None = None
        self._me_token: str | None = None
        self._accepted = RollingCounter()
        self._attempts = RollingCounter()
        self._chats: dict[str, _ChatBucket] = {}
        self._message_ids = itertools.count(1)
        self._methods: dict[str, Callable[[JSON], Any]] = {
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
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "setmydescription": self._set_my_description,
            "getmydescription": self._get_my_description,
            "setmyshortdescription": self._set_my_short_description,
            "getmyshortdescription": self._get_my_short_description,
        }
        # The command menu and the descriptions, by language code ("" for everyone else).
        self.commands: dict[str, list[JSON]] = {}
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}

    # -------------------------------------------------------------- what tests read

    @property
    def max_per_second(self) -> int:
        """Most message requests (accepted or refused) seen in any rolling second."""
        return self._attempts.max

    @property
    def max_per_second_chat(self) -> dict[str, int]:
        return {chat: bucket.attempts.max for chat, bucket in self._chats.items()}

    @property
    def unanswered(self) -> list[str]:
        """Callback queries delivered that the bot never answered (answerCallbackQuery): the
        member's button would spin until Telegram gives up."""
        return [query for query in self.pressed if query not in self._answer_tried]

    def host_photo(
        self, url: str, content_type: str = "image/jpeg", body: bytes = b"\xff\xd8\xff"
    ) -> None:
        """Serve ``url`` (off this machine) to the fake's own photo fetches."""
        self.photos[url] = (content_type, body)

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
            if handler is None or method not in botapi_spec.methods():
                raise TelegramApiError(404, "Not Found")
            try:
                params = botapi_spec.check_call(method, await _read_params(request))
            except botapi_spec.SpecError as exc:
                raise bad_request(str(exc)) from None
            if method in _MESSAGE_METHODS:
                self._check_flood(params)
            result = handler(params)
            if inspect.isawaitable(result):
                result = await result
        except TelegramApiError as exc:
            if exc.status == 429:
                self.rate_limited += 1
            self.refused.append((request.match_info["method"], exc.status, exc.description))
            return _answer(exc.status, _error_body(exc))
        return _answer(200, {"ok": True, "result": result})

    def _check_flood(self, params: JSON) -> None:
        """30 a second for the bot, about 1 a second to a chat (a short burst tolerated), 20 a
        minute to a group: the Bot FAQ's limits, each a 429 with its own ``retry_after``."""
        now = self.clock()
        self._attempts.hit(now)
        chat = str(params.get("chat_id", ""))
        bucket = self._chats.get(chat)
        if bucket is None:
            bucket = self._chats[chat] = _ChatBucket(float(self.chat_burst), now)
        bucket.attempts.hit(now)
        if self._accepted.count(now) >= self.rate:
            raise self._flood("bot", self._accepted.wait(now))
        group = chat.startswith("-")
        if group and bucket.minute.count(now) >= self.group_rate:
            raise self._flood("group", bucket.minute.wait(now))
        if self.chat_rate != math.inf:
            tokens = bucket.tokens + (now - bucket.stamp) * self.chat_rate
            bucket.tokens, bucket.stamp = min(self.chat_burst, tokens), now
            if bucket.tokens < 1.0:
                raise self._flood("chat", (1.0 - bucket.tokens) / self.chat_rate)
            bucket.tokens -= 1.0
        if group:
            bucket.minute.hit(now)
        self._accepted.hit(now)

    def _flood(self, limit: str, wait: float) -> TelegramApiError:
        self.limited_by[limit] += 1
        return _flood(wait)

    @property
    def max_per_minute_group(self) -> dict[str, int]:
        """Most messages accepted by each group in any rolling minute."""
        return {chat: b.minute.max for chat, b in self._chats.items() if chat.startswith("-")}

    # -------------------------------------------------------------- updates to the webhook

    def wants(self, kind: str) -> bool:
        """Whether the webhook asked for updates of ``kind`` (setWebhook's allowed_updates)."""
        allowed = self.webhook.get("allowed_updates") or self.allowed_updates
        if allowed:
            return kind in allowed
        return kind not in _NOT_BY_DEFAULT

    async def deliver(self, update: JSON) -> httpx.Response | None:
        """Post ``update`` to the webhook as Telegram does, with the secret token; ``None``
        (and nothing posted) when its kind is not among those the webhook asked for."""
        url = self.webhook["url"]
        assert url, "no webhook is set: call setWebhook first"
        kinds = [k for k in update if k != "update_id"]
        assert len(kinds) == 1 and kinds[0] in botapi_spec.update_kinds(), kinds
        if not self.wants(kinds[0]):
            self.withheld.append(update)
            return None
        if self.deliver_to is not None:
            parts = urlsplit(url)
            url = self.deliver_to + parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook["secret_token"]
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=30)
        self.delivered.append(update)
        if kinds[0] == "callback_query":
            self.pressed.append(str(update["callback_query"]["id"]))
        return await self._client.post(url, json=update, headers=headers)

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        await super().stop()

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
                reply_markup=params.get("reply_markup"),
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

    async def _send_photo(self, params: JSON) -> JSON:
        chat = self._chat(params)
        photo = params.get("photo")
        if not photo:
            raise bad_request("there is no photo in the request")
        by_url = isinstance(photo, str) and photo.startswith(("http://", "https://"))
        if by_url:
            _check_file_url(photo)
            await self._fetch_photo(photo)
        elif isinstance(photo, str) and not photo.startswith("attach://"):
            if photo not in self.file_ids:
                raise bad_request(WRONG_FILE)
        caption = params.get("caption")
        visible = _visible_text(str(caption), params.get("parse_mode")) if caption else None
        if visible and len(visible) > 1024:
            raise bad_request("message caption is too long")
        markup = _check_markup(params.get("reply_markup"))
        # Each photo Telegram stores has file_ids of its own (one per size); a later
        # sendPhoto may name any of them instead of the URL, and sends that same photo.
        if isinstance(photo, str) and photo in self.file_ids:
            source = self.file_ids[photo]
            sizes = self._sizes[source]
        else:
            source = photo if isinstance(photo, str) else f"<upload {len(self._sizes)}>"
            stored = len(self.file_ids)
            sizes = [
                {"file_id": f"AgACAgQAAxk{stored + n}", "file_unique_id": f"AQAD{stored + n}",
                 "width": w, "height": w}
                for n, w in ((1, 90), (2, 320), (3, 800))
            ]  # fmt: skip
            self._sizes[source] = sizes
            self.file_ids.update((size["file_id"], source) for size in sizes)
        message = self._message(chat, photo=sizes, caption=visible, reply_markup=markup)
        url = photo if isinstance(photo, str) else "<upload>"
        self._record("sendPhoto", params, message, photo=url, caption=caption)
        return message

    async def _fetch_photo(self, url: str) -> None:
        """Fetch ``url`` as Telegram does before it sends a photo by URL: refused when it
        cannot be fetched, is not an image, or is over 5 MB."""
        self.photo_fetches.append(url)
        if url in self.photos:
            kind, body = self.photos[url]
        else:
            target = self._on_service(url)
            if target is None:
                raise bad_request(WRONG_FILE)  # off this machine, and not hosted by the test
            if self._client is None:
                self._client = httpx.AsyncClient(timeout=30)
            try:
                answer = await self._client.get(target)
            except httpx.HTTPError:
                raise bad_request(WRONG_FILE) from None
            if answer.status_code != 200:
                raise bad_request(WRONG_FILE)
            kind = answer.headers.get("content-type", "").split(";")[0].strip().lower()
            body = answer.content
        if kind not in PHOTO_TYPES:
            raise bad_request("wrong type of the web page content")
        if len(body) > PHOTO_BY_URL_LIMIT:
            raise bad_request("failed to get HTTP URL content")

    def _on_service(self, url: str) -> str | None:
        """``url`` on the service's public host (the webhook's), as the fake reaches it."""
        webhook = urlsplit(self.webhook.get("url") or "")
        parts = urlsplit(url)
        if self.deliver_to is None or not webhook.netloc or parts.netloc != webhook.netloc:
            return None
        return self.deliver_to + parts.path + (f"?{parts.query}" if parts.query else "")

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
            if name.startswith(("http://", "https://")):
                _check_file_url(name)
                if not name.lower().endswith(_DOCUMENT_BY_URL):
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
        self.answer_calls += 1
        self._answer_tried.add(query_id)
        if not query_id or query_id in self.expired_callbacks:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        alert = bool(params.get("show_alert"))
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
        connections = params.get("max_connections", 40)
        if not 1 <= connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        allowed = params.get("allowed_updates")
        if allowed is not None:
            unknown = sorted(set(allowed) - botapi_spec.update_kinds())
            if unknown:
                raise bad_request(f"can't parse allowed updates: unknown update type {unknown[0]}")
        else:  # omitted: the previous list stays
            allowed = self.webhook.get("allowed_updates") or self.allowed_updates
        self.allowed_updates = list(allowed)
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": list(self.allowed_updates),
            "max_connections": connections,
        }
        return True

    def _set_my_commands(self, params: JSON) -> bool:
        commands = params.get("commands") or []
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        for command in commands:
            name, description = str(command.get("command", "")), str(command.get("description", ""))
            if not _COMMAND_NAME.fullmatch(name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID" if description else
                                  "command description is empty")  # fmt: skip
        if len({c["command"] for c in commands}) != len(commands):
            raise bad_request("BOT_COMMAND_INVALID")
        self.commands[_language(params)] = [dict(c) for c in commands]
        return True

    def _get_my_commands(self, params: JSON) -> list[JSON]:
        return list(self.commands.get(_language(params), []))

    def _set_my_description(self, params: JSON) -> bool:
        text = str(params.get("description") or "")
        if len(text) > 512:
            raise bad_request("BOT_DESCRIPTION_INVALID")
        self.descriptions[_language(params)] = text
        return True

    def _get_my_description(self, params: JSON) -> JSON:
        return {"description": self.descriptions.get(_language(params), "")}

    def _set_my_short_description(self, params: JSON) -> bool:
        text = str(params.get("short_description") or "")
        if len(text) > 120:
            raise bad_request("BOT_ABOUT_INVALID")
        self.short_descriptions[_language(params)] = text
        return True

    def _get_my_short_description(self, params: JSON) -> JSON:
        return {"short_description": self.short_descriptions.get(_language(params), "")}

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
                info["allowed_updates"] = list(self.webhook["allowed_updates"])
        return info


_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")


def _language(params: JSON) -> str:
    """A two-letter ISO 639-1 code, or "" for everyone without a list of their own."""
    code = str(params.get("language_code") or "")
    if code and not re.fullmatch(r"[a-z]{2}", code):
        raise bad_request("LANG_CODE_INVALID")
    return code


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


def _visible_text(text: str, parse_mode: Any) -> str:
    """What the member sees: HTML is checked as Telegram parses it, then turned into text."""
    mode = str(parse_mode or "")
    if not mode:
        return text
    if mode.upper() != "HTML":
        if mode in ("Markdown", "MarkdownV2"):
            return text  # not used by the service; not checked here
        raise bad_request(f"unsupported parse_mode {mode}")
    out: list[str] = []
    open_tags: list[tuple[str, int]] = []
    at = 0
    while at < len(text):
        char = text[at]
        offset = len(text[:at].encode())
        if char == "<":
            tag = _TAG.match(text, at)
            if tag is None:
                raise _entities(f"Unclosed start tag at byte offset {offset}")
            closing, name = bool(tag.group(1)), tag.group(2).lower()
            if name not in _HTML_TAGS:
                kind = "end" if closing else "start"
                raise _entities(f'Unsupported {kind} tag "{name}" at byte offset {offset}')
            if closing:
                if not open_tags:
                    raise _entities(f"Unexpected end tag at byte offset {offset}")
                expected, _ = open_tags.pop()
                if expected != name:
                    raise _entities(
                        f'Unmatched end tag at byte offset {offset}, expected "</{expected}>", '
                        f'found "</{name}>"'
                    )
            else:
                if name == "span" and "tg-spoiler" not in tag.group(3):
                    raise _entities(
                        f'Tag "span" must have class "tg-spoiler" at byte offset {offset}'
                    )
                open_tags.append((name, offset))
            at = tag.end()
        elif char == "&":
            entity = _ENTITY.match(text, at)
            if entity is None:
                # Telegram's formatting rules: "All <, > and & symbols that are not a part of
                # a tag or an HTML entity must be replaced with the corresponding HTML entities".
                raise _entities(f'Unescaped "&" at byte offset {offset}')
            out.append(html.unescape(entity.group(0)))
            at = entity.end()
        elif char == ">":
            raise _entities(f'Unescaped ">" at byte offset {offset}')
        else:
            out.append(char)
            at += 1
    if open_tags:
        raise _entities(f'Can\'t find end tag corresponding to start tag "{open_tags[-1][0]}"')
    return "".join(out)


def _entities(detail: str) -> TelegramApiError:
    return bad_request(f"can't parse entities: {detail}")


def _check_markup(markup: JSON | None) -> JSON | None:
    """An inline keyboard's buttons as Telegram checks them (its shape is the spec's)."""
    if markup is None:
        return None
    for row in markup.get("inline_keyboard", []):
        for button in row:
            actions = [k for k in button if k not in _BUTTON_EXTRAS]
            if not actions:
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
            if len(actions) > 1:
                raise bad_request(
                    "can't parse inline keyboard button: InlineKeyboardButton must have exactly "
                    "one of the optional fields"
                )
            if not button["text"]:
                raise bad_request("BUTTON_TEXT_INVALID")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= 64:
                raise bad_request("BUTTON_DATA_INVALID")
            if "url" in button and not _button_url(button["url"]):
                raise bad_request("BUTTON_URL_INVALID")
    return markup


def _button_url(url: str) -> bool:
    """An http(s) link to a public host, or a tg:// link: what a URL button may open."""
    parts = urlsplit(url)
    if parts.scheme == "tg":
        return bool(parts.netloc)
    return parts.scheme in ("http", "https") and _public_host(parts.hostname or "")


def _public_host(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        labels = host.split(".")
        return (
            len(labels) >= 2
            and all(re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", label, re.I) for label in labels)
            and not labels[-1].isdigit()
        )
    return address.is_global


def _check_file_url(url: str) -> None:
    """A photo by URL: Telegram downloads it, so the URL must be one it can reach."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not _public_host(parts.hostname or ""):
        raise bad_request("wrong file identifier/HTTP URL specified")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake Telegram Bot API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--rate", type=float, default=30.0, help="messages per second per bot")
    parser.add_argument("--chat-rate", type=float, default=1.0, help="messages per second per chat")
    parser.add_argument("--chat-burst", type=int, default=3)
    parser.add_argument("--group-rate", type=int, default=20, help="messages per minute per group")
    parser.add_argument("--token", default=None, help="accept only this token")
    args = parser.parse_args(argv)
    fake = FakeTelegram(
        token=args.token,
        rate=args.rate,
        chat_rate=args.chat_rate,
        chat_burst=args.chat_burst,
        group_rate=args.group_rate,
        host=args.host,
        port=args.port,
    )
    run_cli(fake, "fake Telegram Bot API")


if __name__ == "__main__":
    main()
