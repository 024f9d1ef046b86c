"""The dashboard's broadcast pages: compose with translations and the preview's numbers, a text
too long refused with the limit named, a stale translation flagged, roles, CSRF and country
scope, scheduling in the secretariat's time zone, approval, cancelling and resending to those
who did not receive it, a test to one's own chat, linking one's Telegram, and buttons.
Repeating broadcasts are in test_broadcast_series_pages.py."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.storage.models import AuditEntry, Broadcast, Delivery, StaffUser
from tests.conftest import Backend
from tests.harness import eventually
from tests.webhook.admin.dashboard import Browser, Dashboard, dashboard
from tests.webhook.admin.test_pages import ADMIN, EDITOR, MD, VIEWER, audit, post_forms

EN = "The General Assembly meets on 12 May in Chișinău."
RO = "Adunarea Generală are loc pe 12 mai la Chișinău."
_LOCATION = re.compile(r"/admin/broadcasts/(\d+)")


def news(**fields: str) -> dict[str, str]:
    """The compose form as a browser sends it."""
    return {"title": "Assembly", "base_locale": "en", "text:en": EN, "text:ro": RO, **fields}


async def members(board: Dashboard) -> dict[str, int]:
    """Romanian and Moldovan members on Telegram, one who stopped the news, and one on
    WhatsApp who has been quiet for days (outside the 24-hour window)."""
    return {
        "ro": await board.member("RO", locale="ro"),
        "md_ru": await board.member("MD", locale="ru", organisation="CCF Moldova"),
        "stopped": await board.member("RO", locale="ro", status="stopped"),
        "wa": await board.member("BG", locale="bg", channel="whatsapp",
                                 address="whatsapp:+359888000111",
                                 last_inbound_at=datetime.now(UTC) - timedelta(days=3)),
    }  # fmt: skip


async def compose(who: Browser, **fields: str) -> int:
    saved = await who.post("/admin/broadcasts/new", news(action="save", **fields))
    assert saved.status_code == 303, saved.text
    found = _LOCATION.search(saved.headers["location"])
    assert found
    return int(found.group(1))


async def stored(board: Dashboard, broadcast_id: int) -> Broadcast:
    async with board.stack.service.db.session() as session:
        found = await session.get(Broadcast, broadcast_id)
        assert found is not None
        return found


def number(html: str, css: str = "big") -> int:
    found = re.search(rf'class="{css}">([\d\s,. ]+)<', html)
    assert found, html
    return int(re.sub(r"\D", "", found.group(1)))


async def test_an_editor_composes_sees_the_preview_and_sends(backend):
    async with dashboard(backend) as board:
        await members(board)
        editor = await board.sign_in(EDITOR)
        listing = await editor.get("/admin/broadcasts")
        assert "New broadcast" in listing.text and 'href="/admin/broadcasts"' in listing.text
        page = await editor.get("/admin/broadcasts/new")
        assert page.status_code == 200 and 'hx-post="/admin/broadcasts/preview"' in page.text

        # The preview as the author types: the Moldovan member chose Russian, not written, so
        # reads Romanian, their country's language; the WhatsApp member needs a template.
        seen = await editor.post("/admin/broadcasts/preview", news())
        assert seen.status_code == 200
        assert number(seen.text) == 2
        assert "Русский: 1 member reads another language instead" in seen.text
        assert "1 member has no template in their language and is skipped" in seen.text
        assert "stopped the news" in seen.text
        assert (
            'id="count-en" hx-swap-oob="true"' in seen.text and f"{len(EN)} characters" in seen.text
        )
        sid = "HX" + "a" * 32
        templated = await editor.post("/admin/broadcasts/preview", news(**{"template:en": sid}))
        assert number(templated.text) == 3
        assert "1 member gets the approved template" in templated.text
        narrowed = await editor.post("/admin/broadcasts/preview", news(**{"country:MD": "on"}))
        assert number(narrowed.text) == 1

        broadcast_id = await compose(editor)
        assert (await stored(board, broadcast_id)).texts["ro"]["text"] == RO
        added = await editor.post(f"/admin/broadcasts/{broadcast_id}/edit",
                                  news(action="add:ru"))  # fmt: skip
        assert added.headers["location"].endswith("?add=ru#texts")
        edit = await editor.get(f"/admin/broadcasts/{broadcast_id}/edit?add=ru")
        assert 'name="text:ru"' in edit.text

        sent = await editor.send(f"/admin/broadcasts/{broadcast_id}/edit", news(action="send"))
        assert sent.status_code == 303, sent.text
        assert sent.headers["location"] == f"/admin/broadcasts/{broadcast_id}?done=broadcast-going"
        await eventually(lambda: len(board.stack.telegram.messages) >= 2)
        texts = sorted(m.text for m in board.stack.telegram.messages)
        assert texts == [RO, RO]
        progress = await eventually(lambda: _finished(editor, broadcast_id), timeout=60)
        assert "100 %" in progress and "hx-trigger" not in progress.split(">", 1)[0]
        page = await editor.get(f"/admin/broadcasts/{broadcast_id}")
        assert "Resend to those who did not receive it" in page.text
        listing = await editor.get("/admin/broadcasts")
        assert "100 %" in listing.text and "Sent" in listing.text
        assert {"broadcast.create", "broadcast.update", "broadcast.send"} <= {
            a.action for a in await _audit(board)
        }
        await editor.close()


async def _finished(who: Browser, broadcast_id: int) -> str | None:
    fragment = (await who.get(f"/admin/broadcasts/{broadcast_id}/progress")).text
    return fragment if ">Sent<" in fragment else None


async def _audit(board: Dashboard) -> list[AuditEntry]:
    async with board.stack.service.db.session() as session:
        return list(await session.scalars(select(AuditEntry)))


async def test_a_text_too_long_is_refused_with_the_limit_named_and_kept_whole(backend):
    async with dashboard(backend) as board:
        await members(board)
        editor = await board.sign_in(EDITOR)
        long = "Știri. " * 250  # 1,750 characters: fine on Telegram, too long for WhatsApp
        seen = await editor.post("/admin/broadcasts/preview", news(**{"text:ro": long}))
        assert "Too long for WhatsApp" in seen.text
        assert "WhatsApp allows 1600" in seen.text
        broadcast_id = await compose(editor, **{"text:ro": long})
        refused = await editor.send(f"/admin/broadcasts/{broadcast_id}/edit",
                                    news(action="send", **{"text:ro": long}))  # fmt: skip
        assert refused.status_code == 422
        assert "has 1749 characters; WhatsApp allows 1600" in refused.text
        kept = await stored(board, broadcast_id)
        assert kept.status == "draft" and kept.texts["ro"]["text"] == long.strip()
        tested = await editor.post(f"/admin/broadcasts/{broadcast_id}/edit",
                                   news(action="test", **{"text:ro": long}))  # fmt: skip
        assert tested.status_code == 422 and "WhatsApp allows 1600" in tested.text
        async with board.stack.service.db.session() as session:
            assert (await session.scalars(select(Delivery))).first() is None
        await editor.close()


async def test_a_translation_older_than_the_base_text_is_flagged(backend):
    async with dashboard(backend) as board:
        editor = await board.sign_in(EDITOR)
        broadcast_id = await compose(editor)
        moved = news(action="save", **{"text:en": "The Assembly moved to 14 May."})
        await editor.post(f"/admin/broadcasts/{broadcast_id}/edit", moved)
        edit = await editor.get(f"/admin/broadcasts/{broadcast_id}/edit")
        assert "Written for an earlier base text: check it" in edit.text
        seen = await editor.post(f"/admin/broadcasts/preview?broadcast_id={broadcast_id}", moved)
        assert "The Română translation was written for an earlier base text" in seen.text
        both = news(action="save", **{"text:en": "The Assembly moved to 14 May.",
                                      "text:ro": "Adunarea s-a mutat pe 14 mai."})  # fmt: skip
        await editor.post(f"/admin/broadcasts/{broadcast_id}/edit", both)
        edit = await editor.get(f"/admin/broadcasts/{broadcast_id}/edit")
        assert "earlier base text" not in edit.text
        await editor.close()


async def test_viewers_only_read_forms_need_their_token_and_coordinators_keep_to_their_country(
    backend,
):
    async with dashboard(backend) as board:
        ids = await members(board)
        editor = await board.sign_in(EDITOR)
        romania = await compose(editor, **{"country:RO": "on"})
        viewer = await board.sign_in(VIEWER)
        for path in ("/admin/broadcasts", f"/admin/broadcasts/{romania}",
                     f"/admin/broadcasts/{romania}/progress"):  # fmt: skip
            page = await viewer.get(path)
            assert page.status_code == 200 and post_forms(page.text) == set(), path
            assert "New broadcast" not in page.text and "/edit" not in page.text
        assert (await viewer.get("/admin/broadcasts/new")).status_code == 403
        for path in ("/admin/broadcasts/new", f"/admin/broadcasts/{romania}/edit",
                     f"/admin/broadcasts/{romania}/cancel", "/admin/broadcasts/preview"):  # fmt: skip
            assert (await viewer.post(path, news(action="send"))).status_code == 403, path
        forged = await editor.http.post(f"/admin/broadcasts/{romania}/edit",
                                        data=news(action="send", csrf_token="forged"))  # fmt: skip
        assert forged.status_code == 403
        assert (await stored(board, romania)).status == "draft"

        md = await board.sign_in(MD)
        assert (await md.get(f"/admin/broadcasts/{romania}")).status_code == 404
        assert (await md.post(f"/admin/broadcasts/{romania}/edit", news())).status_code == 404
        assert f"/admin/broadcasts/{romania}" not in (await md.get("/admin/broadcasts")).text
        compose_page = await md.get("/admin/broadcasts/new")
        assert 'name="country:RO"' not in compose_page.text
        # Asking for Romania anyway changes nothing: a coordinator writes to their country.
        seen = await md.post("/admin/broadcasts/preview", news(**{"country:RO": "on"}))
        assert number(seen.text) == 1
        mine = await compose(md, **{"country:RO": "on"})
        assert (await stored(board, mine)).audience == {"countries": ["MD"]}
        found = await md.get("/admin/broadcasts/test-members?test_q=Salva")
        assert "Member #" not in found.text  # Romanian members are not theirs to pick
        found = await md.get(f"/admin/broadcasts/test-members?test_q={ids['md_ru']}")
        assert f'value="{ids["md_ru"]}"' in found.text
        for who in (editor, viewer, md):
            await who.close()


async def test_scheduled_times_are_written_and_shown_in_the_secretariats_zone(backend):
    async with dashboard(backend, secretariat_timezone="Asia/Tbilisi") as board:
        await members(board)
        editor = await board.sign_in(EDITOR)
        broadcast_id = await compose(editor)
        day = (datetime.now(ZoneInfo("Asia/Tbilisi")) + timedelta(days=30)).date()
        scheduled = await editor.send(f"/admin/broadcasts/{broadcast_id}/edit",
                                      news(action="schedule", when="at", at=f"{day}T09:30"))  # fmt: skip
        assert scheduled.status_code == 303, scheduled.text
        b = await stored(board, broadcast_id)
        assert b.status == "scheduled"
        assert b.scheduled_at == datetime(day.year, day.month, day.day, 5, 30, tzinfo=UTC)
        page = await editor.get(scheduled.headers["location"])
        assert "9:30" in page.text and "(Asia/Tbilisi)" in page.text
        assert "The broadcast is scheduled." in page.text
        assert "Nothing has gone out yet." in page.text

        other = await compose(editor)
        past = await editor.send(f"/admin/broadcasts/{other}/edit",
                                 news(action="schedule", when="at", at="2020-01-01T09:00"))  # fmt: skip
        assert past.status_code == 400 and "That time has already passed." in past.text
        local = await editor.send(f"/admin/broadcasts/{other}/edit",
                                  news(action="schedule", when="local", day="", local_hour="9"))  # fmt: skip
        assert local.status_code == 303
        b = await stored(board, other)
        # It starts at once: each member's message is planned for 09:00 of their own day.
        assert (b.local_hour, b.scheduled_at) == (9, None) and b.status in ("scheduled", "sending")
        assert (
            "At 09:00 in each member&#39;s own time zone"
            in (await editor.get(f"/admin/broadcasts/{other}")).text
        )
        await editor.close()


async def test_above_the_threshold_another_administrator_approves(backend):
    async with dashboard(backend, broadcast_approval_above=1) as board:
        await members(board)
        admin = await board.sign_in(ADMIN)
        own = await compose(admin)
        waiting = await admin.send(f"/admin/broadcasts/{own}/edit", news(action="send"))
        assert waiting.headers["location"].endswith("done=broadcast-awaiting")
        page = await admin.get(f"/admin/broadcasts/{own}")
        assert (
            "Awaiting approval" in page.text and f"/admin/broadcasts/{own}/approve" not in page.text
        )
        refused = await admin.post(f"/admin/broadcasts/{own}/approve")
        assert refused.status_code == 409 and "Someone other than its author" in refused.text

        editor = await board.sign_in(EDITOR)
        theirs = await compose(editor)
        await editor.send(f"/admin/broadcasts/{theirs}/edit", news(action="send"))
        assert (await stored(board, theirs)).status == "awaiting_approval"
        assert (await editor.post(f"/admin/broadcasts/{theirs}/approve")).status_code == 403
        page = await admin.get(f"/admin/broadcasts/{theirs}")
        assert f"/admin/broadcasts/{theirs}/approve" in post_forms(page.text)
        approved = await admin.post(f"/admin/broadcasts/{theirs}/approve")
        assert approved.headers["location"].endswith("done=broadcast-approved")
        b = await stored(board, theirs)
        assert b.approved_by == board.ids[ADMIN] and b.status in ("scheduled", "sending", "sent")
        assert len(await audit(board, "broadcast.approve")) == 1
        await admin.close()
        await editor.close()


async def test_cancel_holds_back_the_rest_and_a_follow_up_goes_to_those_left(backend):
    async with dashboard(backend) as board:
        ids = await members(board)
        editor = await board.sign_in(EDITOR)
        broadcast_id = await compose(editor)
        # At an hour of the members' own day: in the outbox now, due later.
        await editor.send(f"/admin/broadcasts/{broadcast_id}/edit",
                          news(action="schedule", when="local", local_hour="3"))  # fmt: skip
        await eventually(lambda: _queued(board, broadcast_id))
        cancelled = await editor.post(f"/admin/broadcasts/{broadcast_id}/cancel")
        assert cancelled.headers["location"].endswith("done=broadcast-cancelled")
        page = await editor.get(cancelled.headers["location"])
        assert "The broadcast is cancelled" in page.text and "hx-trigger" not in page.text
        again = await editor.post(f"/admin/broadcasts/{broadcast_id}/cancel")
        assert again.status_code == 409 and "already finished" in again.text
        follow = await editor.post(f"/admin/broadcasts/{broadcast_id}/follow-up")
        assert follow.status_code == 303 and follow.headers["location"].endswith("done=follow-up")
        draft = await stored(board, int(_LOCATION.search(follow.headers["location"]).group(1)))  # type: ignore[union-attr]
        assert draft.parent_id == broadcast_id and draft.status == "draft"
        # Everyone held back, and the WhatsApp member skipped for want of a template.
        assert draft.audience["contact_ids"] == sorted([ids["ro"], ids["md_ru"], ids["wa"]])
        edit = await editor.get(follow.headers["location"])
        assert "Only 3 chosen members" in edit.text and 'name="contact_ids"' in edit.text
        await editor.close()


async def _queued(board: Dashboard, broadcast_id: int) -> bool:
    async with board.stack.service.db.session() as session:
        rows = (await session.scalars(
            select(Delivery.status).where(Delivery.broadcast_id == broadcast_id)
        )).all()  # fmt: skip
    return rows.count("queued") == 2


async def test_a_test_goes_to_ones_own_chat_and_telegram_is_linked_with_a_code(backend):
    async with dashboard(backend) as board:
        ids = await members(board)
        editor = await board.sign_in(EDITOR)
        tokens = await editor.get("/admin/tokens")
        assert "Link my Telegram" in tokens.text
        linked = await editor.post("/admin/tokens/telegram")
        code = re.search(r"/staff ([A-Z0-9]{8})", linked.text)
        assert code and "within 10 minutes" in linked.text
        assert len(await audit(board, "staff.telegram_link_code")) == 1
        # As if the code had been sent from the editor's chat: the record of that chat.
        chat = await _editors_chat(board, ids["ro"])
        broadcast_id = await compose(editor)
        edit = await editor.get(f"/admin/broadcasts/{broadcast_id}/edit")
        assert f'<option value="{ids["ro"]}" selected>' in edit.text
        tested = await editor.post(f"/admin/broadcasts/{broadcast_id}/edit",
                                   news(action="test", test_member=str(ids["ro"])))  # fmt: skip
        assert tested.headers["location"].endswith("done=test-sent")
        got = await eventually(lambda: board.stack.telegram.messages_to(chat))
        assert {m.text.split("\n")[0] for m in got} <= {"[TEST en]", "[TEST ro]"}
        assert (await stored(board, broadcast_id)).status == "draft"
        nobody = await editor.post(f"/admin/broadcasts/{broadcast_id}/edit", news(action="test"))
        assert nobody.status_code == 422 and "your own" in nobody.text
        viewer = await board.sign_in(VIEWER)
        assert "Link my Telegram" not in (await viewer.get("/admin/tokens")).text
        assert (await viewer.post("/admin/tokens/telegram")).status_code == 403
        await editor.close()
        await viewer.close()


async def test_a_buttons_text_is_written_in_each_language_and_each_member_sees_their_own(backend):
    async with dashboard(backend) as board:
        ids = await members(board)
        editor = await board.sign_in(EDITOR)
        chat = await _editors_chat(board, ids["ro"])
        page = await editor.get("/admin/broadcasts/new")
        assert 'name="button0-label:ro"' not in page.text  # no Romanian text yet, no field
        labels = {"button0-label": "Programme", "button0-label:ro": "Programul",
                  "button0-url": "https://childpact.org/ga",
                  "button1-topic": "who_we_are", "button1-label:ro": "Cine suntem"}  # fmt: skip
        broadcast_id = await compose(editor, **labels)
        assert (await stored(board, broadcast_id)).buttons == [
            {"label": {"en": "Programme", "ro": "Programul"}, "url": "https://childpact.org/ga"},
            {"label": {"ro": "Cine suntem"}, "payload": "topic:who_we_are"},
        ]
        edit = await editor.get(f"/admin/broadcasts/{broadcast_id}/edit")
        assert 'name="button0-label:ro" value="Programul"' in edit.text
        assert 'name="button1-label:ro" value="Cine suntem"' in edit.text
        tested = await editor.post(f"/admin/broadcasts/{broadcast_id}/edit",
                                   news(action="test", test_member=str(ids["ro"]), **labels))  # fmt: skip
        assert tested.headers["location"].endswith("done=test-sent")
        got = await eventually(lambda: len(board.stack.telegram.messages_to(chat)) >= 2 and
                               board.stack.telegram.messages_to(chat))  # fmt: skip
        seen = {
            m.text.split("\n")[0]: [row[0]["text"] for row in m.reply_markup["inline_keyboard"]]
            for m in got
        }
        # English keeps "tell me more" in its own words where no English text was written.
        assert seen["[TEST ro]"] == ["Programul", "Cine suntem"]
        assert seen["[TEST en]"][0] == "Programme" and seen["[TEST en]"][1] != "Cine suntem"
        await editor.close()


async def _editors_chat(board: Dashboard, member_id: int) -> Any:
    """Make the member's Telegram chat the editor's own (as linking with a code does); its
    address."""
    chat = await _address(board, member_id)
    async with board.stack.service.db.session() as session, session.begin():
        user = await session.get(StaffUser, board.ids[EDITOR])
        user.telegram_chat_id = chat  # type: ignore[union-attr]
    return chat


async def _address(board: Dashboard, member_id: int) -> Any:
    from bot.storage.models import Contact

    async with board.stack.service.db.session() as session:
        return (await session.get(Contact, member_id)).address  # type: ignore[union-attr]


async def test_the_broadcast_pages_speak_romanian_and_russian(tmp_path):
    """The words are the catalogs' business (tests/test_catalogs.py); here, that every page of
    broadcasts uses them. The language does not depend on the database: SQLite is enough."""
    words = {
        "ro": ["Anunțuri", "Anunț nou", "Previzualizare", "Trimite acum", "Progres", "Ciornă",
               "Repetare", "Săptămânal"],
        "ru": ["Рассылки", "Новая рассылка", "Предпросмотр", "Отправить сейчас", "Ход отправки",
               "Черновик", "Повтор", "Каждую неделю"],
    }  # fmt: skip
    async with dashboard(Backend("embedded", f"sqlite+aiosqlite:///{tmp_path}/c.db")) as board:
        await members(board)
        editor = await board.sign_in(EDITOR)
        broadcast_id = await compose(editor)
        for locale, expected in words.items():
            await editor.post("/admin/locale", {"locale": locale, "next": "/admin"})
            seen = ""
            for path in ("/admin/broadcasts", "/admin/broadcasts/new",
                         f"/admin/broadcasts/{broadcast_id}/edit",
                         f"/admin/broadcasts/{broadcast_id}"):  # fmt: skip
                page = await editor.get(path)
                assert page.status_code == 200 and f'<html lang="{locale}">' in page.text, path
                seen += page.text
            seen += (await editor.post("/admin/broadcasts/preview", news())).text
            missing = [word for word in expected if word not in seen]
            assert not missing, (locale, missing)
            for english in ("New broadcast", "Send now", "members will receive it", "Repeat"):
                assert english not in seen, (locale, english)
        await editor.close()


async def test_a_broadcast_that_has_gone_out_no_longer_changes(tmp_path):
    async with dashboard(Backend("embedded", f"sqlite+aiosqlite:///{tmp_path}/c.db")) as board:
        await members(board)
        editor = await board.sign_in(EDITOR)
        broadcast_id = await compose(editor)
        await editor.send(f"/admin/broadcasts/{broadcast_id}/edit", news(action="send"))
        await eventually(lambda: status_is(board, broadcast_id, "sent"), timeout=60)
        assert (await editor.get(f"/admin/broadcasts/{broadcast_id}/edit")).status_code == 303
        late = await editor.post(f"/admin/broadcasts/{broadcast_id}/edit",
                                 news(action="save", **{"country:MD": "on"}))  # fmt: skip
        assert late.status_code == 409 and "can no longer change" in late.text
        assert (await stored(board, broadcast_id)).audience == {}
        await editor.close()


async def status_is(board: Dashboard, broadcast_id: int, status: str) -> bool:
    return (await stored(board, broadcast_id)).status == status


async def test_buttons_open_a_link_a_topic_or_an_open_survey(tmp_path):
    from bot.storage.models import Survey

    async with dashboard(Backend("embedded", f"sqlite+aiosqlite:///{tmp_path}/c.db")) as board:
        async with board.stack.service.db.session() as session, session.begin():
            survey = Survey(name="Members' needs 2027", status="open", base_locale="en",
                            title={"en": "Your needs"})  # fmt: skip
            session.add(survey)
            await session.flush()
            survey_id = survey.id
        editor = await board.sign_in(EDITOR)
        page = await editor.get("/admin/broadcasts/new")
        assert "Members&#39; needs 2027" in page.text and 'name="button0-survey"' in page.text
        buttons = {
            "button0-label": "Programme", "button0-url": "https://childpact.org/ga",
            "button1-topic": "who_we_are", "button2-survey": str(survey_id),
        }  # fmt: skip
        broadcast_id = await compose(editor, **buttons)
        assert (await stored(board, broadcast_id)).buttons == [
            {"label": {"en": "Programme"}, "url": "https://childpact.org/ga"},
            {"payload": "topic:who_we_are"},
            {"payload": f"survey:{survey_id}"},
        ]
        edit = await editor.get(f"/admin/broadcasts/{broadcast_id}/edit")
        assert f'<option value="{survey_id}" selected>' in edit.text
        both = await editor.post("/admin/broadcasts/new",
                                 news(action="save", **{"button0-url": "https://x.org",
                                                        "button0-label": "x",
                                                        "button0-topic": "who_we_are"}))  # fmt: skip
        assert both.status_code == 400 and "only one of them" in both.text
        bare = await editor.post("/admin/broadcasts/new",
                                 news(action="save", **{"button0-url": "https://x.org"}))  # fmt: skip
        assert bare.status_code == 400 and "needs its text" in bare.text
        unknown = await editor.post("/admin/broadcasts/new",
                                    news(action="save", **{"button0-survey": "999"}))  # fmt: skip
        assert unknown.status_code == 400
        await editor.close()


async def test_saved_again_after_approval_it_waits_for_the_administrator_again(backend):
    async with dashboard(backend, broadcast_approval_above=1) as board:
        await members(board)
        editor = await board.sign_in(EDITOR)
        admin = await board.sign_in(ADMIN)
        later = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
        theirs = await compose(editor)
        await editor.send(f"/admin/broadcasts/{theirs}/edit",
                          news(action="schedule", when="at", at=later))  # fmt: skip
        assert (await stored(board, theirs)).status == "awaiting_approval"
        await admin.post(f"/admin/broadcasts/{theirs}/approve")
        assert (await stored(board, theirs)).status == "scheduled"
        saved = await editor.post(f"/admin/broadcasts/{theirs}/edit",
                                  news(action="save", **{"text:en": "EVIL text"}))  # fmt: skip
        assert saved.status_code == 303
        b = await stored(board, theirs)
        assert (b.status, b.approved_by, b.texts["en"]["text"]) == (
            "awaiting_approval",
            None,
            "EVIL text",
        )
        page = await admin.get(f"/admin/broadcasts/{theirs}")
        assert f"/admin/broadcasts/{theirs}/approve" in post_forms(page.text)
        await admin.close()
        await editor.close()


async def test_send_now_and_schedule_ask_to_confirm_the_numbers_first(backend):
    # The review's finding 17: one click on "Send now" went straight out to everyone.
    async with dashboard(backend) as board:
        await members(board)
        editor = await board.sign_in(EDITOR)
        broadcast_id = await compose(editor)
        path = f"/admin/broadcasts/{broadcast_id}/edit"
        asked = await editor.post(path, news(action="send", collect_replies_hours="24"))
        assert asked.status_code == 200, asked.text
        assert number(asked.text) == 2  # the Romanian and the Moldovan member on Telegram
        assert "people will receive it" in asked.text
        assert "Telegram: 2" in asked.text and "Română: 2" in asked.text
        assert "in their country&#39;s language: 1" in asked.text  # Russian falls back
        assert "Now" in asked.text and "within 24 hours" in asked.text
        assert (await stored(board, broadcast_id)).status == "draft"
        assert not board.stack.telegram.messages

        token = re.search(r'name="confirm" value="([0-9a-f]+)"', asked.text)
        assert token
        confirm = f"/admin/broadcasts/{broadcast_id}/confirm"
        # The draft changed after the page was shown: the numbers are shown again.
        await editor.post(path, news(action="save", **{"text:en": EN + " Welcome."}))
        stale = await editor.post(confirm, {"action": "send", "confirm": token.group(1)})
        assert stale.status_code == 409
        assert "Something changed since you looked" in stale.text
        assert (await stored(board, broadcast_id)).status == "draft"
        forged = await editor.post(confirm, {"action": "send", "confirm": "0" * 32})
        assert forged.status_code == 409

        fresh = re.search(r'name="confirm" value="([0-9a-f]+)"', stale.text)
        assert fresh
        sent = await editor.post(confirm, {"action": "send", "confirm": fresh.group(1)})
        assert sent.status_code == 303
        assert sent.headers["location"] == f"/admin/broadcasts/{broadcast_id}?done=broadcast-going"
        await eventually(lambda: len(board.stack.telegram.messages) >= 2)

        # Scheduling shows the time, in the secretariat's zone, before it is set.
        other = await compose(editor)
        day = (datetime.now(ZoneInfo("Europe/Bucharest")) + timedelta(days=2)).date()
        when = news(action="schedule", when="at", at=f"{day}T09:30")
        later = await editor.post(f"/admin/broadcasts/{other}/edit", when)
        assert later.status_code == 200 and "09:30" in later.text and "Europe/Bucharest" in later.text
        assert (await stored(board, other)).status == "draft"
        assert (await editor.send(f"/admin/broadcasts/{other}/edit", when)).status_code == 303
        assert (await stored(board, other)).status == "scheduled"


async def test_each_reply_on_the_broadcasts_page_says_whether_it_was_answered(backend):
    # Forty replies and an answer box under each: without a mark, an officer coming back
    # cannot tell which members are still waiting.
    from bot.secretariat import inbox
    from bot.storage.models import ConversationMessage

    async with dashboard(backend) as board:
        ids = await members(board)
        editor = await board.sign_in(EDITOR)
        broadcast_id = await compose(editor, collect_replies_hours="48")
        replied = {}
        async with board.stack.service.db.session() as session, session.begin():
            for who, text in (("ro", "Vom participa"), ("md_ru", "Мы будем")):
                conversation = await inbox.open_conversation(session, ids[who], "reply")
                session.add(ConversationMessage(conversation_id=conversation.id, direction="member",
                                                text=text, broadcast_id=broadcast_id))  # fmt: skip
                replied[who] = conversation.id
        answered = await editor.post(f"/admin/inbox/{replied['ro']}/reply",
                                     {"text": "Mulțumim, v-am notat.",
                                      "back": f"/admin/broadcasts/{broadcast_id}"})  # fmt: skip
        assert answered.status_code == 303
        page = (await editor.get(f"/admin/broadcasts/{broadcast_id}")).text
        items = page.split('class="history replies"', 1)[1].split("</ol>", 1)[0].split("<li")[1:]
        ro = next(i for i in items if "Vom participa" in i)
        md = next(i for i in items if "Мы будем" in i)
        assert "Answered" in ro and "Mulțumim, v-am notat." in ro and "Answer again" in ro
        assert "Not answered yet" in md and "Answered" not in md and "Answer again" not in md
        # A viewer sees the marks and no answer box.
        viewer = await board.sign_in(VIEWER)
        seen = (await viewer.get(f"/admin/broadcasts/{broadcast_id}")).text
        assert "Not answered yet" in seen and "Mulțumim, v-am notat." in seen
        assert "Answer again" not in seen and "Send the answer" not in seen
