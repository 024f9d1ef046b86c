"""The Telegram command menu and the bot's descriptions, in every language, through the fake
Bot API, which refuses what Telegram refuses."""

from __future__ import annotations

import httpx
import pytest

from bot.channels.telegram import TelegramChannel
from bot.conversation.commands import MENU_LINES, set_telegram_profiles, words_in
from bot.i18n import LOCALES, Translator
from tests.channels.test_telegram import TOKEN, _loopback_only, make_settings  # noqa: F401
from tests.fakes.telegram_api import FakeTelegram
from tests.harness import eventually, running


async def test_set_commands_gives_each_language_its_menu_and_descriptions():
    async with FakeTelegram(token=TOKEN) as fake:
        channel = TelegramChannel(make_settings(fake.url))
        try:
            done = await set_telegram_profiles(channel)
        finally:
            await channel.stop()
        # English for everyone whose language has no menu; Serbian in Latin letters has no
        # code of its own (Serbian speakers get the Cyrillic menu).
        assert set(fake.commands) == {""} | {c for c in LOCALES if c not in ("en", "sr_Latn")}
        assert len(done) == len(LOCALES) - 1
        ro, ru = Translator("ro"), Translator("ru")
        assert [c["command"] for c in fake.commands["ro"]] == list(MENU_LINES)
        settings = next(c for c in fake.commands["ro"] if c["command"] == "settings")
        assert settings["description"] == ro.pgettext("command menu", MENU_LINES["settings"])
        assert settings["description"] != MENU_LINES["settings"]  # really Romanian
        assert "ChildPact" in fake.descriptions["ru"] and fake.descriptions["ru"] != fake.descriptions[""]
        assert ru("Surveys") not in fake.short_descriptions[""]  # English by default
        assert all(0 < len(text) <= 120 for text in fake.short_descriptions.values())


async def test_every_menu_command_is_one_the_bot_reads():
    from bot.conversation.commands import recognise

    for name in MENU_LINES:
        assert recognise(f"/{name}") == name
        assert words_in(Translator("en"), name)


@pytest.mark.parametrize(("params", "error"), [
    ({"commands": [{"command": "Settings", "description": "x"}]}, "BOT_COMMAND_INVALID"),
    ({"commands": [{"command": "menu", "description": ""}]}, "command description is empty"),
    ({"commands": [{"command": "menu", "description": "x" * 257}]}, "DESCRIPTION_INVALID"),
    ({"commands": [{"command": "menu", "description": "x"}], "language_code": "sr_Latn"},
     "LANG_CODE_INVALID"),
])  # fmt: skip
async def test_the_fake_refuses_a_menu_telegram_refuses(params, error):
    async with FakeTelegram(token=TOKEN) as fake:
        async with httpx.AsyncClient() as http:
            answer = await http.post(f"{fake.url}/bot{TOKEN}/setMyCommands", json=params)
        assert answer.status_code == 400 and error in answer.json()["description"]
        assert fake.commands == {}


async def test_the_fake_refuses_a_short_description_over_120_characters():
    async with FakeTelegram(token=TOKEN) as fake:
        async with httpx.AsyncClient() as http:
            url = f"{fake.url}/bot{TOKEN}/setMyShortDescription"
            long = await http.post(url, json={"short_description": "x" * 121})
            fine = await http.post(url, json={"short_description": "x" * 120})
        assert long.status_code == 400 and fine.status_code == 200


async def test_the_service_sets_the_menu_at_start_when_asked(backend):
    async with running(backend, telegram_set_commands=True) as stack:
        await eventually(lambda: len(stack.telegram.commands) == len(LOCALES) - 1)
        assert stack.telegram.descriptions["ka"]
