"""The dashboard's repeating broadcasts: each occurrence made when the last is due and not
before, stopping the series, and a repeat that cannot be kept refused with what was written kept.
The broadcaster runs in the service; "the days go by" by setting an occurrence's time in the
past in the database, as the scheduling tests of test_broadcasts_pages.py do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.broadcasts import progress as broadcasts_progress
from bot.storage.models import Broadcast
from tests.harness import eventually
from tests.webhook.admin.dashboard import Dashboard, dashboard
from tests.webhook.admin.test_broadcasts_pages import compose, members, news, status_is, stored
from tests.webhook.admin.test_pages import EDITOR, MD, VIEWER, audit, post_forms


async def _series_ids(board: Dashboard, head: int) -> list[int]:
    async with board.stack.service.db.session() as session:
        found = await session.scalars(
            select(Broadcast.id)
            .where((Broadcast.id == head) | (Broadcast.repeat_of == head))
            .order_by(Broadcast.id)
        )
        return list(found)


async def _occurrence(board: Dashboard, head: int, n: int) -> Broadcast | None:
    async with board.stack.service.db.session() as session:
        return await session.scalar(
            select(Broadcast).where(Broadcast.repeat_of == head, Broadcast.occurrence == n)
        )


async def _due(board: Dashboard, broadcast_id: int) -> datetime:
    """The broadcast's time has come: a minute ago."""
    at = datetime.now(UTC) - timedelta(minutes=1)
    async with board.stack.service.db.session() as session, session.begin():
        found = await session.get(Broadcast, broadcast_id)
        assert found is not None
        found.scheduled_at = at
    await board.stack.service.coordinator.notify("broadcasts")
    return at


def _chats(board: Dashboard) -> dict[str, int]:
    counts: dict[str, int] = {}
    for m in board.stack.telegram.messages:
        counts[m.chat_id] = counts.get(m.chat_id, 0) + 1
    return counts


async def test_a_weekly_series_makes_its_next_occurrence_when_the_last_is_due_and_not_before(
    backend,
):
    async with dashboard(backend) as board:
        await members(board)
        editor = await board.sign_in(EDITOR)
        head = await compose(editor)
        day = (datetime.now(ZoneInfo("Europe/Bucharest")) + timedelta(days=2)).date()
        scheduled = await editor.send(f"/admin/broadcasts/{head}/edit",
                                      news(action="schedule", when="at", at=f"{day}T09:30",
                                           repeat="weekly"))  # fmt: skip
        assert scheduled.status_code == 303, scheduled.text
        b = await stored(board, head)
        assert (b.status, b.repeat, b.occurrence, b.repeat_zone) == (
            "scheduled", "weekly", 1, "Europe/Bucharest"
        )  # fmt: skip
        page = await editor.get(f"/admin/broadcasts/{head}")
        assert "Every week" in page.text and "the first of its series" in page.text
        assert "Next occurrence:" in page.text and "9:30" in page.text
        assert f"/admin/broadcasts/{head}/stop-series" in post_forms(page.text)
        edit = await editor.get(f"/admin/broadcasts/{head}/edit")
        assert '<option value="weekly" selected>' in edit.text

        await board.stack.service.broadcaster.step()
        assert await _series_ids(board, head) == [head]  # its time has not come: nothing made

        first = await _due(board, head)
        await eventually(lambda: status_is(board, head, "sent"), timeout=60)
        second = await eventually(lambda: _occurrence(board, head, 2))
        assert second.status == "scheduled" and second.texts == b.texts
        assert second.audience == b.audience and second.created_by == b.created_by
        # A week later at the same time of the secretariat's day, summer time or not.
        zone = ZoneInfo("Europe/Bucharest")
        wall = first.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
        assert second.scheduled_at.astimezone(zone).replace(tzinfo=None) == wall + timedelta(7)  # type: ignore[union-attr]
        await board.stack.service.broadcaster.step()
        assert await _series_ids(board, head) == [head, second.id]  # the second is not due

        listing = await editor.get("/admin/broadcasts")
        assert "occurrence 2" in listing.text and "Next occurrence:" in listing.text
        page = await editor.get(f"/admin/broadcasts/{second.id}")
        assert f"occurrence 2 of the series of #{head}" in page.text
        edit = await editor.get(f"/admin/broadcasts/{second.id}/edit")
        assert 'name="repeat"' not in edit.text and "Occurrence 2 of the series" in edit.text

        await _due(board, second.id)
        await eventually(lambda: status_is(board, second.id, "sent"), timeout=60)
        third = await eventually(lambda: _occurrence(board, head, 3))
        assert third.status == "scheduled"
        # Each occurrence reached each member once: two occurrences, two messages a chat.
        await eventually(lambda: sum(_chats(board).values()) >= 4)
        assert sorted(_chats(board).values()) == [2, 2]
        for occurrence in (head, second.id):
            async with board.stack.service.db.session() as session:
                seen = await broadcasts_progress(session, occurrence)
            assert seen["total"] == 4 and seen["statuses"].get("skipped") == 2
        assert len(await audit(board, "broadcast.repeat")) == 2
        sent = await audit(board, "broadcast.send")
        assert sent[0].detail["repeat"] == "weekly"
        await editor.close()


async def test_stopping_a_series_stops_its_next_occurrences_for_those_allowed_to(backend):
    async with dashboard(backend) as board:
        await members(board)
        editor = await board.sign_in(EDITOR)
        head = await compose(editor)
        sent = await editor.send(f"/admin/broadcasts/{head}/edit",
                                 news(action="send", repeat="daily", repeat_times="5"))  # fmt: skip
        assert sent.status_code == 303, sent.text
        second = await eventually(lambda: _occurrence(board, head, 2), timeout=60)
        assert "5 times in all" in (await editor.get(f"/admin/broadcasts/{head}")).text

        viewer = await board.sign_in(VIEWER)
        page = await viewer.get(f"/admin/broadcasts/{second.id}")
        assert page.status_code == 200 and post_forms(page.text) == set()
        assert (await viewer.post(f"/admin/broadcasts/{second.id}/stop-series")).status_code == 403
        md = await board.sign_in(MD)
        assert (await md.post(f"/admin/broadcasts/{second.id}/stop-series")).status_code == 404

        stopped = await editor.post(f"/admin/broadcasts/{second.id}/stop-series")
        assert stopped.headers["location"].endswith("done=series-stopped")
        page = await editor.get(stopped.headers["location"])
        assert "The series is stopped: no further occurrence goes out." in page.text
        assert 'id="next-occurrence">The series is stopped.' in page.text
        assert "Stop the series" not in page.text
        assert (await stored(board, second.id)).status == "cancelled"
        assert (await stored(board, head)).repeat_stopped_at is not None

        await _due(board, second.id)
        await board.stack.service.broadcaster.step()
        assert await _series_ids(board, head) == [head, second.id]
        await eventually(lambda: status_is(board, head, "sent"), timeout=60)
        assert sorted(_chats(board).values()) == [1, 1]  # the first only
        again = await editor.post(f"/admin/broadcasts/{head}/stop-series")
        assert again.status_code == 409 and "already stopped" in again.text
        assert len(await audit(board, "broadcast.stop_series")) == 1
        for who in (editor, viewer, md):
            await who.close()


async def test_a_repeat_that_cannot_be_kept_is_refused_and_what_was_written_stays(backend):
    async with dashboard(backend) as board:
        await members(board)
        editor = await board.sign_in(EDITOR)
        head = await compose(editor)
        path = f"/admin/broadcasts/{head}/edit"
        unknown = await editor.post(path, news(action="save", repeat="hourly"))
        assert unknown.status_code == 400
        both = await editor.post(path, news(action="save", repeat="weekly",
                                            repeat_until="2030-01-01", repeat_times="3"))  # fmt: skip
        assert both.status_code == 400 and "not both" in both.text
        once = await editor.post(path, news(action="save", repeat="weekly", repeat_times="1"))
        assert once.status_code == 400 and "between 2 and 1000 times" in once.text
        not_a_day = await editor.post(path, news(action="save", repeat="weekly",
                                                 repeat_until="someday"))  # fmt: skip
        assert not_a_day.status_code == 400 and "the day the series ends" in not_a_day.text
        day = (datetime.now(ZoneInfo("Europe/Bucharest")) + timedelta(days=30)).date()
        early = await editor.send(path, news(action="schedule", when="at", at=f"{day}T09:00",
                                             repeat="weekly",
                                             repeat_until=str(day - timedelta(days=1))))  # fmt: skip
        assert early.status_code == 422 and "end before it starts" in early.text
        b = await stored(board, head)
        assert b.status == "draft" and b.occurrence is None and not b.repeat_pending
        # "Never" leaves the end fields as typed, and they count for nothing.
        never = await editor.post(path, news(action="save", repeat="", repeat_times="1"))
        assert never.status_code == 303
        assert (await stored(board, head)).repeat is None
        await editor.close()
