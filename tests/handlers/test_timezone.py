"""Settings → Time zone, as dialogs: the zones of the member's country with the time there,
a UTC offset for anywhere else, in the member's language."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.i18n import Translator
from bot.members import timezones
from tests.dialog import Member
from tests.handlers.test_menu import command, contact_of, onboard
from tests.harness import running


@pytest.mark.parametrize(("channel", "locale", "country", "zone"), [
    ("telegram", "ka", "GE", "Asia/Tbilisi"),
    ("whatsapp", "ru", "MD", "Europe/Chisinau"),
])  # fmt: skip
async def test_a_member_sets_their_own_time_zone_and_goes_back_to_their_countrys(
    backend, channel, locale, country, zone
):
    async with running(backend) as stack:
        member = Member(stack, channel)
        await onboard(member, locale, country)
        t = Translator(locale)
        await member.say(command(member, "menu", locale))
        settings = await member.tap("menu:settings")
        city = timezones.label(zone, locale).rsplit(" ", 1)[0]
        assert city in settings[-1].text  # "Time zone: Tbilisi 09:14", in their language

        picker = await member.tap("set:timezone")
        assert picker[-1].payloads == [f"tz:{zone}", "tz:other", "set:back", "menu:main"]
        assert picker[-1].options[0].startswith(city)
        assert (
            t("We do not send news at night in your time zone. Which time zone are you in?")
            in picker[-1].text
        )

        others = await member.tap("tz:other")  # the region's zones by name, then a search
        assert (
            f"tz:{zone}" not in others[-1].payloads and "tz:Europe/Istanbul" in others[-1].payloads
        )
        assert others[-1].payloads[-3:] == ["tz:offsets", "set:back", "menu:main"]
        offsets = await member.tap("tz:offsets")
        assert len(offsets[-1].payloads) == len(timezones.OFFSETS) + 2
        assert offsets[-1].options[timezones.OFFSETS.index(3)].startswith("UTC+3 ")
        saved = await member.tap("tz:+3")
        assert saved[-1].text.startswith(t("Saved: {value}.", value="UTC+3").split("UTC")[0])
        assert saved[-1].payloads == ["set:back", "menu:main"]  # never a dead end
        assert (await contact_of(member)).time_zone == "Etc/GMT-3"

        await member.say(command(member, "menu", locale))
        await member.tap("menu:settings")
        picker = await member.tap("set:timezone")
        assert picker[-1].payloads[:2] == ["tz:Etc/GMT-3", f"tz:{zone}"]  # their choice first
        await member.tap(f"tz:{zone}")
        assert (await contact_of(member)).time_zone is None  # follows their country again


async def test_a_zone_that_was_not_offered_is_refused(backend):
    async with running(backend) as stack:
        member = Member(stack, "web")
        await onboard(member, "en")
        await member.say("menu")
        await member.tap("menu:settings")
        member.last[-1].payloads.append("tz:Mars/Olympus")  # as if a client forged the button
        answer = await member.tap("tz:Mars/Olympus")
        assert answer[-1].text == "Sorry, I did not understand. Please choose one of the options."
        assert (await contact_of(member)).time_zone is None


@pytest.mark.parametrize(("channel", "locale", "typed", "zone"), [
    ("web", "ro", "UTC+3", "Etc/GMT-3"),
    ("whatsapp", "ru", "gmt -2", "Etc/GMT+2"),
])  # fmt: skip
async def test_an_offset_typed_at_the_search_or_the_offsets_list_is_saved(
    backend, channel, locale, typed, zone
):
    # Would catch "UTC+3" searched for as a city's name ("I found no time zone for that name"),
    # at the search and even at the list whose buttons read "UTC+3 19:28".
    async with running(backend) as stack:
        member = Member(stack, channel)
        await onboard(member, locale, "MD")
        t = Translator(locale)
        await member.say(command(member, "menu", locale))
        await member.tap("menu:settings")
        await member.tap("set:timezone")
        await member.tap("tz:other")
        saved = await member.say(typed)
        assert saved[-1].text.startswith(t("Saved: {value}.", value="UTC").split("UTC")[0])
        assert (await contact_of(member)).time_zone == zone

        await member.say(command(member, "menu", locale))
        await member.tap("menu:settings")
        await member.tap("set:timezone")
        await member.tap("tz:other")
        offsets = await member.tap("tz:offsets")
        label = offsets[-1].options[timezones.OFFSETS.index(5)]  # "UTC+5 21:28", as it reads
        await member.say(label)
        assert (await contact_of(member)).time_zone == "Etc/GMT-5"


async def test_the_whatsapp_lists_with_the_time_are_made_once_whatever_the_minute(
    backend, monkeypatch
):
    """Each row of the time zone lists shows the time there now. On WhatsApp the rows ride in
    the content item's variables, so the item is made once and each message brings the time of
    its minute; the texts above the lists name the zone without the time."""
    minute = [datetime(2026, 3, 2, 7, 14, tzinfo=UTC)]
    monkeypatch.setattr(timezones, "utcnow", lambda: minute[0])
    async with running(backend) as stack:
        member = Member(stack, "whatsapp")
        await onboard(member, "en", "GE")
        t = Translator("en")

        def items_made() -> int:
            return len([c for c in stack.twilio.contents_made if c.items])

        def clock(zone: str) -> str:  # the row as it reads at the test's minute
            return timezones.label(zone, "en")

        async def offsets() -> tuple[str, list[str]]:
            await member.say("menu")
            await member.tap("menu:settings")
            picker = await member.tap("set:timezone")
            assert picker[-1].text.endswith(t("Currently: {zone}", zone="Tbilisi"))  # no clock
            assert picker[-1].options[0] == clock("Asia/Tbilisi")
            await member.tap("tz:other")
            shown = await member.tap("tz:offsets")
            return clock(timezones.offset_zone(0)), shown[-1].options

        utc, first = await offsets()
        made = items_made()
        minute[0] += timedelta(minutes=1)
        utc_later, later = await offsets()
        assert items_made() == made  # not one item more, a minute later
        assert utc != utc_later and utc.startswith("UTC 7:14")
        assert first[timezones.OFFSETS.index(0)] == utc
        assert later[timezones.OFFSETS.index(0)] == utc_later  # as Twilio filled the rows in
        assert stack.twilio.content_refusals == []
        saved = await member.tap("tz:+3")
        assert saved[-1].text == t("Saved: {value}.", value="UTC+3")
