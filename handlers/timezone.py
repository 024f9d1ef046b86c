"""Settings → Time zone: the zones of the member's country first, each with the time there
now; then the region's named zones and a search by city; whole-hour UTC offsets last. Quiet
hours and "at 9:00 of each member's day" follow it."""

from __future__ import annotations

from bot.conversation.router import Context, Router
from bot.members import timezones
from bot.messages import Button
from handlers.ui import not_understood, saved, settings_row

router = Router("timezone")
FLOW = "timezone"  # waiting for the name of a city


def zone_label(ctx: Context) -> str:
    """The member's zone as the settings show it (its place; the time is on the picker's
    buttons), or "not given"."""
    zone = timezones.zone_of(ctx.contact)
    return (
        timezones.place(zone.key, ctx.t.locale)
        if zone
        else ctx.t.pgettext("time zone", "not given")
    )


def _buttons(ctx: Context, zones: list[str]) -> list[list[Button]]:
    return [[Button(timezones.label(z, ctx.t.locale), f"tz:{z}")] for z in zones]


@router.button("set:timezone")
async def picker(ctx: Context) -> None:
    _ = ctx.t
    contact = ctx.contact
    zones = timezones.country_zones(contact.country or contact.country_hint)
    if contact.time_zone and contact.time_zone not in zones:
        zones.insert(0, contact.time_zone)
    rows = _buttons(ctx, zones)
    rows.append([Button(_("Another time zone"), "tz:other")])
    rows.append(settings_row(ctx))
    ctx.reply(
        _("We do not send news at night in your time zone. Which time zone are you in?")
        + "\n"
        + _("Currently: {zone}", zone=zone_label(ctx)),
        rows,
    )


def others(ctx: Context, first: str | None = None) -> None:
    """The region's zones by name, and the search by city: the member types a city's name."""
    _ = ctx.t
    contact = ctx.contact
    shown = set(timezones.country_zones(contact.country or contact.country_hint))
    zones = [z for z in timezones.REGION_ZONES if z not in shown]
    ctx.start_flow(FLOW)  # a city's name, or an offset such as "UTC+3", may be typed now
    text = _("Type the name of a city near you, or choose a time zone:")
    rows = _buttons(ctx, zones)
    rows.append([Button(_("UTC offsets"), "tz:offsets")])
    rows.append(settings_row(ctx))
    ctx.reply(f"{first}\n\n{text}" if first else text, rows)


def offsets(ctx: Context) -> None:
    rows = [
        [Button(timezones.label(timezones.offset_zone(h), ctx.t.locale), f"tz:{h:+d}")]
        for h in timezones.OFFSETS
    ]
    rows.append(settings_row(ctx))
    ctx.reply(ctx.t("What time is it where you are? Please choose one."), rows)


@router.flow(FLOW)
async def typed_city(ctx: Context) -> None:
    offset = timezones.typed_offset(ctx.text) if ctx.text else None
    if offset is not None:  # "UTC+3", typed at the search or at the offsets' list
        return _save(ctx, offset)
    found = timezones.search(ctx.text, ctx.t.locale) if ctx.text else []
    if not found:
        return others(
            ctx, ctx.t("I found no time zone for that name. Please try a larger city near you.")
        )
    if len(found) == 1:
        return _save(ctx, found[0])
    rows = _buttons(ctx, found)
    rows.append(settings_row(ctx))
    ctx.reply(ctx.t("Which one is yours?"), rows)


@router.button("tz")
async def chosen(ctx: Context) -> None:
    value = (ctx.payload or "").partition(":")[2]
    if value == "other":
        return others(ctx)
    if value == "offsets":
        return offsets(ctx)
    if value.lstrip("+-").isdigit() and int(value) in timezones.OFFSETS:
        value = timezones.offset_zone(int(value))
    if not timezones.offered(value):
        return not_understood(ctx)
    _save(ctx, value)


def _save(ctx: Context, value: str) -> None:
    contact = ctx.contact
    if contact.flow == FLOW:
        ctx.end_flow()
    # Their country's own zone is no choice at all: it follows them if they change country.
    usual = timezones.country_zone(contact.country or contact.country_hint)
    contact.time_zone = None if value == usual else value
    saved(ctx, ctx.t("Saved: {value}.", value=timezones.place(value, ctx.t.locale)))
