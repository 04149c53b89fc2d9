"""One clock for every command: "today", expiry and every displayed time are in the ``timezone`` setting.

Without it, commands disagreed between midnight and 07:00 in Vietnam: validate used the machine's
local date while plan and apply used UTC. Every date or time a person reads goes through the
display helpers here, so their format changes in one place.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.i18n import _, format_date, format_datetime

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ValueError with a readable reason when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(_("'{name}' is not a known time zone; use an IANA name such as {example}").format(
            name=name, example=DEFAULT_TIMEZONE)) from None


class Clock:
    """The current moment (or a fixed one, for tests and --today) in one time zone."""

    def __init__(self, timezone: str | ZoneInfo = DEFAULT_TIMEZONE, at: datetime | None = None) -> None:
        self.tz = zone(timezone) if isinstance(timezone, str) else timezone
        self._at = at

    @classmethod
    def on_day(cls, day: date, timezone: str | ZoneInfo = DEFAULT_TIMEZONE) -> Clock:
        """A clock fixed at noon of ``day`` in the zone (``--today``)."""
        clock = cls(timezone)
        clock._at = datetime.combine(day, time(12, 0), clock.tz)
        return clock

    def now(self) -> datetime:
        moment = self._at if self._at is not None else datetime.now(UTC)
        return self.local(moment)

    def today(self) -> date:
        return self.now().date()

    def local(self, moment: datetime) -> datetime:
        """``moment`` in this zone (a naive moment is taken as UTC)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.tz)

    def day_of(self, moment: datetime) -> date:
        """The calendar day ``moment`` falls on in this zone."""
        return self.local(moment).date()

    def end_of_day(self, day: date) -> datetime:
        return datetime.combine(day, time(23, 59, 59), self.tz)

    def start_of_day(self, day: date) -> datetime:
        return datetime.combine(day, time(0, 0), self.tz)

    # -- display: the one place dates and times get their format ---------------------------------

    def time_text(self, moment: datetime) -> str:
        """``02/02/2026 08:00 +07:00``: what a person reads."""
        return time_text(self.local(moment))

    def json_time(self, moment: datetime) -> str:
        """ISO 8601 with the offset, for JSON and records: ``2026-02-02T08:00:00+07:00``."""
        return self.local(moment).isoformat(timespec="seconds")

    def time_text_of(self, iso: str | None) -> str:
        """A stored ISO 8601 time (an apply record's) shown in this zone; unparsable text as it is."""
        if not iso:
            return ""
        try:
            return self.time_text(datetime.fromisoformat(iso))
        except ValueError:
            return iso


def time_text(moment: datetime) -> str:
    """A time for people: ``02/02/2026 08:00 +07:00`` (the date as Vietnamese documents write it)."""
    return format_datetime(moment)


def date_text(day: date) -> str:
    """A date for people: ``27/11/2026`` (Vietnamese order, day first)."""
    return format_date(day)
