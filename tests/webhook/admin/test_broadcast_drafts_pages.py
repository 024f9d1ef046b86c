"""The compose page while a draft is written: the preview in every language the audience
reads, per channel, each fallback marked with its count; a button left untranslated flagged
there and on the confirmation page; duplicating a broadcast; saved audiences."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from tests.webhook.admin.dashboard import Browser, Dashboard, dashboard
from tests.webhook.admin.test_broadcasts_pages import EN, RO, compose, news
from tests.webhook.admin.test_pages import EDITOR

LINK = {"button0-label": "Programme", "button0-url": "https://childpact.org/ga"}
WARNING = "Button 1 “Programme” has no text in Română: 2 members reading them get it in English."


async def audience(board: Dashboard) -> dict[str, int]:
    """A Romanian, a Russian-speaking Moldovan (their country's language is Romanian), an
    Armenian (no Armenian text: the base), and a Bulgarian on WhatsApp who wrote a moment ago."""
    return {
        "ro": await board.member("RO", locale="ro"),
        "md_ru": await board.member("MD", locale="ru"),
        "hy": await board.member("AM", locale="hy"),
        "wa": await board.member("BG", locale="bg", channel="whatsapp",
                                 address="whatsapp:+359888000222",
                                 last_inbound_at=datetime.now(UTC)),
    }  # fmt: skip


def section(page: str, locale: str) -> str:
    """One language's part of the preview, as text."""
    found = re.search(rf'<section class="seen stack" id="seen-{locale}".*?</section>', page, re.S)
    assert found, f"no preview of {locale}"
    return plain(found.group(0))


def plain(page: str) -> str:
    """A page's words as a person reads them: no tags, spaces squeezed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


async def test_the_preview_shows_every_language_as_members_see_it_with_fallbacks_marked(backend):
    async with dashboard(backend) as board:
        await audience(board)
        editor: Browser = await board.sign_in(EDITOR)
        seen = await editor.post("/admin/broadcasts/preview", news(**LINK))
        assert seen.status_code == 200, seen.text

        romanian = section(seen.text, "ro")
        assert "Română: 1 member, in their own language" in romanian
        assert "fallback Русский: 1 member reads this instead: their country's language" in romanian
        assert RO in romanian and "Programme ↗" in romanian  # the button stays English

        english = section(seen.text, "en")
        assert "Հայերեն: 1 member reads this instead: the base language" in english
        assert "Български: 1 member reads this instead: the base language" in english
        # Telegram shows the link as a button; WhatsApp has none, so it is a line of text.
        telegram, whatsapp = re.split(r"WhatsApp", english, maxsplit=1)
        assert "Telegram" in telegram and "Programme ↗" in telegram
        assert "Programme: https://childpact.org/ga" in whatsapp and "↗" not in whatsapp
        assert EN in telegram and EN in whatsapp
        assert WARNING in plain(seen.text)

        # Its Romanian text written, the button is no longer flagged.
        written = await editor.post(
            "/admin/broadcasts/preview", news(**LINK, **{"button0-label:ro": "Programul"})
        )
        assert "has no text in" not in plain(written.text)
        assert "Programul ↗" in section(written.text, "ro")


async def test_the_confirmation_names_the_fallbacks_and_the_untranslated_button(backend):
    async with dashboard(backend) as board:
        await audience(board)
        editor = await board.sign_in(EDITOR)
        broadcast_id = await compose(editor, **LINK)
        asked = await editor.post(
            f"/admin/broadcasts/{broadcast_id}/edit", news(action="send", **LINK)
        )
        assert asked.status_code == 200 and "Check before sending" in asked.text
        page = plain(asked.text)
        assert WARNING in page
        assert "Русский: 1 member gets the Română text, their country's language" in page
        assert "Հայերեն: 1 member gets the English text, the base language" in page


async def test_an_empty_draft_offers_no_translation_into_its_own_base_language(backend):
    """The base text not written yet is said once, as what to write first; English members
    are not "missing English" when English is the base."""
    async with dashboard(backend) as board:
        await board.member("RO", locale="en")
        await board.member("RO", locale="ro")
        editor = await board.sign_in(EDITOR)
        seen = await editor.post("/admin/broadcasts/preview", {"title": "", "base_locale": "en"})
        page = plain(seen.text)
        assert "Add English" not in page and "Add Română" in page
        assert "Write the English text first" in page


async def test_a_broadcast_is_duplicated_into_a_new_draft_from_its_page(backend):
    async with dashboard(backend) as board:
        await audience(board)
        editor = await board.sign_in(EDITOR)
        first = await compose(
            editor, **LINK, **{"country:RO": "on", "button0-label:ro": "Programul"}
        )
        page = await editor.get(f"/admin/broadcasts/{first}")
        assert f'action="/admin/broadcasts/{first}/duplicate"' in page.text
        made = await editor.post(f"/admin/broadcasts/{first}/duplicate")
        assert made.status_code == 303
        found = re.search(
            r"/admin/broadcasts/(\d+)/edit\?done=duplicated", made.headers["location"]
        )
        assert found and int(found.group(1)) != first
        draft = await editor.get(made.headers["location"])
        text = plain(draft.text)
        assert "This is a copy, a new draft: check it, then send or schedule it." in text
        assert 'value="Copy of Assembly"' in draft.text
        assert EN in draft.text and RO in draft.text and 'value="Programul"' in draft.text
        assert re.search(r'name="country:RO" checked', draft.text)
        viewer = await board.sign_in("viewer@childpact.org")
        refused = await viewer.post(f"/admin/broadcasts/{first}/duplicate")
        assert refused.status_code == 403


async def test_an_audience_is_saved_by_name_picked_renamed_and_deleted(backend):
    async with dashboard(backend) as board:
        await audience(board)
        editor = await board.sign_in(EDITOR)
        first = await compose(editor)
        saved = await editor.post(
            f"/admin/broadcasts/{first}/edit",
            news(action="save_audience", audience_name="Romania on Telegram",
                 **{"country:RO": "on", "channel:telegram": "on"}),
        )  # fmt: skip
        assert saved.status_code == 303 and "done=audience-saved" in saved.headers["location"]
        again = await editor.post(
            f"/admin/broadcasts/{first}/edit",
            news(action="save_audience", audience_name="romania on telegram"),
        )
        assert again.status_code == 409
        assert "An audience is already saved under that name: choose another." in plain(again.text)

        # A new broadcast, everyone ticked off: picking the saved audience ticks its filters.
        second = await compose(editor)
        page = await editor.get(f"/admin/broadcasts/{second}/edit")
        option = re.search(r'<option value="(\d+)">Romania on Telegram</option>', page.text)
        assert option, page.text
        used = await editor.post(
            f"/admin/broadcasts/{second}/edit",
            news(action="use_audience", saved_audience=option.group(1)),
        )
        assert used.status_code == 303 and "done=audience-used" in used.headers["location"]
        page = await editor.get(used.headers["location"])
        assert re.search(r'name="country:RO" checked', page.text)
        assert re.search(r'name="channel:telegram" checked', page.text)
        assert not re.search(r'name="country:MD" checked', page.text)
        seen = await editor.post(
            f"/admin/broadcasts/preview?broadcast_id={second}",
            news(**{"country:RO": "on", "channel:telegram": "on"}),
        )
        assert "Română: 1 member, in their own language" in plain(seen.text)

        listing = await editor.get("/admin/audiences")
        assert "Romania on Telegram" in listing.text
        renamed = await editor.post(f"/admin/audiences/{option.group(1)}/rename",
                                    {"name": "Romanian members"})  # fmt: skip
        assert renamed.status_code == 303
        listing = await editor.get("/admin/audiences")
        assert "Romanian members" in listing.text and "Romania on Telegram" not in listing.text
        gone = await editor.post(f"/admin/audiences/{option.group(1)}/delete")
        assert gone.status_code == 303
        listing = await editor.get("/admin/audiences")
        assert "Romanian members" not in listing.text
        assert "No saved audiences yet" in listing.text
