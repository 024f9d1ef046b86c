"""WhatsApp through Twilio: signed webhooks in, Messages API calls out."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import partial

import aiohttp
from pydantic import SecretStr
from twilio.base import values
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.channels.base import (
    Capabilities,
    ChannelName,
    Outcome,
    SendResult,
    next_message_turn,
    pieces,
    split_text,
)
from bot.channels.whatsapp_content import (
    BODY_LIMIT as CONTENT_BODY_LIMIT,
)
from bot.channels.whatsapp_content import (
    ContentStore,
    Interactive,
    MemoryContentStore,
    interactive,
)
from bot.config import Settings
from bot.countries import country_from_phone
from bot.messages import InboundMessage, Kind, OutboundMessage

log = logging.getLogger(__name__)
# twilio logs every request at INFO (URL and headers); quiet unless configured otherwise.
_HTTP_LOG = logging.getLogger(f"{__name__}.http")
if _HTTP_LOG.level == logging.NOTSET:
    _HTTP_LOG.setLevel(logging.WARNING)

BODY_LIMIT = 1600
CAPTION_LIMIT = 1024  # WhatsApp shows at most this much text under an image (Meta's limit)
# A template variable: one line, no tab, no run of more than four spaces, never empty (21656);
# the template's own words and it stay within 1,024 characters (63021). Twilio advises short
# values: the notice is a title or a first line, not the news itself.
VARIABLE_LIMIT = 200
CONTENT_SID_PATTERN = r"^HX[0-9a-fA-F]{32}$"  # Twilio's OpenAPI pattern for ContentSid
CONTENT_SID = re.compile(CONTENT_SID_PATTERN)
SIGNATURE_HEADER = "X-Twilio-Signature"
STATUS_PATH = "/webhook/whatsapp/status"
SEND_TIMEOUT = 15.0  # twilio passes timeout=None to aiohttp, which means "wait forever"
RATE_LIMITED_PAUSE = 1.0  # Twilio's 429 carries no Retry-After

# 20429: too many requests in flight at once; always safe to try again, with fewer.
_RATE_LIMITED = frozenset({20429})
# Replied STOP, not on WhatsApp, blocked us, not a number, invalid recipient (WhatsApp 1026
# "receiver incapable" and 1002): every later message would fail the same way.
_UNREACHABLE = frozenset({21610, 63003, 63014, 21211, 21614, 63024})
_TRANSIENT = frozenset({20003, 20500, 20503})  # our own credentials, Twilio's 5xx
# 63018: over the sender's rate or Meta's daily limit of conversations; minutes of retries do
# not outlast a daily cap, so the channel pauses for long (``THROTTLED_PAUSE``).
_THROTTLED = frozenset({63018})
THROTTLED_PAUSE = 15 * 60.0
OUTSIDE_WINDOW = 63016  # free-form outside the 24-hour window: the template must carry it
_PERMANENT = frozenset({63016, 63021, 21617, 21656, 21655, 63019})

DEFAULT_API_URL = "https://api.twilio.com"
CONTENT_API_URL = "https://content.twilio.com"
# The Content API refused to make an item (a limit we did not know): kept as refused. Other
# failures (credentials, rate, Twilio's 5xx, the network) are tried again with the next message.
_REFUSED_STATUSES = frozenset({400, 404, 409, 413, 422})
# A ContentSid Twilio no longer knows (deleted in its console): made again next time.
_UNKNOWN_CONTENT = frozenset({21655, 20404})

CAPABILITIES = Capabilities(
    # Choices go as quick replies or a list (``whatsapp_content``) where they fit, else as
    # numbered lines (see ``base.as_text``); a typed number is read either way.
    buttons=False,
    text_limit=BODY_LIMIT,
    caption_limit=CAPTION_LIMIT,  # an image's text is the message's body
    # Outside it only an approved template may start the conversation.
    reply_window=timedelta(hours=24),
    # Twilio fetches the media types it knows: a plain text file, not a JSON one.
    document_by_link=frozenset({"txt", "pdf"}),
    typed_commands=False,
    reads_outbox=False,
    choice_taps=True,
)


def classify_error(code: int | None, http_status: int | None) -> Outcome:
    """What to do after a Twilio error code (REST answer or status callback) or HTTP status.

    ``(None, None)`` is a network error. A 401 (code 20003) is retried: the credentials are
    wrong for every message, not for this one, and the operator will fix them.
    """
    if code in _RATE_LIMITED or code in _THROTTLED or http_status == 429:
        return Outcome.RATE_LIMITED
    if code in _UNREACHABLE:
        return Outcome.UNREACHABLE
    if code in _TRANSIENT:
        return Outcome.RETRY
    if code in _PERMANENT:
        return Outcome.FAILED
    if http_status is None:
        return Outcome.RETRY if code is None else Outcome.FAILED
    if http_status >= 500 or http_status == 401:
        return Outcome.RETRY
    return Outcome.FAILED


class WhatsAppChannel:
    """Checks and parses Twilio's WhatsApp webhooks and sends our messages through Twilio."""

    name = ChannelName.WHATSAPP
    capabilities = CAPABILITIES

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.whatsapp_enabled
        self._account_sid = settings.twilio_account_sid or ""
        self._auth_token = _secret(settings.twilio_auth_token)
        self._validator = RequestValidator(self._auth_token)
        self._from = settings.whatsapp_from
        self._api_url = settings.twilio_api_url
        self._status_callback = (
            f"{settings.public_url}{STATUS_PATH}" if settings.public_url else None
        )
        self._pool_size = max(1, settings.sender_concurrency)
        self._http: AsyncTwilioHttpClient | None = None
        self._client: Client | None = None
        # Where the content items made so far are kept; the service shares its database's.
        self.contents: ContentStore = MemoryContentStore()

    @property
    def client(self) -> Client:
        """The twilio REST client, built on first use (its aiohttp session needs a loop)."""
        if self._client is None:
            http = AsyncTwilioHttpClient(pool_connections=False, logger=_HTTP_LOG)
            http.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size)
            )
            client = Client(self._account_sid, self._auth_token, http_client=http)
            client.edge = client.region = None  # TWILIO_EDGE/REGION would rewrite the host
            # The Api domain's root: messages go to {TWILIO_API_URL}/2010-04-01/Accounts/...
            client.api.base_url = self._api_url
            # A stand-in for Twilio (a proxy or a test fake) serves the Content API too.
            if self._api_url != DEFAULT_API_URL:
                client.content.base_url = self._api_url
            self._http, self._client = http, client
        return self._client

    async def start(self) -> None:
        if not self.enabled:
            log.info("whatsapp: off (TWILIO_* unset)")
            return
        _ = self.client
        log.info("whatsapp: on, status callbacks %s", "on" if self._status_callback else "off")

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._http = self._client = None

    # ------------------------------------------------------------------ inbound

    def verify(self, url: str, headers: Mapping[str, str], form: Mapping[str, str]) -> bool:
        """Whether X-Twilio-Signature matches; ``url`` is the public URL Twilio called.

        Pass a ``FormPairs`` to keep every value of a name posted twice: Twilio signs each of
        them, which a plain dict would have collapsed to one. Only the X-Twilio-Signature
        (HMAC-SHA1 with the auth token) is checked: a request signed only with the SharedKey
        scheme of Twilio's webhook rules is refused.
        """
        signature = headers.get(SIGNATURE_HEADER)
        if not signature or not self._auth_token:
            return False  # without a key, anyone could make a valid signature: fail closed
        params = form if isinstance(form, FormPairs) else dict(form)
        return bool(self._validator.validate(url, params, signature))

    def parse(self, form: Mapping[str, str]) -> InboundMessage:
        """An inbound webhook form as an ``InboundMessage``; unknown fields are ignored."""
        sid, sender = form.get("MessageSid"), form.get("From")
        if not sid or not sender:
            raise ValueError("not a Twilio message: MessageSid and From are required")
        found = InboundMessage(
            channel="whatsapp",
            platform_id=sid,
            address=sender,
            kind=Kind.UNSUPPORTED,
            text=(form.get("Body") or "").strip(),
            country_hint=country_from_phone(sender),
        )
        # A tap on a quick reply, or a row picked from a list: its id is our button's payload.
        if payload := form.get("ButtonPayload"):
            found.kind, found.payload = Kind.BUTTON, payload
            found.text = found.text or (form.get("ButtonText") or "").strip()
        elif payload := form.get("ListId"):
            found.kind, found.payload = Kind.BUTTON, payload
            found.text = found.text or (form.get("ListTitle") or "").strip()
        elif _count(form.get("NumMedia")) > 0 or form.get("Latitude"):
            # A photo with a caption is media, as on Telegram: what cannot be passed on is
            # said so, rather than the caption going alone as if it were all.
            found.kind = Kind.MEDIA
        elif found.text:
            found.kind = Kind.TEXT
        return found

    def report_outcome(self, status: str, error: str | None) -> Outcome | None:
        """What a status report means for the member: a final failure with ``error`` is
        classified as a refusal at send time would be; None for anything else."""
        if status not in ("failed", "undelivered"):
            return None
        code = int(error) if error and error.isdigit() else None
        return classify_error(code, None)

    def parse_status(self, form: Mapping[str, str]) -> tuple[str, str, str | None]:
        """``(message sid, status, error code or None)`` from a status callback."""
        sid, status = form.get("MessageSid"), form.get("MessageStatus")
        if not sid or not status:
            raise ValueError("not a Twilio status callback: MessageSid and MessageStatus needed")
        return sid, status.lower(), (form.get("ErrorCode") or None)

    # ------------------------------------------------------------------ outbound

    async def send(self, address: str, message: OutboundMessage) -> SendResult:
        """Send one message, split into several when longer than Twilio's 1600 characters."""
        if not self.enabled:
            return SendResult(Outcome.FAILED, error_code="channel_off")
        if message.callback_id and not message.text.strip():
            return SendResult(Outcome.SENT)  # no callback queries to answer on WhatsApp
        if message.template:
            return await self._send_template(address, message)
        if message.choices() and not message.image_url and not message.document:
            sent = await self._send_interactive(address, message)
            if sent is not None:
                return sent
        return await self._send_plain(address, message)

    async def _send_plain(self, address: str, message: OutboundMessage) -> SendResult:
        bodies = pieces(message, CAPABILITIES)
        document = (message.document or {}).get("url")
        if not bodies and not message.image_url and not document:
            return SendResult(Outcome.FAILED, error_code="empty_message")
        sid = ""
        # WhatsApp shows no caption with a document: the text goes first, the file alone after.
        # An image takes the first piece as its caption when that fits under one (1,024);
        # otherwise the image goes alone, first, and the text after it.
        sends: list[tuple[str, str | None]] = [
            (body, message.image_url if number == 0 else None)
            for number, body in enumerate(bodies or ([] if document else [""]))
        ]
        if message.image_url and sends and len(sends[0][0]) > CAPTION_LIMIT:
            sends = [("", message.image_url)] + [(body, None) for body, _ in sends]
        if document:
            sends.append(("", document))
        try:
            for number, (body, attached) in enumerate(sends):
                if number:
                    # Each piece is a message of its own under the sender's rate: the first
                    # went on the row's turn, the others wait for theirs.
                    await next_message_turn()
                media = [attached] if attached else values.unset
                async with asyncio.timeout(SEND_TIMEOUT):
                    created = await self.client.messages.create_async(
                        to=address,
                        from_=self._from,
                        body=body or values.unset,
                        media_url=media,
                        status_callback=self._status_callback or values.unset,
                    )
                sid = created.sid or ""
        except TwilioException as exc:
            code, status = getattr(exc, "code", None), getattr(exc, "status", None)
            return self._failed(classify_error(code, status), str(code or status or "twilio"))
        except (aiohttp.ClientError, TimeoutError):
            return self._failed(Outcome.RETRY, "network")
        log.debug("whatsapp: accepted %s", sid)
        return SendResult(Outcome.SENT, platform_id=sid)

    async def _send_interactive(self, address: str, message: OutboundMessage) -> SendResult | None:
        """The choices as quick replies or a list under the message's text (its last piece,
        when it is longer than one item's body); None when they must go as numbered text."""
        texts = split_text(message.text, BODY_LIMIT)
        if texts and len(texts[-1]) > CONTENT_BODY_LIMIT:
            texts[-1:] = split_text(texts[-1], CONTENT_BODY_LIMIT)
        contents = interactive(texts[-1] if texts else "", message.choices(), message.locale,
                               message.picker, message.more_choices)  # fmt: skip
        if contents is None:
            return None
        sids: list[str] = []
        for content in contents:
            try:
                sid = await self.contents.sid_for(content.digest, partial(self._make, content))
            except (TwilioException, aiohttp.ClientError, TimeoutError) as exc:
                log.info("whatsapp: content item not made (%s): numbered text", type(exc).__name__)
                return None
            if sid is None:
                return None
            sids.append(sid)
        sends: list[dict[str, object]] = [{"body": text} for text in texts[:-1]]
        for sid, content in zip(sids, contents, strict=True):
            send: dict[str, object] = {"content_sid": sid}
            if content.variables:  # a list's rows
                send["content_variables"] = json.dumps(content.variables, ensure_ascii=False)
            sends.append(send)
        created_sid = ""
        try:
            for number, fields in enumerate(sends):
                if number:
                    await next_message_turn()
                async with asyncio.timeout(SEND_TIMEOUT):
                    created = await self.client.messages.create_async(
                        to=address,
                        from_=self._from,
                        status_callback=self._status_callback or values.unset,
                        **fields,  # type: ignore[arg-type]
                    )
                created_sid = created.sid or ""
        except TwilioException as exc:
            code, status = getattr(exc, "code", None), getattr(exc, "status", None)
            if code in _UNKNOWN_CONTENT:
                for content in contents:
                    await self.contents.forget(content.digest)
                if not created_sid:  # nothing of it went yet: all of it as numbered text
                    return await self._send_plain(address, message)
            return self._failed(classify_error(code, status), str(code or status or "twilio"))
        except (aiohttp.ClientError, TimeoutError):
            return self._failed(Outcome.RETRY, "network")
        log.debug("whatsapp: accepted %s with choices", created_sid)
        return SendResult(Outcome.SENT, platform_id=created_sid)

    async def _make(self, content: Interactive) -> str | None:
        """Create the content item; None when the Content API refuses it for good."""
        # twilio's async client would post ``contents.create_async``'s JSON as a form (it
        # hands the dict to aiohttp as ``data``): the body goes as JSON text here instead.
        body = json.dumps(content.request(), ensure_ascii=False)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                made = await self.client.content.v1.create_async(
                    "POST", "/Content", data=body, headers=headers  # type: ignore[arg-type]
                )
        except TwilioException as exc:
            if getattr(exc, "status", None) in _REFUSED_STATUSES:
                log.warning("whatsapp: the Content API refused an item (%s): numbered text",
                            getattr(exc, "code", None))  # fmt: skip
                return None
            raise
        sid = made.get("sid") if isinstance(made, dict) else None
        log.info("whatsapp: content item %s made", sid)
        return sid or None

    async def _send_template(self, address: str, message: OutboundMessage) -> SendResult:
        """Outside the 24-hour window only an approved template may start the conversation:
        its variable 1 carries a short notice (see ``template_variable``); the full message
        waits for the member's answer (the sender keeps it)."""
        if not CONTENT_SID.fullmatch(message.template or ""):
            return self._failed(Outcome.FAILED, "21655")
        notice = template_variable(message.teaser or message.text)
        variables = json.dumps({"1": notice}, ensure_ascii=False)
        try:
            async with asyncio.timeout(SEND_TIMEOUT):
                created = await self.client.messages.create_async(
                    to=address,
                    from_=self._from,
                    content_sid=message.template,
                    content_variables=variables,
                    status_callback=self._status_callback or values.unset,
                )
        except TwilioException as exc:
            code, status = getattr(exc, "code", None), getattr(exc, "status", None)
            return self._failed(classify_error(code, status), str(code or status or "twilio"))
        except (aiohttp.ClientError, TimeoutError):
            return self._failed(Outcome.RETRY, "network")
        return SendResult(Outcome.SENT, platform_id=created.sid or "", templated=True)

    def _failed(self, outcome: Outcome, error_code: str) -> SendResult:
        log.info("whatsapp: send failed: %s (%s)", outcome, error_code)
        pause = 0.0
        if outcome == Outcome.RATE_LIMITED:
            pause = THROTTLED_PAUSE if error_code == "63018" else RATE_LIMITED_PAUSE
        return SendResult(outcome, error_code=error_code, retry_after=pause)


def template_variable(text: str, limit: int = VARIABLE_LIMIT) -> str:
    """A notice fit for a template variable: the first line with text, its whitespace squeezed
    to single spaces, cut at a word within ``limit`` characters (with an ellipsis)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    line = re.sub(r"\s+", " ", first).strip()
    if len(line) > limit:
        cut = line.rfind(" ", 0, limit)
        line = line[: cut if cut > limit // 2 else limit - 1].rstrip(" ,;:.-") + "…"
    return line or "…"


class FormPairs(dict[str, str]):
    """A posted form: the last value of each name, and all of them through ``getall`` (which
    ``RequestValidator`` reads, so that a name posted twice is checked as Twilio signed it)."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self._all: dict[str, list[str]] = {}
        for name, value in pairs:
            self._all.setdefault(name, []).append(value)

    def getall(self, name: str) -> list[str]:
        return self._all.get(name, [])


def _count(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _secret(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value is not None else ""
