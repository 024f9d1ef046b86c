"""Quiet hours: no broadcast reaches a member at night in their own time zone; it waits for
the morning. Replies to what a member asked are never held back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.members.timezones import zone_of
from bot.storage.models import Contact


@dataclass(frozen=True)
class QuietHours:
    start: time  # e.g. 21:00
    end: time  # e.g. 08:00, the next morning when it is earlier than ``start``

    @classmethod
    def parse(cls, text: str | None) -> QuietHours | None:
        """``"21:00-08:00"``; empty or ``off``: no quiet hours."""
        text = (text or "").strip().lower()
        if text in ("", "off", "none"):
            return None
        first, sep, second = text.partition("-")
        try:
            start, end = time.fromisoformat(first.strip()), time.fromisoformat(second.strip())
        except ValueError:
            start = end = None  # type: ignore[assignment]
        if not sep or start is None or start == end:
            raise ValueError(f"quiet hours look like 21:00-08:00, not {text!r}")
        return cls(start, end)

    def covers(self, clock: time) -> bool:
        if self.start < self.end:
            return self.start <= clock < self.end
        return clock >= self.start or clock < self.end

    def release(self, moment: datetime, zone: ZoneInfo) -> datetime:
        """``moment``, or the end of the quiet hours it falls in, in ``zone``."""
        local = moment.astimezone(zone)
        if not self.covers(local.time().replace(tzinfo=None)):
            return moment
        morning = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if morning <= local:
            morning += timedelta(days=1)
        return morning


def member_zone(contact: Contact) -> ZoneInfo | None:
    """The member's time zone: the one they set, else their country's; None when we cannot
    know it."""
    return zone_of(contact)
