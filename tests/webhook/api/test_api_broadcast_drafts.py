"""The broadcasts API while a draft is written: who reads which text (a fallback named with its
reason and its count), buttons left untranslated, duplicating a broadcast, and saved audiences."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import AuditEntry
from tests.webhook.api.conftest import Api
from tests.webhook.api.test_api_broadcasts import NEWS, create


async def test_the_preview_says_who_reads_which_text_and_flags_an_untranslated_button(
    api: Api,
) -> None:
    draft = await create(api)
    path = f"/api/broadcasts/{draft['id']}"
    # The link button's text is English only, the body is in Romanian too: both members read
    # Romanian (one in their own language, the Russian-speaking Moldovan as their country's),
    # so both would get an English button.
    flagged = [{"button": 1, "label": "Programme", "locales": ["ro"], "members": 0}]
    assert draft["untranslated_buttons"] == flagged
    seen = (await api.call("viewer", "GET", f"{path}/preview")).json()
    assert seen["untranslated_buttons"] == [{**flagged[0], "members": 2}]
    assert sorted(
        (r["language"], r["reads"], r["how"], r["members"], r["by_channel"])
        for r in seen["readers"]
    ) == [
        ("ro", "ro", "own", 1, {"telegram": 1}),
        ("ru", "ro", "country", 1, {"whatsapp": 1}),
    ]

    # Written in Romanian, the button is no longer flagged; Russian written too, the
    # Moldovan reads their own language and the Russian button text is missing again.
    labels = {"en": "Programme", "ro": "Programul"}
    buttons = [{"label": labels, "url": "https://childpact.org/ga"}]
    changed = await api.call("editor", "PATCH", path, json={"buttons": buttons})
    assert changed.json()["untranslated_buttons"] == []
    # (the Moldovan, outside WhatsApp's window, needs the Russian template then)
    russian = {"texts": {"ru": "Ассамблея 12 мая."}, "templates": {"ru": "HX" + "1" * 32}}
    changed = await api.call("editor", "PATCH", path, json=russian)
    assert changed.json()["untranslated_buttons"] == [
        {"button": 1, "label": "Programme", "locales": ["ru"], "members": 0}
    ]
    seen = (await api.call("viewer", "GET", f"{path}/preview")).json()
    assert {(r["language"], r["reads"], r["how"]) for r in seen["readers"]} == {
        ("ro", "ro", "own"),
        ("ru", "ru", "own"),
    }
    assert seen["untranslated_buttons"][0]["members"] == 1


async def test_a_member_whose_language_the_base_is_not_missing_among_translations(
    api: Api,
) -> None:
    """The base text not written yet is a problem of its own, not a language to add."""
    draft = await create(api, base_locale="ro", texts={"en": "Only English so far."})
    seen = (await api.call("viewer", "GET", f"/api/broadcasts/{draft['id']}/preview")).json()
    assert "ro" not in seen["missing_locales"]
    assert seen["missing_locales"] == {"ru": 1}
    assert any("write the ro text first" in p for p in seen["problems"])
    assert NEWS["base_locale"] == "en"  # the shared draft is untouched by this one
    async with api.service.db.session() as session:
        assert "broadcast.create" in set((await session.scalars(select(AuditEntry.action))).all())


async def test_duplicating_a_sent_broadcast_makes_an_unapproved_unscheduled_draft(api: Api) -> None:
    """Above the threshold, the original is approved and sent; its copy has the same words,
    buttons, audience and settings but waits for its author and a new approval."""
    api.service.settings.broadcast_approval_above = 1
    draft = await create(api, collect_replies_hours=48,
                         audience={"countries": ["RO", "MD"], "channels": ["telegram", "whatsapp"]})  # fmt: skip
    path = f"/api/broadcasts/{draft['id']}"
    at = "2030-01-15T09:00:00+02:00"
    sent = (await api.call("editor", "POST", f"{path}/send", json={"at": at})).json()
    assert sent["status"] == "awaiting_approval"
    approved = (await api.call("admin", "POST", f"{path}/approve")).json()
    assert approved["approved_by"] is not None and approved["scheduled_at"] is not None

    assert (await api.call("viewer", "POST", f"{path}/duplicate")).status_code == 403
    made = await api.call("editor", "POST", f"{path}/duplicate")
    assert made.status_code == 201, made.text
    copy = made.json()
    assert copy["id"] != draft["id"] and copy["status"] == "draft"
    assert copy["approved_by"] is None and copy["scheduled_at"] is None
    assert copy["local_hour"] is None and copy["parent_id"] is None
    for same in ("title", "base_locale", "texts", "buttons", "audience", "templates",
                 "collect_replies_hours", "untranslated_buttons"):  # fmt: skip
        assert copy[same] == approved[same], same
    assert copy["texts"]["ro"] == NEWS["texts"]["ro"]  # type: ignore[index]
    # Its own edits leave the original as approved.
    await api.call("editor", "PATCH", f"/api/broadcasts/{copy['id']}", json={"title": "Again"})
    assert (await api.call("viewer", "GET", path)).json()["approved_by"] is not None
    async with api.service.db.session() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "broadcast.duplicate")
        )
    assert entry is not None and entry.target == f"broadcast:{copy['id']}"
    assert entry.detail.get("source") == draft["id"]
    missing = await api.call("editor", "POST", "/api/broadcasts/999999/duplicate")
    assert missing.status_code == 404


async def test_saved_audiences_are_kept_by_name_used_renamed_and_deleted(api: Api) -> None:
    romania = {"countries": ["RO"], "channels": ["telegram"]}
    made = await api.call("editor", "POST", "/api/audiences",
                          json={"name": "Romanian coalition", "audience": romania})  # fmt: skip
    assert made.status_code == 201, made.text
    saved = made.json()
    assert saved["audience"] == romania and saved["country"] is None
    taken = await api.call("editor", "POST", "/api/audiences",
                           json={"name": "romanian  COALITION", "audience": {}})  # fmt: skip
    assert taken.status_code == 409
    assert (
        await api.call("viewer", "POST", "/api/audiences", json={"name": "x"})
    ).status_code == 403
    assert (
        await api.call("editor", "POST", "/api/audiences", json={"name": ""})
    ).status_code == 422

    # A broadcast composed with it reaches only the Romanian member.
    draft = await create(api, saved_audience_id=saved["id"])
    assert draft["audience"] == romania
    seen = (await api.call("viewer", "GET", f"/api/broadcasts/{draft['id']}/preview")).json()
    assert seen["recipients"] == 1 and seen["by_channel"] == {"telegram": 1}
    both = await api.call("editor", "POST", "/api/broadcasts",
                          json={**NEWS, "saved_audience_id": saved["id"], "audience": {}})  # fmt: skip
    assert both.status_code == 422
    unknown = await api.call("editor", "PATCH", f"/api/broadcasts/{draft['id']}",
                             json={"saved_audience_id": 999999})  # fmt: skip
    assert unknown.status_code == 422

    renamed = await api.call("editor", "PATCH", f"/api/audiences/{saved['id']}",
                             json={"name": "Romania, Telegram"})  # fmt: skip
    assert renamed.status_code == 200 and renamed.json()["name"] == "Romania, Telegram"
    listed = (await api.call("viewer", "GET", "/api/audiences")).json()["audiences"]
    assert [a["name"] for a in listed] == ["Romania, Telegram"]

    # A Moldovan coordinator keeps Moldova's only, and does not see the coalition's.
    theirs = await api.call("md_editor", "POST", "/api/audiences",
                            json={"name": "Moldova", "audience": {"countries": ["RO"]}})  # fmt: skip
    assert theirs.status_code == 201
    assert theirs.json()["audience"] == {"countries": ["MD"]} and theirs.json()["country"] == "MD"
    mine = (await api.call("md_editor", "GET", "/api/audiences")).json()["audiences"]
    assert [a["name"] for a in mine] == ["Moldova"]
    hidden = await api.call("md_editor", "GET", f"/api/audiences/{saved['id']}")
    assert hidden.status_code == 404
    assert len((await api.call("admin", "GET", "/api/audiences")).json()["audiences"]) == 2

    gone = await api.call("editor", "DELETE", f"/api/audiences/{saved['id']}")
    assert gone.status_code == 204
    assert (await api.call("editor", "GET", f"/api/audiences/{saved['id']}")).status_code == 404
    # The broadcast that used it keeps its audience.
    kept = (await api.call("viewer", "GET", f"/api/broadcasts/{draft['id']}")).json()
    assert kept["audience"] == romania
    async with api.service.db.session() as session:
        done = set((await session.scalars(select(AuditEntry.action))).all())
    assert {"audience.save", "audience.change", "audience.delete"} <= done
