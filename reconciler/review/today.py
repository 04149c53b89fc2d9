"""Today and local dates for the review, in the province's time zone.

The `timezone` setting and reconciler/clock.py are being added by the lifecycle work; until they land
this is the one place that decides what "today" is for a review, so it can be pointed at the clock.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


def zone(name: str | None = None) -> ZoneInfo:
    return ZoneInfo(name or DEFAULT_TIMEZONE)


def settings_zone(settings: object) -> ZoneInfo:
    """The `timezone` setting when the settings carry one, else Vietnam time."""
    configured = getattr(settings, "timezone", None)
    return configured if isinstance(configured, ZoneInfo) else zone(configured)


def today(tz: ZoneInfo | None = None) -> date:
    return datetime.now(tz or zone()).date()


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()
