"""The inbox's notes, filters and assignment rules on the dashboard: editors write notes that
stay among the messages, marked; viewers only read; those who answer the inbox change the rules
(a country's coordinator its own country's), each country to someone who can answer its
members; the list narrows to "mine", "unassigned" and a
country."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import AssignmentRule, ConversationNote
from tests.webhook.admin.dashboard import dashboard
from tests.webhook.admin.test_pages import ADMIN, EDITOR, MD, VIEWER

NOTE = "Sunat la birou: lista delegaților vine luni."


async def test_an_editor_notes_a_conversation_and_a_viewer_cannot(backend):
    async with dashboard(backend) as board:
        member = await board.member("RO")
        conversation = await board.conversation(member, "secretariat", "Când e adunarea?")
        editor = await board.sign_in(EDITOR)
        added = await editor.post(f"/admin/inbox/{conversation}/note", {"text": NOTE})
        assert added.status_code == 303
        assert added.headers["location"].endswith("?done=noted#notes")
        page = await editor.get(f"/admin/inbox/{conversation}")
        note = page.text.split('class="msg note"', 1)[1].split("</li>", 1)[0]
        assert NOTE in note and "Internal note by Editor" in note
        assert page.text.index("Când e adunarea?") < page.text.index(NOTE)  # as it happened
        polled = await editor.get(f"/admin/inbox/{conversation}/messages")
        assert NOTE in polled.text

        viewer = await board.sign_in(VIEWER)
        assert NOTE in (await viewer.get(f"/admin/inbox/{conversation}")).text
        assert (
            'action="/admin/inbox/' not in (await viewer.get(f"/admin/inbox/{conversation}")).text
        )
        refused = await viewer.post(f"/admin/inbox/{conversation}/note", {"text": "x"})
        assert refused.status_code == 403
        assert (
            await editor.post(f"/admin/inbox/{conversation}/note", {"text": " "})
        ).status_code == 400
        md = await board.sign_in(MD)
        assert (
            await md.post(f"/admin/inbox/{conversation}/note", {"text": "x"})
        ).status_code == 404
        async with board.stack.service.db.session() as session:
            kept = [n.text for n in await session.scalars(select(ConversationNote))]
        assert kept == [NOTE]


async def test_those_who_answer_change_the_rules_and_the_list_narrows(backend):
    async with dashboard(backend) as board:
        ro = await board.conversation(await board.member("RO"), "secretariat", "Salut")
        md = await board.conversation(
            await board.member("MD", locale="ru"), "secretariat", "Привет"
        )
        md_id, editor_id, admin_id = board.ids[MD], board.ids[EDITOR], board.ids[ADMIN]
        editor = await board.sign_in(EDITOR)
        page = await editor.get("/admin/inbox/rules")
        assert 'name="country_MD"' in page.text and "Save the rules" in page.text
        # Romania's coordinator must be able to answer Romanians: Moldova's cannot.
        wrong = await editor.post("/admin/inbox/rules", {"country_RO": str(md_id)})
        assert wrong.status_code == 400
        saved = await editor.post("/admin/inbox/rules",
                                  {"country_MD": str(md_id), "country_RO": str(editor_id)})  # fmt: skip
        assert saved.status_code == 303
        viewer = await board.sign_in(VIEWER)
        shown = (await viewer.get("/admin/inbox/rules")).text
        assert "Save the rules" not in shown and "Only those who answer the inbox" in shown
        refused = await viewer.post("/admin/inbox/rules", {"country_MD": ""})
        assert refused.status_code == 403
        # Moldova's coordinator sees and sets Moldova's rule only.
        coordinator = await board.sign_in(MD)
        theirs = (await coordinator.get("/admin/inbox/rules")).text
        assert 'name="country_MD"' in theirs and 'name="country_RO"' not in theirs
        await coordinator.post("/admin/inbox/rules",
                               {"country_RO": str(admin_id), "country_MD": str(admin_id)})  # fmt: skip
        admin = await board.sign_in(ADMIN)
        cleared = await admin.post("/admin/inbox/rules", {"country_RO": ""})
        assert cleared.status_code == 303
        async with board.stack.service.db.session() as session:
            rules = {r.country: r.staff_id for r in await session.scalars(select(AssignmentRule))}
        # Moldova's, changed by its coordinator and not on the last form, stayed; Romania's was
        # not the coordinator's to change, and the administrator cleared it.
        assert rules == {"MD": admin_id}

        await editor.post(f"/admin/inbox/{ro}/assign", {"staff_id": str(editor_id)})
        mine = (await editor.get("/admin/inbox?show=mine")).text
        unassigned = (await editor.get("/admin/inbox?show=unassigned")).text
        moldova = (await editor.get("/admin/inbox?country=MD")).text
        assert f'href="/admin/inbox/{ro}"' in mine and f'href="/admin/inbox/{md}"' not in mine
        assert (
            f'href="/admin/inbox/{md}"' in unassigned
            and f'href="/admin/inbox/{ro}"' not in unassigned
        )
        assert f'href="/admin/inbox/{md}"' in moldova and f'href="/admin/inbox/{ro}"' not in moldova
        polled = (await editor.get("/admin/inbox/list?show=open&country=MD")).text
        assert "country=MD" in polled.split(">", 1)[0]  # the list's refresh keeps the country
