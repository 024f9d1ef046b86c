"""The broadcasts API: compose, preview, test, send, approve, cancel, follow up, progress, for
every role and within a coordinator's country."""

from __future__ import annotations

from sqlalchemy import select

from bot.broadcaster import Broadcaster
from bot.storage.models import AuditEntry, Delivery
from tests.api.conftest import Api

NEWS = {
    "base_locale": "en",
    "title": "Assembly",
    "texts": {
        "en": "The General Assembly meets on 12 May.",
        "ro": "Adunarea Generală are loc pe 12 mai.",
    },
    "buttons": [{"label": {"en": "Programme"}, "url": "https://childpact.org/ga"}],
    # The Moldovan member writes on WhatsApp and has been quiet for more than a day.
    "templates": {"ro": "HX" + "0" * 32},
}


async def create(api: Api, who: str = "editor", **fields: object) -> dict:
    response = await api.call(who, "POST", "/api/broadcasts", json={**NEWS, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def test_an_editor_composes_previews_and_sends_and_a_viewer_only_reads(api: Api) -> None:
    draft = await create(api)
    assert draft["status"] == "draft" and draft["texts"]["ro"].startswith("Adunarea")
    path = f"/api/broadcasts/{draft['id']}"

    seen = (await api.call("viewer", "GET", f"{path}/preview")).json()
    # The Romanian member reads Romanian; the Moldovan one chose Russian, which is not
    # written, so they get their country's language: Romanian.
    assert seen["recipients"] == 2
    assert seen["by_fallback"] == {"own": 1, "country": 1}
    assert seen["missing_locales"] == {"ru": 1}
    assert seen["skipped"] == {} and seen["templated"] == 1
    without = await api.call("editor", "PATCH", path, json={"templates": {}})
    assert without.status_code == 200
    seen = (await api.call("viewer", "GET", f"{path}/preview")).json()
    assert seen["recipients"] == 1 and seen["skipped"] == {"no_template": 1}

    for method, action in (("POST", "/send"), ("POST", "/cancel"), ("PATCH", "")):
        refused = await api.call("viewer", method, path + action, json={})
        assert refused.status_code == 403, (action, refused.text)
    assert (await api.call(None, "GET", path)).status_code == 401

    sent = await api.call("editor", "POST", f"{path}/send", json={})
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "scheduled"
    again = await api.call("editor", "PATCH", path, json={"title": "late change"})
    assert again.status_code == 200  # still waiting for the worker: it may change

    await Broadcaster(api.service.db, api.service.coordinator).step()
    late = await api.call("editor", "PATCH", path, json={"title": "too late"})
    assert late.status_code == 409
    progress = (await api.call("viewer", "GET", f"{path}/progress")).json()
    assert progress["total"] == 2 and progress["statuses"] == {"queued": 1, "skipped": 1}
    assert progress["by_channel"] == {"telegram": {"queued": 1}, "whatsapp": {"skipped": 1}}

    async with api.service.db.session() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert {"broadcast.create", "broadcast.update", "broadcast.send"} <= set(actions)


async def test_too_long_for_whatsapp_is_refused_with_the_limit_named(api: Api) -> None:
    draft = await create(api, texts={"en": "x" * 1700})
    refused = await api.call("editor", "POST", f"/api/broadcasts/{draft['id']}/send", json={})
    assert refused.status_code == 422
    assert "whatsapp allows 1600" in refused.json()["detail"]
    preview = (await api.call("editor", "GET", f"/api/broadcasts/{draft['id']}/preview")).json()
    assert any("1600" in p for p in preview["problems"])


async def test_a_stale_translation_is_flagged_after_the_base_changes(api: Api) -> None:
    draft = await create(api)
    path = f"/api/broadcasts/{draft['id']}"
    changed = await api.call(
        "editor", "PATCH", path, json={"texts": {"en": "The Assembly moved to 14 May."}}
    )
    assert changed.json()["stale_locales"] == ["ro"]
    fixed = await api.call(
        "editor", "PATCH", path, json={"texts": {"ro": "Adunarea s-a mutat pe 14 mai."}}
    )
    assert fixed.json()["stale_locales"] == []


async def test_above_the_threshold_a_second_administrator_approves(api: Api) -> None:
    api.service.settings.broadcast_approval_above = 1
    draft = await create(api, who="admin")
    path = f"/api/broadcasts/{draft['id']}"
    waiting = await api.call("admin", "POST", f"{path}/send", json={})
    assert waiting.json()["status"] == "awaiting_approval"
    assert (await api.call("editor", "POST", f"{path}/approve")).status_code == 403
    own = await api.call("admin", "POST", f"{path}/approve")
    assert own.status_code == 422 and "someone other" in own.json()["detail"]


async def test_a_coordinator_broadcasts_to_their_country_only(api: Api) -> None:
    others = await create(api, who="editor")
    assert (
        await api.call("md_editor", "GET", f"/api/broadcasts/{others['id']}")
    ).status_code == 404
    mine = await create(api, who="md_editor")
    path = f"/api/broadcasts/{mine['id']}"
    assert (await api.call("md_editor", "GET", f"{path}/preview")).json()["recipients"] == 1
    sent = await api.call("md_editor", "POST", f"{path}/send", json={})
    assert sent.json()["audience"] == {"countries": ["MD"]}
    listed = (await api.call("md_editor", "GET", "/api/broadcasts")).json()
    assert [b["id"] for b in listed["broadcasts"]] == [mine["id"]]


async def test_a_test_send_goes_to_one_chat_marked_as_a_test(api: Api) -> None:
    draft = await create(api)
    queued = await api.call(
        "editor", "POST", f"/api/broadcasts/{draft['id']}/test",
        json={"member_id": api.members["ro"], "locale": "ro"},
    )  # fmt: skip
    assert queued.status_code == 202
    async with api.service.db.session() as session:
        rows = (
            await session.scalars(
                select(Delivery).where(
                    Delivery.contact_id == api.members["ro"], Delivery.locale == "ro"
                )
            )
        ).all()
    assert [r.message["text"] for r in rows] == ["[TEST ro]\nAdunarea Generală are loc pe 12 mai."]
    other = await api.call(
        "md_editor", "POST", f"/api/broadcasts/{draft['id']}/test",
        json={"member_id": api.members["ro"]},
    )  # fmt: skip
    assert other.status_code == 404


async def test_cancel_then_follow_up_for_those_left(api: Api) -> None:
    draft = await create(api)
    path = f"/api/broadcasts/{draft['id']}"
    await api.call("editor", "POST", f"{path}/send", json={})
    assert (await api.call("editor", "POST", f"{path}/follow-up")).status_code == 409
    await Broadcaster(api.service.db, api.service.coordinator).step()
    cancelled = await api.call("editor", "POST", f"{path}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    progress = (await api.call("editor", "GET", f"{path}/progress")).json()
    assert progress["statuses"] == {"cancelled": 2}
    again = await api.call("editor", "POST", f"{path}/follow-up")
    assert again.status_code == 201
    follow = again.json()
    assert follow["parent_id"] == draft["id"] and follow["status"] == "draft"
    assert sorted(follow["audience"]["contact_ids"]) == sorted(api.members.values())
