"""Personal API tokens: each person lists, creates and revokes their own."""

from __future__ import annotations


async def test_a_token_is_shown_once_works_at_once_and_stops_when_revoked(api):
    made = await api.call("viewer", "POST", "/api/tokens", json={"name": "spreadsheet"})
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    assert token.startswith("cpm_") and token.startswith(made.json()["prefix"])
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await api.http.get("/api/me", headers=bearer)).json()["role"] == "viewer"
    listed = (await api.call("viewer", "GET", "/api/tokens")).json()["tokens"]
    assert [t["name"] for t in listed] == ["spreadsheet", "tests"]
    assert token not in str(listed)
    assert listed[1]["last_used_at"] is not None  # the token this listing came with
    mine = made.json()["id"]
    others = await api.call("editor", "DELETE", f"/api/tokens/{mine}")
    assert others.status_code == 404
    assert (await api.call("viewer", "DELETE", f"/api/tokens/{mine}")).status_code == 204
    assert (await api.http.get("/api/me", headers=bearer)).status_code == 401
    assert (await api.call("viewer", "DELETE", f"/api/tokens/{mine}")).status_code == 404
    revoked = (await api.call("viewer", "GET", "/api/tokens")).json()["tokens"][0]
    assert revoked["revoked_at"] is not None


async def test_administrators_may_revoke_anyones_token(api):
    made = await api.call("md_editor", "POST", "/api/tokens", json={"name": "laptop"})
    assert (
        await api.call("admin", "DELETE", f"/api/tokens/{made.json()['id']}")
    ).status_code == 204
    bearer = {"Authorization": f"Bearer {made.json()['token']}"}
    assert (await api.http.get("/api/me", headers=bearer)).status_code == 401


async def test_a_token_needs_a_name_and_credentials(api):
    assert (await api.call("editor", "POST", "/api/tokens", json={"name": ""})).status_code == 422
    assert (await api.call("editor", "POST", "/api/tokens", json={"name": "  "})).status_code == 422
    assert (await api.call(None, "GET", "/api/tokens")).status_code == 401
    assert (await api.call(None, "POST", "/api/tokens", json={"name": "x"})).status_code == 401
