"""The dashboard's survey pages: building a survey with its questions reshaped and its problems
beside the fields (in the reader's language), the preview made by the bot's own handler,
importing a YAML file, launching to an audience, closing, results with filters and
comparison; roles, CSRF and country scope."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from bot import surveys_format
from bot.storage.models import Broadcast, Survey, SurveyAnswer, SurveyResponse
from bot.surveys import create, questions_of
from tests.admin.dashboard import Browser, Dashboard, dashboard
from tests.admin.test_pages import ADMIN, EDITOR, MD, VIEWER, audit, post_forms
from tests.conftest import Backend

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
        assert "Only if the answer to role is staff" in shown.text


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
        assert 'id="err-q0-options">Two options have the same id.' in html
        assert 'id="err-q1-text"' in html
        assert 'id="err-q1-if">That question has no option manager.' in html
        assert 'value="Nevoi de formare"' in html  # nothing typed is lost

        await editor.post("/admin/locale", {"locale": "ro", "next": "/admin"})
        refused = await editor.post("/admin/surveys/new", wrong)
        assert "Două opțiuni au același id." in refused.text

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
        assert compared.text.count('class="s1"') >= 2  # a second series: one per country
        assert "Moldova" in compared.text and "Romania" in compared.text
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
