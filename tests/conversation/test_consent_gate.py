"""The consent gate onboarding puts before every handler: the privacy notice first, except for
what a member may do without agreeing, and for the secretariat's own chat."""

from __future__ import annotations

import pytest

from bot.conversation.commands import STAFF_FLOW
from bot.conversation.router import Context, Dispatcher
from bot.messages import Kind
from handlers import routers
from tests.conversation.helpers import context


@pytest.fixture(scope="module")
def dispatcher() -> Dispatcher:
    return Dispatcher(routers())


def offered(ctx: Context) -> list[str]:
    return [b.payload for row in ctx.replies[-1].buttons for b in row]


async def test_a_new_member_gets_the_privacy_notice_whatever_they_write(
    dispatcher: Dispatcher,
) -> None:
    ctx = context("What is ChildPact?", status="new", consent_version=None)
    assert await dispatcher.stopped_at_gate(ctx)
    assert "Do you agree?" in ctx.replies[-1].text
    assert offered(ctx) == ["consent:yes", "consent:no"]
    assert ctx.contact.flow == "onboarding"
    assert ctx.contact.flow_data == {"step": "consent", "version": "1"}  # a new member's hello is not kept


async def test_a_member_who_said_no_is_asked_again(dispatcher: Dispatcher) -> None:
    ctx = context("hello", status="declined", consent_version=None)
    assert await dispatcher.stopped_at_gate(ctx)
    assert offered(ctx) == ["consent:yes", "consent:no"]


async def test_a_returning_member_is_asked_again_and_their_question_kept(
    dispatcher: Dispatcher,
) -> None:
    ctx = context("When is the Assembly?", consent_version="0")
    assert await dispatcher.stopped_at_gate(ctx)
    assert "Our privacy notice has changed" in ctx.replies[-1].text
    assert ctx.contact.flow_data == {"step": "consent", "version": "1", "held": "When is the Assembly?"}


async def test_a_number_picked_from_earlier_options_is_not_kept(dispatcher: Dispatcher) -> None:
    ctx = context("2", payload="about:0", status="stopped", consent_version="0")
    assert await dispatcher.stopped_at_gate(ctx)
    assert ctx.contact.flow_data == {"step": "consent", "version": "1"}


async def test_a_member_who_agreed_to_this_notice_goes_through(dispatcher: Dispatcher) -> None:
    ctx = context("When is the Assembly?")
    assert not await dispatcher.stopped_at_gate(ctx)
    assert ctx.replies == []


@pytest.mark.parametrize("command", ["stop", "mydata", "deleteme"])
async def test_stop_and_my_data_need_no_consent(dispatcher: Dispatcher, command: str) -> None:
    ctx = context(command, command=command, status="new", consent_version=None)
    assert not await dispatcher.stopped_at_gate(ctx)


@pytest.mark.parametrize("payload", ["consent:yes", "consent:no", "erase:yes", "privacy:file"])
async def test_answering_the_notice_and_erasing_need_no_consent(
    dispatcher: Dispatcher, payload: str
) -> None:
    ctx = context(kind=Kind.BUTTON, payload=payload, status="new", consent_version=None)
    assert not await dispatcher.stopped_at_gate(ctx)


async def test_the_secretariat_uses_its_own_chat_without_becoming_members(
    dispatcher: Dispatcher,
) -> None:
    news = context("/news", command="news", status="new", consent_version=None)
    assert not await dispatcher.stopped_at_gate(news)
    composing = context("The Assembly meets", flow=STAFF_FLOW, status="new", consent_version=None)
    assert not await dispatcher.stopped_at_gate(composing)


async def test_a_tapped_menu_button_waits_for_consent(dispatcher: Dispatcher) -> None:
    ctx = context(kind=Kind.BUTTON, payload="menu:main", status="new", consent_version=None)
    assert await dispatcher.stopped_at_gate(ctx)
    assert offered(ctx) == ["consent:yes", "consent:no"]


async def test_a_stopped_member_back_after_the_notice_changed_has_their_question_kept(
    dispatcher: Dispatcher,
) -> None:
    ctx = context("When is the Assembly?", status="stopped", consent_version="0")
    assert await dispatcher.stopped_at_gate(ctx)
    assert "Our privacy notice has changed" in ctx.replies[-1].text
    assert ctx.contact.flow_data == {"step": "consent", "version": "1", "held": "When is the Assembly?"}
