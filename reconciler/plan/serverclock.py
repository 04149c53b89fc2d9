"""The time an apply writes: the directory server's clock, and a refusal when the runner's clock is off."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from reconciler.directory.base import Directory, now_utc
from reconciler.directory.lock import MAX_CLOCK_SKEW_SECONDS
from reconciler.i18n import _
from reconciler.problems import ReconcilerError


class ClockSkew(ReconcilerError):
    pass


def directory_clock(directory: Directory, *, pretend: datetime | None = None,
                    real_now: Callable[[], datetime] | None = None,
                    max_skew: float = MAX_CLOCK_SKEW_SECONDS) -> datetime:
    """The time an apply uses for disable times and grace periods: the directory server's clock.

    A runner whose clock differs from the server's by more than ``max_skew`` seconds is refused: its
    dates would be wrong wherever else it writes them. The embedded directory has no clock of its own
    (the local one is used). ``pretend`` (the test suite's ``--now``) replaces the time used, while
    the skew check still compares the two real clocks.
    """
    real_now = real_now or now_utc
    server = directory.server_time()
    if server is not None:
        local = real_now()
        skew = (local - server).total_seconds()
        if abs(skew) > max_skew:
            message = (_("this runner's clock is {duration} ahead of the directory server's ({directory}; more "
                         "than {limit} s): fix its time (NTP) before applying; nothing was changed") if skew > 0 else
                       _("this runner's clock is {duration} behind the directory server's ({directory}; more "
                         "than {limit} s): fix its time (NTP) before applying; nothing was changed"))
            raise ClockSkew(message.format(duration=_duration(abs(skew)), directory=directory.describe(),
                                           limit=f"{max_skew:.0f}"))
    if pretend is not None:
        return pretend
    return server if server is not None else real_now()


def _duration(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return _("{count} days").format(count=f"{seconds / 86400:.0f}")
    if seconds >= 2 * 3600:
        return _("{count} hours").format(count=f"{seconds / 3600:.0f}")
    if seconds >= 120:
        return _("{count} minutes").format(count=f"{seconds / 60:.0f}")
    return f"{seconds:.0f} s"
