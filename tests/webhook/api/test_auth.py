"""Who may call the API: personal tokens and dashboard sessions, CSRF on browser writes, session
expiry, and logs that never carry a token, a password, a phone number or a member's text."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.secretariat import accounts
from bot.secretariat.signin import LoginRefused, authenticate, close_session
from bot.secretariat.tokens import list_api_tokens, revoke_api_token
from bot.storage.models import StaffSession, utcnow
from tests.webhook.api.conftest import PASSWORD, PHONE, SECRET_TEXT, cookie
from webhook.auth import CSRF_HEADER


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic dXNlcjpwYXNz",
        "Bearer",
        "Bearer wrong-token-of-some-length",
        "Bearer cpm_" + "x" * 43,
        "Bearer cpm_" + "x" * 200,
    ],
)
async def test_without_a_valid_token_the_answer_is_401(api, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    for method, path in (("GET", "/api/me"), ("GET", "/api/members"), ("POST", "/api/tokens")):
        response = await api.http.request(method, path, headers=headers, json={"name": "x"})
        assert response.status_code == 401, (path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"


async def test_a_revoked_token_or_a_disabled_account_is_refused(api):
    async with api.service.db.session() as session, session.begin():
        tokens = await list_api_tokens(session, api.staff["viewer"])
        await revoke_api_token(session, api.staff["viewer"], tokens[0].id)
        await accounts.update_account(
            session, api.staff["admin"], api.staff["editor"].id, status="disabled"
        )
    assert (await api.call("viewer", "GET", "/api/me")).status_code == 401
    assert (await api.call("editor", "GET", "/api/me")).status_code == 401
    assert (await api.call("admin", "GET", "/api/me")).status_code == 200


async def test_a_browser_session_needs_its_csrf_token_to_change_anything(api):
    session_token, csrf = await api.browser("editor")
    browser = cookie(session_token)
    me = await api.http.get("/api/me", headers=browser)
    assert me.status_code == 200 and me.json()["role"] == "editor"
    url = f"/api/inbox/{api.conversations['ro']}/close"
    for headers in (browser, {**browser, CSRF_HEADER: "not-the-token"}):
        refused = await api.http.post(url, headers=headers)
        assert refused.status_code == 403, refused.text
        assert "reload the page" in refused.json()["detail"]
    refused = await api.http.post("/api/tokens", headers=browser, json={"name": "x"})
    assert refused.status_code == 403
    assert (await api.call("admin", "GET", "/api/inbox")).json()["conversations"][1][
        "status"
    ] == "open"
    ok = await api.http.post(url, headers={**browser, CSRF_HEADER: csrf})
    assert ok.status_code == 200 and ok.json()["status"] == "closed"
    reopen = f"/api/inbox/{api.conversations['ro']}/reopen"
    form = await api.http.post(reopen, headers=browser, data={"csrf_token": csrf})
    assert form.status_code == 200 and form.json()["status"] == "open"
    # A token is not a browser: nothing for a cross-site page to ride on, so no CSRF token.
    assert (await api.call("editor", "POST", url)).status_code == 200


async def test_a_session_ends_when_idle_too_long_or_too_old_or_signed_out(api):
    idle, _ = await api.browser("viewer")
    assert (await api.http.get("/api/me", headers=cookie(idle))).status_code == 200
    async with api.service.db.session() as session, session.begin():
        await session.execute(update(StaffSession).values(seen_at=utcnow() - timedelta(minutes=61)))
    assert (await api.http.get("/api/me", headers=cookie(idle))).status_code == 401
    old, _ = await api.browser("viewer", lifetime=timedelta(seconds=-1))
    assert (await api.http.get("/api/me", headers=cookie(old))).status_code == 401
    async with api.service.db.session() as session:
        assert list(await session.scalars(select(StaffSession))) == []  # expired ones go
    gone, _ = await api.browser("viewer")
    async with api.service.db.session() as session, session.begin():
        await close_session(session, gone)
    assert (await api.http.get("/api/me", headers=cookie(gone))).status_code == 401


async def test_the_logs_carry_no_token_password_phone_or_member_text(api, caplog):
    caplog.set_level(logging.DEBUG)
    session_token, csrf = await api.browser("admin")
    md = api.members["md"]
    calls = [
        ("admin", "GET", "/api/members?q=%2B37369123456", None),
        ("admin", "GET", f"/api/members/{md}", None),
        ("admin", "GET", "/api/members.csv", None),
        ("admin", "GET", f"/api/inbox/{api.conversations['md']}", None),
        ("admin", "POST", "/api/tokens", {"name": "log test"}),
        ("admin", "POST", "/api/accounts", {"email": "new@childpact.org", "role": "viewer"}),
        ("admin", "POST", f"/api/inbox/{api.conversations['md']}/reply", {"text": SECRET_TEXT}),
        ("admin", "DELETE", f"/api/members/{md}", None),
        (None, "GET", "/api/me", None),
    ]
    made = None
    for who, method, path, body in calls:
        if path == "/api/tokens":
            response = await api.as_signed_in(who, method, path, json=body)
        else:
            response = await api.call(who, method, path, json=body)
        if path == "/api/tokens":
            made = response.json()["token"]
        if path == "/api/accounts":
            invite = response.json()["invite_path"].rsplit("/", 1)[1]
    await api.http.get("/api/me", headers={**cookie(session_token), CSRF_HEADER: csrf})
    refused = await authenticate(
        api.service.db, "admin@childpact.org", "wrong " + PASSWORD, client="192.0.2.1"
    )
    assert isinstance(refused, LoginRefused)
    # The test's own HTTP client logs the URLs it asks for; the service's records are the point.
    served = [r for r in caplog.records if not r.name.startswith("httpx")]
    assert any(r.name == "bot.secretariat.relay" for r in served)  # the reply was logged, by id
    logged = " ".join(f"{r.getMessage()} {r.args}" for r in served)
    secrets = [*api.tokens.values(), made, invite, session_token, csrf, PASSWORD, SECRET_TEXT]
    for secret in [*secrets, PHONE, PHONE.removeprefix("whatsapp:"), "37369123456"]:
        assert secret not in logged
