"""The broadcasts API while a draft is written: who reads which text (a fallback named with its
reason and its count), buttons left untranslated, duplicating a broadcast, and saved audiences."""

from __future__ import annotations

from sqlalchemy import select

from bot.storage.models import AuditEntry
from tests.webhook.api.conftest import Api
from tests.webhook.api.test_api_broadcasts import NEWS, create


async def test_the_preview_says_who_reads_which_text_and_flags_an_untranslated_button(
    api: Api,
) -> None:
    draft = await create(api)
    path = f"/api/broadcasts/{draft['id']}"
    # The link button's text is English only, the body is in Romanian too: both members read
    # Romanian (one in their own language, the Russian-speaking Moldovan as their country's),
    # so both would get an English button.
    flagged = [{"button": 1, "label": "Programme", "locales": ["ro"], "members": 0}]
    assert draft["untranslated_buttons"] == flagged
    seen = (await api.call("viewer", "GET", f"{path}/preview")).json()
    assert seen["untranslated_buttons"] == [{**flagged[0], "members": 2}]
    assert sorted(
        (r["language"], r["reads"], r["how"], r["members"], r["by_channel"])
        for r in seen["readers"]
    ) == [
        ("ro", "ro", "own", 1, {"telegram": 1}),
        ("ru", "ro", "country", 1, {"whatsapp": 1}),
    ]

    # Written in Romanian, the button is no longer flagged; Russian written too, the
    # Moldovan reads their own language and the Russian button text is missing again.
    labels = {"en": "Programme", "ro": "Programul"}
    buttons = [{"label": labels, "url": "https://childpact.org/ga"}]
    changed = await api.call("editor", "PATCH", path, json={"buttons": buttons})
    assert changed.json()["untranslated_buttons"] == []
    # (the Moldovan, outside WhatsApp's window, needs the Russian template then)
    russian = {"texts": {"ru": "Ассамблея 12 мая."}, "templates": {"ru": "HX" + "1" * 32}}
    changed = await api.call("editor", "PATCH", path, json=russian)
    assert changed.json()["untranslated_buttons"] == [
        {"button": 1, "label": "Programme", "locales": ["ru"], "members": 0}
    ]
    seen = (await api.call("viewer", "GET", f"{path}/preview")).json()
    assert {(r["language"], r["reads"], r["how"]) for r in seen["readers"]} == {
        ("ro", "ro", "own"),
        ("ru", "ru", "own"),
    }
    assert seen["untranslated_buttons"][0]["members"] == 1


async def test_a_member_whose_language_the_base_is_not_missing_among_translations(
    api: Api,
) -> None:
    """The base text not written yet is a problem of its own, not a language to add."""
    draft = await create(api, base_locale="ro", texts={"en": "Only English so far."})
    seen = (await api.call("viewer", "GET", f"/api/broadcasts/{draft['id']}/preview")).json()
    assert "ro" not in seen["missing_locales"]
    assert seen["missing_locales"] == {"ru": 1}
    assert any("write the ro text first" in p for p in seen["problems"])
    assert NEWS["base_locale"] == "en"  # the shared draft is untouched by this one
    async with api.service.db.session() as session:
        assert "broadcast.create" in set((await session.scalars(select(AuditEntry.action))).all())
