"""The safeguarding review list on the dashboard: what the focal point marked "Not a concern",
read by every role, within their country; the erased text is said to be erased."""

from __future__ import annotations

from datetime import timedelta

from bot.storage.models import SafeguardingFlag, utcnow
from tests.webhook.admin.dashboard import dashboard

VIEWER, MD = "viewer@childpact.org", "md@childpact.org"


async def flag(board, member: int, text: str, *, dismissed: bool = True, **values) -> None:
    now = utcnow()
    async with board.stack.service.db.session() as session, session.begin():
        session.add(
            SafeguardingFlag(
                contact_id=member, level=values.get("level", "concern"),
                kind=values.get("kind", "grooming"), words=values.get("words", "photos, secret"),
                danger=0.87, text=text, created_at=now - timedelta(minutes=5),
                dismissed_at=now if dismissed else None,
                dismissed_by="Elena <elena@childpact.org>" if dismissed else None,
            )
        )  # fmt: skip


async def test_a_viewer_reads_what_was_marked_not_a_concern_within_each_country(backend):
    async with dashboard(backend) as board:
        romania, moldova = await board.member("RO"), await board.member("MD")
        await flag(board, romania, "Îi cere poze copilului meu, e un secret")
        await flag(board, moldova, "", level="alert", kind="left_alone", words="alone")
        await flag(board, moldova, "still with the focal point", dismissed=False)
        async with board.client() as stranger:
            away = await stranger.get("/admin/safeguarding")
            assert away.status_code == 303
            assert away.headers["location"] == "/admin/login?next=%2Fadmin%2Fsafeguarding"
        viewer = await board.sign_in(VIEWER)
        overview = await viewer.get("/admin")
        assert 'href="/admin/safeguarding"' in overview.text
        page = await viewer.get("/admin/safeguarding")
        assert page.status_code == 200
        assert "Îi cere poze copilului meu, e un secret" in page.text
        assert "Grooming: an adult asking a child for photos or secrecy" in page.text
        assert "“photos”, “secret”" in page.text and "87 %" in page.text
        assert "Elena &lt;elena@childpact.org&gt;" in page.text
        assert "Possible concern" in page.text and "Alert" in page.text
        assert "A young child left alone" in page.text and "erased" in page.text
        assert "still with the focal point" not in page.text  # not pressed: not in the list
        assert "2 messages" in page.text
        md = await board.sign_in(MD)
        scoped = await md.get("/admin/safeguarding")
        assert "A young child left alone" in scoped.text and "1 message" in scoped.text
        assert "Îi cere poze" not in scoped.text and "Grooming" not in scoped.text
        await viewer.close()
        await md.close()


async def test_the_review_list_reads_in_romanian_and_russian(backend):
    async with dashboard(backend) as board:
        await flag(board, await board.member("MD"), "")
        viewer = await board.sign_in(VIEWER)
        for locale, words in (("ro", "Posibilă îngrijorare"), ("ru", "Возможное опасение")):
            await viewer.post("/admin/locale", {"locale": locale, "next": "/admin/safeguarding"})
            page = await viewer.get("/admin/safeguarding")
            assert f'<html lang="{locale}">' in page.text and words in page.text
            assert "Possible concern" not in page.text and "erased" not in page.text
        await viewer.close()
