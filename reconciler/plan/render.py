"""Plans as text for a terminal, Markdown for a pull-request comment (JSON lives in planfile)."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.model import APPLY_ORDER, Action, Change, Plan
from reconciler.textfmt import markup, md, md_code, safe_lines
from reconciler.textfmt import value as format_value

SYMBOL = {Action.CREATE: "+", Action.UPDATE: "~", Action.ENABLE: "↑", Action.DISABLE: "↓", Action.REMOVE: "-"}
COLOUR = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.ENABLE: "cyan", Action.DISABLE: "magenta",
          Action.REMOVE: "red"}
TITLE = {Action.CREATE: "Create", Action.UPDATE: "Update", Action.ENABLE: "Enable", Action.DISABLE: "Disable",
         Action.REMOVE: "Remove"}
#: sections longer than this are folded in Markdown so a big plan stays readable in a PR
COLLAPSE_AFTER = 10


def describe_change(change: Change) -> str:
    if change.action is Action.CREATE:
        after = change.after or {}
        return (f"{format_value(after.get('name'))} ({format_value(after.get('kind'))}, "
                f"{format_value(after.get('status'))}, owner {format_value(after.get('owner'))})")
    if change.action is Action.REMOVE:
        return format_value((change.before or {}).get("name"))
    parts = []
    for name in change.changed_fields():
        parts.append(f"{name}: {format_value((change.before or {}).get(name))} → "
                     f"{format_value((change.after or {}).get(name))}")
    return "; ".join(parts)


def summary_line(plan: Plan) -> str:
    counts = ", ".join(f"{plan.count(a)} to {a.value}" for a in APPLY_ORDER)
    extra = f", {plan.unchanged} unchanged, {len(plan.unmanaged)} unmanaged"
    if plan.deferred:
        extra += f", {len(plan.deferred)} removal(s) waiting for the grace period"
    return f"Plan: {counts}{extra}."


def text_lines(plan: Plan, header: Iterable[str] = ()) -> list[str]:
    """Rich markup lines; the caller prints them with or without colour."""
    lines = [f"[dim]{markup(line)}[/dim]" for line in header]
    for change in plan.changes:
        colour = COLOUR[change.action]
        origin = f" [dim]({change.origin})[/dim]" if change.origin else ""
        detail = markup(describe_change(change))
        lines.append(f"[{colour}]{SYMBOL[change.action]} {change.action.value:<7}[/{colour}] "
                     f"[bold]{markup(change.address)}[/bold] [dim]{markup(change.unit)}[/dim]{origin}  {detail}")
    for deferred in plan.deferred:
        lines.append(f"[dim]… remove  {markup(deferred.address)} {markup(deferred.unit)}  waits for the grace "
                     f"period: from {deferred.eligible_on.isoformat()}[/dim]")
    for address in plan.unmanaged:
        lines.append(f"[yellow]? unmanaged[/yellow] {markup(address)}  not declared in any unit file: left untouched "
                     "(adopt it with `reconciler import`)")
    if not plan.changes:
        lines.append("[green]No changes.[/green] The directory matches the declarations.")
    lines.append(summary_line(plan))
    return safe_lines(lines)


def _table(changes: list[Change]) -> list[str]:
    rows = ["| Address | Unit | Changes |", "| --- | --- | --- |"]
    for change in changes:
        origin = f" _({change.origin})_" if change.origin else ""
        rows.append(f"| {md_code(change.address)} | {md(change.unit)} | {md(describe_change(change))}{origin} |")
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


def markdown(plan: Plan, header: Iterable[str] = (), sections: dict[str, list[Change]] | None = None) -> str:
    """A PR comment: a summary table, then a table per action; long sections fold away."""
    lines = ["### Mailbox plan", ""]
    lines += [f"{md(line)}  " for line in header]
    if header:
        lines.append("")
    lines += ["| Create | Update | Enable | Disable | Remove | Unchanged | Unmanaged |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
              f"| {plan.count(Action.CREATE)} | {plan.count(Action.UPDATE)} | {plan.count(Action.ENABLE)} | "
              f"{plan.count(Action.DISABLE)} | {plan.count(Action.REMOVE)} | {plan.unchanged} | "
              f"{len(plan.unmanaged)} |", ""]
    if not plan.changes:
        lines += ["**No changes.** The directory matches the declarations.", ""]
    if sections is None:
        lines += markdown_changes(list(plan.changes))
    else:
        for title, changes in sections.items():
            lines += [f"### {title}", ""]
            lines += markdown_changes(changes) if changes else ["None.", ""]
    if plan.deferred:
        body = ["| Address | Unit | Removal allowed from |", "| --- | --- | --- |"]
        body += [f"| {md_code(d.address)} | {md(d.unit)} | {d.eligible_on.isoformat()} |" for d in plan.deferred]
        lines += _section("Removals waiting for the grace period", body, len(plan.deferred))
    if plan.unmanaged:
        body = ["Live accounts no unit file declares; never changed by the reconciler:", ""]
        body += [f"- {md_code(a)}" for a in plan.unmanaged]
        lines += _section("Unmanaged accounts", body, len(plan.unmanaged))
    return "\n".join(safe_lines(lines)).rstrip() + "\n"
