"""How handlers plug in: a router per feature and the context each handler receives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import Translator
from bot.messages import Button, InboundMessage, OutboundMessage
from bot.storage.models import Contact

Handler = Callable[["Context"], Awaitable[None]]
# Run before a handler is picked; True when it took the message, so that no handler sees it.
Gate = Callable[["Context"], Awaitable[bool]]
# A message from the secretariat's staff in their own chat (not a member): the transaction,
# the inbound row's id and the message.
StaffReply = Callable[[AsyncSession, Settings, int, InboundMessage], Awaitable[None]]


@dataclass
class Handled:
    """What an effect gets: the transaction that stores the message's replies and the inbound
    row's id."""

    session: AsyncSession
    inbound_id: int
    # Coordination keys (dedupe marks, buckets) to drop once the transaction commits.
    forget: list[str] = field(default_factory=list)


# Storage work a handler asks for; the engine runs it in the same transaction as the replies.
Effect = Callable[[Handled], Awaitable[None]]


@dataclass
class Context:
    """What a handler sees: the message, the member, their translator, and where replies go."""

    msg: InboundMessage
    contact: Contact
    t: Translator
    settings: Settings
    command: str | None = (
        None  # a recognised command (``start``, ``stop``...), whatever its language
    )
    payload: str | None = None  # a tapped button or a number chosen from the last options
    replies: list[OutboundMessage] = field(default_factory=list)
    services: Any = None  # what features share: the knowledge, the matcher, safeguarding
    effects: list[Effect] = field(default_factory=list)
    # A message to handle now as if just sent: one held while the member answered the privacy
    # notice.
    again: str | None = None
    # A broadcast that reached the member and whose replies the secretariat collects now.
    reply_to: int | None = None

    @property
    def text(self) -> str:
        return self.msg.text.strip()

    def reply(
        self, text: str, buttons: list[list[Button]] | None = None, image_url: str | None = None
    ) -> None:
        self.replies.append(OutboundMessage(text=text, buttons=buttons or [], image_url=image_url))

    def start_flow(self, name: str, **data: Any) -> None:
        self.contact.flow = name
        self.contact.flow_data = dict(data)

    def update_flow(self, **data: Any) -> None:
        self.contact.flow_data = {**(self.contact.flow_data or {}), **data}

    def end_flow(self) -> None:
        self.contact.flow = None
        self.contact.flow_data = {}

    def retranslate(self, locale: str) -> None:
        """Switch the replies that follow to the member's new language."""
        self.t = Translator(locale, self.t.timezone)


class Router:
    """One feature's handlers: commands, button payload prefixes, flows, free text; and its
    hooks: gates run before any handler is picked, the answer to a staff reply."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.commands: dict[str, Handler] = {}
        self.buttons: dict[str, Handler] = {}
        self.flows: dict[str, Handler] = {}
        self.text_handler: Handler | None = None
        self.gates: list[Gate] = []
        self.staff_replier: StaffReply | None = None

    def command(self, *names: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            for name in names:
                self.commands[name] = fn
            return fn

        return register

    def button(self, prefix: str) -> Callable[[Handler], Handler]:
        """Handle payloads ``prefix`` or ``prefix:argument``; a prefix with a colon in it
        (``menu:secretariat``) is one exact payload, and wins over its shorter prefix."""

        def register(fn: Handler) -> Handler:
            self.buttons[prefix] = fn
            return fn

        return register

    def flow(self, name: str) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.flows[name] = fn
            return fn

        return register

    def text(self) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.text_handler = fn
            return fn

        return register

    def gate(self, fn: Gate) -> Gate:
        """Run ``fn`` on every member's message before a handler is picked (an outer
        middleware, as aiogram calls it); it returns True when it took the message."""
        self.gates.append(fn)
        return fn

    def staff_reply(self, fn: StaffReply) -> StaffReply:
        """Give ``fn`` the messages of the secretariat's staff (``Kind.STAFF``)."""
        self.staff_replier = fn
        return fn


class Dispatcher:
    """Joins the routers and picks the handler for a message, in the order docs/architecture.md
    gives: a command, then a button, then the member's active flow, then free text."""

    def __init__(self, routers: list[Router]) -> None:
        self.commands: dict[str, Handler] = {}
        self.buttons: dict[str, Handler] = {}
        self.flows: dict[str, Handler] = {}
        self.text_handler: Handler | None = None
        self.gates: list[Gate] = []
        self.staff_replier: StaffReply | None = None
        for router in routers:
            for table, mine in (
                (self.commands, router.commands),
                (self.buttons, router.buttons),
                (self.flows, router.flows),
            ):
                clash = table.keys() & mine.keys()
                if clash:
                    raise ValueError(f"{router.name} registers {sorted(clash)} twice")
                table.update(mine)
            # One feature answers free text, and one the staff: a second would never be asked.
            if router.text_handler:
                if self.text_handler:
                    raise ValueError(f"{router.name} answers free text as well")
                self.text_handler = router.text_handler
            if router.staff_replier:
                if self.staff_replier:
                    raise ValueError(f"{router.name} answers staff replies as well")
                self.staff_replier = router.staff_replier
            self.gates.extend(router.gates)

    async def stopped_at_gate(self, ctx: Context) -> bool:
        """Run the gates in router order; True when one took the message."""
        for gate in self.gates:
            if await gate(ctx):
                return True
        return False

    async def staff_reply(
        self, session: AsyncSession, settings: Settings, inbound_id: int, msg: InboundMessage
    ) -> None:
        """Hand a staff member's message to the feature that answers them, if any."""
        if self.staff_replier:
            await self.staff_replier(session, settings, inbound_id, msg)

    def pick(self, ctx: Context) -> Handler | None:
        """The handler for ``ctx``: its command, else its button (exact payload before
        prefix), else the member's flow, else the free-text handler."""
        if ctx.command and ctx.command in self.commands:
            return self.commands[ctx.command]
        if ctx.payload:
            if ctx.payload in self.buttons:
                return self.buttons[ctx.payload]
            prefix = ctx.payload.split(":", 1)[0]
            if prefix in self.buttons:
                return self.buttons[prefix]
        if ctx.contact.flow and ctx.contact.flow in self.flows:
            return self.flows[ctx.contact.flow]
        return self.text_handler
