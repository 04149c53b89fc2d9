"""Postfix mail logs: which sender's mail was delivered to which address.

Postfix logs one message in several lines sharing its queue id: the queue manager's ``from=<…>`` line,
then one line per delivery with ``to=<…>`` (and ``orig_to=<…>`` when an alias was rewritten) and its
``status``; ``removed`` ends the queue id's life (short queue ids are reused). Lines look like (cut here
at ``…``)::

    Nov 28 10:15:01 mail postfix/qmgr[1234]: 4BC2B1C0042: from=<security@facebookmail.com>, size=8123, …
    Nov 28 10:15:01 mail postfix/virtual[1240]: 4BC2B1C0042: to=<annv@quangngai.gov.vn>, relay=virtual, …
        dsn=2.0.0, status=sent (delivered to maildir)

The traditional syslog time has no year: it is taken as the latest one that does not put the line after
the review date. RFC 3339 times (``2026-11-28T10:15:01.123456+07:00``) are read as written. Files may be
gzip-compressed (``.gz``, as logrotate leaves them).
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from reconciler.i18n import _
from reconciler.problems import InputError, Problem

_TRADITIONAL = re.compile(r"^(?P<mon>[A-Z][a-z]{2}) +(?P<day>\d{1,2}) (?P<time>\d\d:\d\d:\d\d)\s")
_RFC3339 = re.compile(r"^(?P<iso>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s")
_POSTFIX = re.compile(r"\spostfix[^/\s]*/(?:[\w.-]+/)*(?P<service>[\w.-]+)\[\d+\]: (?P<qid>[0-9A-Za-z]+): "
                      r"(?P<rest>.*)$")
_FROM = re.compile(r"^from=<(?P<addr>[^>]*)>")
_TO = re.compile(r"^to=<(?P<addr>[^>]*)>")
_ORIG_TO = re.compile(r"\borig_to=<(?P<addr>[^>]*)>")
_STATUS = re.compile(r"\bstatus=(?P<status>\w+)")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), start=1)}


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message delivered (``status=sent``) to one recipient."""

    sender: str
    recipient: str
    #: the address the message was sent to before alias rewriting, when Postfix logged one
    original_recipient: str | None
    when: datetime | None
    #: ``file:line``
    where: str
    line: str


def log_time(line: str, as_of: date, tz: ZoneInfo) -> datetime | None:
    if match := _RFC3339.match(line):
        moment = datetime.fromisoformat(match["iso"].replace(" ", "T"))
        return moment if moment.tzinfo else moment.replace(tzinfo=tz)
    if match := _TRADITIONAL.match(line):
        month = _MONTHS.get(match["mon"])
        if month is None:
            return None
        hour, minute, second = (int(p) for p in match["time"].split(":"))
        for year in (as_of.year, as_of.year - 1):
            try:
                moment = datetime(year, month, int(match["day"]), hour, minute, second, tzinfo=tz)
            except ValueError:  # 29 February of a year without one
                continue
            if moment.date() <= as_of:
                return moment
    return None


def deliveries(lines: Iterable[str], file: str, *, as_of: date, tz: ZoneInfo,
               keep_sender: Callable[[str], bool] = lambda _s: True) -> Iterator[Delivery]:
    """Deliveries of the log ``lines`` whose sender ``keep_sender`` accepts (pure)."""
    senders: dict[str, str] = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        match = _POSTFIX.search(line)
        if match is None:
            continue
        qid, rest = match["qid"], match["rest"]
        if (found := _FROM.match(rest)) is not None:
            senders[qid] = found["addr"].lower()
            continue
        if rest == "removed":
            senders.pop(qid, None)
            continue
        found = _TO.match(rest)
        if found is None:
            continue
        status = _STATUS.search(rest)
        sender = senders.get(qid)
        if sender is None or status is None or status["status"] != "sent" or not keep_sender(sender):
            continue
        original = _ORIG_TO.search(rest)
        yield Delivery(sender, found["addr"].lower(), original["addr"].lower() if original else None,
                       log_time(line, as_of, tz), f"{file}:{number}", line)


def read(path: Path, *, as_of: date, tz: ZoneInfo, keep_sender: Callable[[str], bool]) -> list[Delivery]:
    """The deliveries of one log file, plain or gzip-compressed."""
    file = str(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            return list(deliveries(handle, file, as_of=as_of, tz=tz, keep_sender=keep_sender))
    except OSError as err:  # gzip.BadGzipFile is an OSError too
        reason = err.strerror or str(err)
        raise InputError(Problem(file, _("cannot read the mail log: {reason}").format(reason=reason),
                                 rule="io")) from None
    except EOFError:
        raise InputError(Problem(file, _("the compressed mail log ends too early"), rule="io")) from None
