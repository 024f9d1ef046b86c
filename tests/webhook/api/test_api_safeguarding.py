"""The safeguarding review list API: everyone on the staff reads it, within their country."""

from __future__ import annotations

from datetime import timedelta

from bot.storage.models import SafeguardingFlag, utcnow


async def test_the_review_list_shows_what_was_marked_not_a_concern(api):
    now = utcnow()
    async with api.service.db.session() as session, session.begin():
        for key, dismissed in (("ro", True), ("md", True), ("md", False)):
            session.add(
                SafeguardingFlag(
                    contact_id=api.members[key], level="concern", kind="grooming",
                    words="photos, secret", danger=0.87, text=f"text of {key}",
                    created_at=now - timedelta(minutes=5),
                    dismissed_at=now if dismissed else None,
                    dismissed_by="Elena <elena@childpact.org>" if dismissed else None,
                )
            )  # fmt: skip
    assert (await api.call(None, "GET", "/api/safeguarding/reviews")).status_code == 401
    page = (await api.call("viewer", "GET", "/api/safeguarding/reviews")).json()
    assert page["total"] == 2
    assert {r["member_id"] for r in page["reviews"]} == {api.members["ro"], api.members["md"]}
    first = page["reviews"][0]
    assert first["words"] == ["photos", "secret"] and first["kind"] == "grooming"
    assert first["dismissed_by"] == "Elena <elena@childpact.org>"
    moldova = (await api.call("md_editor", "GET", "/api/safeguarding/reviews")).json()
    assert [r["text"] for r in moldova["reviews"]] == ["text of md"]  # the country scope
