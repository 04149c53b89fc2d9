"""The `reconciler` command line: parse arguments, call the core, render. Nothing else lives here."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import partial, wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from . import audit, importer, naming, planfile, provenance, reconcile, render
from . import history as history_log
from . import report as report_doc
from . import settings as settings_file
from .directory import open_directory
from .directory.base import Directory
from .directory.ldiffile import default_holder
from .gitrepo import GitRepo
from .problems import InputError, ReconcilerError
from .settings import Settings
from .terminal import Terminal
from .validation import validate as run_validate

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
    typer.echo(f"error: {message}", err=True)
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


@app.command()
@guarded
def validate(
    format: FormatOption = TextOrJson.text,
    today: Annotated[str | None, typer.Option(help="Check expiry as of this date (YYYY-MM-DD).")] = None,
    base: BaseOption = None,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Check every unit file against the schema and the province's rules."""
    try:
        settings = load_settings(config)
    except InputError as err:
        if format is not TextOrJson.json:
            raise
        # A machine asked: bad settings are problems in the same JSON shape, not text on stderr.
        typer.echo(json.dumps({"format_version": 1, "valid": False, "files": 0, "mailboxes": 0,
                               "problems": [p.as_json() for p in err.problems]}, ensure_ascii=False, indent=2))
        raise typer.Exit(1) from None
    extra = None
    if base is not None:
        base_desired = GitRepo(settings.root).desired_at_rev(base, settings.mailboxes_dir)
        extra = partial(audit.lifecycle_problems, base_desired)
    result = run_validate(settings, parse_today(today), extra)
    if format is TextOrJson.json:
        typer.echo(json.dumps({
            "format_version": 1,
            "valid": result.ok,
            "files": result.files,
            "mailboxes": len(result.desired.mailboxes()),
            "problems": [p.as_json() for p in result.problems],
        }, ensure_ascii=False, indent=2))
    else:
        for problem in result.problems:
            typer.echo(str(problem))
        count = len(result.problems)
        summary = (f"{result.files} files, {len(result.desired.mailboxes())} mailboxes: "
                   + ("valid" if result.ok else f"{count} problem{'s' if count != 1 else ''}"))
        typer.echo(summary, err=not result.ok)
    if not result.ok:
        raise typer.Exit(1)


@app.command()
@guarded
def new(
    full_name: Annotated[str, typer.Argument(metavar="FULL_NAME", help='e.g. "Đặng Ngọc Dũng"')],
    unit: Annotated[str, typer.Option("--unit", help="The unit id (file stem under mailboxes/).")],
    owner_id: Annotated[str, typer.Option("--owner-id", help="The person's staff id, e.g. QN-000123.")] = "",
    ticket: Annotated[str, typer.Option("--ticket", help="The request or decision behind it.")] = "",
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Suggest an address by the provincial convention and print a YAML entry ready to paste."""
    settings = load_settings(config)
    result = run_validate(settings, date.today())
    unit_ids = sorted(u.id for u in result.desired.units)
    if unit not in unit_ids:
        raise ReconcilerError(f"unknown unit '{unit}'; known units: {', '.join(unit_ids) or 'none'}")
    taken = [a for m in result.desired.mailboxes() for a in (m.address, *m.aliases)]
    try:
        address = naming.suggest_address(full_name, settings.domains[0], taken)
    except ValueError as err:
        raise ReconcilerError(str(err)) from None
    name = " ".join(full_name.split())
    lines = [
        f"# add to {settings.mailboxes_dir}/{unit}.yaml under mailboxes:",
        f"  - address: {address}",
        f"    name: {json.dumps(name, ensure_ascii=False)}",
        "    kind: personal",
        f"    owner: {{id: {json.dumps(owner_id, ensure_ascii=False)}, name: {json.dumps(name, ensure_ascii=False)}}}",
        "    status: active",
        f"    ticket: {json.dumps(ticket, ensure_ascii=False)}",
    ]
    typer.echo("\n".join(lines))
    if not owner_id or not ticket:
        typer.echo("note: fill in the owner's staff id and the ticket before committing", err=True)


def plan_header(settings: Settings, directory: Directory, computed: reconcile.Computed) -> list[str]:
    lines = [f"Directory: {directory.describe()} (profile {settings.directory.profile}, base {directory.base_dn})"]
    marker = computed.last_apply
    if marker is not None:
        commit = marker.data.get("commit")
        source = f"from commit {str(commit)[:12]}" if commit else "from a local experiment (not a reviewed commit)"
        failed = marker.data.get("failed")
        outcome = f" ({failed} of {marker.data.get('changes')} changes failed)" if failed else ""
        lines.append(f"Last applied: {marker.data.get('applied_at', '?')} {source}{outcome}")
    else:
        lines.append("Last applied: never (no apply record in the directory)")
    return lines


@app.command()
@guarded
def plan(
    format: Annotated[PlanFormat, typer.Option("--format", help="text, markdown (PR comment) or json")]
    = PlanFormat.text,
    out: Annotated[Path | None, typer.Option("--out", help="Also save the JSON plan to this file.")] = None,
    detailed_exitcode: Annotated[bool, typer.Option("--detailed-exitcode",
                                                    help="Exit 2 when there are changes.")] = False,
    base: BaseOption = None,
    insecure: InsecureOption = False,
    now: NowOption = None,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Show what apply would change in the directory (read-only)."""
    settings = load_settings(config)
    moment = parse_now(now)
    base_desired = GitRepo(settings.root).desired_at_rev(base, settings.mailboxes_dir) if base else None
    directory = open_directory(settings, insecure=insecure)
    try:
        computed = reconcile.compute(settings, directory, moment.date())
    finally:
        directory.close()
    header = plan_header(settings, directory, computed)
    plan = computed.plan
    sections = None
    if base_desired is not None:
        plan = audit.mark_origins(plan, computed.validation.desired, base_desired)
        header.append(f"Compared with {base}: changes this pull request asks for are marked 'change', "
                      "differences already there are 'drift'")
        sections = {"Changes in this pull request": [c for c in plan.changes if c.origin == audit.CHANGE],
                    "Drift": [c for c in plan.changes if c.origin == audit.DRIFT]}
    if out is not None:
        write_text(out, planfile.dumps(plan) + "\n")
    if format is PlanFormat.json:
        typer.echo(planfile.dumps(plan))
    elif format is PlanFormat.markdown:
        typer.echo(render.markdown(plan, header, sections), nl=False)
    else:
        Terminal().lines(render.text_lines(plan, header))
    if detailed_exitcode and plan.has_changes:
        raise typer.Exit(2)


def write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ReconcilerError(f"{path}: cannot write: {err.strerror}") from None


@app.command()
@guarded
def apply(
    plan_file: Annotated[Path | None, typer.Option("--plan", help="Refuse unless the plan equals this saved one.")]
    = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation (CI).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Apply even when the disable threshold is exceeded.")]
    = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan and the safety checks, change nothing.")]
    = False,
    break_lock: Annotated[bool, typer.Option("--break-lock", help="Remove a stale apply lock first.")] = False,
    allow_dirty: Annotated[bool, typer.Option("--allow-dirty", help="Local experiments: allow uncommitted "
                                              "changes or a commit off apply.branch (no apply record).")] = False,
    insecure: InsecureOption = False,
    now: NowOption = None,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Make the directory match the declarations: creates and enables first, removals last."""
    settings = load_settings(config)
    moment = parse_now(now)
    expected = planfile.read_checksum(plan_file) if plan_file else None
    if dry_run and break_lock:
        raise ReconcilerError("--dry-run changes nothing, so it cannot --break-lock; run them separately")
    source = provenance.check_source(settings, allow_dirty=allow_dirty)
    terminal = Terminal()
    directory = open_directory(settings, insecure=insecure)
    with reconcile.apply_lock(directory, holder=default_holder(), take=not dry_run, break_stale=break_lock) as broken:
        if broken is not None:
            terminal.note(f"broke the apply lock ({broken.describe()})" if broken else "no apply lock was held")
        computed = reconcile.prepare(settings, directory, moment.date(), expected_checksum=expected, force=force)
        plan = computed.plan
        terminal.lines(render.text_lines(plan, plan_header(settings, directory, computed)))
        if not plan.has_changes:
            return
        if dry_run:
            terminal.note("dry run: nothing was changed")
            return
        if not yes:
            if not terminal.interactive:
                raise ReconcilerError("standard input is not a terminal: pass --yes to apply without confirmation")
            if not typer.confirm(f"Apply {len(plan.changes)} change(s) to {directory.describe()}?", default=False):
                raise ReconcilerError("apply cancelled; nothing was changed")
        with terminal.progress(len(plan.changes), "Applying") as advance:
            result, record = reconcile.execute(computed, settings, directory, source, now=moment,
                                               on_progress=lambda _outcome: advance())
    counts = ", ".join(f"{n} {action}" for action, n in result.counts().items()) or "nothing"
    terminal.note(f"Applied: {counts} (from {source.describe()}).")
    for outcome in result.failed:
        terminal.error(f"{outcome.change.action.value} {outcome.change.address}: {outcome.error}")
    warning = provenance.keep_record(source, record)
    if warning:
        terminal.error(f"the apply record was not kept in git: {warning}")
    if result.failed:
        raise ReconcilerError(f"{len(result.failed)} of {len(result.outcomes)} change(s) failed; the others were "
                              "applied. Fix the cause and run apply again")
    if warning:
        raise typer.Exit(1)


class ReportFormat(StrEnum):
    markdown = "markdown"
    csv = "csv"
    json = "json"


@app.command()
@guarded
def history(
    address: Annotated[str, typer.Argument(help="The mailbox address.")],
    format: FormatOption = TextOrJson.text,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Every commit that changed a mailbox, its pull request and ticket, and when it reached the directory."""
    settings = load_settings(config)
    repo = GitRepo(settings.root)
    entries = history_log.history(repo, address, settings.mailboxes_dir)
    if not entries:
        raise ReconcilerError(f"no commit declares {address} under {settings.mailboxes_dir}/")
    if format is TextOrJson.json:
        typer.echo(json.dumps({"format_version": 1, "address": address,
                               "history": [history_log.entry_json(e) for e in entries]},
                              ensure_ascii=False, indent=2))
    else:
        Terminal().lines(history_log.text_lines(entries))


@app.command()
@guarded
def report(
    at: Annotated[str | None, typer.Option("--at", help="A date (YYYY-MM-DD, end of that day) or a git revision; "
                                           "default: now.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Start of the period for 'changes' (YYYY-MM-DD); "
                                              "default: 30 days before --at.")] = None,
    format: Annotated[ReportFormat, typer.Option("--format", help="markdown, csv (one row per mailbox) or json")]
    = ReportFormat.markdown,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """The declared state at a date or revision, from git: for auditors."""
    settings = load_settings(config)
    repo = GitRepo(settings.root)
    commit, as_of = history_log.resolve_point(repo, at)
    start = history_log.period_start(since, as_of)
    built = report_doc.build(repo, commit, as_of, start, settings.mailboxes_dir)
    if format is ReportFormat.json:
        typer.echo(report_doc.json_text(built))
    elif format is ReportFormat.csv:
        typer.echo(report_doc.csv_text(built), nl=False)
    else:
        typer.echo(report_doc.markdown(built), nl=False)


@app.command("import")
@guarded
def import_(
    out_dir: Annotated[Path | None, typer.Option("--out-dir", help="Where to write unit files (default: the "
                                                  "mailboxes folder).")] = None,
    insecure: InsecureOption = False,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Write unit files for live accounts no file declares yet, to adopt an existing directory."""
    settings = load_settings(config)
    declared = {m.address.lower() for m in run_validate(settings, date.today()).desired.mailboxes()}
    directory = open_directory(settings, insecure=insecure)
    try:
        live = reconcile.read_live(directory)
    finally:
        directory.close()
    accounts = [a for key, a in sorted(live.items()) if key not in declared]
    target = out_dir or settings.mailboxes_path
    files = importer.unit_files(accounts)
    clashes = [str(target / f"{unit}.yaml") for unit in files if (target / f"{unit}.yaml").exists()]
    if clashes:
        raise ReconcilerError(f"{clashes[0]} already exists: import into an empty --out-dir and merge by hand")
    target.mkdir(parents=True, exist_ok=True)
    for unit, text in files.items():
        write_text(target / f"{unit}.yaml", text)
    typer.echo(f"Imported {len(accounts)} account(s) into {len(files)} unit file(s) under {target}; "
               "run `reconciler validate` to see what to fill in.")


credentials_app = typer.Typer(no_args_is_help=True, help="One-time passwords for mailboxes, shown once.")
app.add_typer(credentials_app, name="credentials")


@credentials_app.command("issue")
@guarded
def credentials_issue(
    address: Annotated[str, typer.Argument(metavar="ADDRESS", help="An active mailbox, e.g. annv@quangngai.gov.vn")],
    print_: Annotated[bool, typer.Option("--print", help="Print the password even when standard output is not a "
                                         "terminal (it may end up in a log or a file).")] = False,
    insecure: InsecureOption = False,
    config: ConfigOption = Path("reconciler.yaml"),
) -> None:
    """Set a random one-time password on an active mailbox and show it once; it must be changed at first login."""
    from . import credentials

    if not print_ and not sys.stdout.isatty():
        raise ReconcilerError("standard output is not a terminal: the password would end up in a log or a file; "
                              "run it on a terminal, or pass --print")
    settings = load_settings(config)
    directory = open_directory(settings, insecure=insecure)
    try:
        issued = credentials.issue(settings, directory, address)
    finally:
        directory.close()
    typer.echo("\n".join(credentials.render(issued)))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover - raised outside a command
        sys.exit(1)
