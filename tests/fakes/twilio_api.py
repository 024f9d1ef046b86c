"""A fake Twilio Messages API for WhatsApp that refuses what Twilio refuses.

Its parameter checks come from Twilio's OpenAPI (``specs/twilio_api_v2010_messages.json``);
the rest from Twilio's documentation (``docs/platforms.md``): template SIDs and variables
(21655, 21656, 63021), media fetched with HEAD then GET (63019), the 24-hour window counted
from the last message the fake received from the number (63016), the other errors on demand,
and signed status callbacks in Twilio's order, the first ones able to arrive before the
create call has answered. Time is ``self.clock`` (and ``self.sleep``): a test may set both.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import jsonschema
from aiohttp import web
from twilio.request_validator import RequestValidator

from tests.fakes.server import FakeServer, Fault, RollingCounter, run_cli

JSON = dict[str, Any]
API = "/2010-04-01/Accounts/{account}"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
_WHATSAPP_ADDRESS = re.compile(r"whatsapp:\+[1-9]\d{6,14}")
SPECS = Path(__file__).parent / "specs"
MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
WINDOW = 24 * 3600.0  # seconds after a member's last message in which we may write freely
TEMPLATE_BODY_LIMIT = 1024  # the rendered template body (63021)
CAPTION_LIMIT = 1024  # WhatsApp's caption under an image (Meta's limit)
# Media WhatsApp takes, and the most bytes of each family (Twilio's accepted-mime-types page).
MEDIA_TYPES = {
    "image/jpeg": 5 << 20, "image/png": 5 << 20,
    "audio/ogg": 16 << 20, "audio/mpeg": 16 << 20, "audio/amr": 16 << 20, "audio/mp4": 16 << 20,
    "video/mp4": 16 << 20, "application/pdf": 100 << 20, "text/plain": 100 << 20,
}  # fmt: skip
MAX_MEDIA = 10
# Errors Twilio gives in the create call's answer; the others come later, by status callback.
SYNC_ERRORS = {21610: 400, 21211: 400, 21614: 400, 20429: 429, 21656: 400, 21655: 400}
ERROR_TEXT = {
    21610: "Attempt to send to unsubscribed recipient",
    21211: "Invalid 'To' Phone Number",
    21614: "'To' number is not a valid mobile number",
    20429: "Too Many Requests",
    21655: "The ContentSid is Invalid",
    21656: "The ContentVariables Parameter is invalid",
}
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_NAME = re.compile(r"[A-Za-z0-9_]{1,16}")
MOST_VARIABLES = 100
QUICK_REPLY, LIST_PICKER = "twilio/quick-reply", "twilio/list-picker"
# The Content API's limits, from Twilio's twilio/quick-reply and twilio/list-picker pages (the
# OpenAPI has none): body 1,024; 1 to 10 quick replies of titles up to 20 and ids up to 200,
# of which WhatsApp takes 3 in a session message without approval; 1 to 10 list rows of titles
# up to 24, descriptions up to 72 and ids up to 200, under a button of up to 20. A list cannot
# be approved, so it never goes outside the 24-hour window.
CONTENT_BODY_LIMIT = 1024
QUICK_REPLY_LIMITS = {"title": 20, "id": 200}
LIST_ITEM_LIMITS = {"item": 24, "description": 72, "id": 200}
LIST_BUTTON_LIMIT = 20
MOST_ACTIONS, MOST_ITEMS, SESSION_QUICK_REPLIES = 10, 10, 3


def load_spec(name: str) -> JSON:
    return json.loads((SPECS / name).read_text(encoding="utf-8"))


def _messages_schema() -> tuple[JSON, frozenset[str]]:
    """The Messages create form's properties (``$ref`` resolved) and required names."""
    spec = load_spec("twilio_api_v2010_messages.json")
    form = spec["paths"][MESSAGES_PATH]["post"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"
    ]["schema"]
    schemas = spec["components"]["schemas"]
    properties = {}
    for name, prop in form["properties"].items():
        if "$ref" in prop:
            prop = {**schemas[prop["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in prop.items()
                                                                    if k != "$ref"}}  # fmt: skip
        properties[name] = prop
    return properties, frozenset(form.get("required", ()))


MESSAGE_PARAMETERS, REQUIRED_PARAMETERS = _messages_schema()


def new_sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


def bare(number: str) -> str:
    """``whatsapp:+40...`` and ``+40...`` name the same member."""
    return number.removeprefix("whatsapp:")


@dataclass(slots=True)
class ContentTemplate:
    """A Content API template and its WhatsApp approval, as the Content API reports it: its
    body with ``{{1}}``-style variables, and its quick-reply buttons (``twilio/quick-reply``
    when there are any, else ``twilio/text``)."""

    sid: str
    language: str
    name: str = "news"
    # "approved", "pending", "received", "rejected", "paused", "disabled" or "unsubmitted"
    status: str = "approved"
    rejection_reason: str = ""
    category: str = "UTILITY"
    body: str = "News from the coalition: {{1}}"
    actions: list[dict[str, str]] = field(default_factory=list)
    # A list picker's rows (``twilio/list-picker``), and the label of its button.
    items: list[dict[str, str]] = field(default_factory=list)
    button: str = ""
    # The variables' samples given at creation: what a variable a message leaves out reads.
    variables: dict[str, str] = field(default_factory=dict)

    def types(self) -> JSON:
        if self.items:
            return {LIST_PICKER: {"body": self.body, "button": self.button, "items": self.items}}
        if self.actions:
            return {QUICK_REPLY: {"body": self.body, "actions": self.actions}}
        return {"twilio/text": {"body": self.body}}

    def choices(self) -> list[tuple[str, str]]:
        """``(id, title)`` of what a member can tap on it."""
        if self.items:
            return [(i["id"], i["item"]) for i in self.items]
        return [(a.get("id") or a["title"], a["title"]) for a in self.actions]


def new_content_sid() -> str:
    return new_sid("HX")


def default_template(sid: str) -> ContentTemplate:
    """What a template SID the test did not describe stands for: a notice with a "read it"
    quick reply (id ``read``)."""
    return ContentTemplate(
        sid=sid, language="en", body="ChildPact: {{1}}",
        actions=[{"type": "QUICK_REPLY", "title": "Read it", "id": "read"}],
    )  # fmt: skip


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
    rendered: str = ""  # what the member reads: the body, or the template with its variables
    shown: ContentTemplate | None = None  # its content item with the variables filled in

    @property
    def text(self) -> str:
        return self.rendered or self.body


@dataclass(slots=True)
class StatusCallback:
    """A status callback the fake sent (or only recorded, when its URL was not local)."""

    url: str  # the URL it was signed for
    delivered_to: str | None  # where it was actually POSTed, None when only recorded
    params: dict[str, str]
    signature: str
    response_status: int | None = None


@dataclass(slots=True)
class MediaFetch:
    """One request the fake made for a ``MediaUrl``, as Twilio does before sending."""

    method: str
    url: str
    status: int | None  # None: it could not connect
    content_type: str = ""
    size: int = 0


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
    """Twilio's Messages resource for one account and its WhatsApp sender.

    ``rate`` is the sender's messages per second: above it Twilio queues (the statuses come
    later), it does not refuse. ``concurrency`` is how many create calls may be in flight at
    once; one more is a 429 with 20429. A member is inside the 24-hour window when the fake
    received a message from them (``inbound``, ``received``) within ``window`` seconds.
    """

    def __init__(
        self,
        *,
        account_sid: str = "AC" + "0" * 32,
        auth_token: str = "t" * 32,
        sender: str | None = None,
        rate: float | None = 80.0,
        concurrency: int | None = None,
        opted_out: Iterable[str] = (),
        not_on_whatsapp: Iterable[str] = (),
        invalid_recipients: Iterable[str] = (),
        blocked: Iterable[str] = (),
        wrote: Iterable[str] = (),
        window: float = WINDOW,
        everyone_wrote: bool = False,
        templates: Iterable[ContentTemplate] = (),
        any_content: bool | None = None,
        statuses: tuple[str, ...] = ("sent", "delivered", "read"),
        callback_delay: float = 0.01,
        callback_order: Order = "normal",
        callback_repeat: int = 1,
        early_callbacks: int = 0,
        deliver_to: str | None = None,
        on_callback: CallbackHook | None = None,
        seed: int | None = None,
        account_status: str = "active",
        numbers: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.account_sid, self.auth_token = account_sid, auth_token
        self.sender = bare(sender) if sender else None  # None: any From is ours
        self.rate = float("inf") if rate is None else rate
        self.concurrency = concurrency
        self.opted_out = {bare(n) for n in opted_out}
        self.not_on_whatsapp = {bare(n) for n in not_on_whatsapp}
        self.invalid_recipients = {bare(n) for n in invalid_recipients}
        self.blocked = {bare(n) for n in blocked}
        self.window = window
        self.everyone_wrote = everyone_wrote  # every number inside its window (benches)
        self.templates = {t.sid: t for t in templates}  # the Content API's resources
        # A well-formed SID not in ``templates`` stands for ``default_template``, unless the
        # test described the account's templates (then it does not exist: 404, or 21655).
        self.any_content = not self.templates if any_content is None else any_content
        self.statuses = statuses
        self.callback_delay = callback_delay
        self.callback_order: Order = callback_order
        self.callback_repeat = callback_repeat
        self.early_callbacks = early_callbacks
        self.deliver_to = deliver_to.rstrip("/") if deliver_to else None
        self.on_callback = on_callback
        self.account_status = account_status  # "active", "suspended" or "closed"
        # The account's phone numbers (IncomingPhoneNumbers); None: only the sender, if any.
        self.numbers = (
            {bare(n) for n in numbers}
            if numbers is not None
            else ({self.sender} if self.sender else set())
        )
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self.messages: list[TwilioMessage] = []
        self.contents_made: list[ContentTemplate] = []  # what POST /v1/Content created
        self.content_refusals: list[str] = []  # why each refused create was refused
        self.callbacks: list[StatusCallback] = []
        self.media_fetches: list[MediaFetch] = []
        self.media: dict[str, tuple[str, bytes]] = {}  # served for URLs off this machine
        self.refused: list[tuple[int, str]] = []  # (error code, To) of every refusal
        self.requests = 0
        self.rate_limited = 0
        self._last_inbound: dict[str, float] = {}
        self._errors_next: list[tuple[int, str | None]] = []
        self.errors_for: dict[str, int] = {}  # standing error per recipient
        self._in_flight = 0
        self._queue_free_at = 0.0
        self._attempts = RollingCounter()
        self._validator = RequestValidator(auth_token)
        self._random = random.Random(seed)
        self._auth = "Basic " + base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        for number in wrote:
            self.received(number)

    @property
    def max_per_second(self) -> int:
        """Most message requests (accepted or refused) seen in any rolling second."""
        return self._attempts.max

    def by_sid(self, sid: str) -> TwilioMessage:
        return next(m for m in self.messages if m.sid == sid)

    def to(self, number: str) -> list[TwilioMessage]:
        """The messages accepted for ``number``, in order."""
        return [m for m in self.messages if bare(m.to) == bare(number)]

    async def settle(self) -> None:
        """Wait until every status callback scheduled so far has been sent."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -------------------------------------------------------------- what the test arranges

    def received(self, number: str, at: float | None = None, *, ago: float = 0.0) -> None:
        """The fake got a message from ``number`` (now, ``ago`` seconds before, or at ``at``
        on its clock): its 24-hour window opens."""
        when = (self.clock() if at is None else at) - ago
        key = bare(number)
        self._last_inbound[key] = max(when, self._last_inbound.get(key, when))

    def forget(self, number: str) -> None:
        """As if ``number`` had never written: its window is closed."""
        self._last_inbound.pop(bare(number), None)

    def in_window(self, number: str) -> bool:
        if self.everyone_wrote:
            return True
        last = self._last_inbound.get(bare(number))
        return last is not None and self.clock() - last < self.window

    def inbound(self, url: str, **fields: str | None) -> tuple[dict[str, str], dict[str, str]]:
        """A member's message as Twilio posts it to ``url``, signed; it opens their window."""
        form, headers = signed_inbound(url, self.auth_token, **fields)
        self.received(form["From"])
        return form, headers

    def offered(self, number: str) -> tuple[TwilioMessage, ContentTemplate] | None:
        """The last message to ``number`` that offered buttons or a list, and its content item;
        None when the last message with choices went as numbered text."""
        for message in reversed(self.to(number)):
            if message.shown is not None:
                return (message, message.shown) if message.shown.choices() else None
            if re.search(r"^1\. ", message.body, re.MULTILINE):
                return None
        return None

    def offers(self, number: str, choice: str) -> bool:
        """Whether a message to ``number`` offered ``choice`` as a button or a list row (not
        as numbered text: its content item may not have been made in time)."""
        return any(any(choice in c for c in m.shown.choices()) for m in self.to(number) if m.shown)

    def tap(
        self, url: str, number: str, choice: str, *, old: bool = False
    ) -> tuple[dict[str, str], dict[str, str]]:
        """``number`` taps the button (or list row) whose id or title is ``choice`` on the
        last message that offered any (``old``: on any earlier message still in the chat), as
        Twilio posts it to ``url``, signed."""
        assert old or self.offered(number), "the last message with choices had no buttons"
        # The latest that has it: a long list comes as two, the first still on the screen.
        sent = [(m, m.shown) for m in self.to(number) if m.shown is not None]
        found = next(
            ((m, c) for m, c in reversed(sent) if any(choice in t for t in c.choices())), None
        )
        assert found is not None, f"no message offered {choice}"
        message, content = found
        tapped = next((c for c in content.choices() if choice in c), None)
        assert tapped is not None, f"{choice} is not on it: {content.choices()}"
        payload, title = tapped
        fields: dict[str, str | None] = {
            "From": number, "Body": title, "OriginalRepliedMessageSid": message.sid,
            "OriginalRepliedMessageSender": message.from_,
        }  # fmt: skip
        if content.items:
            fields.update(MessageType="interactive", ListId=payload, ListTitle=title)
        else:
            fields.update(MessageType="button", ButtonPayload=payload, ButtonText=title)
        return self.inbound(url, **fields)

    def error_next(self, code: int, count: int = 1, *, to: str | None = None) -> None:
        """The next ``count`` messages (to ``to``, or to anyone) end with Twilio error
        ``code``: in the create call's answer when Twilio gives it there, else by callback."""
        self._errors_next.extend((code, bare(to) if to else None) for _ in range(count))

    def host_media(self, url: str, content_type: str, body: bytes = b"x") -> None:
        """Serve ``url`` (off this machine) to the fake's own media fetches."""
        self.media[url] = (content_type, body)

    # -------------------------------------------------------------- HTTP

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(API + "/Messages.json", self._create)
        app.router.add_get(API + "/Messages/{sid}.json", self._fetch)
        app.router.add_get(API + ".json", self._account)
        app.router.add_get(API + "/IncomingPhoneNumbers.json", self._incoming_numbers)
        # The Content API lives on its own host; the fake serves it from the same root.
        app.router.add_post("/v1/Content", self._create_content)
        app.router.add_get("/v1/Content", self._list_contents)
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
        if request.match_info.get("account", self.account_sid) != self.account_sid:
            raise TwilioApiError(404, 20404, "The requested resource was not found")

    async def _create(self, request: web.Request) -> web.Response:
        self.requests += 1
        self._in_flight += 1
        try:
            return await self._create_one(request)
        finally:
            self._in_flight -= 1

    async def _create_one(self, request: web.Request) -> web.Response:
        to = ""
        try:
            fault = await self._fault() if self._faults else None
            if fault is not None:
                raise _fault_error(fault)
            self._authorize(request)
            form = await request.post()
            to = str(form.get("To") or "")
            now = self.clock()
            self._attempts.hit(now)
            if self.concurrency is not None and self._in_flight > self.concurrency:
                raise TwilioApiError(429, 20429, ERROR_TEXT[20429])
            message = self._validate(form)
            late = self._take_error(bare(to))
            if late is not None and late in SYNC_ERRORS:
                raise TwilioApiError(SYNC_ERRORS[late], late, ERROR_TEXT[late])
        except TwilioApiError as exc:
            if exc.status == 429:
                self.rate_limited += 1
            self.refused.append((exc.code, to))
            return web.json_response(exc.body(), status=exc.status)
        self.messages.append(message)
        # Above the sender's rate Twilio queues: this one leaves when the queue frees up.
        leaves = max(now, self._queue_free_at)
        self._queue_free_at = leaves + (1.0 / self.rate if self.rate != float("inf") else 0.0)
        steps = self._outcome(message, late) * self.callback_repeat
        if self.callback_order == "reverse":
            steps.reverse()
        elif self.callback_order == "shuffle":
            self._random.shuffle(steps)
        if message.status_callback and steps:
            early, rest = steps[: self.early_callbacks], steps[self.early_callbacks :]
            for status, error in early:  # before the create call answers
                message.statuses.append(status)
                await self._callback(message, status, error)
            task = asyncio.create_task(self._report(message, rest, leaves - now))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            message.statuses.extend(status for status, _ in steps)
        return web.json_response(self._resource(message, "queued"), status=201)

    def _take_error(self, to: str) -> int | None:
        for index, (code, only) in enumerate(self._errors_next):
            if only is None or only == to:
                del self._errors_next[index]
                return code
        return self.errors_for.get(to)

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
        return self._content_for(request.match_info["sid"])

    def _content_for(self, sid: str) -> ContentTemplate:
        if not CONTENT_SID.fullmatch(sid):
            raise TwilioApiError(400, 21655, ERROR_TEXT[21655])
        if sid in self.templates:
            return self.templates[sid]
        if self.any_content:
            return default_template(sid)
        raise TwilioApiError(404, 20404, f"The requested resource /v1/Content/{sid} was not found")

    def _authorize_content(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != self._auth:
            raise TwilioApiError(401, 20003, "Authenticate")

    async def _create_content(self, request: web.Request) -> web.Response:
        try:
            fault = await self._fault() if self._faults else None
            if fault is not None:
                raise _fault_error(fault)
            self._authorize_content(request)
            try:
                data = await request.json()
            except ValueError as exc:
                raise TwilioApiError(400, 20001, "The request body is not JSON") from exc
            made = check_content(data)
        except TwilioApiError as exc:
            if exc.status == 400:
                self.content_refusals.append(exc.message)
            return web.json_response(exc.body(), status=exc.status)
        self.templates[made.sid] = made
        self.contents_made.append(made)
        return web.json_response(self._content_resource(made), status=201)

    async def _list_contents(self, request: web.Request) -> web.Response:
        try:
            self._authorize_content(request)
        except TwilioApiError as exc:
            return web.json_response(exc.body(), status=exc.status)
        url = "https://content.twilio.com/v1/Content"
        return web.json_response({
            "contents": [self._content_resource(t) for t in self.templates.values()],
            "meta": {"page": 0, "page_size": 50, "first_page_url": url, "previous_page_url": None,
                     "url": url, "next_page_url": None, "key": "contents"},
        })  # fmt: skip

    async def _content(self, request: web.Request) -> web.Response:
        try:
            t = self._template(request)
        except TwilioApiError as exc:
            return web.json_response(exc.body(), status=exc.status)
        return web.json_response(self._content_resource(t))

    def _content_resource(self, t: ContentTemplate) -> JSON:
        return {
            "sid": t.sid,
            "account_sid": self.account_sid,
            "friendly_name": t.name,
            "language": t.language,
            "variables": t.variables,
            "types": t.types(),
            "url": f"https://content.twilio.com/v1/Content/{t.sid}",
            "links": {
                "approval_fetch": f"https://content.twilio.com/v1/Content/{t.sid}/ApprovalRequests"
            },
        }  # fmt: skip

    async def _approval(self, request: web.Request) -> web.Response:
        try:
            t = self._template(request)
        except TwilioApiError as exc:
            return web.json_response(exc.body(), status=exc.status)
        whatsapp = {
            "type": "whatsapp", "name": t.name, "category": t.category,
            "content_type": next(iter(t.types())), "status": t.status,
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
        check_parameters(form)
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
        if len(media) > MAX_MEDIA:
            raise TwilioApiError(400, 21623, "Number of media files exceeds allowed limit")
        if bare(to) in self.opted_out:
            raise TwilioApiError(400, 21610, ERROR_TEXT[21610])
        rendered, shown = "", None
        if content_sid:
            try:
                content = self._content_for(str(content_sid))
            except TwilioApiError as exc:
                raise TwilioApiError(400, 21655, ERROR_TEXT[21655]) from exc
            shown = render_content(content, form.get("ContentVariables"))
            rendered = shown.body
            if content.status != "approved" and len(content.actions) > SESSION_QUICK_REPLIES:
                # (the code is unverified: the channel never sends more than three)
                raise TwilioApiError(
                    400,
                    63013,
                    f"A session message takes at most {SESSION_QUICK_REPLIES} quick replies",
                )
        elif form.get("ContentVariables") is not None:
            raise TwilioApiError(400, 21656, "ContentVariables without a ContentSid")
        return TwilioMessage(
            sid=new_sid(),
            to=to,
            from_=from_,
            body=body,
            content_sid=str(content_sid) if content_sid else None,
            content_variables=form.get("ContentVariables"),
            media_url=media,
            status_callback=form.get("StatusCallback"),
            time=self.clock(),
            rendered=rendered,
            shown=shown,
        )

    def _resource(self, message: TwilioMessage, status: str) -> JSON:
        now = format_datetime(datetime.now(UTC))
        base = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": message.text,
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

    def _outcome(self, message: TwilioMessage, error: int | None) -> list[tuple[str, int | None]]:
        """The statuses this message will go through, with an error code for the last."""
        to = bare(message.to)
        if error is not None:
            return [("queued", None), ("failed", error)]
        if to in self.not_on_whatsapp:
            return [("queued", None), ("failed", 63003)]
        if to in self.invalid_recipients:
            return [("queued", None), ("failed", 63024)]
        if not self.in_window(to) and not self._approved(message.content_sid):
            # Outside the window only an approved template may go (a list never is).
            return [("queued", None), ("failed", 63016)]
        if len(message.text) > TEMPLATE_BODY_LIMIT and message.content_sid:
            return [("queued", None), ("failed", 63021)]
        if message.media_url and len(message.body) > CAPTION_LIMIT:
            return [("queued", None), ("failed", 63021)]
        if to in self.blocked:
            return [("queued", None), ("sent", None), ("undelivered", 63014)]
        return [("queued", None), *((status, None) for status in self.statuses)]

    def _approved(self, content_sid: str | None) -> bool:
        if content_sid is None:
            return False
        content = self._content_for(content_sid)
        return content.status == "approved" and not content.items

    async def _report(
        self, message: TwilioMessage, steps: list[tuple[str, int | None]], queued_for: float
    ) -> None:
        if queued_for > 0:
            await self.sleep(queued_for)
        if message.media_url and not any(status == "failed" for status, _ in steps):
            if not await self._fetch_media(message.media_url):
                steps = [step for step in steps if step[0] == "queued"] + [("failed", 63019)]
        for status, error in steps:
            await self.sleep(self.callback_delay)
            message.statuses.append(status)
            await self._callback(message, status, error)

    async def _fetch_media(self, urls: list[str]) -> bool:
        """HEAD then GET each URL, as Twilio does; False when any answer is not a 200 with a
        type WhatsApp takes, within its size."""
        for url in urls:
            for method in ("HEAD", "GET"):
                fetch = await self._media_request(method, url)
                self.media_fetches.append(fetch)
                limit = MEDIA_TYPES.get(fetch.content_type)
                if fetch.status != 200 or limit is None or fetch.size > limit:
                    return False
        return True

    async def _media_request(self, method: str, url: str) -> MediaFetch:
        if url in self.media:
            content_type, body = self.media[url]
            return MediaFetch(method, url, 200, content_type, len(body))
        target = self._target(url)
        if target is None or self._session is None:
            return MediaFetch(method, url, None)
        try:
            async with self._session.request(method, target, allow_redirects=True) as answer:
                body = await answer.read() if method == "GET" else b""
                kind = answer.headers.get("Content-Type", "").split(";")[0].strip().lower()
                size = len(body) if method == "GET" else int(answer.headers.get(
                    "Content-Length", "0") or 0)  # fmt: skip
                return MediaFetch(method, url, answer.status, kind, size)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return MediaFetch(method, url, None)

    async def _callback(self, message: TwilioMessage, status: str, error: int | None) -> None:
        if message.status_callback is None:
            return
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
        if parts.hostname in LOOPBACK:
            return url
        if self.deliver_to:
            base = urlsplit(self.deliver_to)
            return urlunsplit((base.scheme, base.netloc, parts.path, parts.query, ""))
        return None


CONTENT_SID = re.compile(MESSAGE_PARAMETERS["ContentSid"]["pattern"])


def check_parameters(form: Any) -> None:
    """The Messages create form against Twilio's OpenAPI: every name known, every required
    one there, each value of its type, pattern, length and enum. (Twilio ignores a name it does
    not know; the fake refuses it, so that a misspelt one fails loudly.)"""
    for name in REQUIRED_PARAMETERS:
        if not form.get(name):
            raise TwilioApiError(400, 21604 if name == "To" else 20001, f"{name} is required")
    for name in set(form.keys()):
        prop = MESSAGE_PARAMETERS.get(name)
        if prop is None:
            raise TwilioApiError(400, 20001, f"Unknown parameter {name}")
        values = [str(v) for v in form.getall(name)]
        if prop.get("type") != "array" and len(values) > 1:
            raise TwilioApiError(400, 20001, f"{name} given more than once")
        item = prop.get("items", prop) if prop.get("type") == "array" else prop
        for value in values:
            problem = _type_problem(item, value)
            if problem:
                code = (
                    21655 if name == "ContentSid" else 21609 if name == "StatusCallback" else 20001
                )
                raise TwilioApiError(400, code, f"Invalid {name}: {problem}")


def _type_problem(prop: JSON, value: str) -> str | None:
    kind = prop.get("type")
    if kind == "boolean" and value.lower() not in ("true", "false"):
        return "not a boolean"
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return "not an integer"
    if kind == "number":
        try:
            float(value)
        except ValueError:
            return "not a number"
    if "enum" in prop and value not in prop["enum"]:
        return f"not one of {prop['enum']}"
    if "pattern" in prop and not re.search(prop["pattern"], value):
        return f"does not match {prop['pattern']}"
    if len(value) < prop.get("minLength", 0) or len(value) > prop.get("maxLength", 1 << 30):
        return "wrong length"
    if prop.get("format") == "uri" and not prop.get("x-twilio", {}).get("ignoreFormat"):
        parts = urlsplit(value)
        # "must contain a valid hostname and underscores are not allowed" (StatusCallback)
        if parts.scheme not in ("http", "https") or not parts.hostname or "_" in parts.hostname:
            return "not a valid URL"
    return None


def _content_schema() -> JSON:
    spec = load_spec("twilio_content_v1.json")
    return {"$ref": "#/components/schemas/ContentCreateRequest", "components": spec["components"]}


CONTENT_SCHEMA = _content_schema()


def _given(value: Any) -> Any:
    """The request as Twilio reads it: twilio's own library sends every field it knows, the
    ones not set as null."""
    if isinstance(value, dict):
        return {k: _given(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_given(v) for v in value]
    return value


def check_content(data: Any) -> ContentTemplate:
    """A Content API create request against Twilio's OpenAPI (fields, types, required ones)
    and the limits of its quick-reply and list-picker pages; the item it makes, not yet
    submitted for WhatsApp approval."""
    data = _given(data)
    errors = sorted(jsonschema.Draft7Validator(CONTENT_SCHEMA).iter_errors(data), key=str)
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path)
        raise TwilioApiError(400, 20001, f"Invalid parameter {where}: {errors[0].message}")
    types = data["types"]
    if not types:
        raise TwilioApiError(400, 20001, "Invalid parameter types: at least one type is required")
    made = ContentTemplate(
        sid=new_content_sid(), language=data["language"], name=data.get("friendly_name", ""),
        status="unsubmitted", variables=data.get("variables") or {},
    )  # fmt: skip
    if QUICK_REPLY in types:
        quick = types[QUICK_REPLY]
        made.body, made.actions = quick["body"], quick["actions"]
        if not 1 <= len(made.actions) <= MOST_ACTIONS:
            raise TwilioApiError(400, 20001, f"actions: 1 to {MOST_ACTIONS} quick replies")
        _check_rows(made.actions, QUICK_REPLY_LIMITS, "title")
    elif LIST_PICKER in types:
        picker = types[LIST_PICKER]
        made.body, made.button, made.items = picker["body"], picker["button"], picker["items"]
        if not 1 <= len(made.items) <= MOST_ITEMS:
            raise TwilioApiError(400, 20001, f"items: 1 to {MOST_ITEMS} items")
        if not made.button.strip() or len(made.button) > LIST_BUTTON_LIMIT:
            raise TwilioApiError(400, 20001, f"button: 1 to {LIST_BUTTON_LIMIT} characters")
        _check_rows(made.items, LIST_ITEM_LIMITS, "item")
    elif "twilio/text" in types:
        made.body = types["twilio/text"]["body"]
    else:
        raise TwilioApiError(400, 20001, "the fake makes text, quick replies and lists only")
    if not made.body.strip() or len(made.body) > CONTENT_BODY_LIMIT:
        raise TwilioApiError(400, 20001, f"body: 1 to {CONTENT_BODY_LIMIT} characters")
    _check_variables(made)
    return made


def _check_variables(made: ContentTemplate) -> None:
    """Twilio's rules for variables (its "Using variables" page): names of letters, digits or
    ``_`` up to 16 characters, at most 100 in an item; here each one used has its sample,
    which the item's rows need (a row must stay a row once filled)."""
    names = set(made.variables)
    if len(names) > MOST_VARIABLES or any(not _NAME.fullmatch(n) for n in names):
        raise TwilioApiError(400, 20001, f"variables: up to {MOST_VARIABLES}, names [A-Za-z0-9_]")
    used = set(_VARIABLE.findall(json.dumps(made.types(), ensure_ascii=False)))
    if used - names:
        raise TwilioApiError(400, 20001, f"variables: no sample for {sorted(used - names)}")


def _check_rows(rows: list[dict[str, str]], limits: dict[str, int], title: str) -> None:
    for row in rows:
        for name, limit in limits.items():
            if len(row.get(name, "")) > limit:
                raise TwilioApiError(400, 20001, f"{name}: at most {limit} characters")
        if not row[title].strip():
            raise TwilioApiError(400, 20001, f"{title}: empty")
    # WhatsApp refuses a message whose buttons or rows repeat a title or an id.
    for name in (title, "id"):
        seen = [row.get(name) for row in rows if row.get(name)]
        if len(set(seen)) < len(seen):
            raise TwilioApiError(400, 20001, f"{name}: each must differ")


def render_content(content: ContentTemplate, variables: Any) -> ContentTemplate:
    """The item as the member sees it: ``ContentVariables`` filled in, over the samples given
    at its creation, by Twilio's rules (21656): a JSON object of strings, each used one
    present, none empty, none with a newline, a tab or more than four spaces in a row, and a
    filled row within its field's limits and unlike the others."""
    given: dict[str, Any] = {}
    if variables is not None:
        try:
            given = json.loads(str(variables))
        except ValueError as exc:
            raise TwilioApiError(400, 21656, ERROR_TEXT[21656] + ": not JSON") from exc
        if not isinstance(given, dict):
            raise TwilioApiError(400, 21656, ERROR_TEXT[21656] + ": not a JSON object")
    for name, value in given.items():
        if not isinstance(value, str) or not value.strip():
            raise TwilioApiError(400, 21656, f"{ERROR_TEXT[21656]}: variable {name} is empty")
        if "\n" in value or "\t" in value or "     " in value:
            raise TwilioApiError(
                400, 21656,
                f"{ERROR_TEXT[21656]}: variable {name} has a newline, a tab or 5+ spaces in a row",
            )  # fmt: skip
    values = {**content.variables, **given}
    used = _VARIABLE.findall(json.dumps(content.types(), ensure_ascii=False))
    missing = [name for name in used if name not in values]
    if missing:
        raise TwilioApiError(400, 21656, f"{ERROR_TEXT[21656]}: no value for {missing}")

    def fill(text: str) -> str:
        return _VARIABLE.sub(lambda m: str(values[m.group(1)]), text)

    def rows(found: list[dict[str, str]]) -> list[dict[str, str]]:
        return [{key: fill(value) for key, value in row.items()} for row in found]

    shown = replace(content, body=fill(content.body), items=rows(content.items),
                    actions=rows(content.actions))  # fmt: skip
    try:
        if shown.items:
            _check_rows(shown.items, LIST_ITEM_LIMITS, "item")
        if shown.actions:
            _check_rows(shown.actions, QUICK_REPLY_LIMITS, "title")
    except TwilioApiError as exc:
        raise TwilioApiError(400, 21656, f"{ERROR_TEXT[21656]}: {exc.message}") from exc
    return shown


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
    parser.add_argument(
        "--any-window", action="store_true", help="treat every number as inside its 24-hour window"
    )
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
        everyone_wrote=args.any_window,
    )
    run_cli(fake, "fake Twilio API")


if __name__ == "__main__":
    main()
