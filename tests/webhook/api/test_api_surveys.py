"""The surveys API: create from JSON or YAML, change a draft, open, close, launch (the invitation
broadcast) now or at a time and leaving out who earlier invitations reached, launching again
once the invitation is cancelled, a saved audience by its id, the reminder, moving the closing
date, results and exports, for every role and within a coordinator's country; every change in
the audit log."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from openpyxl import load_workbook
from pydantic import SecretStr
from sqlalchemy import select, update

from bot import surveys
from bot.broadcasts.worker import Broadcaster
from bot.storage.models import AuditEntry, Broadcast, Contact, Delivery, Survey
from bot.surveys.launch import SurveyReminders
from tests.surveys.helpers import EVERY_TYPE, EXAMPLE
from tests.webhook.api.conftest import Api

TEMPLATE = "HX" + "0" * 32  # the Moldovan member is outside WhatsApp's 24 hours


async def create(api: Api, who: str = "editor", **fields: object) -> dict:
    response = await api.call(who, "POST", "/api/surveys", json={**EVERY_TYPE, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def answer_as(api: Api, member: str, survey_id: int, answers: dict, finish: bool) -> None:
    """A member answers directly through the survey logic (the dialogs are tested elsewhere)."""
    async with api.service.db.session() as session, session.begin():
        survey = await session.get(Survey, survey_id)
        contact = await session.get(Contact, api.members[member])
        questions = await surveys.questions_of(session, survey_id)
        step = await surveys.begin(session, survey, contact, questions, 1, contact.channel)
        while step.question is not None and (finish or step.question.key in answers):
            value = answers.get(step.question.key)
            step = await surveys.answer(
                session, step.response, questions, step.question, value, skipped=value is None
            )


async def test_roles_yaml_import_draft_changes_open_and_close(api: Api) -> None:
    refused = await api.call("viewer", "POST", "/api/surveys", json=EVERY_TYPE)
    assert refused.status_code == 403
    assert (await api.call(None, "GET", "/api/surveys")).status_code == 401

    files = {"file": ("example.yaml", EXAMPLE.read_bytes(), "application/x-yaml")}
    imported = await api.call("editor", "POST", "/api/surveys/import", files=files)
    assert imported.status_code == 201, imported.text
    survey = imported.json()
    assert survey["status"] == "draft" and len(survey["definition"]["questions"]) == 7
    broken = {"file": ("bad.yaml", b"title: T\nquestions:\n- {id: a, type: slider, text: A}", "x")}
    bad = await api.call("editor", "POST", "/api/surveys/import", files=broken)
    assert bad.status_code == 422 and "question 1" in bad.json()["detail"]
    binary = {"file": ("x.yaml", b"\xff\xfe\x00", "x")}
    assert (
        await api.call("editor", "POST", "/api/surveys/import", files=binary)
    ).status_code == 422

    path = f"/api/surveys/{survey['id']}"
    seen = await api.call("viewer", "GET", path)
    assert seen.status_code == 200 and seen.json()["definition"]["title"]["ru"]
    changed = await api.call("editor", "PUT", path, json={**EVERY_TYPE, "anonymous": True})
    assert changed.status_code == 200 and changed.json()["definition"]["anonymous"] is True
    assert (await api.call("viewer", "POST", f"{path}/open")).status_code == 403
    opened = await api.call("editor", "POST", f"{path}/open")
    assert opened.json()["status"] == "open" and opened.json()["opened_at"]
    late = await api.call("editor", "PUT", path, json=EVERY_TYPE)
    assert late.status_code == 409  # answers given so far must keep their meaning
    closed = await api.call("editor", "POST", f"{path}/close")
    assert closed.json()["status"] == "closed"
    assert (await api.call("editor", "POST", f"{path}/close")).status_code == 409
    listed = (await api.call("viewer", "GET", "/api/surveys")).json()
    assert listed["total"] == 1

    async with api.service.db.session() as session:
        actions = set(await session.scalars(select(AuditEntry.action)))
    assert {"survey.create", "survey.update", "survey.open", "survey.close"} <= actions


async def test_a_country_coordinator_works_on_their_own_country_only(api: Api) -> None:
    everyone = await create(api)
    theirs = await create(api, "md_editor")
    assert theirs["country"] == "MD"
    assert (await api.call("md_editor", "GET", f"/api/surveys/{everyone['id']}")).status_code == 404
    listed = (await api.call("md_editor", "GET", "/api/surveys")).json()
    assert [s["id"] for s in listed["surveys"]] == [theirs["id"]]
    assert (await api.call("admin", "GET", f"/api/surveys/{theirs['id']}")).status_code == 200

    launched = await api.call(
        "md_editor", "POST", f"/api/surveys/{theirs['id']}/launch",
        json={"audience": {"countries": ["RO"]}, "templates": {"ro": TEMPLATE}},
    )  # fmt: skip
    assert launched.status_code == 200, launched.text
    async with api.service.db.session() as session:
        invitation = await session.get(Broadcast, launched.json()["broadcast_id"])
    assert invitation.audience["countries"] == ["MD"]  # whatever the filter said


async def test_a_launch_invites_a_saved_audience_named_by_its_id(api: Api) -> None:
    romania = {"countries": ["RO"], "channels": ["telegram"]}
    made = await api.call("editor", "POST", "/api/audiences",
                          json={"name": "Romanian members", "audience": romania})  # fmt: skip
    saved = made.json()["id"]
    survey = await create(api)
    path = f"/api/surveys/{survey['id']}/launch"
    both = await api.call("editor", "POST", path,
                          json={"saved_audience_id": saved, "audience": {}})  # fmt: skip
    assert both.status_code == 422 and "not both" in both.text
    unknown = await api.call("editor", "POST", path, json={"saved_audience_id": 999999})
    assert unknown.status_code == 422 and "no such saved audience" in unknown.text
    theirs = await create(api, "md_editor")
    hidden = await api.call("md_editor", "POST", f"/api/surveys/{theirs['id']}/launch",
                            json={"saved_audience_id": saved})  # fmt: skip
    assert hidden.status_code == 422  # the coalition's, not one a coordinator may use
    unlaunched = (await api.call("editor", "GET", f"/api/surveys/{survey['id']}")).json()
    assert unlaunched["status"] == "draft"  # nothing launched by a refusal

    launched = await api.call("editor", "POST", path, json={"saved_audience_id": saved})
    assert launched.status_code == 200, launched.text
    invitation = launched.json()["broadcast_id"]
    got = (await api.call("viewer", "GET", f"/api/broadcasts/{invitation}")).json()
    assert got["audience"]["countries"] == ["RO"] and got["audience"]["channels"] == ["telegram"]
    await Broadcaster(api.service.db, api.service.coordinator).step()
    assert set(await deliveries(api, invitation)) == {api.members["ro"]}


async def test_launch_invites_as_a_broadcast_and_the_reminder_reaches_who_has_not_finished(
    api: Api,
) -> None:
    survey = await create(api)
    path = f"/api/surveys/{survey['id']}"
    early = await api.call("editor", "POST", f"{path}/reminder", json={"at": "2026-01-01T09:00Z"})
    assert early.status_code == 409  # nobody invited yet
    assert (await api.call("viewer", "POST", f"{path}/launch", json={})).status_code == 403
    naive = await api.call("editor", "POST", f"{path}/launch", json={"at": "2026-12-01T09:00"})
    assert naive.status_code == 422

    launched = await api.call(
        "editor", "POST", f"{path}/launch", json={"templates": {"ru": TEMPLATE}}
    )
    assert launched.status_code == 200, launched.text
    assert launched.json()["status"] == "open"
    again = await api.call("editor", "POST", f"{path}/launch", json={})
    assert again.status_code == 409
    await Broadcaster(api.service.db, api.service.coordinator).step()
    async with api.service.db.session() as session, session.begin():
        rows = (await session.scalars(
            select(Delivery).where(Delivery.broadcast_id == launched.json()["broadcast_id"])
        )).all()  # fmt: skip
        assert {(r.contact_id, r.locale, r.status) for r in rows} == {
            (api.members["ro"], "ro", "queued"), (api.members["md"], "ru", "queued")
        }  # fmt: skip
        ro_row = next(r for r in rows if r.contact_id == api.members["ro"])
        assert ro_row.message["text"].startswith("Verificare rapidă")
        assert ro_row.message["buttons"][0][0]["payload"] == f"survey:{survey['id']}"
        assert next(r for r in rows if r.contact_id == api.members["md"]).message["template"]
        await session.execute(
            update(Delivery).where(Delivery.id.in_([r.id for r in rows])).values(status="delivered")
        )
    await answer_as(api, "ro", survey["id"], {"role": "lead"}, finish=True)
    await answer_as(api, "md", survey["id"], {"role": "field"}, finish=False)

    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    scheduled = await api.call("editor", "POST", f"{path}/reminder", json={"at": at})
    assert scheduled.status_code == 200 and scheduled.json()["remind_at"]
    reminders = SurveyReminders(api.service.db, api.service.coordinator)
    assert await reminders.step() == 1
    assert await reminders.step() == 0  # once
    found = (await api.call("viewer", "GET", path)).json()
    assert found["reminded_at"] and found["reminder_broadcast_id"]
    async with api.service.db.session() as session:
        reminder = await session.get(Broadcast, found["reminder_broadcast_id"])
    # The invitation went to who receives the surveys topic; so does the reminder.
    assert reminder.audience == {"contact_ids": [api.members["md"]], "topics": ["surveys"]}
    assert reminder.status == "scheduled" and reminder.templates == {"ru": TEMPLATE}
    assert reminder.texts["ro"]["text"].startswith("Un memento: chestionarul „Verificare rapidă”")
    late = await api.call("editor", "POST", f"{path}/reminder", json={"at": at})
    assert late.status_code == 409

    results = (await api.call("viewer", "GET", f"{path}/results")).json()
    assert results["invited"] == 2 and results["response_rate"] == 1.0
    assert results["started"] == 2 and results["finished"] == 1
    assert results["completion_rate"] == 0.5
    role = results["questions"][0]
    assert [c["count"] for c in role["counts"]] == [1, 1]


async def test_results_filters_comparison_and_exports(api: Api) -> None:
    survey = await create(api)
    sid = survey["id"]
    await api.call("editor", "POST", f"/api/surveys/{sid}/open")
    full = {"role": "lead", "topics": ["care", "online"], "funded": False, "gap": "=cmd()",
            "cases": 12, "meeting": "2026-03-15", "support": 9}  # fmt: skip
    await answer_as(api, "ro", sid, full, finish=True)
    await answer_as(api, "md", sid, {**full, "role": "field", "funded": True, "cases": 30},
                    finish=True)  # fmt: skip

    found = (await api.call("viewer", "GET", f"/api/surveys/{sid}/results?by=country")).json()
    by_key = {q["id"]: q for q in found["questions"]}
    assert by_key["topics"]["counts"][0] == {"option": "care", "label": "Care", "count": 2}
    assert by_key["funded"]["counts"] == [
        {"option": "yes", "label": "yes", "count": 1}, {"option": "no", "label": "no", "count": 1}
    ]  # fmt: skip
    assert by_key["gap"]["texts"] == ["=cmd()"] and by_key["gap"]["answered"] == 1
    assert (
        by_key["cases"]["mean"] == 21 and sum(b["count"] for b in by_key["cases"]["histogram"]) == 2
    )
    assert by_key["support"]["counts"][9]["count"] == 2
    assert set(found["groups"]) == {"MD", "RO"}
    assert found["groups"]["MD"]["started"] == 1
    moldova = (await api.call("viewer", "GET", f"/api/surveys/{sid}/results?country=MD")).json()
    assert moldova["started"] == 1 and moldova["questions"][0]["counts"][1]["count"] == 1
    scoped = (await api.call("md_editor", "GET", f"/api/surveys/{sid}/results")).status_code
    assert scoped == 404  # not their survey

    exported = await api.call("viewer", "GET", f"/api/surveys/{sid}/export.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:5] == ["response", "member", "status", "start", "end"] and rows[0][-10:] == [
        "role", "topics", "topics/care", "topics/justice", "topics/online", "funded", "gap",
        "cases", "meeting", "support",
    ]  # fmt: skip
    assert rows[1][-10:] == [
        "Lead", "Care; Online", "1", "0", "1", "no", "'=cmd()", "12", "2026-03-15", "9"
    ]  # fmt: skip
    names = await api.call("viewer", "GET", f"/api/surveys/{sid}/export.csv?values=names")
    named = list(csv.reader(io.StringIO(names.content.decode("utf-8-sig"))))
    assert named[0] == rows[0] and named[1][-10:-5] == ["lead", "care online", "1", "0", "1"]
    assert rows[1][1] == str(api.members["ro"])
    xlsx = await api.call("viewer", "GET", f"/api/surveys/{sid}/export.xlsx?channel=whatsapp")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = list(sheet.values)
    assert len(values) == 2 and values[1][values[0].index("cases")] == 30
    assert values[1][values[0].index("country")] == "MD"

    async with api.service.db.session() as session:
        exports = (await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "survey.export")
        )).all()  # fmt: skip
    assert [e.detail["format"] for e in exports] == ["csv", "csv", "xlsx"]


async def test_an_anonymous_survey_never_names_a_member(api: Api) -> None:
    survey = await create(api, anonymous=True)
    await api.call("editor", "POST", f"/api/surveys/{survey['id']}/open")
    await answer_as(api, "ro", survey["id"], {"role": "lead"}, finish=False)
    text = (await api.call("admin", "GET", f"/api/surveys/{survey['id']}/export.csv")).text
    header, row = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert "member" not in header
    assert row[0] == "1"  # a number in the export, not the response's id
    assert len(row[header.index("start")]) == 10  # a day, not a moment
    results = (await api.call("admin", "GET", f"/api/surveys/{survey['id']}/results")).text
    assert "member" not in results and "contact" not in results


async def test_charts_for_every_role_within_scope_and_none_for_short_texts(api: Api) -> None:
    from bot.surveys import charts as survey_charts

    survey = await create(api)
    sid = survey["id"]
    await api.call("editor", "POST", f"/api/surveys/{sid}/open")
    full = {"role": "lead", "topics": ["care"], "funded": False, "gap": "a lawyer",
            "cases": 12, "meeting": "2026-03-15", "support": 9}  # fmt: skip
    await answer_as(api, "ro", sid, full, finish=True)
    await answer_as(api, "md", sid, {**full, "cases": 40}, finish=True)

    for key in ("role", "topics", "funded", "cases", "meeting", "support"):
        got = await api.call("viewer", "GET", f"/api/surveys/{sid}/charts/{key}.png")
        assert got.status_code == 200, (key, got.text)
        assert got.headers["content-type"] == "image/png" and got.content.startswith(b"\x89PNG")
    filtered = await api.call("viewer", "GET", f"/api/surveys/{sid}/charts/role.png?country=MD")
    assert filtered.status_code == 200
    assert (
        await api.call("viewer", "GET", f"/api/surveys/{sid}/charts/gap.png")
    ).status_code == 404
    assert (
        await api.call("viewer", "GET", f"/api/surveys/{sid}/charts/nope.png")
    ).status_code == 404
    assert (await api.call(None, "GET", f"/api/surveys/{sid}/charts/role.png")).status_code == 401
    assert (
        await api.call("md_editor", "GET", f"/api/surveys/{sid}/charts/role.png")
    ).status_code == 404
    theirs = (await create(api, "md_editor"))["id"]
    await api.call("md_editor", "POST", f"/api/surveys/{theirs}/open")
    own = await api.call("md_editor", "GET", f"/api/surveys/{theirs}/charts/role.png")
    assert own.status_code == 200

    # The link the bot sends: no account needed, only the chart it names, in its scope,
    # signed with the deployment's SECRET_KEY and nothing else (not the bot's token).
    bot_token = "1:" + "x" * 40
    api.service.settings.telegram_bot_token = SecretStr(bot_token)
    token = survey_charts.sign(bot_token, sid, "cases", None)
    assert (await api.call(None, "GET", f"/api/charts/{token}.png")).status_code == 404
    secret = "k" * 48
    api.service.settings.secret_key = SecretStr(secret)
    link = await api.call(
        None, "GET", f"/api/charts/{survey_charts.sign(secret, sid, 'cases', None)}.png"
    )
    assert link.status_code == 200 and link.content.startswith(b"\x89PNG")
    out_of_scope = survey_charts.sign(secret, sid, "cases", "MD")  # not Moldova's survey
    assert (await api.call(None, "GET", f"/api/charts/{out_of_scope}.png")).status_code == 404
    forged = survey_charts.sign("x" * 32, sid, "cases", None)
    assert (await api.call(None, "GET", f"/api/charts/{forged}.png")).status_code == 404
    not_an_id = survey_charts.sign(secret, "abc", "cases", None)  # type: ignore[arg-type]
    assert (await api.call(None, "GET", f"/api/charts/{not_an_id}.png")).status_code == 404
    # A new key goes first; the old one still verifies its links until it is removed.
    api.service.settings.secret_key = SecretStr(f"{'n' * 48},{secret}")
    old = await api.call(
        None, "GET", f"/api/charts/{survey_charts.sign(secret, sid, 'cases', None)}.png"
    )
    assert old.status_code == 200
    assert survey_charts.link_secret(api.service.settings) == "n" * 48
    api.service.settings.secret_key = SecretStr("n" * 48)
    gone = await api.call(
        None, "GET", f"/api/charts/{survey_charts.sign(secret, sid, 'cases', None)}.png"
    )
    assert gone.status_code == 404


async def deliveries(api: Api, broadcast_id: int) -> dict[int, str]:
    """A broadcast's rows by member: their status, and why a skipped one was skipped."""
    async with api.service.db.session() as session:
        rows = await session.scalars(select(Delivery).where(Delivery.broadcast_id == broadcast_id))
        return {r.contact_id: ":".join(filter(None, (r.status, r.error_code))) for r in rows}


async def test_a_launch_at_a_time_waits_for_it_and_leaves_out_earlier_invitations(
    api: Api,
) -> None:
    broadcaster = Broadcaster(api.service.db, api.service.coordinator)
    first = await create(api)
    invited = await api.call("editor", "POST", f"/api/surveys/{first['id']}/launch",
                             json={"audience": {"countries": ["RO"]}})  # fmt: skip
    first_invitation = invited.json()["broadcast_id"]
    await broadcaster.step()
    async with api.service.db.session() as session, session.begin():
        await session.execute(
            update(Delivery).where(Delivery.broadcast_id == first_invitation)
            .values(status="delivered")
        )  # fmt: skip
    assert await deliveries(api, first_invitation) == {api.members["ro"]: "delivered"}

    second = await create(api)
    at = datetime.now(UTC) + timedelta(days=1)
    launched = await api.call(
        "editor", "POST", f"/api/surveys/{second['id']}/launch",
        json={"at": at.isoformat(), "templates": {"ru": TEMPLATE},
              "audience": {"exclude_broadcasts": [first_invitation]}},
    )  # fmt: skip
    assert launched.status_code == 200, launched.text
    assert launched.json()["status"] == "open"
    invitation = launched.json()["broadcast_id"]
    got = (await api.call("viewer", "GET", f"/api/broadcasts/{invitation}")).json()
    assert got["status"] == "scheduled"
    assert datetime.fromisoformat(got["scheduled_at"]) == at
    assert got["audience"]["exclude_broadcasts"] == [first_invitation]

    await broadcaster.step()
    assert await deliveries(api, invitation) == {}  # not before its time
    async with api.service.db.session() as session, session.begin():
        await session.execute(
            update(Broadcast).where(Broadcast.id == invitation)
            .values(scheduled_at=datetime.now(UTC) - timedelta(seconds=1))
        )  # fmt: skip
    await broadcaster.step()
    # The Romanian member had the first survey's invitation; only the Moldovan one is asked.
    assert await deliveries(api, invitation) == {
        api.members["ro"]: "skipped:excluded", api.members["md"]: "queued"
    }  # fmt: skip


async def test_a_cancelled_invitation_lets_the_survey_be_launched_again(api: Api) -> None:
    survey = await create(api)
    path = f"/api/surveys/{survey['id']}"
    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    first = (await api.call("editor", "POST", f"{path}/launch", json={"at": later})).json()
    assert (await api.call("editor", "POST", f"{path}/launch", json={})).status_code == 409
    cancelled = await api.call("editor", "POST", f"/api/broadcasts/{first['broadcast_id']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    again = await api.call("editor", "POST", f"{path}/launch", json={})
    assert again.status_code == 200, again.text
    assert again.json()["broadcast_id"] != first["broadcast_id"]
    assert (await api.call("editor", "POST", f"{path}/launch", json={})).status_code == 409


async def test_an_open_surveys_closing_date_moves_or_goes_within_scope(api: Api) -> None:
    survey = await create(api, closes_at="2099-12-31T18:00:00+02:00")
    path = f"/api/surveys/{survey['id']}/closing"
    later = {"at": "2100-01-31T18:00:00+02:00"}
    assert (await api.call("editor", "POST", path, json=later)).status_code == 409  # a draft
    await api.call("editor", "POST", f"/api/surveys/{survey['id']}/open")

    assert (await api.call("viewer", "POST", path, json=later)).status_code == 403
    assert (await api.call("md_editor", "POST", path, json=later)).status_code == 404
    assert (await api.call(None, "POST", path, json=later)).status_code == 401
    past = await api.call("editor", "POST", path, json={"at": "2020-01-01T10:00:00Z"})
    assert past.status_code == 422 and "passed" in past.json()["detail"]
    naive = await api.call("editor", "POST", path, json={"at": "2099-01-01T10:00"})
    assert naive.status_code == 422
    assert (await api.call("editor", "POST", path, json={})).status_code == 422  # say null

    moved = await api.call("editor", "POST", path, json=later)
    assert moved.status_code == 200, moved.text
    closes = datetime.fromisoformat(moved.json()["definition"]["closes_at"])
    assert closes == datetime(2100, 1, 31, 16, 0, tzinfo=UTC)
    soon = datetime.now(UTC) + timedelta(hours=1)
    earlier = await api.call("editor", "POST", path, json={"at": soon.isoformat()})
    assert datetime.fromisoformat(earlier.json()["definition"]["closes_at"]) == soon
    removed = await api.call("editor", "POST", path, json={"at": None})
    assert removed.status_code == 200 and removed.json()["definition"]["closes_at"] is None
    assert removed.json()["status"] == "open"

    theirs = await create(api, "md_editor")
    await api.call("md_editor", "POST", f"/api/surveys/{theirs['id']}/open")
    own = await api.call("md_editor", "POST", f"/api/surveys/{theirs['id']}/closing",
                         json={"at": soon.isoformat()})  # fmt: skip
    assert own.status_code == 200

    # The new date comes: the worker closes the survey, and its date no longer moves.
    async with api.service.db.session() as session, session.begin():
        await session.execute(
            update(Survey).where(Survey.id == theirs["id"])
            .values(closes_at=datetime.now(UTC) - timedelta(seconds=1))
        )  # fmt: skip
    await SurveyReminders(api.service.db, api.service.coordinator).step()
    closed = (await api.call("viewer", "GET", f"/api/surveys/{theirs['id']}")).json()
    assert closed["status"] == "closed"
    refused = await api.call("md_editor", "POST", f"/api/surveys/{theirs['id']}/closing",
                             json={"at": None})  # fmt: skip
    assert refused.status_code == 409

    async with api.service.db.session() as session:
        entries = (await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "survey.closing")
            .order_by(AuditEntry.id)
        )).all()  # fmt: skip
    assert [(e.target, e.detail["at"]) for e in entries] == [
        (f"survey:{survey['id']}", "2100-01-31T16:00:00+00:00"),
        (f"survey:{survey['id']}", soon.isoformat()),
        (f"survey:{survey['id']}", None),
        (f"survey:{theirs['id']}", soon.isoformat()),
    ]
