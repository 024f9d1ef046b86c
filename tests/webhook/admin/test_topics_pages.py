"""The dashboard's topics page: everyone sees the topics; editors of the whole coalition add,
rename, reorder and archive them; the compose form aims a broadcast at topics."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import Broadcast, Topic
from tests.webhook.admin.dashboard import dashboard
from tests.webhook.admin.test_broadcasts_pages import _LOCATION, news
from tests.webhook.admin.test_pages import EDITOR, MD, VIEWER, audit, post_forms


async def topic(board, key: str) -> Topic | None:
    async with board.stack.service.db.session() as session:
        return await session.scalar(select(Topic).where(Topic.key == key))


async def test_an_editor_adds_renames_and_archives_a_topic_in_romanian(backend):
    async with dashboard(backend) as board:
        editor = await board.sign_in(EDITOR)
        await editor.post("/admin/locale", {"locale": "ro", "next": "/admin/topics"})
        page = await editor.get("/admin/topics")
        assert page.status_code == 200
        assert "Subiecte" in page.text and "Apeluri de proiecte" in page.text
        refused = await editor.post("/admin/topics", {"key": "Bad Key", "name": "x"})
        assert refused.status_code == 400 and "Cheia are litere mici" in refused.text

        made = await editor.post("/admin/topics", {"key": "trainings", "name": "Trainings"})
        assert made.status_code == 303
        found = await topic(board, "trainings")
        assert found is not None and found.default_on is False and found.position == 5

        names = {f"name:{loc}": "" for loc in ("sq", "hy", "az", "bs", "bg", "ka", "ru", "sr",
                                               "sr_Latn", "tr", "uk")}  # fmt: skip
        saved = await editor.post("/admin/topics/trainings", {
            **names, "name:en": "Trainings", "name:ro": "Instruiri", "default_on": "on",
            "position": "0", "action": "save",
        })  # fmt: skip
        assert saved.status_code == 303
        found = await topic(board, "trainings")
        assert found is not None and found.names == {"en": "Trainings", "ro": "Instruiri"}
        assert found.default_on is True and found.position == 0

        archived = await editor.post("/admin/topics/trainings", {"action": "archive"})
        assert archived.status_code == 303
        found = await topic(board, "trainings")
        assert found is not None and found.archived_at is not None
        assert [e.target for e in await audit(board, "topic.archive")] == [f"topic:{found.id}"]
        await editor.close()


async def test_viewers_and_coordinators_see_topics_but_no_form_to_change_them(backend):
    async with dashboard(backend) as board:
        for who in (VIEWER, MD):
            person = await board.sign_in(who)
            page = await person.get("/admin/topics")
            assert page.status_code == 200 and "Calls for proposals" in page.text
            assert not any(f.startswith("/admin/topics") for f in post_forms(page.text))
            refused = await person.post("/admin/topics", {"key": "mine", "name": "Mine"})
            assert refused.status_code == 403
            await person.close()
        assert await topic(board, "mine") is None


async def test_the_compose_form_aims_a_broadcast_at_topics(backend):
    async with dashboard(backend) as board:
        editor = await board.sign_in(EDITOR)
        page = await editor.get("/admin/broadcasts/new")
        assert 'name="news_topic:calls"' in page.text
        saved = await editor.post("/admin/broadcasts/new", news(
            action="save", **{"news_topic:calls": "on", "news_topic:events": "on"}
        ))  # fmt: skip
        assert saved.status_code == 303, saved.text
        found = _LOCATION.search(saved.headers["location"])
        assert found
        async with board.stack.service.db.session() as session:
            b = await session.get(Broadcast, int(found.group(1)))
            assert b is not None and b.audience.get("topics") == ["events", "calls"]
        shown = await editor.get(f"/admin/broadcasts/{found.group(1)}")
        assert "calls" in shown.text
        await editor.close()
