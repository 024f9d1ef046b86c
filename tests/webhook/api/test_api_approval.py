"""The two-person rule holds after approval: a broadcast changed once approved (its texts, its
audience, its buttons, its time; a one-off one, an occurrence of a series, a survey's
invitation) waits for an administrator again, and the broadcaster itself sends nothing above
the threshold that nobody approved, however it came to be scheduled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.storage.models import AuditEntry, Broadcast, Delivery
from tests.webhook.api.conftest import Api
from tests.webhook.api.test_api_broadcasts import NEWS, create
from tests.webhook.api.test_api_surveys import TEMPLATE
from tests.webhook.api.test_api_surveys import create as create_survey

LATER = (datetime.now(UTC) + timedelta(days=2)).isoformat()


async def _approved(api: Api, broadcast_id: int, **send: object) -> str:
    """Sent by the editor (above the threshold it waits), approved by the administrator."""
    path = f"/api/broadcasts/{broadcast_id}"
    waiting = await api.call("editor", "POST", f"{path}/send", json={"at": LATER, **send})
    assert waiting.json()["status"] == "awaiting_approval", waiting.text
    approved = await api.call("admin", "POST", f"{path}/approve")
    assert approved.json()["status"] == "scheduled", approved.text
    return path


async def _deliveries(api: Api, broadcast_id: int) -> int:
    async with api.service.db.session() as session:
        found = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.broadcast_id == broadcast_id)
        )
        return int(found or 0)


async def _make_due(api: Api, broadcast_id: int) -> None:
    async with api.service.db.session() as session, session.begin():
        found = await session.get(Broadcast, broadcast_id)
        assert found is not None
        found.scheduled_at = datetime.now(UTC) - timedelta(minutes=1)


async def test_every_change_after_approval_sends_it_back_to_the_administrator(api: Api) -> None:
    api.service.settings.broadcast_approval_above = 1
    changes = (
        {"texts": {"en": "EVIL text"}},
        {"audience": {"countries": []}},
        {"buttons": [{"label": {"en": "Click"}, "url": "https://evil.example/"}]},
        {"image_url": "https://evil.example/a.png"},
        {"templates": {}},
        {"repeat": "weekly"},
    )
    for change in changes:
        b = await create(api, audience={"countries": ["RO", "MD"]})
        path = await _approved(api, b["id"])
        edited = await api.call("editor", "PATCH", path, json=change)
        assert edited.status_code == 200, (change, edited.text)
        shown = edited.json()
        assert (shown["status"], shown["approved_by"]) == ("awaiting_approval", None), change
        await _make_due(api, b["id"])
        await api.service.broadcaster.step()
        assert await _deliveries(api, b["id"]) == 0, change

    # A new time is a new send: it waits for approval again as well.
    b = await create(api, audience={"countries": ["RO", "MD"]})
    path = await _approved(api, b["id"])
    sooner = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    again = await api.call("editor", "POST", f"{path}/send", json={"at": sooner})
    assert again.json()["status"] == "awaiting_approval"

    # The same values again change nothing: the approval stands.
    b = await create(api, audience={"countries": ["RO", "MD"]})
    path = await _approved(api, b["id"])
    same = await api.call("editor", "PATCH", path, json={"texts": NEWS["texts"]})
    assert same.json()["status"] == "scheduled" and same.json()["approved_by"]


async def test_a_scheduled_broadcast_widened_past_the_threshold_waits_for_approval(
    api: Api,
) -> None:
    api.service.settings.broadcast_approval_above = 1
    b = await create(api, audience={"countries": ["RO"]})
    path = f"/api/broadcasts/{b['id']}"
    sent = await api.call("editor", "POST", f"{path}/send", json={"at": LATER})
    assert sent.json()["status"] == "scheduled"  # one member: no approval needed
    widened = await api.call("editor", "PATCH", path, json={"audience": {"countries": []}})
    assert widened.json()["status"] == "awaiting_approval"


async def test_the_broadcaster_holds_back_what_nobody_approved(api: Api) -> None:
    api.service.settings.broadcast_approval_above = 1
    b = await create(api, audience={"countries": []})
    # Scheduled by a way round every front end's check (a bug, a hand-edited row).
    async with api.service.db.session() as session, session.begin():
        found = await session.get(Broadcast, b["id"])
        assert found is not None
        found.status = "scheduled"
    await api.service.broadcaster.step()
    got = (await api.call("viewer", "GET", f"/api/broadcasts/{b['id']}")).json()
    assert got["status"] == "awaiting_approval"
    assert await _deliveries(api, b["id"]) == 0
    async with api.service.db.session() as session:
        held = (await session.scalars(
            select(AuditEntry.action).where(AuditEntry.target == f"broadcast:{b['id']}")
        )).all()  # fmt: skip
    assert "broadcast.held" in held
    # Approved, it goes.
    assert (await api.call("admin", "POST", f"/api/broadcasts/{b['id']}/approve")).is_success
    await api.service.broadcaster.step()
    assert await _deliveries(api, b["id"]) == 2


async def test_an_occurrence_of_a_series_changed_after_approval_waits_again(api: Api) -> None:
    api.service.settings.broadcast_approval_above = 1
    head = (await create(api, repeat="monthly"))["id"]
    waiting = await api.call("editor", "POST", f"/api/broadcasts/{head}/send", json={})
    assert waiting.json()["status"] == "awaiting_approval"
    assert (await api.call("admin", "POST", f"/api/broadcasts/{head}/approve")).is_success
    await api.service.broadcaster.step()
    async with api.service.db.session() as session:
        second = await session.scalar(select(Broadcast.id).where(Broadcast.repeat_of == head))
    assert second is not None
    path = f"/api/broadcasts/{second}"
    assert (await api.call("viewer", "GET", path)).json()["status"] == "scheduled"
    edited = await api.call("editor", "PATCH", path, json={"texts": {"en": "EVIL text"}})
    assert edited.json()["status"] == "awaiting_approval"
    await _make_due(api, second)
    await api.service.broadcaster.step()
    assert await _deliveries(api, second) == 0


async def test_a_survey_invitation_changed_after_approval_waits_again(api: Api) -> None:
    api.service.settings.broadcast_approval_above = 1
    survey = await create_survey(api)
    launched = await api.call("editor", "POST", f"/api/surveys/{survey['id']}/launch",
                              json={"at": LATER, "templates": {"ru": TEMPLATE}})  # fmt: skip
    invitation = launched.json()["broadcast_id"]
    path = f"/api/broadcasts/{invitation}"
    assert (await api.call("viewer", "GET", path)).json()["status"] == "awaiting_approval"
    assert (await api.call("admin", "POST", f"{path}/approve")).is_success
    edited = await api.call("editor", "PATCH", path, json={"texts": {"en": "EVIL text"}})
    assert edited.json()["status"] == "awaiting_approval"
    await _make_due(api, invitation)
    await api.service.broadcaster.step()
    assert await _deliveries(api, invitation) == 0
