"""The inbox's internal notes and assignment over the API: notes for the secretariat only (in
the conversation, in the audit log without their text, never in what reaches the member or in
the member's own data); the inbox narrowed to "mine", "nobody's" or one country; the rules,
set by those who answer the inbox, that give a country's new conversations to one person."""

from __future__ import annotations

from sqlalchemy import select

from bot.privacy.erasure import erase
from bot.privacy.export import as_json, collect
from bot.secretariat import accounts
from bot.storage.models import (
    AuditEntry,
    Conversation,
    ConversationMessage,
    ConversationNote,
    Delivery,
)
from tests.dialog import Member
from tests.handlers.test_menu import contact_of, onboard
from tests.harness import running
from tests.webhook.api.test_api_inbox import ALERTS, conversation_ids, token_of

NOTE = "Called her office: the delegates' list comes on Monday."


async def test_staff_write_notes_the_member_never_gets(api):
    ro, md = api.conversations["ro"], api.conversations["md"]
    added = await api.call("editor", "POST", f"/api/inbox/{ro}/notes", json={"text": NOTE})
    assert added.status_code == 201, added.text
    [note] = added.json()["notes"]
    assert note["text"] == NOTE and note["author"] == "editor@childpact.org"
    assert note["author_id"] == api.staff["editor"].id and note["created_at"]
    # A note is not a message: nothing joined the conversation's messages, nothing was queued.
    assert [m["direction"] for m in added.json()["messages"]] == ["member"]
    for who in ("viewer", "admin"):
        seen = await api.call(who, "GET", f"/api/inbox/{ro}")
        assert [n["text"] for n in seen.json()["notes"]] == [NOTE]
    listed = (await api.call("viewer", "GET", "/api/inbox")).json()["conversations"]
    assert {c["id"]: len(c["notes"]) for c in listed} == {ro: 1, md: 0}

    viewer = await api.call("viewer", "POST", f"/api/inbox/{ro}/notes", json={"text": "x"})
    other = await api.call("md_editor", "POST", f"/api/inbox/{ro}/notes", json={"text": "x"})
    empty = await api.call("editor", "POST", f"/api/inbox/{ro}/notes", json={"text": "   "})
    none = await api.call("editor", "POST", f"/api/inbox/{ro}/notes", json={"text": ""})
    long = await api.call("editor", "POST", f"/api/inbox/{ro}/notes", json={"text": "x" * 4001})
    assert (viewer.status_code, other.status_code) == (403, 404)
    assert empty.status_code == none.status_code == long.status_code == 422
    async with api.service.db.session() as session:
        log = [
            (e.actor, e.action, e.target, e.detail)
            for e in await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
        sent = [d.message.get("text", "") for d in await session.scalars(select(Delivery))]
        [kept] = list(await session.scalars(select(ConversationNote)))
    assert log == [("editor@childpact.org", "inbox.note", f"conversation:{ro}",
                    {"note_id": note["id"]})]  # fmt: skip
    assert not any(NOTE in text for text in sent)
    assert kept.text == NOTE


async def test_the_inbox_narrows_to_mine_nobodys_or_a_country(api):
    ro, md = api.conversations["ro"], api.conversations["md"]
    helper = api.staff["md_editor"].id
    assigned = await api.call("admin", "POST", f"/api/inbox/{md}/assign", json={"staff_id": helper})
    assert assigned.status_code == 200
    assert await conversation_ids(api, "md_editor", "?assigned=me") == [md]
    assert await conversation_ids(api, "editor", "?assigned=me") == []
    assert await conversation_ids(api, "admin", "?assigned=nobody") == [ro]
    assert await conversation_ids(api, "viewer", "?country=RO") == [ro]
    assert await conversation_ids(api, "viewer", "?country=MD&assigned=nobody") == []
    assert await conversation_ids(api, "md_editor", "?country=RO") == []  # outside its scope
    unknown = await api.call("admin", "GET", "/api/inbox?country=FR")
    assert unknown.status_code == 422


async def test_those_who_answer_set_the_rules_each_for_someone_who_can_answer(api):
    editor, helper = api.staff["editor"].id, api.staff["md_editor"].id
    url = "/api/assignment-rules"
    set_ro = await api.call("editor", "PUT", f"{url}/RO", json={"staff_id": editor})
    assert set_ro.status_code == 200, set_ro.text
    assert set_ro.json() == {"rules": [{"country": "RO", "staff_id": editor}]}
    # A viewer cannot answer, nor can Moldova's coordinator answer Romania's members.
    viewer = await api.call("admin", "PUT", f"{url}/MD", json={"staff_id": api.staff["viewer"].id})
    wrong = await api.call("admin", "PUT", f"{url}/RO", json={"staff_id": helper})
    missing = await api.call("admin", "PUT", f"{url}/RO", json={"staff_id": 999999})
    assert viewer.status_code == wrong.status_code == missing.status_code == 422
    # A viewer sets nothing; Moldova's coordinator nothing outside Moldova.
    by_viewer = await api.call("viewer", "PUT", f"{url}/MD", json={"staff_id": editor})
    assert by_viewer.status_code == 403
    outside = await api.call("md_editor", "PUT", f"{url}/RO", json={"staff_id": helper})
    assert outside.status_code == 404
    assert (await api.call("md_editor", "DELETE", f"{url}/RO")).status_code == 404
    assert (
        await api.call("admin", "PUT", f"{url}/FR", json={"staff_id": editor})
    ).status_code == 422
    await api.call("md_editor", "PUT", f"{url}/MD", json={"staff_id": helper})
    everyone = (await api.call("viewer", "GET", url)).json()["rules"]
    assert everyone == [
        {"country": "MD", "staff_id": helper},
        {"country": "RO", "staff_id": editor},
    ]
    assert (await api.call("md_editor", "GET", url)).json()["rules"] == [
        {"country": "MD", "staff_id": helper}
    ]
    removed = await api.call("admin", "DELETE", f"{url}/RO")
    assert removed.json()["rules"] == [{"country": "MD", "staff_id": helper}]
    assert (await api.call("admin", "DELETE", f"{url}/RO")).status_code == 404
    async with api.service.db.session() as session:
        log = [
            (e.action, e.detail)
            for e in await session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]
    assert log == [
        ("inbox.rules", {"rules": {"RO": editor}}),
        ("inbox.rules", {"rules": {"MD": helper}}),
        ("inbox.rules", {"rules": {"RO": None}}),
    ]


async def test_a_new_conversation_goes_to_its_countrys_person_and_can_be_handed_on(backend):
    async with running(backend) as stack:
        admin = await token_of(stack, "admin@childpact.org", "admin")
        async with stack.service.db.session() as session, session.begin():
            ana = await accounts.create_account(session, "ana@childpact.org", "editor",
                                                password="correct horse battery", country="MD")  # fmt: skip
            ion = await accounts.create_account(session, "ion@childpact.org", "editor",
                                                password="correct horse battery")  # fmt: skip
            ana_id, ion_id = ana.id, ion.id
        rule = await stack.http.put("/api/assignment-rules/MD", headers=admin,
                                    json={"staff_id": ana_id})  # fmt: skip
        assert rule.status_code == 200, rule.text

        moldovan = Member(stack, "whatsapp", country_code="373")
        await onboard(moldovan, "ru", "MD")
        await moldovan.tap("menu:secretariat")
        await moldovan.say("Когда будет следующее собрание?")
        romanian = Member(stack, "telegram", lang="ro")
        await onboard(romanian, "ro", "RO")
        await romanian.tap("menu:secretariat")
        await romanian.say("Când e adunarea?")

        found = (await stack.http.get("/api/inbox", headers=admin)).json()["conversations"]
        by_country = {c["member"]["country"]: c for c in found}
        assert by_country["MD"]["assignee_id"] == ana_id
        assert by_country["RO"]["assignee_id"] is None  # Romania has no rule
        md = by_country["MD"]["id"]
        handed = await stack.http.post(f"/api/inbox/{md}/assign", headers=admin,
                                       json={"staff_id": ion_id})  # fmt: skip
        assert handed.json()["assignee_id"] == ion_id
        async with stack.service.db.session() as session:
            log = [
                (e.actor, e.action, e.target, e.detail)
                for e in await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == "inbox.assign")
                    .order_by(AuditEntry.id)
                )
            ]  # fmt: skip
        assert log == [
            ("system", "inbox.assign", f"conversation:{md}", {"staff_id": ana_id, "rule": True}),
            ("admin@childpact.org", "inbox.assign", f"conversation:{md}", {"staff_id": ion_id}),
        ]

        # A rule naming an account that can no longer answer gives the conversation to nobody.
        async with stack.service.db.session() as session, session.begin():
            (await session.get(type(ana), ana_id)).status = "disabled"  # type: ignore[union-attr]
        closed = await stack.http.post(f"/api/inbox/{md}/close", headers=admin)
        assert closed.status_code == 200
        await moldovan.say("И ещё вопрос")
        again = await stack.http.get("/api/inbox?country=MD", headers=admin)
        [fresh] = again.json()["conversations"]
        assert fresh["id"] != md and fresh["assignee_id"] is None


async def test_a_country_coordinator_sees_what_a_member_wrote_before_naming_their_country(
    backend,
):
    # A WhatsApp member from Moldova (+373) whose first message tells of a child in danger:
    # the rule gives the conversation to Moldova's coordinator, who must then see it.
    async with running(backend, safeguarding_telegram_chat_id=ALERTS) as stack:
        admin = await token_of(stack, "admin@childpact.org", "admin")
        ana = await token_of(stack, "ana@childpact.org", "editor", country="MD")
        ro = await token_of(stack, "radu@childpact.org", "editor", country="RO")
        ana_id = (await stack.http.get("/api/me", headers=ana)).json()["id"]
        rule = await stack.http.put("/api/assignment-rules/MD", headers=admin,
                                    json={"staff_id": ana_id})  # fmt: skip
        assert rule.status_code == 200, rule.text
        moldovan = Member(stack, "whatsapp", country_code="373")
        await moldovan.say("Соседский мальчик 6 лет второй день один дома, мать не отвечает")
        assert (await contact_of(moldovan)).country is None  # not asked yet

        [seen] = (await stack.http.get("/api/inbox", headers=ana)).json()["conversations"]
        assert seen["kind"] == "safeguarding" and seen["assignee_id"] == ana_id
        assert (await stack.http.get("/api/inbox", headers=ro)).json()["conversations"] == []
        member = await stack.http.get(f"/api/members/{seen['member']['id']}", headers=ana)
        assert member.status_code == 200, member.text


async def test_notes_go_with_their_conversation_on_erasure_except_for_safeguarding(backend):
    async with running(backend) as stack:
        admin = await token_of(stack, "admin@childpact.org", "admin")
        member = Member(stack, "telegram", lang="ro")
        await onboard(member, "ro", "RO")
        await member.tap("menu:secretariat")
        await member.say("Când e adunarea?")
        contact = await contact_of(member)
        [thread] = (await stack.http.get("/api/inbox", headers=admin)).json()["conversations"]
        noted = await stack.http.post(f"/api/inbox/{thread['id']}/notes", headers=admin,
                                      json={"text": NOTE})  # fmt: skip
        assert noted.status_code == 201
        async with stack.service.db.session() as session, session.begin():
            # The same member's safeguarding thread, kept for the focal point after erasure.
            urgent = Conversation(contact_id=contact.id, kind="safeguarding", status="closed")
            session.add(urgent)
            await session.flush()
            session.add(ConversationMessage(conversation_id=urgent.id, direction="member",
                                            text="a child is hurt"))  # fmt: skip
            session.add(ConversationNote(conversation_id=urgent.id, author_id=None, author="Ana",
                                         text="Referred to the national helpline."))  # fmt: skip
            urgent_id = urgent.id
        async with stack.service.db.session() as session:
            mine = as_json(await collect(session, [contact.id]))
        assert "Când e adunarea?" in mine  # the member's own words are in their data
        assert NOTE not in mine and "Referred to the national helpline." not in mine

        async with stack.service.db.session() as session, session.begin():
            await erase(session, [contact.id])
        async with stack.service.db.session() as session:
            left = [(n.conversation_id, n.text)
                    for n in await session.scalars(select(ConversationNote))]  # fmt: skip
        assert left == [(urgent_id, "Referred to the national helpline.")]


async def test_whoever_answers_a_conversation_nobody_has_takes_it(api):
    ro, md = api.conversations["ro"], api.conversations["md"]
    helper = api.staff["md_editor"].id
    await api.call("admin", "POST", f"/api/inbox/{md}/assign", json={"staff_id": helper})
    assert await conversation_ids(api, "editor", "?assigned=nobody") == [ro]
    answered = await api.call("editor", "POST", f"/api/inbox/{ro}/reply", json={"text": "Da."})
    assert answered.status_code == 200, answered.text
    assert answered.json()["assignee_id"] == api.staff["editor"].id
    assert await conversation_ids(api, "editor", "?assigned=me") == [ro]
    # One given to someone stays theirs when another answers it.
    other = await api.call("admin", "POST", f"/api/inbox/{md}/reply", json={"text": "Da."})
    assert other.json()["assignee_id"] == helper
    async with api.service.db.session() as session:
        taken = [
            (e.actor, e.target, e.detail)
            for e in await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "inbox.assign")
            )
        ]
    assert taken[-1] == (
        "editor@childpact.org", f"conversation:{ro}",
        {"staff_id": api.staff["editor"].id, "answered": True},
    )  # fmt: skip
