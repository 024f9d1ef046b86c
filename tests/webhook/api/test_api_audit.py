"""The audit log API: administrators only, newest first, filtered by action or actor."""

from __future__ import annotations

from bot.secretariat import accounts
from bot.secretariat.staff import Staff
from bot.secretariat.tokens import create_api_token
from tests.webhook.api.conftest import PASSWORD


async def test_administrators_read_the_log_of_changes(api):
    await api.call("editor", "POST", f"/api/inbox/{api.conversations['ro']}/close")
    await api.as_signed_in("viewer", "POST", "/api/tokens", json={"name": "cli"})
    await api.call("editor", "DELETE", f"/api/members/{api.members['md']}")
    for who in ("editor", "viewer", "md_editor"):
        assert (await api.call(who, "GET", "/api/audit")).status_code == 403
    assert (await api.call(None, "GET", "/api/audit")).status_code == 401
    page = (await api.call("admin", "GET", "/api/audit")).json()
    assert page["total"] == 3
    assert [e["action"] for e in page["entries"]] == [
        "member.delete",
        "token.create",
        "inbox.close",
    ]
    assert page["entries"][0]["target"] == f"member:{api.members['md']}"
    by_actor = (await api.call("admin", "GET", "/api/audit?actor=Editor@childpact.org")).json()
    assert by_actor["total"] == 2
    members = (await api.call("admin", "GET", "/api/audit?action=member.")).json()
    assert [e["action"] for e in members["entries"]] == ["member.delete"]
    exact = (await api.call("admin", "GET", "/api/audit?action=inbox.close")).json()
    assert exact["total"] == 1
    second = (await api.call("admin", "GET", "/api/audit?limit=1&offset=1")).json()
    assert [e["action"] for e in second["entries"]] == ["token.create"]


async def test_an_administrator_limited_to_a_country_reads_only_that_countrys_entries(api):
    async with api.service.db.session() as session, session.begin():
        user = await accounts.create_account(
            session, "md.admin@childpact.org", "admin", password=PASSWORD, country="MD"
        )
        _, md_token = await create_api_token(session, Staff.of(user), "tests")
    await api.call("editor", "POST", f"/api/inbox/{api.conversations['ro']}/close")
    await api.call("admin", "DELETE", f"/api/members/{api.members['ro']}")
    await api.call("md_editor", "POST", f"/api/inbox/{api.conversations['md']}/close")
    scoped = {"Authorization": f"Bearer {md_token}"}
    page = (await api.http.get("/api/audit?limit=500", headers=scoped)).json()
    seen = [(e["actor"], e["action"], e["target"]) for e in page["entries"]]
    assert seen == [
        ("md_editor@childpact.org", "inbox.close", f"conversation:{api.conversations['md']}"),
    ]
    assert page["total"] == 1
    everything = (await api.call("admin", "GET", "/api/audit?limit=500")).json()
    assert everything["total"] == 3
