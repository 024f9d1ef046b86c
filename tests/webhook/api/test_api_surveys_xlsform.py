"""The surveys API with XLSForms: an .xlsx or .csv form imported beside YAML (by the file's
name, its content type or its content), a form with rows a chat cannot ask refused row by row
with nothing saved, and a survey downloaded as an XLSForm that pyxform converts."""

from __future__ import annotations

from pyxform.xls2xform import convert
from sqlalchemy import func, select

from bot.storage.models import AuditEntry, Survey
from tests.surveys.xlsforms import TWO_LANGUAGES, UNSUPPORTED, xlsx
from tests.webhook.api.conftest import Api

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def surveys_stored(api: Api) -> int:
    async with api.service.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Survey)) or 0)


async def test_an_xlsform_is_imported_and_downloaded_back(api: Api) -> None:
    for name, kind in (("followup.xlsx", XLSX), ("upload", XLSX), ("upload.bin", "x")):
        files = {"file": (name, xlsx(TWO_LANGUAGES), kind)}
        imported = await api.call("editor", "POST", "/api/surveys/import", files=files)
        assert imported.status_code == 201, imported.text
    survey = imported.json()
    definition = survey["definition"]
    assert survey["status"] == "draft" and definition["title"] == {
        "en": "Follow-up", "ro": "Follow-up"
    }  # fmt: skip
    cases = next(q for q in definition["questions"] if q["id"] == "cases")
    assert cases["show_if"] == {"question": "role", "equals": "field"} and cases["whole"] is True

    form = await api.call("viewer", "GET", f"/api/surveys/{survey['id']}/xlsform.xlsx")
    assert form.status_code == 200 and form.headers["content-type"] == XLSX
    xform = convert(form.content, file_type=".xlsx").xform
    assert f'id="childpact_survey_{survey["id"]}"' in xform and "Între 0 și 500" in xform
    assert (
        await api.call(None, "GET", f"/api/surveys/{survey['id']}/xlsform.xlsx")
    ).status_code == 401

    csv_form = b"survey,type,name,label\n,integer,age,Age?\n,text,school,School?\n"
    files = {"file": ("pupils.csv", csv_form, "text/csv")}
    from_csv = await api.call("editor", "POST", "/api/surveys/import", files=files)
    assert from_csv.status_code == 201 and from_csv.json()["definition"]["title"] == {
        "en": "pupils"
    }
    async with api.service.db.session() as session:
        sources = (await session.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "survey.create")
        )).all()  # fmt: skip
    assert len(sources) == 4


async def test_a_form_a_chat_cannot_ask_is_refused_row_by_row_and_nothing_is_saved(
    api: Api,
) -> None:
    before = await surveys_stored(api)
    files = {"file": ("household.xlsx", xlsx(UNSUPPORTED), XLSX)}
    refused = await api.call("editor", "POST", "/api/surveys/import", files=files)
    assert refused.status_code == 422
    detail = refused.json()["detail"]
    for row in (
        "row 3 (children)",
        "row 6 (where)",
        "row 7 (photo)",
        "row 8 (total)",
        "row 10 (town)",
        "row 11 (at)",
        "row 12 (why)",
        "row 13 (code)",
        "row 14 (lang)",
    ):
        assert row in detail, row
    assert await surveys_stored(api) == before
    damaged = {"file": ("broken.xlsx", b"PK\x03\x04 nothing", XLSX)}
    assert (
        await api.call("editor", "POST", "/api/surveys/import", files=damaged)
    ).status_code == 422
    viewer = await api.call("viewer", "POST", "/api/surveys/import",
                            files={"file": ("f.xlsx", xlsx(TWO_LANGUAGES), XLSX)})  # fmt: skip
    assert viewer.status_code == 403 and await surveys_stored(api) == before
