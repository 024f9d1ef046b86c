"""The topics API: everyone reads; administrators and editors of the whole coalition create,
change and archive; broadcasts and survey launches name topics that exist."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import AuditEntry
from tests.webhook.api.conftest import Api

SEEDED = ["news", "events", "calls", "surveys"]


async def test_the_seeded_topics_are_listed_in_order_with_names_in_every_language(api: Api):
    listed = await api.call("viewer", "GET", "/api/topics")
    assert listed.status_code == 200, listed.text
    found = listed.json()["topics"]
    assert [t["key"] for t in found] == SEEDED
    assert len(found[2]["names"]) == 13
    assert found[2]["names"]["en"] == "Calls for proposals"
    assert found[0]["names"]["ro"] == "Știri" and found[0]["names"]["ka"] == "სიახლეები"
    assert all(t["default_on"] and not t["archived"] for t in found)
    assert (await api.call(None, "GET", "/api/topics")).status_code == 401


async def test_editors_create_change_and_archive_and_viewers_only_read(api: Api):
    new = {"key": "trainings", "names": {"en": "Trainings", "ro": "Instruiri"}, "default_on": False}
    assert (await api.call("viewer", "POST", "/api/topics", json=new)).status_code == 403
    made = await api.call("editor", "POST", "/api/topics", json=new)
    assert made.status_code == 201, made.text
    assert made.json()["position"] == 5 and made.json()["default_on"] is False
    again = await api.call("admin", "POST", "/api/topics", json=new)
    assert again.status_code == 409

    path = "/api/topics/trainings"
    assert (await api.call("viewer", "PATCH", path, json={"default_on": True})).status_code == 403
    changed = await api.call(
        "admin", "PATCH", path, json={"names": {"ru": "Тренинги", "ro": ""}, "position": 0}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["names"] == {"en": "Trainings", "ru": "Тренинги"}
    listed = (await api.call("viewer", "GET", "/api/topics")).json()["topics"]
    assert [t["key"] for t in listed][0] == "trainings"  # position 0 comes first

    assert (await api.call("viewer", "POST", f"{path}/archive")).status_code == 403
    archived = await api.call("editor", "POST", f"{path}/archive")
    assert archived.status_code == 200 and archived.json()["archived"] is True
    live = (await api.call("viewer", "GET", "/api/topics")).json()["topics"]
    assert "trainings" not in [t["key"] for t in live]
    everything = (await api.call("viewer", "GET", "/api/topics?archived=true")).json()["topics"]
    assert "trainings" in [t["key"] for t in everything]
    back = await api.call("editor", "PATCH", path, json={"archived": False})
    assert back.json()["archived"] is False and back.json()["archived_at"] is None

    async with api.service.db.session() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.action.like("topic.%"))
                .order_by(AuditEntry.id)
            )
        )
    assert actions == ["topic.create", "topic.update", "topic.archive", "topic.update"]


async def test_a_country_coordinator_reads_topics_but_does_not_change_them(api: Api):
    assert (await api.call("md_editor", "GET", "/api/topics/news")).status_code == 200
    new = {"key": "moldova", "names": {"en": "Moldova"}}
    assert (await api.call("md_editor", "POST", "/api/topics", json=new)).status_code == 403
    patch = await api.call("md_editor", "PATCH", "/api/topics/news", json={"default_on": False})
    assert patch.status_code == 403


async def test_what_is_refused(api: Api):
    for body in (
        {"key": "Has Spaces", "names": {"en": "x"}},
        {"key": "nameless", "names": {"ro": "Fără engleză"}},
        {"key": "klingon", "names": {"en": "x", "tlh": "x"}},
        {"key": "long", "names": {"en": "x" * 61}},
    ):
        refused = await api.call("editor", "POST", "/api/topics", json=body)
        assert refused.status_code == 422, body
    no_english = await api.call("editor", "PATCH", "/api/topics/news", json={"names": {"en": ""}})
    assert no_english.status_code == 422
    assert (await api.call("viewer", "GET", "/api/topics/nothing")).status_code == 404
    assert (await api.call("editor", "POST", "/api/topics/nothing/archive")).status_code == 404


async def test_a_broadcast_aims_at_a_topic_and_its_preview_counts_who_receives_it(api: Api):
    draft = {"base_locale": "en", "texts": {"en": "Call open"}, "audience": {"topics": ["calls"]},
             "templates": {"ro": "HX" + "0" * 32, "en": "HX" + "1" * 32}}  # fmt: skip
    made = await api.call("editor", "POST", "/api/broadcasts", json=draft)
    assert made.status_code == 201, made.text
    assert made.json()["audience"]["topics"] == ["calls"]
    path = f"/api/broadcasts/{made.json()['id']}"
    assert (await api.call("viewer", "GET", f"{path}/preview")).json()["recipients"] == 2

    await api.call("editor", "PATCH", "/api/topics/calls", json={"default_on": False})
    assert (await api.call("viewer", "GET", f"{path}/preview")).json()["recipients"] == 0

    unknown = await api.call("editor", "PATCH", path, json={"audience": {"topics": ["nope"]}})
    assert unknown.status_code == 422
    await api.call("editor", "POST", "/api/topics/events/archive")
    archived = await api.call("editor", "PATCH", path, json={"audience": {"topics": ["events"]}})
    assert archived.status_code == 422
