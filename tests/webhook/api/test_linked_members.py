"""A member with linked chats is one member on the dashboard and in the API: one row in the
search, their chats and preferred channel on their page, their history from every chat."""

from __future__ import annotations

from bot.storage.models import Contact, Delivery, Person
from tests.webhook.api.conftest import cookie

WA_PHONE = "whatsapp:+40700111222"


async def link_whatsapp(api) -> int:
    """The Romanian member also writes on WhatsApp, linked with their Telegram."""
    async with api.service.db.session() as session, session.begin():
        person = Person(preferred_channel="whatsapp")
        session.add(person)
        await session.flush()
        wa = Contact(channel="whatsapp", address=WA_PHONE, status="active", country="RO",
                     locale="ro", organisation="Salvați Copiii", person_id=person.id)  # fmt: skip
        session.add(wa)
        await session.flush()
        (await session.get(Contact, api.members["ro"])).person_id = person.id
        session.add(Delivery(contact_id=wa.id, channel="whatsapp", address=WA_PHONE,
                             message={"text": "hello on whatsapp"}, status="read"))  # fmt: skip
        return wa.id


async def test_a_linked_member_is_one_row_with_both_channels(api):
    wa = await link_whatsapp(api)
    page = (await api.call("admin", "GET", "/api/members")).json()
    assert page["total"] == 2
    rows = {m["id"]: m for m in page["members"]}
    assert set(rows) == {api.members["ro"], api.members["md"]}
    assert rows[api.members["ro"]]["channels"] == ["telegram", "whatsapp"]
    assert rows[api.members["md"]]["channels"] == ["whatsapp"]

    by_channel = (await api.call("admin", "GET", "/api/members?channel=whatsapp")).json()
    assert {m["id"] for m in by_channel["members"]} == {wa, api.members["md"]}
    by_phone = (await api.call("admin", "GET", "/api/members?q=%2B40700111222")).json()
    assert [m["id"] for m in by_phone["members"]] == [wa]


async def test_the_member_shows_their_linked_chats_preferred_channel_and_whole_history(api):
    wa = await link_whatsapp(api)
    one = (await api.call("viewer", "GET", f"/api/members/{api.members['ro']}")).json()
    assert [(c["id"], c["channel"]) for c in one["linked"]] == [(wa, "whatsapp")]
    assert one["preferred_channel"] == "whatsapp"
    said = {(i["text"], i["channel"]) for i in one["history"]}
    assert ("hello ro", "telegram") in said and ("hello on whatsapp", "whatsapp") in said
    assert WA_PHONE not in str(one)

    alone = (await api.call("viewer", "GET", f"/api/members/{api.members['md']}")).json()
    assert alone["linked"] == [] and alone["preferred_channel"] is None

    token, _ = await api.browser("admin")
    html = (await api.http.get(f"/admin/members/{api.members['ro']}", headers=cookie(token))).text
    assert "Linked chats" in html and f'href="/admin/members/{wa}"' in html
    assert "Preferred channel" in html and WA_PHONE not in html
    listing = (await api.http.get("/admin/members", headers=cookie(token))).text
    assert f'href="/admin/members/{wa}"' not in listing
