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
