"""Signing in to the dashboard: wrong passwords slow down and lock, forms need their CSRF
token, sessions end when idle or old, invitations work once; all of it on both backends."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from sqlalchemy import func, select, update

from bot.secretariat import accounts, signin
from bot.storage.models import (
    ApiToken,
    AuditEntry,
    LoginFailure,
    StaffSession,
    StaffUser,
    utcnow,
)
from tests.harness import eventually
from tests.webhook.admin.dashboard import PASSWORD, csrf_of, dashboard
from webhook.auth import SESSION_COOKIE

ADMIN = "admin@childpact.org"


async def actions(board, action: str) -> list[AuditEntry]:
    async with board.stack.service.db.session() as session:
        found = await session.scalars(select(AuditEntry).where(AuditEntry.action == action))
        return list(found)


async def test_sign_in_fails_with_one_message_then_succeeds_and_signs_out(backend):
    async with dashboard(backend) as board, board.client() as http:
        page = await http.get("/admin/members?country=MD")
        assert page.status_code == 303 and page.headers["location"].startswith("/admin/login?next=")
        form = await http.get(page.headers["location"])
        token = csrf_of(form.text)
        wrong = await http.post(
            "/admin/login", data={"email": ADMIN, "password": "nope-nope-nope", "csrf_token": token}
        )
        unknown = await http.post(
            "/admin/login", data={"email": "who@x.org", "password": PASSWORD, "csrf_token": token}
        )
        assert wrong.status_code == unknown.status_code == 401
        message = "The e-mail address or the password is not right."
        assert message in wrong.text and message in unknown.text  # nothing tells which was wrong
        assert SESSION_COOKIE not in wrong.cookies

        right = await http.post("/admin/login", data={
            "email": "  Admin@ChildPact.org ", "password": PASSWORD, "csrf_token": token,
            "next": "/admin/members?country=MD"})  # fmt: skip
        assert right.status_code == 303 and right.headers["location"] == "/admin/members?country=MD"
        cookie = right.headers["set-cookie"]
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()
        members = await http.get("/admin/members?country=MD")
        assert members.status_code == 200 and "Sign out" in members.text

        elsewhere = await http.post("/admin/login", data={
            "email": ADMIN, "password": PASSWORD, "csrf_token": token, "next": "//evil.example/"})  # fmt: skip
        assert elsewhere.headers["location"] == "/admin"  # never off to another site

        members = await http.get("/admin/members")  # the newest sign-in has its own token
        out = await http.post("/admin/logout", data={"csrf_token": csrf_of(members.text)})
        assert out.status_code == 303
        assert (await http.get("/admin")).status_code == 303
        assert len(await actions(board, "login")) == 2
        assert len(await actions(board, "logout")) == 1


async def test_failed_sign_ins_slow_down_then_lock_and_the_page_says_so(backend, monkeypatch):
    monkeypatch.setattr(signin, "MAX_DELAY", 0.3)  # the real pause is 5 s; the shape is the same
    async with dashboard(backend) as board, board.client() as http:
        token = csrf_of((await http.get("/admin/login")).text)

        async def attempt(password: str) -> tuple[float, str]:
            started = time.monotonic()
            response = await http.post(
                "/admin/login", data={"email": ADMIN, "password": password, "csrf_token": token}
            )
            return time.monotonic() - started, response.text

        for _ in range(3):
            took, text = await attempt("wrong password")
            assert "waits a little longer" not in text
        took, text = await attempt("wrong password")
        assert took >= 0.3 and "waits a little longer" in text
        for _ in range(6):
            took, text = await attempt("wrong password")
        assert "Sign-in is paused until" in text
        took, text = await attempt(PASSWORD)  # even the right password waits for the lock
        assert "Sign-in is paused until" in text and took >= 0.3
        assert not await actions(board, "login")


async def test_forms_without_the_right_csrf_token_are_refused_and_change_nothing(backend):
    async with dashboard(backend) as board:
        member = await board.member("RO")
        editor = await board.sign_in("editor@childpact.org")
        for token in (None, "", "not-the-token"):
            data = {"name": "report"} if token is None else {"name": "report", "csrf_token": token}
            refused = await editor.http.post("/admin/tokens", data=data)
            assert refused.status_code == 403 and "<html" in refused.text
            gone = await editor.http.post(
                f"/admin/members/{member}/delete",
                data={
                    "confirm": str(member),
                    **({"csrf_token": token} if token is not None else {}),
                },
            )
            assert gone.status_code == 403
        async with board.stack.service.db.session() as session:
            assert await session.scalar(select(func.count()).select_from(ApiToken)) == 0
        assert (await editor.get(f"/admin/members/{member}")).status_code == 200
        assert (await editor.post("/admin/tokens", {"name": "report"})).status_code == 200

        async with board.client() as stranger:  # sign-in form without its cookie's token
            refused = await stranger.post(
                "/admin/login", data={"email": ADMIN, "password": PASSWORD, "csrf_token": "x"}
            )
            assert refused.status_code == 403 and SESSION_COOKIE not in refused.cookies
        await editor.close()


async def test_a_session_ends_when_idle_and_when_old(backend):
    async with dashboard(backend, session_idle_minutes=30, session_hours=8) as board:
        for column, age in (
            ("seen_at", timedelta(minutes=31)),
            ("expires_at", timedelta(seconds=1)),
        ):
            person = await board.sign_in(ADMIN)
            assert (await person.get("/admin")).status_code == 200
            async with board.stack.service.db.session() as session, session.begin():
                when = utcnow() - age
                await session.execute(update(StaffSession).values({column: when}))
            page = await person.get("/admin/inbox")
            assert page.status_code == 303 and page.headers["location"].startswith("/admin/login")
            login = await person.http.get(page.headers["location"])
            assert "Sign in to the dashboard" in login.text
            refused = await person.post("/admin/tokens", {"name": "late"})
            assert refused.status_code == 303  # back to sign-in, nothing created
            polled = await person.get("/admin/inbox/list?show=open", headers={
                "HX-Request": "true", "HX-Current-URL": f"{board.stack.url}/admin/inbox?show=open"})  # fmt: skip
            assert polled.status_code == 204  # htmx leaves the page for sign-in, then back
            assert (
                polled.headers["HX-Redirect"] == "/admin/login?next=%2Fadmin%2Finbox%3Fshow%3Dopen"
            )
            await person.close()


async def test_an_invitation_is_taken_once_and_signs_the_person_in(backend):
    async with dashboard(backend) as board:
        admin = await board.sign_in(ADMIN)
        page = await admin.post(
            "/admin/accounts/invite",
            {"email": "ana@childpact.org", "role": "editor", "country": "MD", "locale": "ro"},
        )
        link = re.search(r'id="invite-link">([^<]+)<', page.text).group(1)  # type: ignore[union-attr]
        path = link[link.index("/admin/invite/") :]
        async with board.client() as ana:
            form = await ana.get(path)
            assert 'lang="ro"' in form.text and "Bun venit" in form.text
            token = csrf_of(form.text)
            short = await ana.post(
                path,
                data={
                    "name": "Ana",
                    "password": "short",
                    "password2": "short",
                    "csrf_token": token,
                },
            )
            assert short.status_code == 400 and "cel puțin 10 caractere" in short.text
            done = await ana.post(
                path,
                data={
                    "name": "Ana",
                    "password": PASSWORD,
                    "password2": PASSWORD,
                    "csrf_token": token,
                },
            )
            assert done.status_code == 303
            home = await ana.get(done.headers["location"])
            assert "Ana" in home.text and "Contul dumneavoastră este gata" in home.text
            again = await ana.get(path, headers={"Accept-Language": "ro-RO,ro;q=0.9,en;q=0.5"})
            assert again.status_code == 404 and "nu mai este valabil" in again.text
        assert len(await actions(board, "account.invite")) == 1
        assert len(await actions(board, "account.accept_invite")) == 1
        await admin.close()


async def _wrong(http, email: str, password: str, **headers: str):
    form = await http.get("/admin/login", headers=headers)
    return await http.post("/admin/login", headers=headers, data={
        "email": email, "password": password, "csrf_token": csrf_of(form.text)})  # fmt: skip


async def test_thirty_parallel_wrong_passwords_are_all_counted_and_none_answers_500(
    backend, monkeypatch
):
    import asyncio

    monkeypatch.setattr(signin, "MAX_DELAY", 0.05)
    async with dashboard(backend) as board:
        clients = [board.client() for _ in range(30)]
        try:
            answers = await asyncio.gather(
                *(
                    _wrong(http, "viewer@childpact.org", f"wrong{i}")
                    for i, http in enumerate(clients)
                )
            )
        finally:
            for http in clients:
                await http.aclose()
        assert sorted({a.status_code for a in answers}) == [401]
        paused = [a for a in answers if "Sign-in is paused until" in a.text]
        assert len(paused) >= 30 - signin.PAIR_LOCK_AFTER
        async with board.client() as http:
            right = await _wrong(http, "viewer@childpact.org", PASSWORD)
        assert right.status_code == 401 and "Sign-in is paused until" in right.text


async def test_a_guesser_locks_only_themselves_and_the_ceiling_tells_the_administrators(
    backend, monkeypatch
):
    monkeypatch.setattr(signin, "MAX_DELAY", 0.0)
    monkeypatch.setattr(signin, "ACCOUNT_LOCK_AFTER", 12)  # the real ceiling is higher
    chat = "-1001234567890"
    async with (
        dashboard(backend, trusted_proxies="127.0.0.1", admin_telegram_chat_id=chat) as board,
        board.client() as http,
    ):
        # One client behind the listed proxy guesses until it is paused...
        guesser = {"X-Forwarded-For": "203.0.113.66"}
        for _ in range(signin.PAIR_LOCK_AFTER):
            answer = await _wrong(http, ADMIN, "guess", **guesser)
        assert "Sign-in is paused until" in answer.text
        # ...while the administrator, elsewhere, signs in: the guesser cannot lock them out.
        owner = await _wrong(http, ADMIN, PASSWORD, **{"X-Forwarded-For": "198.51.100.5"})
        assert owner.status_code == 303
        http.cookies.clear()

        # Guesses from many places reach the ceiling: the account is locked for everyone.
        for i in range(12):
            await _wrong(http, ADMIN, "guess", **{"X-Forwarded-For": f"192.0.2.{i + 1}"})
        refused = await _wrong(http, ADMIN, PASSWORD, **{"X-Forwarded-For": "198.51.100.5"})
        assert refused.status_code == 401 and "Sign-in is paused until" in refused.text
        assert len(await actions(board, "login.locked")) == 1
        told = await eventually(lambda: [
            m for m in board.stack.telegram.messages_to(chat) if ADMIN in (m.text or "")])  # fmt: skip
        assert "locked" in told[0].text

        other = await board.sign_in("editor@childpact.org")
        assert (await other.post(f"/admin/accounts/{board.ids[ADMIN]}/unlock")).status_code == 403
        async with board.stack.service.db.session() as session, session.begin():
            second = await accounts.create_account(
                session, "second@childpact.org", "admin", password=PASSWORD
            )
        admin2 = await board.sign_in("second@childpact.org")
        page = await admin2.get("/admin/accounts")
        assert "sign-in locked until" in page.text
        lifted = await admin2.post(f"/admin/accounts/{board.ids[ADMIN]}/unlock")
        assert lifted.status_code == 303 and second.id
        assert len(await actions(board, "login.unlock")) == 1
        again = await _wrong(http, ADMIN, PASSWORD, **{"X-Forwarded-For": "198.51.100.5"})
        assert again.status_code == 303
        await other.close()
        await admin2.close()


async def test_without_listed_proxies_a_forwarded_address_is_not_believed(backend, monkeypatch):
    monkeypatch.setattr(signin, "MAX_DELAY", 0.0)
    async with dashboard(backend) as board, board.client() as http:
        for i in range(signin.PAIR_LOCK_AFTER):
            answer = await _wrong(http, ADMIN, "guess", **{"X-Forwarded-For": f"192.0.2.{i}"})
        # Every guess came from the same peer, whatever the header claimed: it is paused.
        assert "Sign-in is paused until" in answer.text


async def test_changing_ones_password_ends_the_other_sessions_and_the_api_tokens(backend):
    editor, new = "editor@childpact.org", "quiet lantern orchard 42"
    async with dashboard(backend) as board:
        here, there = await board.sign_in(editor), await board.sign_in(editor)
        made = await here.post("/admin/tokens", {"name": "monthly report"})
        token = re.search(r'id="new-token">([^<]+)<', made.text).group(1)  # type: ignore[union-attr]
        async with board.client() as api:
            bearer = {"Authorization": f"Bearer {token}"}
            assert (await api.get("/api/me", headers=bearer)).status_code == 200

            page = await here.get("/admin")
            assert 'href="/admin/password"' in page.text
            assert "Change my password" in (await here.get("/admin/password")).text
            refused = {
                "Your current password is not right.":
                    {"current": "not my password 123", "password": new, "password2": new},
                "This password is too easy to guess":
                    {"current": PASSWORD, "password": "aaaaaaaaaa", "password2": "aaaaaaaaaa"},
                "The two passwords differ.":
                    {"current": PASSWORD, "password": new, "password2": new + "!"},
            }  # fmt: skip
            for message, form in refused.items():
                answer = await here.post("/admin/password", form)
                assert answer.status_code == 400 and message in answer.text
            # Nothing changed meanwhile: the other browser and the token still work.
            assert (await there.get("/admin")).status_code == 200
            assert (await api.get("/api/me", headers=bearer)).status_code == 200

            done = await here.post(
                "/admin/password", {"current": PASSWORD, "password": new, "password2": new}
            )
            assert done.status_code == 200 and "Your password is changed." in done.text
            assert (await here.get("/admin")).status_code == 200  # this browser stays in
            assert (await there.get("/admin")).status_code == 303  # the other is signed out
            assert (await api.get("/api/me", headers=bearer)).status_code == 401
        await (await board.sign_in(editor, new)).close()
        async with board.client() as http:
            form = await http.get("/admin/login")
            old = await http.post("/admin/login", data={
                "email": editor, "password": PASSWORD, "csrf_token": csrf_of(form.text)})  # fmt: skip
            assert old.status_code == 401
        assert len(await actions(board, "account.password")) == 1
        await here.close()
        await there.close()


async def test_wrong_current_passwords_pause_changing_it_and_a_right_one_starts_the_count_again(
    backend,
):
    editor, new = "editor@childpact.org", "quiet lantern orchard 42"
    wrong = {"current": "not my password 123", "password": new, "password2": new}
    right = {"current": PASSWORD, "password": new, "password2": new}
    async with dashboard(backend) as board:
        here = await board.sign_in(editor)
        # A right current password with a weak new one forgets the wrong guesses before it.
        for _ in range(signin.PASSWORD_LOCK_AFTER - 1):
            assert (await here.post("/admin/password", wrong)).status_code == 400
        weak = {"current": PASSWORD, "password": "aaaaaaaaaa", "password2": "aaaaaaaaaa"}
        assert "too easy to guess" in (await here.post("/admin/password", weak)).text
        for _ in range(signin.PASSWORD_LOCK_AFTER):  # the one that reaches the limit is checked
            answer = await here.post("/admin/password", wrong)
            assert answer.status_code == 400 and "Your current password is not right." in answer.text
        paused = await here.post("/admin/password", right)  # not even checked now
        assert paused.status_code == 429
        assert "Changing the password is paused until" in paused.text
        assert (await here.get("/admin")).status_code == 200  # still signed in
        async with board.stack.service.db.session() as session, session.begin():
            who = await session.scalar(select(StaffUser.id).where(StaffUser.email == editor))
            await session.execute(  # a quarter of an hour later
                update(LoginFailure)
                .where(LoginFailure.email == f"{signin.PASSWORD_KEY}{who}")
                .values(locked_until=utcnow() - timedelta(seconds=1))
            )
        done = await here.post("/admin/password", right)
        assert done.status_code == 200 and "Your password is changed." in done.text
        await here.close()
