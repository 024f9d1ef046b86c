"""What a survey's words make, over the API: a language only partly written is named with
each text it lacks, on the draft and on the launch's answer; and a survey whose ids were made
from its texts goes out as an XLSForm that pyxform reads and comes back the same."""

from __future__ import annotations

import copy

from bot.surveys import xlsform
from tests.surveys.helpers import EVERY_TYPE
from tests.webhook.api.conftest import Api
from webhook.admin.survey_form import check, read

ZONE = "Europe/Bucharest"


def half_romanian() -> dict:
    """EVERY_TYPE with Romanian missing from the third question, one option of the first, and
    the closing; Russian left whole."""
    found = copy.deepcopy(EVERY_TYPE)
    del found["closing"]["ro"]
    del found["questions"][0]["options"][1]["label"]["ro"]
    del found["questions"][2]["text"]["ro"]
    return found


async def test_a_partly_written_language_is_named_with_what_it_lacks(api: Api) -> None:
    whole = await api.call("editor", "POST", "/api/surveys", json=EVERY_TYPE)
    assert whole.status_code == 201 and whole.json()["partly_translated"] == {}

    made = await api.call("editor", "POST", "/api/surveys", json=half_romanian())
    assert made.status_code == 201, made.text
    assert made.json()["partly_translated"] == {"ro": ["closing", "role/field", "funded"]}
    path = f"/api/surveys/{made.json()['id']}"
    seen = await api.call("viewer", "GET", path)
    assert seen.json()["partly_translated"] == {"ro": ["closing", "role/field", "funded"]}

    # A language never started is not a mixture: every member of it reads the base language.
    no_russian = half_romanian()
    for part in ("title", "intro", "closing"):
        no_russian[part].pop("ru", None)
    for q in no_russian["questions"]:
        q["text"].pop("ru")
        for o in q.get("options", []):
            o["label"].pop("ru")
    changed = await api.call("editor", "PUT", path, json=no_russian)
    assert set(changed.json()["partly_translated"]) == {"ro"}

    launched = await api.call("editor", "POST", f"{path}/launch", json={})
    assert launched.status_code == 200, launched.text
    assert launched.json()["partly_translated"] == {"ro": ["closing", "role/field", "funded"]}


async def test_ids_made_by_the_builder_make_an_xlsform_that_comes_back_the_same(
    api: Api,
) -> None:
    b = read({
        "base_locale": "ro", "title:ro": "Adunarea Generală", "title:ru": "Генассамблея",
        "q0-type": "single", "q0-key": "", "q0-text:ro": "Veniți la Adunarea Generală?",
        "q0-text:ru": "Вы приедете?", "q0-o0-key": "", "q0-o0-label:ro": "Da",
        "q0-o0-label:ru": "Да", "q0-o1-key": "", "q0-o1-label:ro": "Încă nu știm",
        "q0-o1-label:ru": "Пока не знаем",
        "q1-type": "short_text", "q1-key": "", "q1-text:ro": "Cine sunt delegații?",
        "q1-text:ru": "Кто делегаты?", "q1-if": "veniti_la_adunarea_generala",
        "q1-if-value": "Da",
    })  # fmt: skip
    definition = check(b, ZONE)
    assert definition is not None, b.problems
    made = await api.call("editor", "POST", "/api/surveys", json=definition.model_dump(mode="json"))
    assert made.status_code == 201, made.text
    questions = made.json()["definition"]["questions"]
    assert [q["id"] for q in questions] == ["veniti_la_adunarea_generala", "cine_sunt_delegatii"]
    assert [o["id"] for o in questions[0]["options"]] == ["da", "inca_nu_stim"]

    form = await api.call("viewer", "GET", f"/api/surveys/{made.json()['id']}/xlsform.xlsx")
    assert form.status_code == 200
    back = xlsform.read(form.content, "survey.xlsx")  # pyxform's own checks run first
    assert [q.id for q in back.questions] == ["veniti_la_adunarea_generala", "cine_sunt_delegatii"]
    assert [o.id for o in back.questions[0].options] == ["da", "inca_nu_stim"]
    assert back.questions[1].show_if is not None
    assert back.questions[1].show_if.model_dump(exclude_none=True) == {
        "question": "veniti_la_adunarea_generala", "equals": "da"
    }  # fmt: skip
