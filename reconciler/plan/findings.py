"""What a plan found in the live directory besides changes: policy violations, entries the profile
cannot read, entries that are not mailboxes. Rendered as separate sections in every plan format
(kept apart from render.py so each section can be reworded on its own)."""

from __future__ import annotations

from rich.markup import escape

from reconciler.model import Plan, Violation

VIOLATIONS_TITLE = "Policy violations in the live directory"
UNREADABLE_TITLE = "Entries the profile cannot read (left alone)"
NOT_MAILBOXES_TITLE = "Not mailboxes, ignored"
FIELD_WORD = {"forward_to": "forward", "aliases": "alias"}


def describe_violation(v: Violation) -> str:
    where = f" ({v.unit})" if v.unit else ""
    fate = ("repaired by apply" if v.managed
            else "unmanaged: reported until the account is adopted (`reconciler import`) or removed")
    return f"{v.address}{where}: {FIELD_WORD.get(v.field, v.field)} to {v.value} at a {v.reason}; {fate}"


def no_changes_text(plan: Plan) -> str:
    if plan.violations:
        return ("[green]No changes.[/green] The directory matches the declarations, but it holds policy violations "
                "the declarations cannot repair (listed above).")
    return "[green]No changes.[/green] The directory matches the declarations."


def no_changes_markdown(plan: Plan) -> str:
    if plan.violations:
        return ("**No changes.** The directory matches the declarations, but it holds policy violations the "
                "declarations cannot repair (listed below).")
    return "**No changes.** The directory matches the declarations."


def summary_suffix(plan: Plan) -> str:
    """Added to the plan's summary line: counts of what needs attention besides changes."""
    parts = []
    if plan.violations:
        parts.append(f"{len(plan.violations)} policy violation(s) in the live directory")
    if plan.unreadable:
        parts.append(f"{len(plan.unreadable)} unreadable entr{'y' if len(plan.unreadable) == 1 else 'ies'}")
    if plan.not_mailboxes:
        parts.append(f"{len(plan.not_mailboxes)} not mailboxes (ignored)")
    return "".join(f", {p}" for p in parts)


def text_lines(plan: Plan) -> list[str]:
    """Rich markup lines, one per finding."""
    lines: list[str] = []
    if plan.violations:
        lines.append(f"[bold red]{VIOLATIONS_TITLE} ({len(plan.violations)}):[/bold red]")
        lines += [f"[red]! violation[/red] {escape(describe_violation(v))}" for v in plan.violations]
    for item in plan.unreadable:
        lines.append(f"[yellow]! unreadable[/yellow] {escape(item.dn)}: {escape(item.reason)}; left alone")
    for dn in plan.not_mailboxes:
        lines.append(f"[dim]· not a mailbox, ignored: {escape(dn)}[/dim]")
    return lines


def _md(text: object) -> str:
    return str(text).replace("|", r"\|").replace("\n", " ")


def markdown_lines(plan: Plan, section: object) -> list[str]:
    """Markdown sections; ``section(title, body, count)`` folds long ones like the plan's own."""
    lines: list[str] = []
    if plan.violations:
        body = ["| Address | Unit | What | Where to | Why | Managed |", "| --- | --- | --- | --- | --- | --- |"]
        body += [f"| `{v.address}` | {_md(v.unit or '—')} | {FIELD_WORD.get(v.field, v.field)} | `{v.value}` | "
                 f"{_md(v.reason)} | {'yes: apply repairs it' if v.managed else 'no: adopt or remove the account'} |"
                 for v in plan.violations]
        lines += section(VIOLATIONS_TITLE, body, len(plan.violations))  # type: ignore[operator]
    if plan.unreadable:
        body = [f"- `{_md(u.dn)}`: {_md(u.reason)}" for u in plan.unreadable]
        lines += section(UNREADABLE_TITLE, body, len(plan.unreadable))  # type: ignore[operator]
    if plan.not_mailboxes:
        body = [f"- `{_md(dn)}`" for dn in plan.not_mailboxes]
        lines += section(NOT_MAILBOXES_TITLE, body, len(plan.not_mailboxes))  # type: ignore[operator]
    return lines


def json_fields(plan: Plan) -> dict[str, object]:
    """Plan JSON keys (stable): violations, unreadable, not_mailboxes."""
    return {
        "violations": [{"address": v.address, "unit": v.unit, "field": v.field, "value": v.value, "reason": v.reason,
                        "managed": v.managed} for v in plan.violations],
        "unreadable": [{"dn": u.dn, "reason": u.reason} for u in plan.unreadable],
        "not_mailboxes": list(plan.not_mailboxes),
    }
