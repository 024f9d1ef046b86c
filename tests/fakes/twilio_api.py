"""A fake Twilio Messages API for WhatsApp, with its errors and signed status callbacks."""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import re
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from tests.fakes.server import FakeServer, Fault, RollingCounter, run_cli

JSON = dict[str, Any]
API = "/2010-04-01/Accounts/{account}"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_WHATSAPP_ADDRESS = re.compile(r"whatsapp:\+[1-9]\d{6,14}")


def new_sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


def bare(number: str) -> str:
    """``whatsapp:+40...`` and ``+40...`` name the same member."""
    return number.removeprefix("whatsapp:")


@dataclass(slots=True)
class TwilioMessage:
    """A message the fake accepted, and the statuses it reported for it."""

    sid: str
    to: str
    from_: str
    body: str
    content_sid: str | None
    content_variables: str | None
    media_url: list[str]
    status_callback: str | None
    time: float
    statuses: list[str] = field(default_factory=list)


@dataclass(slots=True)
class StatusCallback:
    """A status callback the fake sent (or only recorded, when its URL was not local)."""

    url: str  # the URL it was signed for
    delivered_to: str | None  # where it was actually POSTed, None when only recorded
    params: dict[str, str]
    signature: str
    response_status: int | None = None


@dataclass(slots=True)
class ContentTemplate:
    """A Content API template and its WhatsApp approval, as the Content API reports it."""

    sid: str
    language: str
    name: str = "news"
    # "approved", "pending", "received", "rejected", "paused", "disabled" or "unsubmitted"
    status: str = "approved"
    rejection_reason: str = ""
    category: str = "UTILITY"
    body: str = "News from the coalition: {{1}}"


def new_content_sid() -> str:
    return new_sid("HX")


class TwilioApiError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> JSON:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            "status": self.status,
        }


Order = Literal["normal", "reverse", "shuffle"]
CallbackHook = Callable[[StatusCallback], Awaitable[int | None]]


class FakeTwilio(FakeServer):
    """Twilio's Messages resource for one account and its WhatsApp sender."""

    def __init__(
        self,
        *,
        account_sid: str = "AC" + "0" * 32,
        auth_token: str = "t" * 32,
        sender: str | None = None,
        rate: float | None = 80.0,
        opted_out: Iterable[str] = (),
        not_on_whatsapp: Iterable[str] = (),
        outside_window: Iterable[str] = (),
        blocked: Iterable[str] = (),
        statuses: tuple[str, ...] = ("sent", "delivered", "read"),
        callback_delay: float = 0.01,
        callback_order: Order = "normal",
        callback_repeat: int = 1,
        deliver_to: str | None = None,
        on_callback: CallbackHook | None = None,
        seed: int | None = None,
        account_status: str = "active",
        numbers: Iterable[str] | None = None,
        templates: Iterable[ContentTemplate] = (),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.account_sid, self.auth_token = account_sid, auth_token
        self.sender = bare(sender) if sender else None  # None: any From is ours
        self.rate = float("inf") if rate is None else rate
        self.opted_out = {bare(n) for n in opted_out}
        self.not_on_whatsapp = {bare(n) for n in not_on_whatsapp}
        self.outside_window = {bare(n) for n in outside_window}
        self.blocked = {bare(n) for n in blocked}
        self.statuses = statuses
        self.callback_delay = callback_delay
        self.callback_order: Order = callback_order
        self.callback_repeat = callback_repeat
        self.deliver_to = deliver_to.rstrip("/") if deliver_to else None
        self.on_callback = on_callback
        self.account_status = account_status  # "active", "suspended" or "closed"
        # The account's phone numbers (IncomingPhoneNumbers); None: only the sender, if any.
        self.numbers = (
            {bare(n) for n in numbers}
            if numbers is not None
            else ({self.sender} if self.sender else set())
        )
        self.templates = {t.sid: t for t in templates}  # the Content API's resources
        self.messages: list[TwilioMessage] = []
        self.callbacks: list[StatusCallback] = []
        self.requests = 0
        self.rate_limited = 0
        self._attempts = RollingCounter()
        self._accepted = RollingCounter()
        self._validator = RequestValidator(auth_token)
        self._random = random.Random(seed)
        self._auth = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None

    @property
    def max_per_second(self) -> int:
        """Most message requests (accepted or refused) seen in any rolling second."""
        return self._attempts.max

    def by_sid(self, sid: str) -> TwilioMessage:
        return next(m for m in self.messages if m.sid == sid)

    async def settle(self) -> None:
        """Wait until every status callback scheduled so far has been sent."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -------------------------------------------------------------- HTTP

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(API + "/Messages.json", self._create)
        app.router.add_get(API + "/Messages/{sid}.json", self._fetch)
        app.router.add_get(API + ".json", self._account)
        app.router.add_get(API + "/IncomingPhoneNumbers.json", self._incoming_numbers)
        # The Content API lives on its own host; the fake serves it from the same root.
        app.router.add_get("/v1/Content/{sid}", self._content)
        app.router.add_get("/v1/Content/{sid}/ApprovalRequests", self._approval)
        return app

    async def start(self) -> None:
        await super().start()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        await super().stop()

    def _authorize(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != self._auth:
            raise TwilioApiError(401, 20003, "Authenticate")
        if request.match_info["account"] != self.account_sid:
            raise TwilioApiError(404, 20404, "The requested resource was not found")

    async def _create(self, request: web.Request) -> web.Response:
        self.requests += 1
        try:
            fault = await self._fault() if self._faults else None
            if fault is not None:
                raise _fault_error(fault)
            self._authorize(request)
            form = await request.post()
            now = self.clock()
            self._attempts.hit(now)
            if self._accepted.count(now) >= self.rate:
                raise TwilioApiError(429, 20429, "Too Many Requests")
            message = self._validate(form)
            self._accepted.hit(now)
        except TwilioApiError as exc:
            if exc.status == 429:
                self.rate_limited += 1
            return web.json_response(exc.body(), status=exc.status)
        self.messages.append(message)
        if message.status_callback:
            task = asyncio.create_task(self._report(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.json_response(self._resource(message, "queued"), status=201)

    async def _fetch(self, request: web.Request) -> web.Response:
        try:
            self._authorize(request)
            sid = request.match_info["sid"]
            message = next((m for m in self.messages if m.sid == sid), None)
            if message is None:
                raise TwilioApiError(
                    404, 20404, f"The requested resource {request.path} was not found"
                )
        except TwilioApiError as exc:
            return web.json_response(exc.body(), status=exc.status)
        status = message.statuses[-1] if message.statuses else "queued"
        return web.json_response(self._resource(message, status))

    async def _account(self, request: web.Request) -> web.Response:
        try:
            self._authorize(request)
        except TwilioApiError as exc:
            return web.json_response(exc.body(), status=exc.status)
        return web.json_response(
            {
                "sid": self.account_sid,
                "friendly_name": "Coalition",
                "status": self.account_status,
                "type": "Full",
                "uri": f"/2010-04-01/Accounts/{self.account_sid}.json",
            }
        )

    async def _incoming_numbers(self, request: web.Request) -> web.Response:
        try:
            self._authorize(request)
        except TwilioApiError as exc:
            return web.json_response(exc.body(), status=exc.status)
        wanted = request.query.get("PhoneNumber")
        numbers = sorted(n for n in self.numbers if wanted is None or n == bare(wanted))
        uri = f"/2010-04-01/Accounts/{self.account_sid}/IncomingPhoneNumbers.json"
        return web.json_response(
            {
                "incoming_phone_numbers": [
                    {
                        "sid": "PN" + secrets.token_hex(16),
                        "account_sid": self.account_sid,
                        "phone_number": n,
                        "friendly_name": n,
                        "status": "in-use",
                    }
                    for n in numbers
                ],  # fmt: skip
                "first_page_uri": uri,
                "next_page_uri": None,
                "previous_page_uri": None,
                "page": 0,
                "page_size": 50,
                "uri": uri,
                "end": len(numbers) - 1,
                "start": 0,
            }  # fmt: skip
        )

    def _template(self, request: web.Request) -> ContentTemplate:
        self._authorize_content(request)
        found = self.templates.get(request.match_info["sid"])
        if found is None:
            raise TwilioApiError(404, 20404, f"The requested resource {request.path} was not found")
        return found

    def _authorize_content(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != self._auth:
            raise TwilioApiError(401, 20003, "Authenticate")

    async def _content(self, request: web.Request) -> web.Response:
        try:
            t = self._template(request)
        except TwilioApiError as exc:
            return web.json_response(exc.body(), status=exc.status)
        return web.json_response(
            {
                "sid": t.sid,
                "account_sid": self.account_sid,
                "friendly_name": t.name,
                "language": t.language,
                "variables": {},
                "types": {"twilio/text": {"body": t.body}},
                "url": f"https://content.twilio.com/v1/Content/{t.sid}",
                "links": {
                    "approval_fetch": f"https://content.twilio.com/v1/Content/{t.sid}/ApprovalRequests"
                },
            }  # fmt: skip
        )

    async def _approval(self, request: web.Request) -> web.Response:
        try:
            t = self._template(request)
        except TwilioApiError as exc:
            return web.json_response(exc.body(), status=exc.status)
        whatsapp = {
            "type": "whatsapp", "name": t.name, "category": t.category,
            "content_type": "twilio/text", "status": t.status,
            "rejection_reason": t.rejection_reason, "allow_category_change": True,
        }  # fmt: skip
        return web.json_response(
            {
                "sid": t.sid,
                "account_sid": self.account_sid,
                # A template never submitted for WhatsApp has no approval request.
                "whatsapp": whatsapp if t.status != "unsubmitted" else {},
                "url": f"https://content.twilio.com/v1/Content/{t.sid}/ApprovalRequests",
            }
        )

    def _validate(self, form: Any) -> TwilioMessage:
        to, from_ = str(form.get("To") or ""), str(form.get("From") or "")
        body, content_sid = str(form.get("Body") or ""), form.get("ContentSid")
        media = [str(url) for url in form.getall("MediaUrl", [])]
        if not to:
            raise TwilioApiError(400, 21604, "A 'To' phone number is required.")
        if not from_:
            raise TwilioApiError(400, 21603, "A 'From' phone number is required.")
        if not (body or content_sid or media):
            raise TwilioApiError(400, 21602, "Message body is required.")
        if from_.startswith("whatsapp:") != to.startswith("whatsapp:"):
            raise TwilioApiError(
                400, 21910, "Invalid From and To pair. From and To should be of the same channel"
            )
        if not _WHATSAPP_ADDRESS.fullmatch(to):
            raise TwilioApiError(400, 21211, f"Invalid 'To' Phone Number: {bare(to)}")
        if self.sender and bare(from_) != self.sender:
            raise TwilioApiError(
                400, 63007, "Twilio could not find a Channel with the specified From address"
            )
        if len(body) > 1600:
            raise TwilioApiError(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if bare(to) in self.opted_out:
            raise TwilioApiError(400, 21610, "Attempt to send to unsubscribed recipient")
        return TwilioMessage(
            sid=new_sid(),
            to=to,
            from_=from_,
            body=body,
            content_sid=str(content_sid) if content_sid else None,
            content_variables=form.get("ContentVariables"),
            media_url=media,
            status_callback=form.get("StatusCallback"),
            time=time.time(),
        )

    def _resource(self, message: TwilioMessage, status: str) -> JSON:
        now = format_datetime(datetime.now(UTC))
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": message.body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": message.from_,
            "messaging_service_sid": None,
            "num_media": str(len(message.media_url)),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": message.sid,
            "status": status,
            "subresource_uris": {"media": f"{base}/Media.json"},
            "to": message.to,
            "uri": f"{base}.json",
        }

    # -------------------------------------------------------------- status callbacks

    def _outcome(self, message: TwilioMessage) -> list[tuple[str, int | None]]:
        """The statuses this message will go through, with an error code for the last."""
        to = bare(message.to)
        if to in self.not_on_whatsapp:
            return [("failed", 63003)]
        if to in self.blocked:
            return [("sent", None), ("undelivered", 63014)]
        if to in self.outside_window and not message.content_sid:
            return [("failed", 63016)]
        return [(status, None) for status in self.statuses]

    async def _report(self, message: TwilioMessage) -> None:
        steps = self._outcome(message) * self.callback_repeat
        if self.callback_order == "reverse":
            steps.reverse()
        elif self.callback_order == "shuffle":
            self._random.shuffle(steps)
        for status, error in steps:
            await asyncio.sleep(self.callback_delay)
            message.statuses.append(status)
            await self._callback(message, status, error)

    async def _callback(self, message: TwilioMessage, status: str, error: int | None) -> None:
        assert message.status_callback is not None
        url = message.status_callback
        params = {
            "ChannelPrefix": "whatsapp",
            "ApiVersion": "2010-04-01",
            "MessageStatus": status,
            "SmsSid": message.sid,
            "SmsStatus": status,
            "ChannelInstallSid": "XE" + "5" * 32,
            "To": message.to,
            "From": message.from_,
            "MessageSid": message.sid,
            "StructuredMessage": "false",
            "AccountSid": self.account_sid,
            "ChannelToAddress": bare(message.to)[:-4] + "XXXX",
        }
        if error is not None:
            params["ErrorCode"] = str(error)
            params["EventType"] = "UNDELIVERED" if status == "undelivered" else "FAILED"
        record = StatusCallback(url, None, params, self._validator.compute_signature(url, params))
        self.callbacks.append(record)
        if self.on_callback is not None:
            record.response_status = await self.on_callback(record)
            return
        target = self._target(url)
        if target is None or self._session is None:
            return  # never reach past this machine
        record.delivered_to = target
        headers = {"X-Twilio-Signature": record.signature, "User-Agent": "TwilioProxy/1.1"}
        try:
            async with self._session.post(target, data=params, headers=headers) as answer:
                record.response_status = answer.status
        except aiohttp.ClientError:
            record.response_status = None

    def _target(self, url: str) -> str | None:
        parts = urlsplit(url)
        if self.deliver_to:
            base = urlsplit(self.deliver_to)
            return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))
        return url if parts.hostname in LOOPBACK else None


def _fault_error(fault: Fault) -> TwilioApiError:
    if fault.status == 429:
        return TwilioApiError(429, 20429, "Too Many Requests")
    if fault.status == 503:
        return TwilioApiError(503, 20503, "Service Unavailable")
    return TwilioApiError(fault.status, 20500, "Internal Server Error")


# ---------------------------------------------------------------- inbound webhooks


def _signed(
    url: str, auth_token: str, form: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    signature = RequestValidator(auth_token).compute_signature(url, form)
    headers = {
        "X-Twilio-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "TwilioProxy/1.1",
        "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
    }
    return form, headers


def signed_inbound(
    url: str, auth_token: str, **fields: str | None
) -> tuple[dict[str, str], dict[str, str]]:
    """An inbound WhatsApp webhook as Twilio posts it, signed for ``url``.

    Keyword arguments override Twilio's field names (``Body="Salut"``); ``None`` removes one.
    """
    sid = fields.get("MessageSid") or new_sid()
    sender = fields.get("From") or "whatsapp:+40722111222"
    form = {
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "ProfileName": "Ana Popescu",
        "MessageType": "text",
        "SmsSid": sid,
        "WaId": bare(sender).lstrip("+"),
        "SmsStatus": "received",
        "Body": "Salut",
        "To": "whatsapp:+40700000000",
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }
    for name, value in fields.items():
        if value is None:
            form.pop(name, None)
        else:
            form[name] = value
    return _signed(url, auth_token, form)


def signed_status(
    url: str,
    auth_token: str,
    *,
    sid: str,
    status: str,
    error_code: int | None = None,
    **fields: str,
) -> tuple[dict[str, str], dict[str, str]]:
    """A status callback as Twilio posts it, signed for ``url``."""
    form = {
        "ChannelPrefix": "whatsapp",
        "ApiVersion": "2010-04-01",
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": "whatsapp:+40722111222",
        "From": "whatsapp:+40700000000",
        "MessageSid": sid,
        "AccountSid": "AC" + "0" * 32,
        **fields,
    }
    if error_code is not None:
        form["ErrorCode"] = str(error_code)
    return _signed(url, auth_token, form)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake Twilio Messages API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--rate", type=float, default=80.0, help="messages per second")
    parser.add_argument("--account-sid", default="AC" + "0" * 32)
    parser.add_argument("--auth-token", default="t" * 32)
    parser.add_argument("--deliver-to", default=None, help="post status callbacks to this root")
    args = parser.parse_args(argv)
    fake = FakeTwilio(
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        rate=args.rate,
        deliver_to=args.deliver_to,
        host=args.host,
        port=args.port,
    )
    run_cli(fake, "fake Twilio API")


if __name__ == "__main__":
    main()
