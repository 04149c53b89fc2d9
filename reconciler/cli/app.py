"""The command line's shared parts: the typer app, common options, and the guard that makes every failure one line."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from reconciler import settings as settings_file
from reconciler.problems import InputError, ReconcilerError
from reconciler.settings import Settings
from reconciler.textfmt import one_line

app = typer.Typer(
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
ConfigOption = Annotated[
    Path, typer.Option("--config", help="Settings file; the repository is the folder that holds it.")
]


def fail(message: str) -> typer.Exit:
    typer.echo(f"error: {one_line(message)}", err=True)
    return typer.Exit(1)


def guarded(command: F) -> F:
    """Turn every failure into one line on stderr and exit code 1: no traceback reaches a user."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
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
            raise fail("interrupted") from None
        except Exception as err:  # the last guard: report, never a traceback
            if os.environ.get("RECONCILER_DEBUG"):
                raise
            raise fail(f"internal error: {type(err).__name__}: {err} (set RECONCILER_DEBUG=1 for details)") \
                from None

    return wrapper  # type: ignore[return-value]


def load_settings(config: Path) -> Settings:
    return settings_file.with_environment(settings_file.load(config))


def parse_now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    # A pretend clock would make removals eligible early and date records falsely: tests only.
    if os.environ.get("RECONCILER_TEST_CLOCK") != "1":
        raise ReconcilerError("--now is for the test suite only (it sets RECONCILER_TEST_CLOCK=1)")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ReconcilerError(f"--now: '{value}' is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_today(value: str | None) -> date:
    if value is None:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ReconcilerError(f"--today: '{value}' is not a date; write YYYY-MM-DD") from None


def write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ReconcilerError(f"{path}: cannot write: {err.strerror}") from None


