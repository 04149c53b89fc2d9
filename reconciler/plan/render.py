"""Plans as text for a terminal, Markdown for a pull-request comment (JSON lives in planfile)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.markup import escape

from reconciler.clock import date_text
from reconciler.model import APPLY_ORDER, Action, Change, Deferred, Plan

SYMBOL = {Action.CREATE: "+", Action.UPDATE: "~", Action.ENABLE: "↑", Action.DISABLE: "↓", Action.REMOVE: "-"}
COLOUR = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.ENABLE: "cyan", Action.DISABLE: "magenta",
          Action.REMOVE: "red"}
TITLE = {Action.CREATE: "Create", Action.UPDATE: "Update", Action.ENABLE: "Enable", Action.DISABLE: "Disable",
         Action.REMOVE: "Remove"}
#: sections longer than this are folded in Markdown so a big plan stays readable in a PR
COLLAPSE_AFTER = 10


def format_value(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) if value else "(none)"
    return str(value)


def describe_change(change: Change) -> str:
    why = f" — {change.reason}" if change.reason else ""
    if change.action is Action.CREATE:
        after = change.after or {}
        return f"{after.get('name')} ({after.get('kind')}, {after.get('status')}, owner {after.get('owner')}){why}"
    if change.action is Action.REMOVE:
        return f"{(change.before or {}).get('name')}{why}"
    parts = []
    for name in change.changed_fields():
        parts.append(f"{name}: {format_value((change.before or {}).get(name))} → "
                     f"{format_value((change.after or {}).get(name))}")
    return "; ".join(parts) + why


def waiting_text(deferred: Deferred) -> str:
    return f"removal due on {date_text(deferred.eligible_on)} (the account stays disabled until then)"


def nothing_line(plan: Plan) -> str | None:
    """What to say when there is nothing to apply now; None when there is."""
    if plan.changes:
        return None
    if plan.deferred:
        return (f"Nothing to apply now: {len(plan.deferred)} removal(s) wait for their due date "
                "(a scheduled apply carries them out).")
    return "No changes. The directory matches the declarations."


def summary_line(plan: Plan) -> str:
    counts = ", ".join(f"{plan.count(a)} to {a.value}" for a in APPLY_ORDER)
    extra = f", {plan.unchanged} unchanged, {len(plan.unmanaged)} unmanaged"
    if plan.deferred:
        extra += f", {len(plan.deferred)} removal(s) waiting for the grace period"
    return f"Plan: {counts}{extra}."


def text_lines(plan: Plan, header: Iterable[str] = ()) -> list[str]:
    """Rich markup lines; the caller prints them with or without colour."""
    lines = [f"[dim]{escape(line)}[/dim]" for line in header]
    for change in plan.changes:
        colour = COLOUR[change.action]
        origin = f" [dim]({change.origin})[/dim]" if change.origin else ""
        detail = _escape(describe_change(change))
        lines.append(f"[{colour}]{SYMBOL[change.action]} {change.action.value:<7}[/{colour}] "
                     f"[bold]{change.address}[/bold] [dim]{change.unit}[/dim]{origin}  {detail}")
    for deferred in plan.deferred:
        origin = f" ({deferred.origin})" if deferred.origin else ""
        lines.append(f"[red]… remove [/red] [bold]{deferred.address}[/bold] [dim]{deferred.unit}{origin}[/dim]  "
                     f"{waiting_text(deferred)}")
    for address in plan.unmanaged:
        lines.append(f"[yellow]? unmanaged[/yellow] {escape(address)}  not declared in any unit file: left untouched "
                     "(adopt it with `reconciler import`)")
    for reminder in plan.reminders:
        lines.append(f"[bold yellow]! credentials[/bold yellow] {_escape(reminder.message)}")
    nothing = nothing_line(plan)
    if nothing is not None:
        lines.append(f"[green]{escape(nothing)}[/green]")
    lines.append(summary_line(plan))
    return lines


def _escape(text: str) -> str:
    return escape(text)


def _md(text: object) -> str:
    return str(text).replace("|", r"\|").replace("\n", " ")


def _table(changes: list[Change]) -> list[str]:
    rows = ["| Address | Unit | Changes |", "| --- | --- | --- |"]
    for change in changes:
        origin = f" _({change.origin})_" if change.origin else ""
        rows.append(f"| `{change.address}` | {_md(change.unit)} | {_md(describe_change(change))}{origin} |")
    return rows


def _section(title: str, body: list[str], count: int) -> list[str]:
    if count > COLLAPSE_AFTER:
        return [f"<details><summary><b>{title}</b> ({count})</summary>", "", *body, "", "</details>", ""]
    return [f"#### {title} ({count})", "", *body, ""]


def markdown_changes(changes: list[Change]) -> list[str]:
    lines: list[str] = []
    for action in APPLY_ORDER:
        selected = [c for c in changes if c.action is action]
        if selected:
            lines += _section(TITLE[action], _table(selected), len(selected))
    return lines


def _waiting_table(deferred: list[Deferred]) -> list[str]:
    body = ["| Address | Unit | Removal due on |", "| --- | --- | --- |"]
    return body + [f"| `{d.address}` | {_md(d.unit)} | {date_text(d.eligible_on)} |" for d in deferred]


def markdown(plan: Plan, header: Iterable[str] = (), sections: dict[str, list[Change]] | None = None,
             waiting: dict[str, list[Deferred]] | None = None) -> str:
    """``sections``: title -> changes (with --base); ``waiting``: title -> waiting removals of that section."""
    """A PR comment: a summary table, then a table per action; long sections fold away."""
    lines = ["### Mailbox plan", ""]
    lines += [f"{line}  " for line in header]
    if header:
        lines.append("")
    lines += ["| Create | Update | Enable | Disable | Remove | Unchanged | Unmanaged |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
              f"| {plan.count(Action.CREATE)} | {plan.count(Action.UPDATE)} | {plan.count(Action.ENABLE)} | "
              f"{plan.count(Action.DISABLE)} | {plan.count(Action.REMOVE)} | {plan.unchanged} | "
              f"{len(plan.unmanaged)} |", ""]
    nothing = nothing_line(plan)
    if nothing is not None:
        lead, _, rest = nothing.partition(": " if plan.deferred else ". ")
        lines += [f"**{lead}{':' if plan.deferred else '.'}** {rest}", ""]
    if sections is None:
        lines += markdown_changes(list(plan.changes))
    else:
        for title, changes in sections.items():
            waits = (waiting or {}).get(title, [])
            lines += [f"### {title}", ""]
            lines += markdown_changes(changes) if changes or waits else ["None.", ""]
            if waits:
                lines += _section("Removals (waiting for their due date)", _waiting_table(waits), len(waits))
    if plan.deferred and waiting is None:
        lines += _section("Removals waiting for the grace period", _waiting_table(list(plan.deferred)),
                          len(plan.deferred))
    if plan.reminders:
        body = [f"- {_md(r.message)}" for r in plan.reminders]
        lines += _section("Credentials to issue after this apply", body, len(plan.reminders))
    if plan.unmanaged:
        body = ["Live accounts no unit file declares; never changed by the reconciler:", ""]
        body += [f"- `{a}`" for a in plan.unmanaged]
        lines += _section("Unmanaged accounts", body, len(plan.unmanaged))
    return "\n".join(lines).rstrip() + "\n"
