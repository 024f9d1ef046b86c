"""Saved replies and the overview's unanswered questions: an editor writes an answer once per
language and finds it in the answer form, the member's language first; a viewer only reads;
the questions the bot could not answer are on the overview."""

from __future__ import annotations

from bot.secretariat import inbox
from tests.webhook.admin.dashboard import dashboard
from tests.webhook.admin.test_pages import EDITOR, VIEWER

RO_TEXT = "Vă mulțumim! Secretariatul vă răspunde în cel mult o zi lucrătoare."
RU_TEXT = "Спасибо! Секретариат ответит вам в течение рабочего дня."


async def test_saved_replies_are_offered_in_the_answer_the_members_language_first(backend):
    async with dashboard(backend) as board:
        member = await board.member("MD", locale="ru")
        conversation = await board.conversation(member, "secretariat", "Когда собрание?")
        editor = await board.sign_in(EDITOR)
        for locale, title, text in (("ro", "Mulțumim", RO_TEXT), ("ru", "Спасибо", RU_TEXT)):
            added = await editor.post("/admin/saved-replies",
                                      {"locale": locale, "title": title, "text": text})  # fmt: skip
            assert added.status_code == 303, added.text
        listing = await editor.get("/admin/saved-replies")
        assert RO_TEXT in listing.text and RU_TEXT in listing.text
        page = await editor.get(f"/admin/inbox/{conversation}")
        picker = page.text.split('class="saved-reply"', 1)[1].split("</select>", 1)[0]
        assert picker.index(RU_TEXT) < picker.index(RO_TEXT)  # a Russian speaker's first
        assert "1. Спасибо (Русский)" in picker

        viewer = await board.sign_in(VIEWER)
        refused = await viewer.post("/admin/saved-replies",
                                    {"locale": "ro", "title": "x", "text": "y"})  # fmt: skip
        assert refused.status_code == 403
        assert "Add a saved reply" not in (await viewer.get("/admin/saved-replies")).text
        empty = await editor.post("/admin/saved-replies", {"locale": "ro", "title": "", "text": "y"})
        assert empty.status_code == 400

        first = page.text.split('action="/admin/saved-replies/', 1)
        assert len(first) == 1  # the conversation page offers no deleting
        listing = await editor.get("/admin/saved-replies")
        reply_id = listing.text.split('action="/admin/saved-replies/', 1)[1].split("/", 1)[0]
        gone = await editor.post(f"/admin/saved-replies/{reply_id}/delete")
        assert gone.status_code == 303
        left = await editor.get("/admin/saved-replies")
        assert (RO_TEXT in left.text) != (RU_TEXT in left.text)  # one of the two is gone


async def test_the_overview_lists_the_questions_the_bot_could_not_answer(backend):
    async with dashboard(backend) as board:
        async with board.stack.service.db.session() as session, session.begin():
            for _ in range(3):
                await inbox.count_unanswered(session, "ro", "Cât costă cotizația de membru?", "RO")
            await inbox.count_unanswered(session, "ru", "Где ваш офис?", "MD")
        editor = await board.sign_in(EDITOR)
        page = await editor.get("/admin")
        card = page.text.split('class="card unanswered"', 1)[1].split("</section>", 1)[0]
        assert "Cât costă cotizația de membru?" in card and "asked 3 times" in card
        assert card.index("Cât costă") < card.index("Где ваш офис?")  # the most asked first
        # And a way to act on them: the knowledge page, where a question becomes an example.
        assert 'href="/admin/knowledge#unanswered"' in card
        knowledge = (await editor.get("/admin/knowledge")).text
        assert 'id="unanswered"' in knowledge and "Cât costă cotizația de membru?" in knowledge
