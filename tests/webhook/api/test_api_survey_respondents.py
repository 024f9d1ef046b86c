"""Who answered a survey, over the API: each member with their organisation, country,
channel, times and whether they finished, as JSON and CSV, filtered like the results and
within a coordinator's country; refused for an anonymous survey, whose results name nobody."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select

from bot.storage.models import AuditEntry
from tests.webhook.api.conftest import Api
from tests.webhook.api.test_api_surveys import answer_as, create

FULL = {"role": "lead", "topics": ["care"], "funded": True, "cases": 3,
        "meeting": "2026-02-12", "support": 8}  # fmt: skip


async def test_the_respondents_of_a_named_survey_and_none_of_an_anonymous_one(api: Api) -> None:
    survey = await create(api)
    path = f"/api/surveys/{survey['id']}"
    assert (await api.call("editor", "POST", f"{path}/open")).status_code == 200
    empty = await api.call("viewer", "GET", f"{path}/respondents")
    assert empty.status_code == 200 and empty.json() == {"respondents": [], "total": 0,
                                                         "complete": 0}  # fmt: skip
    await answer_as(api, "ro", survey["id"], FULL, finish=True)
    await answer_as(api, "md", survey["id"], {"role": "field", "topics": ["online"]}, finish=False)

    listed = await api.call("viewer", "GET", f"{path}/respondents")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert (body["total"], body["complete"]) == (2, 1)
    seen = {r["member_id"]: r for r in body["respondents"]}
    ro, md = seen[api.members["ro"]], seen[api.members["md"]]
    assert (ro["organisation"], ro["country"], ro["channel"], ro["complete"]) == (
        "Salvați Copiii", "RO", "telegram", True)  # fmt: skip
    assert ro["finished_at"] and ro["answered"] == 6
    assert (md["organisation"], md["country"], md["channel"], md["complete"]) == (
        "CNPAC Moldova", "MD", "whatsapp", False)  # fmt: skip
    assert md["finished_at"] is None and md["answered"] == 2

    # The same filters as the results; a coordinator sees their own country only.
    only_md = await api.call("viewer", "GET", f"{path}/respondents?country=MD")
    assert [r["member_id"] for r in only_md.json()["respondents"]] == [api.members["md"]]
    partial = await api.call("viewer", "GET", f"{path}/respondents?channel=whatsapp")
    assert partial.json()["complete"] == 0

    exported = await api.call("viewer", "GET", f"{path}/respondents.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    by_member = {row["member"]: row for row in rows}
    assert by_member[str(api.members["ro"])]["complete"] == "yes"
    assert by_member[str(api.members["md"])]["organisation"] == "CNPAC Moldova"
    assert by_member[str(api.members["md"])]["complete"] == "no"
    async with api.service.db.session() as session:
        actions = list(await session.scalars(select(AuditEntry.action)))
    assert "survey.respondents_export" in actions

    # An anonymous survey names nobody: its list is refused, JSON and CSV alike.
    hidden = await create(api, anonymous=True)
    hidden_path = f"/api/surveys/{hidden['id']}"
    assert (await api.call("editor", "POST", f"{hidden_path}/open")).status_code == 200
    await answer_as(api, "ro", hidden["id"], FULL, finish=True)
    for suffix in ("respondents", "respondents.csv"):
        refused = await api.call("admin", "GET", f"{hidden_path}/{suffix}")
        assert refused.status_code == 409
        assert "anonymous" in refused.json()["detail"]
        assert str(api.members["ro"]) not in refused.text
    assert (await api.call(None, "GET", f"{path}/respondents")).status_code == 401


async def test_a_coordinator_sees_the_respondents_of_their_country_only(api: Api) -> None:
    theirs = await create(api, "md_editor")
    path = f"/api/surveys/{theirs['id']}"
    assert (await api.call("md_editor", "POST", f"{path}/open")).status_code == 200
    await answer_as(api, "ro", theirs["id"], FULL, finish=True)
    await answer_as(api, "md", theirs["id"], FULL, finish=True)
    listed = await api.call("md_editor", "GET", f"{path}/respondents?country=RO")
    assert [r["member_id"] for r in listed.json()["respondents"]] == [api.members["md"]]
    other = await create(api)  # the secretariat's own survey is not theirs
    refused = await api.call("md_editor", "GET", f"/api/surveys/{other['id']}/respondents")
    assert refused.status_code == 404
