"""POST /webhook/telegram as Telegram (and strangers) call it: secrets, garbage, every kind
of update, repeats, unusual text, and the database going away for a moment."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sqlalchemy import select

from bot.i18n import Translator
from bot.storage.models import Contact
from tests.dialog import Member
from tests.harness import SECRET, Stack, chunks, eventually, running, telegram_member
from tests.webhook.helpers import (
    deliveries_to,
    inbound_rows,
    onboarded,
    rename_table,
    settled,
    stored_messages,
)

PATH = "/webhook/telegram"
HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}


async def post_raw(stack: Stack, body: bytes, headers: dict[str, str] = HEADERS) -> httpx.Response:
    return await stack.http.post(PATH, content=body, headers=headers)


async def test_a_missing_secret_is_401_and_nothing_is_stored(backend):
    async with running(backend) as stack:
        update = telegram_member().message("hello")
        response = await stack.post_telegram(update, secret=None)
        assert response.status_code == 401
        assert await inbound_rows(stack) == 0
        assert stack.telegram.messages == []


async def test_a_wrong_secret_is_403_and_nothing_is_stored(backend):
    async with running(backend) as stack:
        member = telegram_member()
        for secret in ("wrong", "", SECRET + "x", SECRET[:-1], SECRET.upper().replace("S", "Z")):
            response = await stack.post_telegram(member.message("hello"), secret=secret)
            assert response.status_code == 403, secret
        assert await inbound_rows(stack) == 0
        assert stack.telegram.messages == []


def _deeply_nested(depth: int) -> bytes:
    return b'{"update_id": 1, "message": ' + b"[" * depth + b"]" * depth + b"}"


NOT_UPDATES: list[bytes] = [
    b"",
    b"{",
    b"not json at all",
    b"\xff\xfe\x00garbage",
    b"null",
    b"[]",
    b'[{"update_id": 1}]',
    b'"a string"',
    b"42",
    b'{"foo": 1}',
    b'{"update_id": "nonsense"}',
    b'{"update_id": "12345"}',
    b'{"update_id": true}',
    b'{"update_id": 1.5}',
    b'{"update_id": null, "message": {}}',
    # an id no Telegram update has: longer than any column could hold
    b'{"update_id": 1' + b"0" * 80 + b', "message": {"message_id": 1, "date": 0,'
    b' "chat": {"id": 1, "type": "private"}, "text": "hi"}}',
    _deeply_nested(100_000),  # deeper than the JSON parser's recursion limit
]

# Updates (an integer update_id) that the library cannot read: Telegram would send them again
# for a day if refused, so they are acknowledged, logged and dropped.
UNREADABLE_UPDATES: list[bytes] = [
    b'{"update_id": 11, "message": "hello"}',
    b'{"update_id": 12, "message": {"chat": "x"}}',
    b'{"update_id": 13, "message": {"message_id": 1, "date": 0, "chat": {"id": 1}}}',
    # a date past any calendar: the library's datetime overflows
    b'{"update_id": 14, "message": {"message_id": 1, "date": 100000000000000000000,'
    b' "chat": {"id": 1, "type": "private"}, "text": "hi"}}',
]


async def test_bodies_that_are_not_updates_are_400_and_the_process_stays_up(backend):
    async with running(backend) as stack:
        for body in NOT_UPDATES:
            response = await post_raw(stack, body)
            assert response.status_code == 400, (body[:60], response.status_code, response.text)
        for body in UNREADABLE_UPDATES:
            response = await post_raw(stack, body)
            assert response.status_code == 200, (body[:60], response.status_code, response.text)
            assert response.json() == {"ok": True, "ignored": True}
        assert (await stack.http.get("/healthz")).status_code == 200
        assert await inbound_rows(stack) == 0
        # and it still works for a real member
        member = Member(stack, "telegram")
        assert await member.say("hello")
        assert await inbound_rows(stack) == 1


async def test_an_oversized_body_is_413_with_or_without_content_length(backend):
    limit = 8 * 1024
    async with running(backend, max_body_bytes=limit) as stack:
        member = telegram_member()
        big = json.dumps(member.message("x" * (limit + 100))).encode()
        declared = await post_raw(stack, big)
        assert declared.status_code == 413
        chunked = await stack.http.post(PATH, content=chunks(big), headers=HEADERS)
        assert "content-length" not in chunked.request.headers
        assert chunked.request.headers.get("transfer-encoding") == "chunked"
        assert chunked.status_code == 413
        # a body that lies about its size is cut off at the limit all the same
        assert await inbound_rows(stack) == 0
        # just under the limit is an ordinary update
        fits = member.message("y" * (limit // 2))
        assert (await stack.post_telegram(fits)).status_code == 200
        assert await inbound_rows(stack) == 1


def _poll_update(update_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "poll": {
            "id": "5368954384754671620",
            "question": "Which day suits the coalition meeting?",
            "options": [
                {"text": "Monday", "voter_count": 3},
                {"text": "Friday", "voter_count": 1},
            ],
            "total_voter_count": 4,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
        },
    }


async def test_updates_that_are_not_questions_are_200_and_get_no_reply(backend):
    async with running(backend) as stack:
        member = telegram_member()
        group = -1001876543210
        updates = [
            member.group_message("hello everyone", chat_id=group),
            member.group_message("/start", chat_id=-4012345678),
            member.my_chat_member("kicked"),
            member.my_chat_member("member"),
        ]
        # Kinds the webhook did not ask for: Telegram keeps them back ...
        unasked = [member.edited_message("edited text"), _poll_update(member.chat_id * 10 + 900)]
        for update in unasked:
            assert await stack.telegram.deliver(update) is None
        # ... but should one come (an old subscription, an update type Telegram may add
        # tomorrow, an empty one), the webhook still answers well.
        odd = [
            *unasked,
            {"update_id": member.chat_id * 10 + 901, "future_thing": {"id": 7, "x": [1, 2]}},
            {"update_id": member.chat_id * 10 + 902},
        ]
        for update in updates:
            response = await stack.post_telegram(update)
            assert response.status_code == 200, (update, response.text)
            assert response.json()["ok"] is True
        for update in odd:
            response = await stack.post_telegram_directly(update)
            assert response.status_code == 200, (update, response.text)
            assert response.json()["ok"] is True
        await settled(stack)
        assert stack.telegram.messages == []
        for address in (str(member.chat_id), str(group)):
            assert await deliveries_to(stack, "telegram", address) == []
        async with stack.service.db.session() as session:
            nameless = await session.scalar(select(Contact.id).where(Contact.address == ""))
        assert nameless is None, "an update from nobody made a contact"


async def test_media_in_a_private_chat_gets_one_polite_reply(backend):
    async with running(backend) as stack:
        member = Member(stack, "telegram", lang="en")
        await onboarded(stack, "telegram", member.address)
        polite = Translator("en")("I can only read text for now. Please type your message.")
        builder = member.builder
        assert builder is not None
        for update in (builder.sticker(), builder.photo(), builder.voice()):
            response = await stack.post_telegram(update)
            assert response.status_code == 200
            replies = await member.replies()
            assert [r.text for r in replies] == [polite], update
        assert len(stack.telegram.messages_to(member.address)) == 3


async def test_media_from_a_new_member_gets_the_welcome_once(backend):
    async with running(backend) as stack:
        member = Member(stack, "telegram", lang="en")
        assert member.builder is not None
        response = await stack.post_telegram(member.builder.photo(caption="our poster"))
        assert response.status_code == 200
        replies = await member.replies()
        assert len(replies) == 1
        assert replies[0].payloads == ["consent:yes", "consent:no"]


async def test_callback_queries_are_always_answered(backend):
    async with running(backend) as stack:
        member = Member(stack, "telegram", lang="en")
        builder = member.builder
        assert builder is not None
        unknown = builder.callback_query("nonsense:zz9", query_id="4400000000000000001")
        from_group = builder.callback_query("menu:about", query_id="4400000000000000002")
        from_group["callback_query"]["message"]["chat"] = {
            "id": -1001876543210,
            "title": "ChildPact coalition",
            "type": "supergroup",
        }
        without_data = builder.callback_query("x", query_id="4400000000000000003")
        del without_data["callback_query"]["data"]
        without_data["callback_query"]["game_short_name"] = "quiz"
        for update in (unknown, from_group, without_data):
            assert (await stack.post_telegram(update)).status_code == 200
        await settled(stack)
        answered = {c.callback_query_id for c in stack.telegram.callbacks}
        assert answered == {"4400000000000000001", "4400000000000000002", "4400000000000000003"}
        # the group's tap was answered but earned no message in the group
        assert stack.telegram.messages_to(-1001876543210) == []


async def test_the_same_update_twice_gets_one_reply(backend):
    async with running(backend) as stack:
        member = Member(stack, "telegram", lang="en")
        assert member.builder is not None
        update = member.builder.message("hello")
        first = await stack.post_telegram(update)
        second = await stack.post_telegram(update)
        assert (first.status_code, second.status_code) == (200, 200)
        assert len(await member.replies()) == 1
        # and when the repeat arrives while the first is still being stored
        again = member.builder.message("/help")
        answers = await asyncio.gather(*(stack.post_telegram(again) for _ in range(5)))
        assert [a.status_code for a in answers] == [200] * 5
        await member.replies()
        await settled(stack)
        assert len(stack.telegram.messages_to(member.address)) == 2
        assert len(await stored_messages(stack, "telegram")) == 2


UNUSUAL_TEXTS = [
    "Bună ziua 👋🏽",
    "👨‍👩‍👧‍👦 family emoji joined by zero-width joiners",
    "\u200fשלום\u200f mixed with Latin and an RTL mark",
    "مرحبا\u200f\u202eevil override\u202c",
    "zero\u200bwidth\u200cnon\u200djoiner\ufeffBOM",
    "e\u0301 combining accent, and a flag 🇲🇩",
    "გამარჯობა Բարեւ Здраво Salam",
    "𝕳𝖊𝖑𝖑𝖔 𝟙𝟚𝟛 and 🧑🏿‍🦱",
    "\t  leading and trailing space  \n",
    "ა" * 4096,
    ("🇷🇴" * 500 + "x" * 96)[:4096],
]


async def test_unusual_unicode_is_stored_as_it_was_sent(backend):
    async with running(backend) as stack:
        member = Member(stack, "telegram", lang="en")
        assert member.builder is not None
        for text in UNUSUAL_TEXTS:
            response = await stack.post_telegram(member.builder.message(text))
            assert response.status_code == 200, text[:40]
        stored = [m["text"] for m in await stored_messages(stack, "telegram")]
        assert stored == UNUSUAL_TEXTS
        await member.replies()  # and the engine handles them all
        assert (await stack.http.get("/healthz")).status_code == 200


async def test_lone_surrogates_and_nul_never_make_a_500(backend):
    async with running(backend) as stack:
        member = Member(stack, "telegram", lang="en")
        assert member.builder is not None
        texts = ["broken \ud800 half", "\udfff", "pair \ud83d\ude00 ok", "nul\u0000inside"]
        for text in texts:
            # json.dumps escapes the lone surrogates as \ud800: valid JSON, invalid Unicode
            body = json.dumps(member.builder.message(text)).encode("ascii")
            response = await post_raw(stack, body)
            assert response.status_code in (200, 400), (text, response.status_code)
            assert response.status_code == 200, "a member's message is not refused for a glyph"
        stored = [m["text"] for m in await stored_messages(stack, "telegram")]
        assert stored == ["broken \ufffd half", "\ufffd", "pair 😀 ok", "nulinside"]
        await member.replies()
        assert (await stack.http.get("/healthz")).status_code == 200


async def test_while_the_database_is_gone_updates_are_503_then_stored_when_it_is_back(backend):
    async with running(backend) as stack:
        member = Member(stack, "telegram", lang="en")
        assert member.builder is not None
        update = member.builder.message("hello")
        await rename_table(stack, "inbound", "inbound_away")
        try:
            for _ in range(3):  # Telegram repeats with growing delays
                response = await stack.post_telegram(update)
                assert response.status_code == 503, response.text
        finally:
            await rename_table(stack, "inbound_away", "inbound")
        assert stack.telegram.messages == []

        async def stored_on_retry() -> bool:
            return (await stack.post_telegram(update)).status_code == 200

        await eventually(stored_on_retry, timeout=60, every=0.2)
        replies = await member.replies()
        assert len(replies) == 1 and replies[0].payloads == ["consent:yes", "consent:no"]
        # more repeats of the same update after it was stored change nothing
        assert (await stack.post_telegram(update)).status_code == 200
        await settled(stack)
        assert len(stack.telegram.messages_to(member.address)) == 1


async def test_a_slow_body_does_not_block_other_members(backend):
    async with running(backend) as stack:
        member = Member(stack, "telegram", lang="en")
        assert member.builder is not None
        body = json.dumps(member.builder.message("slow")).encode()

        half = len(body) // 2
        begun, released = asyncio.Event(), asyncio.Event()

        async def trickle() -> AsyncIterator[bytes]:
            # Half the body in small pieces, then nothing until the other member is answered:
            # a server that waited for this body first would never answer them.
            for byte in range(0, half, 16):
                await asyncio.sleep(0.02)
                yield body[byte : min(byte + 16, half)]
                begun.set()
            await released.wait()
            yield body[half:]

        slow = asyncio.create_task(stack.http.post(PATH, content=trickle(), headers=HEADERS))
        try:
            await asyncio.wait_for(begun.wait(), 30)
            other = Member(stack, "telegram", lang="en")
            assert await other.say("hello")
        finally:
            released.set()
        assert (await slow).status_code == 200
