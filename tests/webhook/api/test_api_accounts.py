"""/api/me and the accounts API: administrators list, invite and change accounts."""

from __future__ import annotations

from sqlalchemy import select

from bot.secretariat import accounts
from bot.secretariat.staff import Staff
from bot.secretariat.tokens import create_api_token
from bot.storage.models import AuditEntry
from tests.webhook.api.conftest import PEOPLE


async def test_everyone_learns_who_they_are(api):
    for who, (role, country) in PEOPLE.items():
        me = (await api.call(who, "GET", "/api/me")).json()
        assert me["email"] == f"{who}@childpact.org"
        assert (me["role"], me["country"]) == (role, country)
        assert me["can_send"] == (role != "viewer") and me["is_admin"] == (role == "admin")
    assert (await api.call(None, "GET", "/api/me")).status_code == 401


async def test_only_administrators_manage_accounts(api):
    target = api.staff["viewer"].id
    for who in ("editor", "viewer", "md_editor"):
        for method, path, body in (
            ("GET", "/api/accounts", None),
            ("POST", "/api/accounts", {"email": "new@childpact.org", "role": "viewer"}),
            ("PATCH", f"/api/accounts/{target}", {"role": "admin"}),
        ):
            response = await api.call(who, method, path, json=body)
            assert response.status_code == 403, (who, path, response.text)
    listed = (await api.call("admin", "GET", "/api/accounts")).json()["accounts"]
    assert [a["email"] for a in listed] == sorted(f"{w}@childpact.org" for w in PEOPLE)
    assert all("password_hash" not in a and "invite_hash" not in a for a in listed)


async def test_an_invitation_gives_a_one_time_link(api):
    response = await api.call(
        "admin", "POST", "/api/accounts",
        json={"email": "Coordinator@Example.org", "role": "editor", "country": "ro"},
    )  # fmt: skip
    assert response.status_code == 201, response.text
    invited = response.json()
    assert invited["account"]["status"] == "invited"
    assert invited["account"]["email"] == "coordinator@example.org"
    assert invited["account"]["country"] == "RO"
    path = invited["invite_path"]
    assert path.startswith("/admin/invite/")
    async with api.service.db.session() as session, session.begin():
        person = await accounts.accept_invite(
            session, path.removeprefix("/admin/invite/"), "Ana", "a long enough password"
        )
    assert (person.role, person.country) == ("editor", "RO")
    again = await api.call(
        "admin",
        "POST",
        "/api/accounts",
        json={"email": "coordinator@example.org", "role": "viewer"},
    )
    assert again.status_code == 409
    for bad in (
        {"email": "someone", "role": "viewer"},
        {"email": "x@y.org", "role": "owner"},
        {"email": "x@y.org", "role": "viewer", "country": "Moldova"},
    ):
        assert (await api.call("admin", "POST", "/api/accounts", json=bad)).status_code == 422


async def test_administrators_change_roles_scope_and_status(api):
    editor = api.staff["editor"].id
    url = f"/api/accounts/{editor}"
    scoped = await api.call("admin", "PATCH", url, json={"country": "md", "role": "viewer"})
    assert scoped.status_code == 200, scoped.text
    assert (scoped.json()["country"], scoped.json()["role"]) == ("MD", "viewer")
    unchanged = await api.call("admin", "PATCH", url, json={"role": "editor"})
    assert unchanged.json()["country"] == "MD"
    everywhere = await api.call("admin", "PATCH", url, json={"country": None})
    assert everywhere.json()["country"] is None
    me = (await api.call("editor", "GET", "/api/me")).json()
    assert (me["role"], me["country"]) == ("editor", None)
    disabled = await api.call("admin", "PATCH", url, json={"status": "disabled"})
    assert disabled.json()["status"] == "disabled"
    assert (await api.call("editor", "GET", "/api/me")).status_code == 401  # token stops
    await api.call("admin", "PATCH", url, json={"status": "active"})
    assert (await api.call("editor", "GET", "/api/me")).status_code == 200
    assert (await api.call("admin", "PATCH", "/api/accounts/999999", json={})).status_code == 404
    bad = await api.call("admin", "PATCH", url, json={"country": "Moldova"})
    assert bad.status_code == 422
    async with api.service.db.session() as session:
        log = [
            (e.action, e.target, e.detail)
            for e in await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "account.update")
            )
        ]
    assert log[0] == ("account.update", f"account:{editor}", {"role": "viewer", "country": "MD"})
    assert len(log) == 5


async def test_the_last_active_administrator_stays_one(api):
    me = api.staff["admin"].id
    for change in ({"role": "editor"}, {"status": "disabled"}):
        refused = await api.call("admin", "PATCH", f"/api/accounts/{me}", json=change)
        assert refused.status_code == 409, refused.text
        assert "last active administrator" in refused.json()["detail"]
    other = api.staff["editor"].id
    await api.call("admin", "PATCH", f"/api/accounts/{other}", json={"role": "admin"})
    stepped_down = await api.call("admin", "PATCH", f"/api/accounts/{me}", json={"role": "viewer"})
    assert stepped_down.status_code == 200
    assert (await api.call("admin", "GET", "/api/accounts")).status_code == 403


async def test_an_administrator_limited_to_a_country_manages_that_countrys_accounts_only(api):
    from bot.secretariat import accounts

    async with api.service.db.session() as session, session.begin():
        user = await accounts.create_account(
            session, "md-admin@childpact.org", "admin", password="correct horse battery",
            country="MD",
        )  # fmt: skip
        _, api.tokens["md_admin"] = await create_api_token(session, Staff.of(user), "tests")
    listed = (await api.call("md_admin", "GET", "/api/accounts")).json()
    assert {a["country"] for a in listed["accounts"]} == {"MD"}

    broader = await api.call(
        "md_admin", "POST", "/api/accounts",
        json={"email": "ro@childpact.org", "role": "editor", "country": "RO"},
    )  # fmt: skip
    assert broader.status_code == 422 and "MD only" in broader.json()["detail"]
    unscoped = await api.call(
        "md_admin", "POST", "/api/accounts", json={"email": "new@childpact.org", "role": "viewer"}
    )
    assert unscoped.status_code == 201 and unscoped.json()["account"]["country"] == "MD"

    other = api.staff["editor"].id  # an account with no country limit
    assert (await api.call("md_admin", "PATCH", f"/api/accounts/{other}",
                           json={"role": "viewer"})).status_code == 404  # fmt: skip
    mine = api.staff["md_editor"].id
    # "Every country" from them means their own country: the account stays within it.
    widened = await api.call("md_admin", "PATCH", f"/api/accounts/{mine}", json={"country": None})
    assert widened.status_code == 200 and widened.json()["country"] == "MD"
    moved = await api.call("md_admin", "PATCH", f"/api/accounts/{mine}", json={"country": "RO"})
    assert moved.status_code == 422
