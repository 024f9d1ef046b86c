"""Saved audiences on the survey launch page, as on the compose page: the ticked filters kept
under a name (audited; the compose page lists it too), a saved audience picked (its filters,
topics included, ticked, its count in the preview, nothing launched) and then invited; a
coordinator sees and keeps their own country's only."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from bot.secretariat import accounts
from bot.storage.models import Delivery, SavedAudience
from bot.surveys import create
from bot.surveys import format as surveys_format
from tests.conftest import Backend
from tests.harness import eventually
from tests.webhook.admin.dashboard import PASSWORD, Dashboard, dashboard
from tests.webhook.admin.test_broadcast_drafts_pages import plain
from tests.webhook.admin.test_broadcasts_pages import compose, news
from tests.webhook.admin.test_pages import EDITOR, MD, audit
from tests.webhook.admin.test_surveys_pages import build, invitation_of, received, stored

_TICKED = re.compile(r'<input type="checkbox" name="([^"]+)" checked>')
KEPT = "The audience is saved: pick it by its name in any broadcast or survey launch."
PICKED = "The saved audience is chosen: its filters are ticked. Nothing is sent until you launch."


def ticked(page: str) -> dict[str, str]:
    """The audience boxes a page shows ticked, as the browser sends them."""
    return {name: "on" for name in _TICKED.findall(page)}


def offered(page: str, name: str) -> str | None:
    """The id of the saved audience called ``name`` in the page's list, if it is there."""
    found = re.search(rf'<option value="(\d+)"[^>]*>{re.escape(name)}</option>', page)
    return found.group(1) if found else None


async def survey_of(board: Dashboard, country: str) -> int:
    """A coordinator's survey: their country's, one question."""
    definition = surveys_format.parse_definition({"title": f"Survey {country}", "questions": [
        {"id": "a", "type": "yes_no", "text": "Da?"}]})  # fmt: skip
    async with board.stack.service.db.session() as session, session.begin():
        return (await create(session, definition, author=None, country=country)).id


async def test_an_audience_saved_at_launch_is_picked_counted_and_invited(backend: Backend):
    async with dashboard(backend) as board:
        ro = await board.member("RO", locale="ro")
        await board.member("RO", locale="ro", channel="whatsapp", address="whatsapp:+40700000001",
                           last_inbound_at=datetime.now(UTC))  # fmt: skip
        await board.member("MD", locale="ru")
        editor = await board.sign_in(EDITOR)
        first = await build(editor)
        launch = f"/admin/surveys/{first}/launch"

        # Saved from the launch page: the page again as it was typed, nothing launched.
        kept = await editor.post(launch, {
            "action": "save_audience", "audience_name": "Romania on Telegram",
            "country:RO": "on", "channel:telegram": "on", "remind_at": "2099-01-01T09:00",
        })  # fmt: skip
        assert kept.status_code == 200, kept.text
        assert KEPT in plain(kept.text)
        assert ticked(kept.text) == {"country:RO": "on", "channel:telegram": "on"}
        assert 'value="2099-01-01T09:00"' in kept.text
        s, _ = await stored(board, first)
        assert s.status == "draft" and s.broadcast_id is None
        saved_id = offered(kept.text, "Romania on Telegram")
        assert saved_id
        entry = (await audit(board, "audience.save"))[-1]
        assert entry.target == f"audience:{saved_id}" and entry.actor == EDITOR
        again = await editor.post(launch, {"action": "save_audience",
                                           "audience_name": "romania on telegram"})  # fmt: skip
        assert again.status_code == 409
        assert "An audience is already saved under that name: choose another." in plain(again.text)
        compose = await editor.get("/admin/broadcasts/new")
        assert offered(compose.text, "Romania on Telegram") == saved_id

        # Picked on a fresh launch page: its filters ticked instead of those there were.
        page = await editor.get(launch)
        assert offered(page.text, "Romania on Telegram") == saved_id and ticked(page.text) == {}
        used = await editor.post(launch, {"action": "use_audience", "saved_audience": saved_id,
                                          "country:MD": "on", "remind_at": "2099-01-01T09:00"})  # fmt: skip
        assert used.status_code == 200, used.text
        assert PICKED in plain(used.text)
        form = ticked(used.text)
        assert form == {"country:RO": "on", "channel:telegram": "on"}
        assert 'value="2099-01-01T09:00"' in used.text
        s, _ = await stored(board, first)
        assert s.status == "draft" and s.broadcast_id is None
        everyone = await editor.post(f"{launch}/preview", {})
        assert re.search(r'class="big">3<', everyone.text), everyone.text
        counted = await editor.post(f"{launch}/preview", form)
        assert re.search(r'class="big">1<', counted.text), counted.text
        unknown = await editor.post(launch, {"action": "use_audience", "saved_audience": "999999"})
        assert unknown.status_code == 400

        # Launched as ticked: exactly that audience is invited.
        launched = await editor.post(launch, {**form, "action": "launch"})
        assert launched.status_code == 303, launched.text
        invitation = await invitation_of(board, first)
        assert invitation.audience["countries"] == ["RO"]
        assert invitation.audience["channels"] == ["telegram"]
        assert (await eventually(lambda: received(board, ro)))[0].startswith("Nevoi de formare")
        await eventually(lambda: board.delivered(invitation.id))
        async with board.stack.service.db.session() as session:
            invited = set(await session.scalars(
                select(Delivery.contact_id).where(Delivery.broadcast_id == invitation.id)
            ))  # fmt: skip
        assert invited == {ro}
        await editor.close()


async def test_an_audience_saved_with_topics_when_composing_is_invited_with_them(backend):
    async with dashboard(backend) as board:
        editor = await board.sign_in(EDITOR)
        draft = await compose(editor)
        kept = await editor.post(f"/admin/broadcasts/{draft}/edit", news(
            action="save_audience", audience_name="Moldovan calls",
            **{"country:MD": "on", "news_topic:calls": "on"},
        ))  # fmt: skip
        assert kept.status_code == 303, kept.text
        survey_id = await build(editor)
        launch = f"/admin/surveys/{survey_id}/launch"
        saved_id = offered((await editor.get(launch)).text, "Moldovan calls")
        assert saved_id
        used = await editor.post(launch, {"action": "use_audience", "saved_audience": saved_id})
        form = ticked(used.text)
        assert form == {"news_topic:calls": "on", "country:MD": "on"}
        launched = await editor.post(launch, {**form, "action": "launch"})
        assert launched.status_code == 303, launched.text
        invitation = await invitation_of(board, survey_id)
        assert invitation.audience["topics"] == ["calls"]  # not the surveys topic by default
        assert invitation.audience["countries"] == ["MD"]
        await editor.close()


async def test_a_coordinator_sees_and_keeps_their_countrys_saved_audiences_only(backend: Backend):
    async with dashboard(backend) as board:
        async with board.stack.service.db.session() as session, session.begin():
            await accounts.create_account(session, "ro@childpact.org", "editor",
                                          password=PASSWORD, country="RO")  # fmt: skip
        romanian = await board.sign_in("ro@childpact.org")
        kept = await romanian.post(f"/admin/surveys/{await survey_of(board, 'RO')}/launch", {
            "action": "save_audience", "audience_name": "Romanian volunteers",
            "channel:telegram": "on",
        })  # fmt: skip
        assert kept.status_code == 200 and KEPT in plain(kept.text)
        romanias = offered(kept.text, "Romanian volunteers")
        assert romanias

        md = await board.sign_in(MD)
        launch = f"/admin/surveys/{await survey_of(board, 'MD')}/launch"
        page = await md.get(launch)
        assert page.status_code == 200
        assert "Romanian volunteers" not in page.text
        assert 'name="saved_audience"' not in page.text  # none of Moldova's yet
        refused = await md.post(launch, {"action": "use_audience", "saved_audience": romanias})
        assert refused.status_code == 400
        theirs = await md.post(launch, {"action": "save_audience",
                                        "audience_name": "Moldova on WhatsApp",
                                        "country:RO": "on", "channel:whatsapp": "on"})  # fmt: skip
        assert theirs.status_code == 200 and KEPT in plain(theirs.text)
        async with board.stack.service.db.session() as session:
            row = await session.scalar(
                select(SavedAudience).where(SavedAudience.name == "Moldova on WhatsApp")
            )
        assert row is not None and row.country == "MD"
        assert row.audience["countries"] == ["MD"]  # whatever was ticked
        for path in (launch, "/admin/broadcasts/new", "/admin/audiences"):
            seen = await md.get(path)
            assert "Moldova on WhatsApp" in seen.text, path
            assert "Romanian volunteers" not in seen.text, path

        editor = await board.sign_in(EDITOR)
        compose = await editor.get("/admin/broadcasts/new")
        assert offered(compose.text, "Moldova on WhatsApp")
        assert offered(compose.text, "Romanian volunteers") == romanias
        for who in (romanian, md, editor):
            await who.close()
