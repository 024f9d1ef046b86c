"""The dispatcher: which handler a message goes to, what it refuses to join, and its hooks."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import Settings
from bot.conversation.router import Context, Dispatcher, Gate, Handler, Router
from bot.messages import InboundMessage, Kind
from tests.conversation.helpers import context


def feature(name: str, log: list[str]) -> Router:
    """A router with one of everything, each handler noting its name when it runs."""
    router = Router(name)

    def noting(what: str) -> Handler:
        async def handler(ctx: Context) -> None:
            log.append(what)

        return handler

    router.command("help")(noting("command help"))
    router.button("menu")(noting("button menu"))
    router.button("menu:secretariat")(noting("button menu:secretariat"))
    router.flow("survey")(noting("flow survey"))
    router.text()(noting("free text"))
    return router


async def picked(dispatcher: Dispatcher, ctx: Context, log: list[str]) -> str | None:
    handler = dispatcher.pick(ctx)
    if handler is None:
        return None
    await handler(ctx)
    return log.pop()


@pytest.fixture
def log() -> list[str]:
    return []


@pytest.fixture
def dispatcher(log: list[str]) -> Dispatcher:
    return Dispatcher([feature("everything", log)])


async def test_a_command_comes_before_a_button_a_flow_and_free_text(
    dispatcher: Dispatcher, log: list[str]
) -> None:
    ctx = context("help", command="help", payload="menu:main", flow="survey")
    assert await picked(dispatcher, ctx, log) == "command help"


async def test_a_button_comes_before_the_flow(dispatcher: Dispatcher, log: list[str]) -> None:
    ctx = context("2", payload="menu:main", flow="survey")
    assert await picked(dispatcher, ctx, log) == "button menu"


async def test_an_exact_payload_wins_over_its_prefix(
    dispatcher: Dispatcher, log: list[str]
) -> None:
    ctx = context(kind=Kind.BUTTON, payload="menu:secretariat")
    assert await picked(dispatcher, ctx, log) == "button menu:secretariat"


async def test_the_flow_comes_before_free_text(dispatcher: Dispatcher, log: list[str]) -> None:
    assert await picked(dispatcher, context("many", flow="survey"), log) == "flow survey"


async def test_free_text_is_the_last_resort(dispatcher: Dispatcher, log: list[str]) -> None:
    assert await picked(dispatcher, context("what is ChildPact?"), log) == "free text"
    # A command, button or flow nobody registered falls through to it as well.
    ctx = context("x", command="link", payload="nobody:1", flow="gone")
    assert await picked(dispatcher, ctx, log) == "free text"


def test_without_a_free_text_handler_nothing_is_picked() -> None:
    assert Dispatcher([Router("quiet")]).pick(context("hello")) is None


@pytest.mark.parametrize(
    "register",
    [
        lambda r, h: r.command("help")(h),
        lambda r, h: r.button("menu")(h),
        lambda r, h: r.flow("survey")(h),
    ],
    ids=["command", "button", "flow"],
)
def test_two_features_may_not_claim_the_same_name(register: Any, log: list[str]) -> None:
    other = Router("other")

    async def handler(ctx: Context) -> None: ...

    register(other, handler)
    with pytest.raises(ValueError, match="other registers"):
        Dispatcher([feature("first", log), other])


def test_only_one_feature_answers_free_text(log: list[str]) -> None:
    second = Router("second")

    async def handler(ctx: Context) -> None: ...

    second.text()(handler)
    with pytest.raises(ValueError, match="second answers free text"):
        Dispatcher([feature("first", log), second])


def test_only_one_feature_answers_the_staff() -> None:
    async def answer(*args: object) -> None: ...

    one, two = Router("one"), Router("two")
    one.staff_reply(answer)
    two.staff_reply(answer)
    with pytest.raises(ValueError, match="two answers staff replies"):
        Dispatcher([one, two])


async def test_gates_run_in_router_order_until_one_takes_the_message() -> None:
    ran: list[str] = []

    def gate(name: str, takes: bool) -> Gate:
        async def check(ctx: Context) -> bool:
            ran.append(name)
            return takes

        return check

    first, second, third = Router("first"), Router("second"), Router("third")
    first.gate(gate("first", False))
    second.gate(gate("second", True))
    third.gate(gate("third", True))
    dispatcher = Dispatcher([first, second, third])
    assert await dispatcher.stopped_at_gate(context("hello"))
    assert ran == ["first", "second"]


async def test_without_gates_every_message_goes_through() -> None:
    assert not await Dispatcher([Router("open")]).stopped_at_gate(context("hello"))


async def test_a_staff_reply_reaches_the_feature_that_answers_the_staff() -> None:
    got: list[tuple[int, str]] = []

    async def answer(
        session: Any, settings: Settings, inbound_id: int, msg: InboundMessage
    ) -> None:
        got.append((inbound_id, msg.text))

    router = Router("handoff")
    router.staff_reply(answer)
    staff = InboundMessage("telegram", "9", "-100", kind=Kind.STAFF, text="Yes", payload="41")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    await Dispatcher([router]).staff_reply(None, settings, 7, staff)  # type: ignore[arg-type]
    assert got == [(7, "Yes")]
    # Nobody to answer them: nothing happens.
    await Dispatcher([Router("quiet")]).staff_reply(None, settings, 8, staff)  # type: ignore[arg-type]
