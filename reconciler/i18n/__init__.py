"""The language of everything people read: gettext catalogs (vi, en), the language switch, dates.

English is the source language: every message is written in English in the code and wrapped in
``_()`` (or ``ngettext``); the Vietnamese catalog (``locales/vi/LC_MESSAGES/reconciler.po``) translates
it. The language is chosen by ``--lang``, else the ``language`` setting, else the locale
(``LC_ALL``, ``LC_MESSAGES``, ``LANG``), else Vietnamese: the people who read the output read
Vietnamese.

Messages with placeholders use named ``str.format`` fields (``_("Disable {address}").format(...)``)
so a translation may reorder them; f-strings cannot be extracted.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, tzinfo

from reconciler.i18n import catalogs

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"

_language: ContextVar[str] = ContextVar("reconciler_language", default="")
_explicit: ContextVar[bool] = ContextVar("reconciler_language_explicit", default=False)


def from_locale(env: Mapping[str, str] = os.environ) -> str | None:
    """The language the locale asks for (``LANG=vi_VN.UTF-8`` -> vi), or None when it names neither."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value:
            code = value.split(".")[0].split("_")[0].lower()
            return code if code in LANGUAGES else None
    return None


def resolve(cli: str | None = None, setting: str | None = None, env: Mapping[str, str] = os.environ) -> str:
    """--lang wins, then the `language` setting, then the locale, then Vietnamese."""
    for choice in (cli, setting, from_locale(env)):
        if choice:
            return choice
    return DEFAULT_LANGUAGE


def use(language: str, *, explicit: bool = False) -> Callable[[], None]:
    """Speak ``language`` from now on (in this context); returns what brings back the language before.

    ``explicit``: chosen by --lang, so the `language` setting does not override it.
    """
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; choose one of {', '.join(LANGUAGES)}")
    tokens = (_language.set(language), _explicit.set(explicit))

    def restore() -> None:
        _language.reset(tokens[0])
        _explicit.reset(tokens[1])

    return restore


@contextmanager
def speaking(language: str, *, explicit: bool = False) -> Iterator[None]:
    """Speak ``language`` inside the block (one command, one API call), then what was spoken before."""
    restore = use(language, explicit=explicit)
    try:
        yield
    finally:
        restore()


def use_setting(setting: str | None) -> None:
    """Apply the `language` setting unless --lang chose already (called once the settings are read)."""
    if not _explicit.get():
        _language.set(resolve(None, setting))


def current() -> str:
    return _language.get() or resolve()


def translations(language: str | None = None) -> gettext.NullTranslations:
    return catalogs.translations(language or current())


def _(message: str) -> str:
    """The message in the current language (the English text is the catalog's key)."""
    return translations().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations().ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a message for extraction where it is defined; translate it with _() where it is shown."""
    return message


# -- dates and times for people ----------------------------------------------------------------------


def format_date(value: date | datetime | None) -> str:
    """dd/mm/yyyy, the way Vietnamese documents write dates (in both languages: one format for people)."""
    if value is None:
        return "—"
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def format_datetime(value: datetime, tz: tzinfo | None = None) -> str:
    """dd/mm/yyyy HH:MM with the UTC offset (``29/11/2026 08:15 +07:00``); ``tz`` converts first.

    The lifecycle's clock module decides the timezone; this decides how a moment is written.
    """
    if tz is not None and value.tzinfo is not None:
        value = value.astimezone(tz)
    offset = value.strftime("%z")
    offset = f" {offset[:3]}:{offset[3:]}" if offset else ""
    return f"{format_date(value)} {value:%H:%M}{offset}"
