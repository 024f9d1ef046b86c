"""The inbox API: the secretariat reads conversations, answers members and closes threads."""

from __future__ import annotations

import pytest

from bot.i18n import Translator
from tests.dialog import Member
from tests.handlers.test_handoff import ADMIN, ALERTS, answer_reaches, posted_to
from tests.handlers.test_menu import onboard
from tests.harness import running

TOKEN = "inbox-" + "k" * 26
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ROUTES = [
    ("get", "/api/inbox"),
    ("post", "/api/inbox/1/reply"),
    ("post", "/api/inbox/1/close"),
    ("get", "/api/unanswered"),
]


async def test_without_a_token_setting_the_inbox_api_is_off(backend):
    async with running(backend) as stack:
        for method, path in ROUTES:
            response = await stack.http.request(method, path, headers=AUTH, json={"text": "x"})
            assert response.status_code == 404
            assert response.json()["detail"] == "inbox API is off"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401),
        ({"Authorization": "Bearer"}, 401),
        ({"Authorization": "Bearer wrong-token-of-some-length"}, 403),
        ({"Authorization": f"Bearer {TOKEN}x"}, 403),
    ],
)
async def test_the_inbox_api_wants_the_bearer_token(backend, headers, status):
    async with running(backend, admin_api_token=TOKEN) as stack:
        for method, path in ROUTES:
            response = await stack.http.request(method, path, headers=headers, json={"text": "x"})
            assert response.status_code == status, (path, response.text)
        if status == 401:
            assert response.headers["www-authenticate"] == "Bearer"


async def test_staff_read_answer_and_close_conversations_through_the_api(backend):
    async with running(
        backend,
        admin_api_token=TOKEN,
        admin_telegram_chat_id=ADMIN,
        safeguarding_telegram_chat_id=ALERTS,
    ) as stack:
        writer = Member(stack, "web")
        await onboard(writer, "sr_Latn", "RS")
        await writer.tap("menu:secretariat")
        await writer.say("Kada je sledeća skupština?")
        worried = Member(stack, "whatsapp", country_code="373")
        await onboard(worried, "ru", "MD")
        await worried.say("отчим избивает мальчика, ему 9 лет")
        await posted_to(stack, ALERTS)

        inbox = (await stack.http.get("/api/inbox", headers=AUTH)).json()["conversations"]
        assert [c["kind"] for c in inbox] == ["safeguarding", "secretariat"]
        urgent, question = inbox
        assert urgent["member"]["locale"] == "ru" and urgent["member"]["channel"] == "whatsapp"
        assert "address" not in urgent["member"]
        assert worried.address.removeprefix("whatsapp:") not in str(inbox)
        assert question["messages"][0] == {
            **question["messages"][0],
            "direction": "member",
            "text": "Kada je sledeća skupština?",
        }

        answered = await stack.http.post(
            f"/api/inbox/{question['id']}/reply", headers=AUTH, json={"text": "U junu, u Beogradu."}
        )
        assert answered.status_code == 200, answered.text
        assert [m["direction"] for m in answered.json()["messages"]] == ["member", "secretariat"]
        answer = await answer_reaches(writer)
        sr = Translator("sr_Latn")
        assert (
            answer[-1].text
            == sr("Reply from the ChildPact secretariat:") + "\n\nU junu, u Beogradu."
        )
        echo = (await posted_to(stack, ADMIN, 2))[-1]
        assert f"#{question['id']}" in (echo.text or "") and "U junu" in (echo.text or "")

        await stack.http.post(
            f"/api/inbox/{urgent['id']}/reply", headers=AUTH, json={"text": "Звоним вам."}
        )
        assert (await answer_reaches(worried))[-1].text.endswith("Звоним вам.")

        closed = await stack.http.post(f"/api/inbox/{question['id']}/close", headers=AUTH)
        assert closed.json()["status"] == "closed" and closed.json()["closed_at"]
        still_open = (await stack.http.get("/api/inbox", headers=AUTH)).json()["conversations"]
        assert [c["id"] for c in still_open] == [urgent["id"]]
        everything = (await stack.http.get("/api/inbox?status=all", headers=AUTH)).json()
        assert len(everything["conversations"]) == 2

        assert (await stack.http.post("/api/inbox/999999/close", headers=AUTH)).status_code == 404
        missing = await stack.http.post(
            "/api/inbox/999999/reply", headers=AUTH, json={"text": "hi"}
        )
        assert missing.status_code == 404
        empty = await stack.http.post(
            f"/api/inbox/{urgent['id']}/reply", headers=AUTH, json={"text": " "}
        )
        assert empty.status_code == 422


async def test_the_questions_the_bot_could_not_answer_most_asked_first(backend):
    async with running(backend, admin_api_token=TOKEN) as stack:
        member = Member(stack, "web")
        await onboard(member, "en")
        for question in (
            "recipe for khachapuri",
            "usd to lei rate today",
            "Recipe for khachapuri!",
        ):
            await member.say(question)
        found = (await stack.http.get("/api/unanswered", headers=AUTH)).json()["questions"]
        assert [(q["question"], q["count"], q["locale"]) for q in found] == [
            ("recipe for khachapuri", 2, "en"),
            ("usd to lei rate today", 1, "en"),
        ]
        other = await stack.http.get("/api/unanswered?locale=ro", headers=AUTH)
        assert other.json()["questions"] == []


async def test_the_inbox_api_is_described_in_openapi(backend):
    async with running(backend) as stack:
        schema = (await stack.http.get("/openapi.json")).json()
        for path in ("/api/inbox", "/api/inbox/{conversation_id}/reply", "/api/unanswered"):
            assert path in schema["paths"]
        listing = schema["paths"]["/api/inbox"]["get"]
        assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Inbox"
        }
        assert {"HTTPBearer": []} in listing["security"]
        assert "ConversationOut" in schema["components"]["schemas"]
