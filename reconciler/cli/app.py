"""The command line's shared parts: the typer app, common options, and the guard that makes every failure one line."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup

from reconciler import i18n
from reconciler.i18n import _
from reconciler.problems import InputError, ReconcilerError
from reconciler.textfmt import one_line

if TYPE_CHECKING:
    from reconciler.project import Project

try:  # typer >= 0.17 carries its own copy of click; older ones use click itself
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - depends on the installed typer
    from click.exceptions import NoArgsIsHelpError, UsageError  # type: ignore[no-redef]


def usage_failure(err: UsageError) -> typer.Exit:
    """A usage error (unknown option, bad value) is invalid input: exit 1 with one line.

    Click exits 2, which ``plan --detailed-exitcode`` reserves for "there are changes".
    """
    if isinstance(err, NoArgsIsHelpError):
        err.show()  # the help text is what was asked for
        return typer.Exit(1)
    where = _(" (see `{command} --help`)").format(command=err.ctx.command_path) if err.ctx is not None else ""
    typer.echo(_("error: {message}").format(message=f"{err.format_message()}{where}"), err=True)
    return typer.Exit(1)


class ReconcilerGroup(TyperGroup):
    """The command group: usage errors of any command or sub-command exit 1, never 2."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as err:
            raise usage_failure(err) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as err:
            raise usage_failure(err) from None


app = typer.Typer(
    cls=ReconcilerGroup,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Official mailboxes as code: declare mailboxes in git, reconcile them with the mail directory.",
)

F = TypeVar("F", bound=Callable[..., Any])


class TextOrJson(StrEnum):
    text = "text"
    json = "json"


class PlanFormat(StrEnum):
    text = "text"
    markdown = "markdown"
    json = "json"


FormatOption = Annotated[TextOrJson, typer.Option("--format", help="text for people, json for machines")]
BaseOption = Annotated[str | None, typer.Option("--base", help="The pull request's base revision (e.g. "
                                                              "origin/main).")]
InsecureOption = Annotated[bool, typer.Option("--insecure", help="Allow a clear-text bind to a remote server.")]
NowOption = Annotated[str | None, typer.Option("--now", hidden=True, help="Pretend it is this time (ISO 8601).")]
class Language(StrEnum):
    vi = "vi"
    en = "en"


LangOption = Annotated[Language | None, typer.Option(
    "--lang", help="Language of the output: vi (Vietnamese) or en; default: the `language` setting, else the "
                   "locale (LANG), else vi.")]
ConfigOption = Annotated[
    Path, typer.Option("--config", help="Settings file; the repository is the folder that holds it.")
]


def fail(message: str) -> typer.Exit:
    typer.echo(_("error: {message}").format(message=one_line(message)), err=True)
    return typer.Exit(1)


def guarded(command: F) -> F:
    """Turn every failure into one line on stderr and exit code 1: no traceback reaches a user.

    Also gives every command the `--lang` option: the language is chosen before the command runs.
    """

    @wraps(command)
    def wrapper(*args: Any, lang: Language | None = None, **kwargs: Any) -> Any:
        restore_language = i18n.use(i18n.resolve(lang.value if lang else None), explicit=lang is not None)
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except InputError as err:
            for problem in err.problems:
                typer.echo(str(problem), err=True)
            raise typer.Exit(1) from None
        except ReconcilerError as err:
            raise fail(str(err)) from None
        except KeyboardInterrupt:
            raise fail(_("interrupted")) from None
        except Exception as err:  # the last guard: report, never a traceback
            if os.environ.get("RECONCILER_DEBUG"):
                raise
            raise fail(_("internal error: {error} (set RECONCILER_DEBUG=1 for details)").format(
                error=f"{type(err).__name__}: {err}")) from None
        finally:
            restore_language()

    # typer reads the options from the signature: add --lang to the command's own.
    signature = inspect.signature(command, eval_str=True)
    lang = inspect.Parameter("lang", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=LangOption)
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), lang])
    return wrapper  # type: ignore[return-value]


def open_project(config: Path, *, insecure: bool = False) -> Project:
    """The repository whose settings file is ``config`` (the --config option)."""
    from reconciler.project import open as open_repository

    project = open_repository(config.parent, config, insecure=insecure)
    i18n.use_setting(project.settings.language)
    return project


def parse_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    # A pretend clock would make removals eligible early and date records falsely: tests only.
    if os.environ.get("RECONCILER_TEST_CLOCK") != "1":
        raise ReconcilerError(_("--now is for the test suite only (it sets RECONCILER_TEST_CLOCK=1)"))
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ReconcilerError(_("--now: '{value}' is not an ISO 8601 time").format(value=value)) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_today(value: str | None) -> date | None:
    """--today: a date, or None for today in the ``timezone`` setting."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ReconcilerError(_("--today: '{value}' is not a date; write YYYY-MM-DD").format(value=value)) from None


def write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ReconcilerError(_("{path}: cannot write: {reason}").format(path=path, reason=err.strerror)) from None


