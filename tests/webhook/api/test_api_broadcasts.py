"""The broadcasts API: compose, preview, test, send, approve, cancel, follow up, progress,
repeat and stop a series, for every role and within a coordinator's country."""

from __future__ import annotations

import io
from csv import reader
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.broadcasts.worker import Broadcaster
from bot.storage.models import AuditEntry, Broadcast, Contact, Delivery, StaffUser, utcnow
from tests.webhook.api.conftest import Api

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
    # Not to a member: a test needs no approval, so it goes only to staff's own chats.
    refused = await api.call(
        "editor", "POST", f"/api/broadcasts/{draft['id']}/test",
        json={"member_id": api.members["ro"], "locale": "ro"},
    )  # fmt: skip
    assert refused.status_code == 422 and "your own chat" in refused.json()["detail"]
    async with api.service.db.session() as session, session.begin():
        ro = await session.get(Contact, api.members["ro"])
        editor = await session.get(StaffUser, api.staff["editor"].id)
        editor.telegram_chat_id = ro.address  # the editor linked this Telegram chat as theirs
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


# Repeating broadcasts. No worker runs here: each test moves the broadcaster on by hand, and
# "the days go by" by setting an occurrence's time in the past in the database.


async def _step(api: Api) -> None:
    await Broadcaster(api.service.db, api.service.coordinator).step()


async def _due(api: Api, broadcast_id: int) -> None:
    async with api.service.db.session() as session, session.begin():
        found = await session.get(Broadcast, broadcast_id)
        assert found is not None
        found.scheduled_at = utcnow() - timedelta(minutes=1)


async def _series(api: Api, head: int) -> list[tuple[int, int | None, str]]:
    async with api.service.db.session() as session:
        found = await session.execute(
            select(Broadcast.id, Broadcast.occurrence, Broadcast.status)
            .where((Broadcast.id == head) | (Broadcast.repeat_of == head))
            .order_by(Broadcast.id)
        )
        return [tuple(row) for row in found.all()]  # type: ignore[misc]


async def test_a_weekly_series_goes_one_occurrence_at_a_time_until_it_is_stopped(api: Api) -> None:
    draft = await create(api, repeat="weekly")
    assert (draft["repeat"], draft["occurrence"], draft["next_occurrence_at"]) == (
        "weekly", None, None
    )  # fmt: skip
    head = draft["id"]
    sent = (await api.call("editor", "POST", f"/api/broadcasts/{head}/send", json={})).json()
    assert sent["occurrence"] == 1 and sent["next_occurrence_id"] == head

    await _step(api)  # the first goes, and its next occurrence is made
    (_, (second, number, status)) = await _series(api, head)
    assert (number, status) == (2, "scheduled")
    first = (await api.call("viewer", "GET", f"/api/broadcasts/{head}")).json()
    assert first["status"] == "sending" and first["next_occurrence_id"] == second
    started = datetime.fromisoformat(first["started_at"]).replace(second=0, microsecond=0)
    assert datetime.fromisoformat(first["next_occurrence_at"]) == started + timedelta(weeks=1)
    listed = (await api.call("viewer", "GET", "/api/broadcasts")).json()["broadcasts"]
    assert [(b["id"], b["repeat_of"], b["occurrence"]) for b in listed[:1]] == [(second, head, 2)]
    await _step(api)
    assert len(await _series(api, head)) == 2  # the second is not due: nothing more

    path = f"/api/broadcasts/{second}"
    assert (await api.call("editor", "PATCH", path, json={"repeat": "daily"})).status_code == 422
    assert (await api.call("editor", "PATCH", path, json={"title": "This week"})).status_code == 200
    assert (await api.call("viewer", "POST", f"{path}/stop-series")).status_code == 403
    assert (await api.call("md_editor", "POST", f"{path}/stop-series")).status_code == 404
    stopped = await api.call("editor", "POST", f"/api/broadcasts/{head}/stop-series")
    assert stopped.status_code == 200, stopped.text
    body = stopped.json()
    assert body["series_stopped_at"] and body["next_occurrence_at"] is None
    # The first, sending, goes on; the second, made but not started, is cancelled.
    assert body["status"] == "sending"
    progress = (await api.call("viewer", "GET", f"/api/broadcasts/{head}/progress")).json()
    assert progress["statuses"] == {"queued": 2}
    await _due(api, second)
    await _step(api)
    assert [s for _, _, s in await _series(api, head)] == ["sending", "cancelled"]
    again = await api.call("editor", "POST", f"/api/broadcasts/{head}/stop-series")
    assert again.status_code == 409
    once = await create(api)
    assert (
        await api.call("editor", "POST", f"/api/broadcasts/{once['id']}/stop-series")
    ).status_code == 409
    async with api.service.db.session() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert actions.count("broadcast.stop_series") == 1 and actions.count("broadcast.repeat") == 1


async def test_a_series_ends_after_its_number_of_times_or_at_its_last_day(api: Api) -> None:
    twice = (await create(api, repeat="daily", repeat_times=2))["id"]
    today = datetime.now(ZoneInfo("Europe/Bucharest")).date()
    until = (await create(api, repeat="daily", repeat_until=str(today + timedelta(days=1))))["id"]
    for head in (twice, until):
        await api.call("editor", "POST", f"/api/broadcasts/{head}/send", json={})
    await _step(api)
    ends = {}
    for head in (twice, until):
        (_, (second, number, _)) = await _series(api, head)
        assert number == 2
        ends[head] = second
        await _due(api, second)
    await _step(api)
    for head, second in ends.items():
        assert [s for _, _, s in await _series(api, head)] == ["sending", "sending"]
        last = (await api.call("viewer", "GET", f"/api/broadcasts/{second}")).json()
        assert last["next_occurrence_at"] is None and last["series_stopped_at"] is None


async def test_approving_the_first_of_a_series_approves_the_series(api: Api) -> None:
    api.service.settings.broadcast_approval_above = 1
    head = (await create(api, repeat="monthly"))["id"]
    waiting = await api.call("editor", "POST", f"/api/broadcasts/{head}/send", json={})
    assert waiting.json()["status"] == "awaiting_approval"
    await _step(api)
    assert len(await _series(api, head)) == 1  # nothing goes, nothing follows, until approved
    assert (await api.call("admin", "POST", f"/api/broadcasts/{head}/approve")).status_code == 200
    await _step(api)
    (_, (second, _, status)) = await _series(api, head)
    assert status == "scheduled"
    made = (await api.call("viewer", "GET", f"/api/broadcasts/{second}")).json()
    assert (
        made["approved_by"] == api.staff["admin"].id
        and made["created_by"] == api.staff["editor"].id
    )


async def test_repeat_values_that_cannot_be_kept_are_refused(api: Api) -> None:
    for wrong in (
        {"repeat": "hourly"},
        {"repeat": "weekly", "repeat_times": 1},
        {"repeat": "weekly", "repeat_times": 1001},
        {"repeat": "weekly", "repeat_times": 3, "repeat_until": "2030-01-01"},
        {"repeat_until": "2030-01-01"},
        {"repeat": "weekly", "repeat_until": "someday"},
    ):
        refused = await api.call("editor", "POST", "/api/broadcasts", json={**NEWS, **wrong})
        assert refused.status_code == 422, (wrong, refused.text)
    draft = await create(api, repeat="weekly")
    path = f"/api/broadcasts/{draft['id']}"
    assert (await api.call("viewer", "PATCH", path, json={"repeat": None})).status_code == 403
    ended = await api.call("editor", "PATCH", path, json={"repeat_times": 4})
    assert (ended.json()["repeat"], ended.json()["repeat_times"]) == ("weekly", 4)
    both = await api.call("editor", "PATCH", path, json={"repeat_until": "2030-01-01"})
    assert both.status_code == 422
    early = await api.call("editor", "PATCH", path,
                           json={"repeat_until": "2026-01-01", "repeat_times": None})  # fmt: skip
    assert early.status_code == 200
    refused = await api.call("editor", "POST", f"{path}/send", json={})
    assert refused.status_code == 422 and "end before it starts" in refused.json()["detail"]
    once = await api.call("editor", "PATCH", path, json={"repeat": None})
    assert once.json()["repeat"] is None and once.json()["repeat_until"] is None


async def test_cancelling_the_first_before_it_goes_cancels_the_series(api: Api) -> None:
    head = (await create(api, repeat="daily"))["id"]
    at = (utcnow() + timedelta(days=3)).isoformat()
    await api.call("editor", "POST", f"/api/broadcasts/{head}/send", json={"at": at})
    cancelled = (await api.call("editor", "POST", f"/api/broadcasts/{head}/cancel")).json()
    assert cancelled["series_stopped_at"] and cancelled["next_occurrence_at"] is None
    await _due(api, head)
    await _step(api)
    assert await _series(api, head) == [(head, 1, "cancelled")]


async def test_a_button_link_telegram_would_refuse_is_refused_here(api: Api) -> None:
    # Telegram refuses a whole message whose button opens no public web address
    # (BUTTON_URL_INVALID): every Telegram member would get nothing.
    for url in ("http://localhost/news", "https://10.1.2.3/news", "https://intranet/news"):
        buttons = [{"label": {"en": "Read"}, "url": url}]
        refused = await api.call("editor", "POST", "/api/broadcasts", json={**NEWS, "buttons": buttons})
        assert refused.status_code == 422, (url, refused.text)
        assert "public web site" in refused.text
    assert (await create(api))["buttons"][0]["url"] == "https://childpact.org/ga"


async def test_a_broadcast_collects_replies_and_lists_them_to_who_may_see_them(api: Api) -> None:
    from bot.storage.models import Conversation, ConversationMessage

    draft = await create(api, collect_replies_hours=48)
    assert draft["collect_replies_hours"] == 48
    path = f"/api/broadcasts/{draft['id']}"
    changed = await api.call("editor", "PATCH", path, json={"collect_replies_hours": 0})
    assert changed.json()["collect_replies_hours"] == 0
    too_long = await api.call("editor", "PATCH", path, json={"collect_replies_hours": 10_000})
    assert too_long.status_code == 422
    async with api.service.db.session() as session, session.begin():
        for who, text in (("ro", "We will attend"), ("md", "=Ana and Mihai")):
            conversation = Conversation(contact_id=api.members[who], kind="reply")
            session.add(conversation)
            await session.flush()
            session.add(ConversationMessage(conversation_id=conversation.id, direction="member",
                                            text=text, broadcast_id=draft["id"]))  # fmt: skip
            if who == "ro":  # the secretariat answered the Romanian, not yet the Moldovan
                await session.flush()
                session.add(ConversationMessage(conversation_id=conversation.id,
                                                direction="secretariat", text="See you there"))  # fmt: skip
    everyone = (await api.call("viewer", "GET", f"{path}/replies")).json()["replies"]
    assert [(r["member_id"], r["text"], r["answer"]) for r in everyone] == [
        (api.members["ro"], "We will attend", "See you there"),
        (api.members["md"], "=Ana and Mihai", None),
    ]  # fmt: skip
    assert everyone[0]["answered_at"] >= everyone[0]["at"] and everyone[1]["answered_at"] is None
    # No address or phone number: who replied is the member's id.
    assert set(everyone[0]) == {"member_id", "channel", "text", "at", "answer", "answered_at"}
    # A coordinator for Moldova sees the broadcast only if it is theirs: 404 here.
    assert (await api.call("md_editor", "GET", f"{path}/replies")).status_code == 404
    csv = await api.as_signed_in("viewer", "GET", f"/admin/broadcasts/{draft['id']}/replies.csv")
    assert csv.status_code == 200
    assert "'=Ana and Mihai" in csv.text  # a formula stays text in a spreadsheet
    rows = list(reader(io.StringIO(csv.text)))
    assert rows[0][-2:] == ["answered_at", "answer"]
    assert [row[-1] for row in rows[1:]] == ["See you there", ""]
