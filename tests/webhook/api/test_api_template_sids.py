"""A WhatsApp template SID is checked where the API takes it, as Twilio's OpenAPI draws it (HX
and 32 hexadecimal digits): one of another shape would make Twilio refuse every member it was
meant for."""

from __future__ import annotations

import pytest

from tests.webhook.api.conftest import Api
from tests.webhook.api.test_api_broadcasts import NEWS
from tests.webhook.api.test_api_surveys import create as create_survey

BAD = ["not-a-sid", "HX123", "HX" + "g" * 32, "MG" + "0" * 32, "HX" + "0" * 33]


@pytest.mark.parametrize("sid", BAD)
async def test_a_broadcast_with_a_malformed_template_sid_is_refused(api: Api, sid: str) -> None:
    created = await api.call("editor", "POST", "/api/broadcasts",
                             json={**NEWS, "templates": {"ro": sid}})  # fmt: skip
    assert created.status_code == 422 and "HX" in created.text
    good = await api.call("editor", "POST", "/api/broadcasts", json=NEWS)
    assert good.status_code == 201
    patched = await api.call("editor", "PATCH", f"/api/broadcasts/{good.json()['id']}",
                             json={"templates": {"ro": sid}})  # fmt: skip
    assert patched.status_code == 422
    unchanged = await api.call("editor", "GET", f"/api/broadcasts/{good.json()['id']}")
    assert unchanged.json()["templates"] == NEWS["templates"]


async def test_a_survey_launch_with_a_malformed_template_sid_is_refused(api: Api) -> None:
    survey = await create_survey(api)
    launched = await api.call("editor", "POST", f"/api/surveys/{survey['id']}/launch",
                              json={"templates": {"ro": "HX-not-a-sid"}})  # fmt: skip
    assert launched.status_code == 422
