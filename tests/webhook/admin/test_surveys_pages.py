"""The dashboard's survey pages: building a survey with its questions reshaped and its problems
beside the fields (in the reader's language), the preview made by the bot's own handler,
importing a YAML file, launching to an audience now or at a time in the secretariat's zone
(leaving out who an earlier survey invited), cancelling the invitation, moving the closing
date, closing, results with filters and comparison; roles, CSRF and country scope."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from bot.i18n import Translator
from bot.storage.models import Broadcast, Contact, Survey, SurveyAnswer, SurveyResponse
from bot.surveys import create, questions_of
from bot.surveys import format as surveys_format
from tests.conftest import Backend
from tests.dialog import Member
from tests.handlers.test_menu import onboard
from tests.harness import eventually
from tests.webhook.admin.dashboard import Browser, Dashboard, dashboard
from tests.webhook.admin.test_pages import ADMIN, EDITOR, MD, VIEWER, audit, post_forms

_LOCATION = re.compile(r"/admin/surveys/(\d+)")


def builder(**fields: str) -> dict[str, str]:
    """The builder's form as a browser sends it: a single choice and a 1-5 rating."""
    return {
        "name": "Training needs", "base_locale": "en", "title:en": "Training needs",
        "title:ro": "Nevoi de formare", "intro:en": "Two questions, one minute.",
        "q0-type": "single", "q0-key": "role", "q0-text:en": "What is your role?",
        "q0-text:ro": "Care este rolul dvs.?", "q0-o0-key": "staff", "q0-o0-label:en": "Staff",
        "q0-o0-label:ro": "Personal", "q0-o1-key": "volunteer",
        "q0-o1-label:en": "Volunteer", "q0-o1-label:ro": "Voluntar", "q0-o2-key": "",
        "q1-type": "rating5", "q1-key": "useful", "q1-text:en": "How useful was it?",
        "q1-text:ro": "Cât de util a fost?", **fields,
    }  # fmt: skip


async def build(who: Browser, **fields: str) -> int:
    saved = await who.post("/admin/surveys/new", builder(action="save", **fields))
    assert saved.status_code == 303, saved.text
    found = _LOCATION.search(saved.headers["location"])
    assert found
    return int(found.group(1))


async def stored(board: Dashboard, survey_id: int) -> tuple[Survey, list[Any]]:
    async with board.stack.service.db.session() as session:
        found = await session.get(Survey, survey_id)
        assert found is not None
        return found, await questions_of(session, survey_id)


async def test_an_editor_builds_reshapes_and_saves_a_survey(backend: Backend) -> None:
    async with dashboard(backend) as board:
        editor = await board.sign_in(EDITOR)
        listing = await editor.get("/admin/surveys")
        assert listing.status_code == 200 and "New survey" in listing.text
        assert 'href="/admin/surveys"' in listing.text  # in the navigation
        page = await editor.get("/admin/surveys/new")
        assert page.status_code == 200 and 'hx-post="/admin/surveys/preview"' in page.text

        # Reshaping shows the form again, unsaved: a question added, moved up, removed.
        added = await editor.post("/admin/surveys/new", builder(action="add-question"))
        assert added.status_code == 200 and 'name="q2-type"' in added.text
        assert "Not saved yet" in added.text
        moved = await editor.post("/admin/surveys/new", builder(action="up:1"))
        assert moved.text.index('value="useful"') < moved.text.index('value="role"')
        removed = await editor.post("/admin/surveys/new", builder(action="remove:0"))
        assert 'value="role"' not in removed.text and 'name="q1-type"' not in removed.text
        more = await editor.post(
            "/admin/surveys/new", builder(action="add-locale", add_locale="ru")
        )
        assert 'name="title:ru"' in more.text
        async with board.stack.service.db.session() as session:
            assert (await session.scalars(select(Survey))).first() is None

        survey_id = await build(editor, **{"q1-skippable": "1", "anonymous": "1"})
        s, questions = await stored(board, survey_id)
        assert s.status == "draft" and s.anonymous and s.title["ro"] == "Nevoi de formare"
        assert [(q.key, q.kind, q.required) for q in questions] == [
            ("role", "single", True), ("useful", "rating5", False),
        ]  # fmt: skip
        assert questions[0].options[1] == {
            "key": "volunteer",
            "label": {"en": "Volunteer", "ro": "Voluntar"},
        }
        assert await audit(board, "survey.create")

        # Edited again: a condition on an earlier answer and a number with its range.
        edit = await editor.get(f"/admin/surveys/{survey_id}/edit")
        assert edit.status_code == 200 and 'value="Voluntar"' in edit.text
        form = builder(action="save", **{
            "q2-type": "number", "q2-key": "hours", "q2-text:en": "How many hours?",
            "q2-min": "0", "q2-max": "200", "q2-if": "role", "q2-if-test": "equals",
            "q2-if-value": "staff",
        })  # fmt: skip
        saved = await editor.post(f"/admin/surveys/{survey_id}/edit", form)
        assert saved.status_code == 303
        _, questions = await stored(board, survey_id)
        assert questions[2].show_if == {"question": "role", "equals": "staff"}
        assert (questions[2].min_value, questions[2].max_value) == (0, 200)
        shown = await editor.get(f"/admin/surveys/{survey_id}")
        assert "Only if the answer to “What is your role?” is Staff" in shown.text


async def test_problems_stand_beside_their_field_in_the_readers_language(backend: Backend) -> None:
    async with dashboard(backend) as board:
        editor = await board.sign_in(EDITOR)
        wrong = builder(action="save", **{
            "q0-o1-key": "staff", "q1-if": "role", "q1-if-value": "manager",
            "q1-text:en": "", "title:en": "",
        })  # fmt: skip
        refused = await editor.post("/admin/surveys/new", wrong)
        assert refused.status_code == 422
        html = refused.text
        assert 'id="err-title"' in html and "Write the English text" in html
        assert (
            'id="err-q0-options">Two options have the same name; change one under “Advanced”.'
            in html
        )
        assert 'id="err-q1-text"' in html
        assert 'id="err-q1-if">That question has no option manager.' in html
        assert 'value="Nevoi de formare"' in html  # nothing typed is lost

        await editor.post("/admin/locale", {"locale": "ro", "next": "/admin"})
        refused = await editor.post("/admin/surveys/new", wrong)
        assert "Două opțiuni au același nume; schimbați unul la „Avansat”." in refused.text

        low = builder(action="save", **{"q1-type": "number", "q1-min": "10", "q1-max": "2"})
        refused = await editor.post("/admin/surveys/new", low)
        assert 'id="err-q1-range"' in refused.text


async def test_the_preview_shows_the_bots_own_messages_on_telegram_and_whatsapp(
    backend: Backend,
) -> None:
    async with dashboard(backend) as board:
        editor = await board.sign_in(EDITOR)
        seen = await editor.post("/admin/surveys/preview", builder())
        assert seen.status_code == 200
        html = seen.text
        assert "What is your role?" in html and "Tap one of the options." not in html
        assert '<span class="chip">Staff</span>' in html  # a Telegram button
        assert "1. Staff\n2. Volunteer" in html  # WhatsApp's numbered options
        assert "Reply with the number of your choice." in html
        assert '<span class="chip">Continue later</span>' in html
        assert "Reply with a number from 1 to 5." in html  # the rating on WhatsApp
        ro = await editor.post("/admin/surveys/preview", builder(preview_locale="ro"))
        assert "Care este rolul dvs.?" in ro.text and "Personal" in ro.text
        long = await editor.post("/admin/surveys/preview", builder(**{"q1-text:en": "x " * 900}))
        assert "Longer than 1,600 characters: it arrives as 2 messages." in long.text
        invitation = await editor.post(
            "/admin/surveys/preview", builder(**{"intro:en": "x " * 900})
        )
        assert "The English text has 1815 characters; WhatsApp allows 1600." in invitation.text


async def test_a_yaml_file_is_imported_or_refused_with_where_it_is_wrong(backend: Backend) -> None:
    async with dashboard(backend) as board:
        editor = await board.sign_in(EDITOR)
        await editor.get("/admin/surveys")
        good = open("surveys/example.yaml", "rb").read()
        done = await editor.http.post(
            "/admin/surveys/import", data={"csrf_token": editor.csrf},
            files={"file": ("example.yaml", good, "application/x-yaml")},
        )  # fmt: skip
        assert done.status_code == 303 and "/edit?done=survey-imported" in done.headers["location"]
        bad = b"title: Test\nquestions:\n  - id: a\n    type: single\n    text: Pick\n   x: [\n"
        refused = await editor.http.post(
            "/admin/surveys/import", data={"csrf_token": editor.csrf},
            files={"file": ("bad.yaml", bad, "application/x-yaml")},
        )  # fmt: skip
        assert refused.status_code == 422
        assert "The file cannot be used:" in refused.text and "line 6" in refused.text
        wrong = b"title: Test\nquestions:\n  - id: a\n    type: single\n    text: Pick\n"
        refused = await editor.http.post(
            "/admin/surveys/import", data={"csrf_token": editor.csrf},
            files={"file": ("wrong.yaml", wrong, "application/x-yaml")},
        )  # fmt: skip
        assert "question 1 (a): a single choice needs at least 2 options" in refused.text


async def test_launch_with_the_broadcast_audience_then_close(backend: Backend) -> None:
    async with dashboard(backend) as board:
        ro = await board.member("RO", locale="ro")
        await board.member("MD", locale="ru")
        editor = await board.sign_in(EDITOR)
        survey_id = await build(editor)
        page = await editor.get(f"/admin/surveys/{survey_id}/launch")
        assert page.status_code == 200 and 'name="country:RO"' in page.text
        counted = await editor.post(f"/admin/surveys/{survey_id}/launch/preview",
                                    {"country:RO": "on"})  # fmt: skip
        assert re.search(r'class="big">1<', counted.text), counted.text
        everyone = await editor.post(f"/admin/surveys/{survey_id}/launch/preview", {})
        assert re.search(r'class="big">2<', everyone.text)
        assert "Русский: 1 member reads another language instead" in everyone.text

        long = await build(editor, **{"intro:en": "Long. " * 300})
        refused = await editor.post(f"/admin/surveys/{long}/launch", {})
        assert refused.status_code == 409
        assert "The English text has" in refused.text and "WhatsApp allows 1600" in refused.text
        s, _ = await stored(board, long)
        assert s.status == "draft" and s.broadcast_id is None

        past = await editor.post(f"/admin/surveys/{survey_id}/launch",
                                 {"country:RO": "on", "remind_at": "2001-01-01T09:00"})  # fmt: skip
        assert past.status_code == 400 and "That time has already passed." in past.text
        launched = await editor.post(f"/admin/surveys/{survey_id}/launch",
                                     {"country:RO": "on", "remind_at": "2099-01-01T09:00"})  # fmt: skip
        assert launched.status_code == 303, launched.text
        s, _ = await stored(board, survey_id)
        assert s.status == "open" and s.broadcast_id and s.remind_at is not None
        async with board.stack.service.db.session() as session:
            invitation = await session.get(Broadcast, s.broadcast_id)
            assert invitation is not None and invitation.audience["countries"] == ["RO"]
        assert ro
        again = await editor.get(f"/admin/surveys/{survey_id}/launch")
        assert again.status_code == 303  # launched once only
        edit = await editor.get(f"/admin/surveys/{survey_id}/edit")
        assert edit.status_code == 303  # only a draft changes
        closed = await editor.post(f"/admin/surveys/{survey_id}/close")
        assert closed.status_code == 303
        s, _ = await stored(board, survey_id)
        assert s.status == "closed"


async def answered(board: Dashboard, survey_id: int, values: list[tuple[str, str, Any]]) -> None:
    """Finished responses straight into the database: (country, channel, role)."""
    contacts = [await board.member(country) for country, _, _ in values]
    async with board.stack.service.db.session() as session, session.begin():
        questions = await questions_of(session, survey_id)
        for n, (country, channel, role) in enumerate(values):
            contact = contacts[n]
            r = SurveyResponse(survey_id=survey_id, contact_id=contact, status="finished",
                               channel=channel, locale="en", country=country, path=[])  # fmt: skip
            session.add(r)
            await session.flush()
            session.add(SurveyAnswer(response_id=r.id, question_id=questions[0].id, value=role))
            session.add(
                SurveyAnswer(response_id=r.id, question_id=questions[1].id, value=n % 5 + 1)
            )


async def test_results_filter_and_compare_with_one_series_per_group(backend: Backend) -> None:
    async with dashboard(backend) as board:
        editor = await board.sign_in(EDITOR)
        survey_id = await build(editor)
        await editor.post(f"/admin/surveys/{survey_id}/launch", {})
        await answered(board, survey_id, [("RO", "telegram", "staff"), ("RO", "whatsapp", "staff"),
                                          ("MD", "telegram", "volunteer")])  # fmt: skip
        page = await editor.get(f"/admin/surveys/{survey_id}/results")
        assert page.status_code == 200
        assert 'hx-trigger="every 4s"' in page.text
        assert f'href="/api/surveys/{survey_id}/export.csv"' in page.text
        assert re.search(r'id="finished">3<', page.text)
        assert '<th scope="row">Staff</th>' in page.text
        assert "2 <span" in page.text  # two staff
        md = await editor.get(f"/admin/surveys/{survey_id}/results/live?country=MD")
        assert re.search(r'id="finished">1<', md.text) and 'id="results"' in md.text
        compared = await editor.get(f"/admin/surveys/{survey_id}/results?by=country")
        # One panel per country and question, the largest first, each with how many answered,
        # its bars shares of that country's answers; the same again as a table.
        role = compared.text[compared.text.index('id="result-role"') :]
        role = role[: role.index("</section>")]
        panels = re.findall(r'<figure class="panel">\s*<figcaption><strong>([^<]+)</strong> '
                            r'<span class="muted small">n = (\d+)</span>', role)  # fmt: skip
        assert panels == [("Romania", "2"), ("Moldova", "1")]
        shares = re.findall(r'<th scope="row">(\w+)</th>\s*<td class="bar">.*?'
                            r'<span class="pct">(\d+)%</span> <span class="muted small">\((\d+)\)',
                            role, re.S)  # fmt: skip
        assert shares == [("Staff", "100", "2"), ("Volunteer", "0", "0"),
                          ("Staff", "0", "0"), ("Volunteer", "100", "1")]  # fmt: skip
        table = role[role.index('class="as-table"') :]
        assert 'Romania <span class="muted small">(n = 2)</span>' in table
        assert re.search(r'<th scope="row">Volunteer</th><td class="num">0% .*?</td>'
                         r'<td class="num">100% <span class="muted small">\(1\)', table)  # fmt: skip

        # Who answered: each member, linked to their page, with their country and channel.
        who = await editor.get(f"/admin/surveys/{survey_id}/respondents")
        assert who.status_code == 200
        assert who.text.count('<a href="/admin/members/') == 3
        assert "3 members answered" in who.text and "3 finished" in who.text
        assert f'href="/api/surveys/{survey_id}/respondents.csv"' in who.text
        only_md = await editor.get(f"/admin/surveys/{survey_id}/respondents?country=MD")
        assert only_md.text.count('<a href="/admin/members/') == 1 and "Moldova" in only_md.text
        async with board.stack.service.db.session() as session, session.begin():
            await session.execute(
                update(Survey).where(Survey.id == survey_id).values(anonymous=True)
            )
        assert (await editor.get(f"/admin/surveys/{survey_id}/respondents")).status_code == 404
        hidden = await editor.get(f"/admin/surveys/{survey_id}/results")
        assert "/respondents" not in hidden.text
        exported = await editor.get(f"/api/surveys/{survey_id}/export.csv?country=RO")
        assert exported.status_code == 200 and exported.text.count("\n") == 3


async def test_roles_scope_and_csrf(backend: Backend) -> None:
    async with dashboard(backend) as board:
        editor = await board.sign_in(EDITOR)
        coalition = await build(editor)
        async with board.stack.service.db.session() as session, session.begin():
            definition = surveys_format.parse_definition({"title": "MD", "questions": [
                {"id": "a", "type": "yes_no", "text": "Da?"}]})  # fmt: skip
            own = (await create(session, definition, author=None, country="MD")).id

        viewer = await board.sign_in(VIEWER)
        for path in ("/admin/surveys", f"/admin/surveys/{coalition}"):
            page = await viewer.get(path)
            assert page.status_code == 200
            assert post_forms(page.text) == set() and "New survey" not in page.text
            assert "/edit" not in page.text and "/launch" not in page.text
        results = await viewer.get(f"/admin/surveys/{coalition}/results")
        assert results.status_code == 200 and post_forms(results.text) == set()
        for path in ("/admin/surveys/new", f"/admin/surveys/{coalition}/edit"):
            assert (await viewer.get(path)).status_code == 403
        refused = await viewer.post(f"/admin/surveys/{coalition}/close")
        assert refused.status_code == 403

        md = await board.sign_in(MD)
        listing = await md.get("/admin/surveys")
        assert f"/admin/surveys/{own}" in listing.text
        assert f'/admin/surveys/{coalition}"' not in listing.text
        for path in ("", "/edit", "/launch", "/results", "/results/live"):
            assert (await md.get(f"/admin/surveys/{coalition}{path}")).status_code == 404, path
        assert (await md.get(f"/admin/surveys/{own}/results")).status_code == 200

        admin = await board.sign_in(ADMIN)
        await admin.get("/admin/surveys")
        forged = await admin.http.post(f"/admin/surveys/{coalition}/edit",
                                       data={**builder(action="save"), "csrf_token": "forged"})  # fmt: skip
        assert forged.status_code == 403
        s, _ = await stored(board, coalition)
        assert s.status == "draft"


async def invitation_of(board: Dashboard, survey_id: int) -> Broadcast:
    s, _ = await stored(board, survey_id)
    async with board.stack.service.db.session() as session:
        found = await session.get(Broadcast, s.broadcast_id)
        assert found is not None
        return found


async def received(board: Dashboard, member_id: int) -> list[str]:
    """The texts a member's Telegram chat got from the bot."""
    async with board.stack.service.db.session() as session:
        contact = await session.get(Contact, member_id)
        assert contact is not None
    return [m.text or "" for m in board.stack.telegram.messages_to(contact.address)]


async def test_a_launch_scheduled_in_the_secretariats_zone_goes_at_its_time(backend: Backend):
    zone = ZoneInfo("Asia/Tbilisi")
    async with dashboard(backend, secretariat_timezone="Asia/Tbilisi") as board:
        ro = await board.member("RO", locale="ro")
        editor = await board.sign_in(EDITOR)
        survey_id = await build(editor)
        page = await editor.get(f"/admin/surveys/{survey_id}/launch")
        assert 'name="at"' in page.text and "At a date and time in Asia/Tbilisi" in page.text
        assert 'value="local"' not in page.text  # members' own hours are for broadcasts

        past = await editor.post(f"/admin/surveys/{survey_id}/launch",
                                 {"action": "schedule", "at": "2020-01-01T09:00"})  # fmt: skip
        assert past.status_code == 400 and "That time has already passed." in past.text
        unset = await editor.post(f"/admin/surveys/{survey_id}/launch", {"action": "schedule"})
        assert unset.status_code == 400 and "Choose the date and time to send it." in unset.text
        day = (datetime.now(zone) + timedelta(days=30)).date()
        early = await editor.post(f"/admin/surveys/{survey_id}/launch", {
            "action": "schedule", "at": f"{day}T09:30", "remind_at": f"{day}T08:00",
        })  # fmt: skip
        assert early.status_code == 400
        assert "The reminder must come after the invitation." in early.text
        s, _ = await stored(board, survey_id)
        assert s.status == "draft" and s.broadcast_id is None

        scheduled = await editor.post(f"/admin/surveys/{survey_id}/launch",
                                      {"action": "schedule", "at": f"{day}T09:30"})  # fmt: skip
        assert scheduled.status_code == 303, scheduled.text
        assert scheduled.headers["location"].endswith("done=survey-scheduled")
        invitation = await invitation_of(board, survey_id)
        assert invitation.status == "scheduled"
        assert invitation.scheduled_at == datetime(day.year, day.month, day.day, 5, 30, tzinfo=UTC)
        shown = await editor.get(scheduled.headers["location"])
        assert "its invitation goes out at the time you chose" in shown.text
        assert "Goes out at" in shown.text and "9:30" in shown.text
        assert "(Asia/Tbilisi)" in shown.text
        entry = (await audit(board, "survey.launch"))[-1]
        assert entry.detail["at"] == invitation.scheduled_at.isoformat()

        # Not before its time: the broadcaster passes it by.
        await board.stack.service.broadcaster.step()
        assert (await invitation_of(board, survey_id)).status == "scheduled"
        assert await received(board, ro) == []
        # Its time comes.
        async with board.stack.service.db.session() as session, session.begin():
            await session.execute(
                update(Broadcast).where(Broadcast.id == invitation.id)
                .values(scheduled_at=datetime.now(UTC) - timedelta(seconds=1))
            )  # fmt: skip
        await board.stack.service.coordinator.notify("broadcasts")
        got = await eventually(lambda: received(board, ro))
        assert got[0].startswith("Nevoi de formare")
        await editor.close()


async def test_an_invitation_not_gone_yet_is_cancelled_and_the_survey_launched_again(
    backend: Backend,
) -> None:
    async with dashboard(backend) as board:
        ro = await board.member("RO", locale="ro")
        editor = await board.sign_in(EDITOR)
        survey_id = await build(editor)
        await editor.post(f"/admin/surveys/{survey_id}/launch",
                          {"action": "schedule", "at": "2099-01-01T09:00"})  # fmt: skip
        first = await invitation_of(board, survey_id)
        page = await editor.get(f"/admin/surveys/{survey_id}")
        assert f"/admin/surveys/{survey_id}/invitation/cancel" in post_forms(page.text)
        assert f'href="/admin/surveys/{survey_id}/launch"' not in page.text
        viewer = await board.sign_in(VIEWER)
        refused = await viewer.post(f"/admin/surveys/{survey_id}/invitation/cancel")
        assert refused.status_code == 403
        md = await board.sign_in(MD)
        assert (await md.post(f"/admin/surveys/{survey_id}/invitation/cancel")).status_code == 404

        cancelled = await editor.post(f"/admin/surveys/{survey_id}/invitation/cancel")
        assert cancelled.headers["location"].endswith("done=invitation-cancelled")
        assert (await invitation_of(board, survey_id)).status == "cancelled"
        (entry,) = await audit(board, "broadcast.cancel")
        assert entry.target == f"broadcast:{first.id}" and entry.detail["survey"] == survey_id
        page = await editor.get(cancelled.headers["location"])
        assert "The invitation is cancelled" in page.text
        assert f'href="/admin/surveys/{survey_id}/launch"' in page.text
        again = await editor.post(f"/admin/surveys/{survey_id}/invitation/cancel")
        assert again.status_code == 409 and "already finished" in again.text

        relaunched = await editor.post(f"/admin/surveys/{survey_id}/launch", {})
        assert relaunched.headers["location"].endswith("done=survey-launched")
        second = await invitation_of(board, survey_id)
        assert second.id != first.id
        assert (await eventually(lambda: received(board, ro)))[0].startswith("Nevoi de formare")
        for who in (editor, viewer, md):
            await who.close()


async def test_a_launch_leaves_out_who_was_invited_to_an_earlier_survey(backend: Backend) -> None:
    async with dashboard(backend) as board:
        asked = await board.member("RO", locale="ro")
        new = await board.member("MD", locale="ro")
        editor = await board.sign_in(EDITOR)
        first = await build(editor)
        await editor.post(f"/admin/surveys/{first}/launch", {"country:RO": "on"})
        invited = await invitation_of(board, first)
        await eventually(lambda: received(board, asked))
        await eventually(lambda: board.delivered(invited.id))

        second = await build(editor, **{"title:ro": "A doua", "title:en": "Second"})
        page = await editor.get(f"/admin/surveys/{second}/launch")
        assert f'name="exclude:{invited.id}"' in page.text
        assert invited.title in page.text  # "Survey 1 invitation: Training needs"
        counted = await editor.post(f"/admin/surveys/{second}/launch/preview",
                                    {f"exclude:{invited.id}": "on"})  # fmt: skip
        assert re.search(r'class="big">1<', counted.text), counted.text
        assert "already received an earlier one" in counted.text

        launched = await editor.post(f"/admin/surveys/{second}/launch",
                                     {f"exclude:{invited.id}": "on"})  # fmt: skip
        assert launched.status_code == 303, launched.text
        assert (await invitation_of(board, second)).audience["exclude_broadcasts"] == [invited.id]
        assert (await eventually(lambda: received(board, new)))[0].startswith("A doua")
        await eventually(lambda: _finished(board, second))
        assert [t for t in await received(board, asked) if t.startswith("A doua")] == []
        await editor.close()


async def _finished(board: Dashboard, survey_id: int) -> bool:
    return (await invitation_of(board, survey_id)).status == "sent"


async def test_an_open_surveys_closing_date_moves_or_goes(backend: Backend) -> None:
    zone = ZoneInfo("Asia/Tbilisi")
    async with dashboard(backend, secretariat_timezone="Asia/Tbilisi") as board:
        editor = await board.sign_in(EDITOR)
        survey_id = await build(editor, closes_at="2099-06-01T18:00")
        draft = await editor.get(f"/admin/surveys/{survey_id}")
        assert f"/admin/surveys/{survey_id}/closing" not in post_forms(draft.text)  # the builder's
        assert (await editor.post(f"/admin/surveys/{survey_id}/closing",
                                  {"closes_at": "2099-07-01T18:00"})).status_code == 409  # fmt: skip
        await editor.post(f"/admin/surveys/{survey_id}/launch", {})
        page = await editor.get(f"/admin/surveys/{survey_id}")
        assert f"/admin/surveys/{survey_id}/closing" in post_forms(page.text)
        assert 'value="2099-06-01T18:00"' in page.text  # as stored, in the secretariat's zone

        later = await editor.post(f"/admin/surveys/{survey_id}/closing",
                                  {"action": "set", "closes_at": "2099-09-01T12:00"})  # fmt: skip
        assert later.headers["location"].endswith("done=closing-set")
        s, _ = await stored(board, survey_id)
        assert s.closes_at == datetime(2099, 9, 1, 8, 0, tzinfo=UTC)
        day = (datetime.now(zone) + timedelta(days=2)).date()
        earlier = await editor.post(f"/admin/surveys/{survey_id}/closing",
                                    {"action": "set", "closes_at": f"{day}T10:00"})  # fmt: skip
        assert earlier.status_code == 303
        s, _ = await stored(board, survey_id)
        assert s.closes_at == datetime(day.year, day.month, day.day, 6, 0, tzinfo=UTC)
        shown = await editor.get(earlier.headers["location"])
        assert "The closing date is changed." in shown.text

        past = await editor.post(f"/admin/surveys/{survey_id}/closing",
                                 {"action": "set", "closes_at": "2020-01-01T10:00"})  # fmt: skip
        assert past.status_code == 400 and "That time has already passed." in past.text
        empty = await editor.post(f"/admin/surveys/{survey_id}/closing", {"action": "set"})
        assert empty.status_code == 400 and "Choose the new closing date and time." in empty.text
        viewer = await board.sign_in(VIEWER)
        seen = await viewer.get(f"/admin/surveys/{survey_id}")
        assert post_forms(seen.text) == set() and "Closing date" not in seen.text
        refused = await viewer.post(f"/admin/surveys/{survey_id}/closing",
                                    {"action": "remove"})  # fmt: skip
        assert refused.status_code == 403
        md = await board.sign_in(MD)
        hidden = await md.post(f"/admin/surveys/{survey_id}/closing", {"action": "remove"})
        assert hidden.status_code == 404
        s, _ = await stored(board, survey_id)
        assert s.closes_at == datetime(day.year, day.month, day.day, 6, 0, tzinfo=UTC)

        removed = await editor.post(f"/admin/surveys/{survey_id}/closing", {"action": "remove"})
        assert removed.headers["location"].endswith("done=closing-removed")
        s, _ = await stored(board, survey_id)
        assert s.closes_at is None
        page = await editor.get(removed.headers["location"])
        assert "it stays open until you close it" in page.text and ">Closes<" not in page.text
        entries = await audit(board, "survey.closing")
        assert [e.detail["at"] for e in entries] == [
            "2099-09-01T08:00:00+00:00", f"{day}T06:00:00+00:00", None
        ]  # fmt: skip

        await editor.post("/admin/locale", {"locale": "ru", "next": "/admin"})
        refused = await editor.post(f"/admin/surveys/{survey_id}/closing", {"action": "set"})
        assert "Выберите новые дату и время закрытия." in refused.text
        assert "Дата закрытия" in refused.text and "Изменить дату закрытия" in refused.text
        for who in (editor, viewer, md):
            await who.close()


async def test_who_answers_after_the_new_closing_date_is_told_it_has_closed(
    backend: Backend,
) -> None:
    async with dashboard(backend) as board:
        member = Member(board.stack, "telegram", lang="ro")
        await onboard(member, "ro")
        editor = await board.sign_in(EDITOR)
        survey_id = await build(editor)
        await editor.post(f"/admin/surveys/{survey_id}/launch", {"country:RO": "on"})
        moved = await editor.post(f"/admin/surveys/{survey_id}/closing",
                                  {"action": "set", "closes_at": "2099-01-01T10:00"})  # fmt: skip
        assert moved.status_code == 303
        # The new date comes.
        async with board.stack.service.db.session() as session, session.begin():
            await session.execute(
                update(Survey).where(Survey.id == survey_id)
                .values(closes_at=datetime.now(UTC) - timedelta(seconds=1))
            )  # fmt: skip
        member.last[-1].payloads.append(f"survey:{survey_id}")  # the invitation's button
        told = await member.tap(f"survey:{survey_id}")
        assert told[-1].text == Translator("ro")(
            "This survey is closed. Thank you for your interest!"
        )
        await editor.close()


async def test_an_xlsform_is_imported_or_refused_row_by_row(backend: Backend) -> None:
    from tests.surveys.xlsforms import TWO_LANGUAGES, UNSUPPORTED, xlsx

    async with dashboard(backend) as board:
        editor = await board.sign_in(EDITOR)
        page = await editor.get("/admin/surveys")
        assert ".xlsx" in page.text
        done = await editor.http.post(
            "/admin/surveys/import", data={"csrf_token": editor.csrf},
            files={"file": ("followup.xlsx", xlsx(TWO_LANGUAGES), "application/octet-stream")},
        )  # fmt: skip
        assert done.status_code == 303 and "/edit?done=survey-imported" in done.headers["location"]
        survey_id = int(done.headers["location"].split("/")[3])
        shown = await editor.get(f"/admin/surveys/{survey_id}")
        assert f'href="/api/surveys/{survey_id}/xlsform.xlsx"' in shown.text
        assert "Only if the answer to “Your role?” is Field" in shown.text
        assert (
            "Only if (selected(${topics}, &#39;online&#39;)) and ((${cases} &gt; 10) or "
            "(${role} = &#39;lead&#39;))" in shown.text
        )
        refused = await editor.http.post(
            "/admin/surveys/import", data={"csrf_token": editor.csrf},
            files={"file": ("household.xlsx", xlsx(UNSUPPORTED), "application/octet-stream")},
        )  # fmt: skip
        assert refused.status_code == 422 and "The file cannot be used:" in refused.text
        assert "row 6 (where): geopoint" in refused.text and "row 3 (children)" in refused.text
        async with board.stack.service.db.session() as session:
            count = await session.scalar(select(func.count()).select_from(Survey))
        assert count == 1  # the refused form left nothing behind

        # Saved from the builder as it stands: the form's hints, limits and conditions beyond
        # one test, which the builder does not show, are kept.
        edit = await editor.get(f"/admin/surveys/{survey_id}/edit")
        saved = await editor.post(f"/admin/surveys/{survey_id}/edit",
                                  {**fields_of(edit.text), "action": "save"})  # fmt: skip
        assert saved.status_code == 303, saved.text
        _, questions = await stored(board, survey_id)
        by_key = {q.key: q for q in questions}
        assert by_key["cases"].rules["message"]["ro"] == "Între 0 și 500, vă rog."
        assert by_key["cases"].show_if == {"question": "role", "equals": "field"}
        assert "all" in by_key["online_note"].show_if and by_key["visit"].rules["latest"] == "today"
        assert by_key["role"].hint == {"en": "Choose one.", "ro": "Alegeți una."}


def fields_of(page: str) -> dict[str, str]:
    """The builder's fields as a browser would post them, unchanged."""
    from html.parser import HTMLParser

    found: dict[str, str] = {}

    class Fields(HTMLParser):
        select: str | None = None
        textarea: str | None = None

        def handle_starttag(self, tag: str, attrs: list) -> None:
            a = dict(attrs)
            if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button"):
                if a.get("type") != "checkbox" or "checked" in a:
                    found[a["name"]] = a.get("value") or ""
            elif tag == "select":
                self.select = a.get("name")
            elif tag == "option" and self.select and ("selected" in a or self.select not in found):
                found[self.select] = a.get("value") or ""
            elif tag == "textarea":
                self.textarea = a.get("name")
                found[self.textarea or ""] = ""

        def handle_endtag(self, tag: str) -> None:
            if tag == "select":
                self.select = None
            if tag == "textarea":
                self.textarea = None

        def handle_data(self, data: str) -> None:
            if self.textarea:
                found[self.textarea] += data

    Fields().feed(page)
    return found
