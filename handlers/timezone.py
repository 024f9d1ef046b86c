"""Settings → Time zone: the zones of the member's country, each with the time there now, or a
UTC offset for anywhere else. Quiet hours and "at 9:00 of each member's day" follow it."""

from __future__ import annotations

from bot.conversation.router import Context, Router
from bot.members import timezones
from bot.messages import Button
from handlers.ui import not_understood

router = Router("timezone")


def zone_label(ctx: Context) -> str:
    """The member's zone as the settings show it, or "not given"."""
    zone = timezones.zone_of(ctx.contact)
    return (
        timezones.label(zone.key, ctx.t.locale)
        if zone
        else ctx.t.pgettext("time zone", "not given")
    )


@router.button("set:timezone")
async def picker(ctx: Context) -> None:
    _ = ctx.t
    contact = ctx.contact
    zones = timezones.country_zones(contact.country or contact.country_hint)
    if contact.time_zone and contact.time_zone not in zones:
        zones.insert(0, contact.time_zone)
    rows = [[Button(timezones.label(z, _.locale), f"tz:{z}")] for z in zones]
    rows.append([Button(_("Another time zone"), "tz:other")])
    rows.append([Button(_("Back to the menu"), "menu:main")])
    ctx.reply(
        _("We do not send news at night in your time zone. Which time zone are you in?")
        + "\n"
        + _("Currently: {zone}", zone=zone_label(ctx)),
        rows,
    )


def offsets(ctx: Context) -> None:
    rows = [
        [Button(timezones.label(timezones.offset_zone(h), ctx.t.locale), f"tz:{h:+d}")]
        for h in timezones.OFFSETS
    ]
    rows.append([Button(ctx.t("Back to the menu"), "menu:main")])
    ctx.reply(ctx.t("What time is it where you are? Please choose one."), rows)


@router.button("tz")
async def chosen(ctx: Context) -> None:
    value = (ctx.payload or "").partition(":")[2]
    if value == "other":
        return offsets(ctx)
    if value.lstrip("+-").isdigit() and int(value) in timezones.OFFSETS:
        value = timezones.offset_zone(int(value))
    if not timezones.offered(value):
        return not_understood(ctx)
    contact = ctx.contact
    # Their country's own zone is no choice at all: it follows them if they change country.
    usual = timezones.country_zone(contact.country or contact.country_hint)
    contact.time_zone = None if value == usual else value
    ctx.reply(ctx.t("Saved: {value}.", value=timezones.label(value, ctx.t.locale)))
