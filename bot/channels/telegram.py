"""Telegram: webhook updates in, Bot API calls out, through python-telegram-bot."""

from __future__ import annotations

import functools
import hmac
import html
import logging
import re
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from pydantic import SecretStr
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from bot.channels.base import (
    Capabilities,
    ChannelName,
    Outcome,
    SendResult,
    next_message_turn,
    split_text,
)
from bot.channels.telegram_http import AiohttpRequest
from bot.config import Settings
from bot.messages import Button, InboundMessage, Kind, OutboundMessage

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096  # characters of a message, after HTML is parsed
CAPTION_LIMIT = 1024
NOTICE_LIMIT = 200  # answerCallbackQuery text
# The update kinds the bot reads, asked for by name in setWebhook: Telegram sends no other.
# my_chat_member is its only word that a member blocked or unblocked the bot; an edit of a
# message already answered changes nothing, so edits are not asked for.
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

CAPABILITIES = Capabilities(
    buttons=True,
    text_limit=TEXT_LIMIT,
    caption_limit=CAPTION_LIMIT,
    reply_window=None,
    document_by_link=frozenset({"pdf", "zip"}),  # any other file is uploaded with the message
    typed_commands=True,
    reads_outbox=False,
)

_TOKEN = re.compile(r"bot\d+:[\w-]+")
_UNREACHABLE_CHAT = ("chat not found", "user not found", "peer_id_invalid")
_FORBIDDEN = {
    "blocked by the user": "blocked",
    "user is deactivated": "deactivated",
    "kicked": "kicked",
    "can't initiate conversation": "not_started",
}


class TelegramChannel:
    """Parses Telegram updates and sends our messages to Telegram chats."""

    name = ChannelName.TELEGRAM
    capabilities = CAPABILITIES

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.telegram_enabled
        self._staff_chats = settings.staff_chats
        token = _secret(settings.telegram_bot_token)
        # The bot's own user id is the token's first part: replies to our messages carry it.
        self._bot_id = int(token.split(":")[0]) if token.split(":")[0].isdigit() else None
        self._secret = _secret(settings.telegram_webhook_secret).encode()
        self._request = AiohttpRequest(connection_pool_size=max(1, settings.sender_concurrency))
        self._updates_request = AiohttpRequest(connection_pool_size=1)
        self.bot: Bot | None = None
        self._moved: dict[str, str] = {}  # a group's configured id -> its supergroup's id
        self._moved_back: dict[str, str] = {}
        if self.enabled:
            _hide_secrets_in_library_logs()
            # We call sendMessage through do_api_request on purpose (see _deliver).
            warnings.filterwarnings(
                "ignore", message=r"Please use 'Bot\.sendMessage'", category=PTBUserWarning
            )
            api = settings.telegram_api_url
            # PTB appends the token to base_url: requests go to {api}/bot{token}/{method}.
            self.bot = Bot(
                _secret(settings.telegram_bot_token),
                base_url=f"{api}/bot",
                base_file_url=f"{api}/file/bot",
                request=self._request,
                get_updates_request=self._updates_request,
            )

    async def start(self) -> None:
        """Check the token with getMe; sending works without it, so failures only warn."""
        if self.bot is None:
            log.info("telegram: off (TELEGRAM_BOT_TOKEN unset)")
            return
        try:
            await self.bot.initialize()
        except InvalidToken:  # its message contains the token: never log it
            log.error("telegram: the Bot API rejected TELEGRAM_BOT_TOKEN")
        except TelegramError as exc:
            log.warning("telegram: getMe failed (%s); will keep trying", type(exc).__name__)
        else:
            log.info("telegram: on as @%s", self.bot.username)

    async def stop(self) -> None:
        if self.bot is not None:
            await self.bot.shutdown()
        await self._request.shutdown()
        await self._updates_request.shutdown()

    # ------------------------------------------------------------------ inbound

    def verify(self, url: str, headers: Mapping[str, str], form: Mapping[str, str]) -> bool:
        """Whether the X-Telegram-Bot-Api-Secret-Token header is ours."""
        header = headers.get(SECRET_HEADER)
        if not header or not self._secret:
            return False
        return hmac.compare_digest(header.encode(), self._secret)

    def parse(self, data: Any) -> InboundMessage | None:
        """One webhook update as an ``InboundMessage``; ``ValueError`` when it is not one."""
        update_id = data.get("update_id") if isinstance(data, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            raise ValueError("not a Telegram update: no integer update_id")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", PTBDeprecationWarning)
                update = Update.de_json(data, self.bot)
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise ValueError(f"malformed Telegram update {update_id}") from exc
        found = _inbound(update)
        moved = _moved_chat(update)
        if moved is not None:
            old, new = moved
            if self._moved.get(old) != new:
                self.follow(old, new)
                log.error(
                    "telegram: group %s became the supergroup %s; set ADMIN_TELEGRAM_CHAT_ID "
                    "or SAFEGUARDING_TELEGRAM_CHAT_ID to %s", old, new, new,
                )  # fmt: skip
            found.address, found.payload = old, f"chat_moved:{new}"
            return found
        found.address = self._moved_back.get(found.address, found.address)
        if found.kind == Kind.UNSUPPORTED and found.address in self._staff_chats:
            _staff_reply(update, found, self._bot_id)
        return found

    def parse_status(self, form: Mapping[str, str]) -> tuple[str, str, str | None]:
        """Telegram reports no delivery statuses: no call is one."""
        raise ValueError("Telegram sends no status callbacks")

    # ------------------------------------------------------------------ outbound

    def follow(self, address: str, moved_to: str) -> None:
        """``address`` (a group) lives at ``moved_to`` now: send there, and read what comes
        from there as from ``address``, the id the configuration and the outbox know."""
        self._moved[address] = moved_to
        self._moved_back[moved_to] = address

    async def send(self, address: str, message: OutboundMessage) -> SendResult:
        """Send one message (or answer one callback query) and say how it went. A group that
        became a supergroup is followed to its new id: the message goes there, and the
        result's ``moved_to`` says where, so that the move is kept."""
        result = await self._send(self._moved.get(address, address), message)
        if result.moved_to is None:
            return result
        moved_to = result.moved_to
        self.follow(address, moved_to)
        # Group ids are no one's personal data; the operator needs them to fix the setting.
        log.error(
            "telegram: group %s became the supergroup %s; its messages go there now. "
            "Set ADMIN_TELEGRAM_CHAT_ID or SAFEGUARDING_TELEGRAM_CHAT_ID to %s where it was %s",
            address, moved_to, moved_to, address,
        )  # fmt: skip
        await next_message_turn()  # the refused call counted too
        again = await self._send(moved_to, message)
        again.moved_to = moved_to
        return again

    async def _send(self, address: str, message: OutboundMessage) -> SendResult:
        if self.bot is None:
            return SendResult(Outcome.FAILED, error_code="channel_off")
        try:
            if message.callback_id:
                notice = (message.notice or "")[:NOTICE_LIMIT] or None
                await self.bot.answer_callback_query(message.callback_id, text=notice)
                return SendResult(Outcome.SENT)
            if not message.text.strip() and not message.image_url and not message.document:
                return SendResult(Outcome.FAILED, error_code="empty_message")
            if message.edit_message_id:
                return await self._edit(address, message)
            sent_id, file_id = await self._deliver(address, message)
        except TelegramError as exc:
            result = classify_error(exc)
            if result.outcome == Outcome.RATE_LIMITED and address.startswith("-"):
                result.chat_only = True  # a group's 20 a minute: that group waits, not the bot
            log.info("telegram: send failed: %s (%s)", result.outcome, result.error_code)
            return result
        return SendResult(Outcome.SENT, platform_id=str(sent_id), file_id=file_id)

    async def _edit(self, chat_id: str, message: OutboundMessage) -> SendResult:
        """Replace the text of an earlier message (a progress report that keeps up)."""
        assert self.bot is not None
        try:
            await self.bot.edit_message_text(
                html.escape(message.text.strip()[:TEXT_LIMIT], quote=False),
                chat_id=chat_id,
                message_id=message.edit_message_id,
                parse_mode=ParseMode.HTML,
            )
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise
        return SendResult(Outcome.SENT, platform_id=str(message.edit_message_id))

    async def _deliver(self, chat_id: str, message: OutboundMessage) -> tuple[int, str | None]:
        """Photo first if any, then the text in pieces that fit; buttons go on the last one.
        Returns the id of the last message sent, and the photo's file_id if one went (by URL
        or by file_id: ``image_url`` may be either)."""
        assert self.bot is not None
        keyboard = _keyboard(message.buttons)
        text = message.text.strip()
        if message.document:
            return await self._send_document(chat_id, message.document, text, keyboard), None
        turn = _Turns()
        if message.image_url:
            if len(text) <= CAPTION_LIMIT:
                photo = await self.bot.send_photo(
                    chat_id,
                    message.image_url,
                    caption=html.escape(text, quote=False) or None,
                    parse_mode=ParseMode.HTML if text else None,
                    reply_markup=keyboard,
                )
                return photo.message_id, _file_id(photo)
            photo = await self.bot.send_photo(chat_id, message.image_url)
            turn.taken()
            return await self._send_pieces(chat_id, text, keyboard, turn.next), _file_id(photo)
        return await self._send_pieces(chat_id, text, keyboard, turn.next), None

    async def _send_pieces(
        self,
        chat_id: str,
        text: str,
        keyboard: InlineKeyboardMarkup | None,
        next_turn: Callable[[], Awaitable[None]],
    ) -> int:
        """``text`` in as many messages as Telegram's limit needs, each waiting for its turn,
        the buttons with the last; the last message's id."""
        assert self.bot is not None
        pieces = split_text(text, TEXT_LIMIT)
        sent_id = 0
        for number, piece in enumerate(pieces, start=1):
            params: dict[str, Any] = {
                "chat_id": chat_id,
                "text": html.escape(piece, quote=False),
                "parse_mode": ParseMode.HTML,
            }
            if keyboard is not None and number == len(pieces):
                params["reply_markup"] = keyboard  # the buttons go with the last piece
            await next_turn()
            # The raw answer: building a full Message object for every broadcast message
            # would cost more than the rest of sending it.
            result = await self.bot.do_api_request("sendMessage", api_kwargs=params)
            sent_id = int(result["message_id"])
        return sent_id

    async def _send_document(
        self,
        chat_id: str,
        document: dict[str, str],
        text: str,
        keyboard: InlineKeyboardMarkup | None,
    ) -> int:
        """A file, uploaded when its content is at hand (the Bot API takes only PDF and ZIP
        files by URL), with the text as its caption, or after it when too long for one."""
        assert self.bot is not None
        content = document.get("content")
        sent: Any = (
            InputFile(content.encode(), filename=document.get("filename") or "file")
            if content is not None
            else document["url"]
        )
        caption = text if len(text) <= CAPTION_LIMIT else ""
        result = await self.bot.send_document(
            chat_id,
            sent,
            caption=html.escape(caption, quote=False) or None,
            parse_mode=ParseMode.HTML if caption else None,
            reply_markup=keyboard if caption or not text else None,  # else on the text
        )
        if text and not caption:  # the document took the first turn
            return await self._send_pieces(chat_id, text, keyboard, next_message_turn)
        return result.message_id

    async def set_webhook(
        self,
        url: str,
        secret: str | None = None,
        allowed_updates: Sequence[str] = ALLOWED_UPDATES,
        *,
        max_connections: int = 40,
        drop_pending_updates: bool = False,
    ) -> bool:
        """Point Telegram at our webhook; ``secret`` defaults to TELEGRAM_WEBHOOK_SECRET."""
        assert self.bot is not None, "telegram is off"
        return await self.bot.set_webhook(
            url,
            secret_token=secret if secret is not None else self._secret.decode() or None,
            allowed_updates=list(allowed_updates),
            max_connections=max_connections,
            drop_pending_updates=drop_pending_updates,
        )

    async def set_profile(
        self,
        language_code: str,
        commands: Sequence[tuple[str, str]],
        description: str,
        short_description: str,
    ) -> None:
        """The command menu a member sees on typing "/", and the bot's description (in the empty
        chat) and short description (on its profile), for one language ("" for all others)."""
        assert self.bot is not None, "telegram is off"
        code = language_code or None
        await self.bot.set_my_commands(
            [BotCommand(name, text) for name, text in commands], language_code=code
        )
        await self.bot.set_my_description(description, language_code=code)
        await self.bot.set_my_short_description(short_description, language_code=code)

    async def delete_webhook(self) -> bool:
        assert self.bot is not None, "telegram is off"
        return await self.bot.delete_webhook()

    async def webhook_info(self) -> dict[str, Any]:
        """What Telegram knows of our webhook: url, pending updates, last error."""
        assert self.bot is not None, "telegram is off"
        return (await self.bot.get_webhook_info()).to_dict()


class _Turns:
    """The first platform message of a send goes on the turn the sender gave it; each further
    one waits for a turn of its own (``next_message_turn``)."""

    def __init__(self) -> None:
        self._sent = 0

    def taken(self) -> None:
        self._sent += 1

    async def next(self) -> None:
        if self._sent:
            await next_message_turn()
        self._sent += 1


def classify_error(exc: TelegramError) -> SendResult:
    """What the sender should do after ``exc``; see PLATFORMS.md for the cases."""
    if isinstance(exc, RetryAfter):
        return SendResult(
            Outcome.RATE_LIMITED, error_code="retry_after", retry_after=_retry_after(exc)
        )
    if isinstance(exc, ChatMigrated):
        return SendResult(Outcome.FAILED, error_code="chat_migrated", moved_to=str(exc.new_chat_id))
    if isinstance(exc, Forbidden):
        reason = exc.message.lower()
        code = next((c for text, c in _FORBIDDEN.items() if text in reason), "forbidden")
        return SendResult(Outcome.UNREACHABLE, error_code=code)
    if isinstance(exc, BadRequest):  # before NetworkError: it is a subclass
        if any(text in exc.message.lower() for text in _UNREACHABLE_CHAT):
            return SendResult(Outcome.UNREACHABLE, error_code="chat_not_found")
        return SendResult(Outcome.FAILED, error_code="bad_request")
    if isinstance(exc, TimedOut):
        return SendResult(Outcome.RETRY, error_code="timed_out")
    if isinstance(exc, NetworkError):  # connection errors and 5xx
        return SendResult(Outcome.RETRY, error_code="network")
    if isinstance(exc, InvalidToken):
        log.error("telegram: the Bot API rejected TELEGRAM_BOT_TOKEN")
        return SendResult(Outcome.RETRY, error_code="invalid_token")
    return SendResult(Outcome.RETRY, error_code=type(exc).__name__)


def _inbound(update: Update) -> InboundMessage:
    user, chat = update.effective_user, update.effective_chat
    address = str(chat.id) if chat else str(user.id) if user else ""
    found = InboundMessage(
        channel="telegram",
        platform_id=str(update.update_id),
        address=address,
        kind=Kind.UNSUPPORTED,
        lang_hint=user.language_code if user else None,
    )
    private = chat is not None and chat.type == ChatType.PRIVATE
    if (query := update.callback_query) is not None:
        # Answered even when ignored, or the member's button keeps spinning.
        data = query.data if isinstance(query.data, str) else None
        found.callback_id, found.payload = query.id, data
        if (private or chat is None) and data:
            found.kind = Kind.BUTTON
    elif not private:
        pass  # groups, channels, inline queries: not a conversation with one member
    elif update.edited_message is not None:
        found.kind = Kind.EDITED
    elif (message := update.message) is not None:
        if isinstance(message.text, str):
            found.kind, found.text = Kind.TEXT, message.text
        elif message.effective_attachment is not None:
            found.kind, found.text = Kind.MEDIA, message.caption or ""
    elif (member := update.my_chat_member) is not None:
        # Lets the engine notice a member who blocked (kicked) or unblocked the bot.
        found.payload = f"my_chat_member:{member.new_chat_member.status}"
    return found


def _moved_chat(update: Update) -> tuple[str, str] | None:
    """(old id, new id) when ``update`` is Telegram's word that a group became a supergroup:
    a service message in the old group (migrate_to_chat_id) or in the new one
    (migrate_from_chat_id)."""
    message = update.message
    if message is None:
        return None
    if message.migrate_to_chat_id:
        return str(message.chat.id), str(message.migrate_to_chat_id)
    if message.migrate_from_chat_id:
        return str(message.migrate_from_chat_id), str(message.chat.id)
    return None


def _staff_reply(update: Update, found: InboundMessage, bot_id: int | None) -> None:
    """A text in a staff chat that replies to one of our messages: an answer to a member; or a
    button of ours pressed there (the focal point's "Not a concern")."""
    if (query := update.callback_query) is not None:
        if found.payload:
            found.kind, found.text, found.lang_hint = Kind.STAFF, "", None
            found.sender = str(query.from_user.id) if query.from_user else None
        return
    message = update.message
    replied = message.reply_to_message if message is not None else None
    if message is None or replied is None or not isinstance(message.text, str):
        return
    author = replied.from_user
    if author is None or not author.is_bot or (bot_id is not None and author.id != bot_id):
        return  # staff talking among themselves
    found.kind, found.text = Kind.STAFF, message.text
    found.payload, found.lang_hint = str(replied.message_id), None


def _keyboard(rows: list[list[Button]]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return _markup(tuple(tuple((b.label, b.url, b.payload) for b in row) for row in rows if row))


@functools.lru_cache(maxsize=4096)
def _markup(rows: tuple[tuple[tuple[str, str | None, str], ...], ...]) -> InlineKeyboardMarkup:
    """The markup of these buttons, built once: python-telegram-bot's objects are frozen, and
    building them costs more than the rest of a send (the menus repeat in every locale)."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(label, url=url)
                if url
                else InlineKeyboardButton(label, callback_data=payload)
                for label, url, payload in row
            ]
            for row in rows
        ]
    )


def _retry_after(exc: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that retry_after becomes a timedelta
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""


class _HideSecrets(logging.Filter):
    """Keeps the bot token (in every URL) and message texts out of the HTTP clients' and PTB's logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "telegram.Bot" and str(record.msg).startswith(
            ("Calling Bot API endpoint", "Call to Bot API endpoint")
        ):
            return False  # these carry the parameters: chat ids and texts
        text = record.getMessage()
        if _TOKEN.search(text):
            record.msg, record.args = _TOKEN.sub("bot<token>", text), None
        return True


def _hide_secrets_in_library_logs() -> None:
    for name in (
        "httpx",
        "aiohttp.client",
        "aiohttp.internal",
        "telegram.Bot",
        "telegram.ext.ExtBot",
    ):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _HideSecrets) for f in logger.filters):
            logger.addFilter(_HideSecrets())


def _file_id(sent: Any) -> str | None:
    """The file_id of the largest size of a photo Telegram stored (any size names it)."""
    sizes = getattr(sent, "photo", None) or ()
    return sizes[-1].file_id if sizes else None
