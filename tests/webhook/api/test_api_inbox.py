"""The inbox API: conversations within scope, answers that reach members on their channel,
assignment, closing and reopening, unanswered questions; every change in the audit log."""

from __future__ import annotations

from sqlalchemy import select

from bot.i18n import Translator
from bot.secretariat import accounts, inbox
from bot.secretariat.staff import Staff
from bot.secretariat.tokens import create_api_token
from bot.storage.models import AuditEntry
from tests.dialog import Member
from tests.handlers.test_handoff import ADMIN, ALERTS, answer_reaches, posted_to
from tests.handlers.test_menu import onboard
from tests.harness import Stack, running
from tests.webhook.api.conftest import PASSWORD, SECRET_TEXT

CHANGES = ("reply", "assign", "close", "reopen")


async def conversation_ids(api, who, query=""):
    response = await api.call(who, "GET", f"/api/inbox{query}")
    assert response.status_code == 200, response.text
    return [c["id"] for c in response.json()["conversations"]]


async def test_each_role_reads_the_inbox_within_its_scope_safeguarding_first(api):
    ro, md = api.conversations["ro"], api.conversations["md"]
    for who in ("admin", "editor", "viewer"):
        assert await conversation_ids(api, who) == [md, ro]
    assert await conversation_ids(api, "md_editor") == [md]
    assert await conversation_ids(api, "admin", "?limit=1&offset=1") == [ro]
    one = await api.call("viewer", "GET", f"/api/inbox/{md}")
    assert one.json()["kind"] == "safeguarding" and one.json()["assignee_id"] is None
    assert one.json()["messages"][0]["text"] == SECRET_TEXT
    assert (await api.call("md_editor", "GET", f"/api/inbox/{ro}")).status_code == 404
    assert (await api.call("admin", "GET", "/api/inbox/999999")).status_code == 404


async def test_viewers_and_other_countries_change_nothing(api):
    ro, md = api.conversations["ro"], api.conversations["md"]
    bodies = {"reply": {"text": "hi"}, "assign": {"staff_id": None}}
    for change in CHANGES:
        body = bodies.get(change)
        viewer = await api.call("viewer", "POST", f"/api/inbox/{md}/{change}", json=body)
        assert viewer.status_code == 403, (change, viewer.text)
        other = await api.call("md_editor", "POST", f"/api/inbox/{ro}/{change}", json=body)
        assert other.status_code == 404, (change, other.text)
        nobody = await api.call(None, "POST", f"/api/inbox/{md}/{change}", json=body)
        assert nobody.status_code == 401
    assert await conversation_ids(api, "admin") == [md, ro]


async def test_editors_assign_close_and_reopen_and_the_log_records_it(api):
    md = api.conversations["md"]
    url = f"/api/inbox/{md}"
    viewer_id, helper_id = api.staff["viewer"].id, api.staff["md_editor"].id
    # Only an editor or administrator who sees the member can be given it; a viewer cannot,
    # and the answer does not tell an account that exists from one that does not.
    viewer = await api.call("md_editor", "POST", f"{url}/assign", json={"staff_id": viewer_id})
    nobody = await api.call("md_editor", "POST", f"{url}/assign", json={"staff_id": 999999})
    assert viewer.status_code == nobody.status_code == 422
    assert viewer.json() == nobody.json()
    ro = await api.call("admin", "POST", f"/api/inbox/{api.conversations['ro']}/assign",
                        json={"staff_id": helper_id})  # fmt: skip
    assert ro.status_code == 422  # the Moldovan coordinator does not see Romania's member
    assigned = await api.call("md_editor", "POST", f"{url}/assign", json={"staff_id": helper_id})
    assert assigned.status_code == 200 and assigned.json()["assignee_id"] == helper_id
    unassigned = await api.call("editor", "POST", f"{url}/assign", json={"staff_id": None})
    assert unassigned.json()["assignee_id"] is None
    closed = await api.call("editor", "POST", f"{url}/close")
    assert closed.json()["status"] == "closed" and closed.json()["closed_at"]
    assert await conversation_ids(api, "admin") == [api.conversations["ro"]]
    assert md in await conversation_ids(api, "admin", "?status=closed")
    again = await api.call("editor", "POST", f"{url}/close")
    assert again.status_code == 200 and again.json()["status"] == "closed"
    reopened = await api.call("admin", "POST", f"{url}/reopen")
    assert reopened.json()["status"] == "open" and reopened.json()["closed_at"] is None
    async with api.service.db.session() as session:
        log = [
            (e.actor, e.action, e.target, e.detail)
            for e in await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    target = f"conversation:{md}"
    assert log == [
        ("md_editor@childpact.org", "inbox.assign", target, {"staff_id": helper_id}),
        ("editor@childpact.org", "inbox.assign", target, {"staff_id": None}),
        ("editor@childpact.org", "inbox.close", target, {}),
        ("admin@childpact.org", "inbox.reopen", target, {}),
    ]


async def test_unanswered_questions_for_every_role(api):
    for who in ("admin", "viewer", "md_editor"):
        response = await api.call(who, "GET", "/api/unanswered?locale=ro")
        assert response.status_code == 200 and response.json() == {"questions": []}
    assert (await api.call(None, "GET", "/api/unanswered")).status_code == 401


async def test_unanswered_questions_keep_to_the_askers_country(api):
    asked = "What is the salary of Maria from RO, call +40 721 000 111 or mail maria@ro.example?"
    async with api.service.db.session() as session, session.begin():
        await inbox.count_unanswered(session, "en", asked, "RO")
        await inbox.count_unanswered(session, "en", "When is the assembly?", "RO")
        await inbox.count_unanswered(session, "en", "When is the assembly?", "MD")
    everyone = (await api.call("viewer", "GET", "/api/unanswered")).json()["questions"]
    assert [(q["question"], q["count"]) for q in everyone] == [
        ("When is the assembly?", 2),
        ("What is the salary of Maria from RO, call … or mail …?", 1),
    ]
    assert "maria@ro.example" not in str(everyone) and "721" not in str(everyone)
    moldova = (await api.call("md_editor", "GET", "/api/unanswered")).json()["questions"]
    assert [(q["question"], q["count"]) for q in moldova] == [("When is the assembly?", 1)]


async def token_of(stack: Stack, email: str, role: str, country: str | None = None) -> dict:
    async with stack.service.db.session() as session, session.begin():
        user = await accounts.create_account(
            session, email, role, password=PASSWORD, country=country
        )
        _, token = await create_api_token(session, Staff.of(user), "tests")
    return {"Authorization": f"Bearer {token}"}


async def test_an_answer_from_the_api_reaches_the_member_on_their_channel(backend):
    async with running(
        backend, admin_telegram_chat_id=ADMIN, safeguarding_telegram_chat_id=ALERTS
    ) as stack:
        editor = await token_of(stack, "editor@childpact.org", "editor")
        md_editor = await token_of(stack, "md@childpact.org", "editor", "MD")
        writer = Member(stack, "web")
        await onboard(writer, "sr_Latn", "RS")
        await writer.tap("menu:secretariat")
        await writer.say("Kada je sledeća skupština?")
        worried = Member(stack, "whatsapp", country_code="373")
        await onboard(worried, "ru", "MD")
        await worried.say("отчим избивает мальчика, ему 9 лет")
        await posted_to(stack, ALERTS)
        teller = Member(stack, "telegram", lang="ro")
        await onboard(teller, "ro", "RO")
        await teller.tap("menu:secretariat")
        await teller.say("Când e adunarea?")

        inbox = (await stack.http.get("/api/inbox", headers=editor)).json()["conversations"]
        assert [c["kind"] for c in inbox] == ["safeguarding", "secretariat", "secretariat"]
        urgent, telegram_thread, question = inbox
        assert urgent["member"]["locale"] == "ru" and urgent["member"]["channel"] == "whatsapp"
        assert "address" not in urgent["member"]
        assert worried.address.removeprefix("whatsapp:") not in str(inbox)

        answered = await stack.http.post(
            f"/api/inbox/{question['id']}/reply",
            headers=editor,
            json={"text": "U junu, u Beogradu."},
        )
        assert answered.status_code == 200, answered.text
        assert [m["direction"] for m in answered.json()["messages"]] == ["member", "secretariat"]
        answer = await answer_reaches(writer)
        sr = Translator("sr_Latn")
        assert (
            answer[-1].text
            == sr("Reply from the ChildPact secretariat:") + "\n\nU junu, u Beogradu."
        )
        echo = (await posted_to(stack, ADMIN, 3))[-1]
        assert f"#{question['id']}" in (echo.text or "") and "U junu" in (echo.text or "")

        scoped = await stack.http.get("/api/inbox", headers=md_editor)
        assert [c["id"] for c in scoped.json()["conversations"]] == [urgent["id"]]
        await stack.http.post(
            f"/api/inbox/{urgent['id']}/reply", headers=md_editor, json={"text": "Звоним вам."}
        )
        assert (await answer_reaches(worried))[-1].text.endswith("Звоним вам.")  # via Twilio
        refused = await stack.http.post(
            f"/api/inbox/{telegram_thread['id']}/reply", headers=md_editor, json={"text": "x"}
        )
        assert refused.status_code == 404
        await stack.http.post(
            f"/api/inbox/{telegram_thread['id']}/reply", headers=editor, json={"text": "În mai."}
        )
        assert (await answer_reaches(teller))[-1].text.endswith("În mai.")  # via Telegram

        empty = await stack.http.post(
            f"/api/inbox/{urgent['id']}/reply", headers=editor, json={"text": " "}
        )
        assert empty.status_code == 422
        async with stack.service.db.session() as session:
            replies = list(
                await session.scalars(
                    select(AuditEntry.target).where(AuditEntry.action == "inbox.reply")
                )
            )
        assert sorted(replies) == sorted(
            f"conversation:{c['id']}" for c in (question, urgent, telegram_thread)
        )


async def test_the_questions_the_bot_could_not_answer_most_asked_first(backend):
    async with running(backend) as stack:
        viewer = await token_of(stack, "viewer@childpact.org", "viewer")
        member = Member(stack, "web")
        await onboard(member, "en")
        for question in (
            "recipe for khachapuri",
            "usd to lei rate today",
            "Recipe for khachapuri!",
        ):
            await member.say(question)
        found = (await stack.http.get("/api/unanswered", headers=viewer)).json()["questions"]
        assert [(q["question"], q["count"], q["locale"]) for q in found] == [
            ("recipe for khachapuri", 2, "en"),
            ("usd to lei rate today", 1, "en"),
        ]
