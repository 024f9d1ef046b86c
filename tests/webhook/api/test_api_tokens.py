"""Personal API tokens: each person lists, creates and revokes their own."""

from __future__ import annotations

from bot.secretariat import accounts
from bot.secretariat.staff import Staff
from bot.secretariat.tokens import create_api_token
from bot.storage.models import StaffUser
from tests.webhook.api.conftest import PASSWORD


async def test_a_token_is_shown_once_works_at_once_and_stops_when_revoked(api):
    made = await api.as_signed_in("viewer", "POST", "/api/tokens", json={"name": "spreadsheet"})
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


async def test_administrators_of_every_country_may_revoke_anyones_token(api):
    made = await api.as_signed_in("md_editor", "POST", "/api/tokens", json={"name": "laptop"})
    assert (
        await api.call("admin", "DELETE", f"/api/tokens/{made.json()['id']}")
    ).status_code == 204
    bearer = {"Authorization": f"Bearer {made.json()['token']}"}
    assert (await api.http.get("/api/me", headers=bearer)).status_code == 401


async def test_an_administrator_limited_to_a_country_revokes_only_their_own_tokens(api):
    async with api.service.db.session() as session, session.begin():
        user = await accounts.create_account(
            session, "md.admin@childpact.org", "admin", password=PASSWORD, country="MD"
        )
        md_admin = Staff.of(user)
        _, md_token = await create_api_token(session, md_admin, "tests")
    coalition = await api.as_signed_in("admin", "POST", "/api/tokens", json={"name": "main"})
    theirs = coalition.json()["id"]
    scoped = {"Authorization": f"Bearer {md_token}"}
    refused = await api.http.delete(f"/api/tokens/{theirs}", headers=scoped)
    assert refused.status_code == 404
    bearer = {"Authorization": f"Bearer {coalition.json()['token']}"}
    assert (await api.http.get("/api/me", headers=bearer)).status_code == 200


async def test_a_token_cannot_make_a_token(api):
    refused = await api.call("admin", "POST", "/api/tokens", json={"name": "child"})
    assert refused.status_code == 403
    listed = (await api.call("admin", "GET", "/api/tokens")).json()["tokens"]
    assert [t["name"] for t in listed] == ["tests"]


async def test_a_password_reset_ends_the_accounts_tokens(api):
    made = await api.as_signed_in("editor", "POST", "/api/tokens", json={"name": "laptop"})
    bearer = {"Authorization": f"Bearer {made.json()['token']}"}
    assert (await api.http.get("/api/me", headers=bearer)).status_code == 200
    async with api.service.db.session() as session, session.begin():
        user = await session.get(StaffUser, api.staff["editor"].id)
        revoked = await accounts.set_password(session, user, "a quite different passphrase 7")
    assert revoked == 2  # the test's own token and this one
    assert (await api.http.get("/api/me", headers=bearer)).status_code == 401
    assert (await api.call("editor", "GET", "/api/me")).status_code == 401


async def test_a_token_needs_a_name_and_credentials(api):
    assert (
        await api.as_signed_in("editor", "POST", "/api/tokens", json={"name": ""})
    ).status_code == 422
    assert (
        await api.as_signed_in("editor", "POST", "/api/tokens", json={"name": "  "})
    ).status_code == 422
    assert (await api.call(None, "GET", "/api/tokens")).status_code == 401
    assert (await api.call(None, "POST", "/api/tokens", json={"name": "x"})).status_code == 401
