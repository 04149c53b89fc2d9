"""Plans as text for a terminal, Markdown for a pull-request comment (JSON lives in planfile)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from rich.markup import escape

from reconciler.i18n import N_, _, format_date, ngettext
from reconciler.model import APPLY_ORDER, Action, Change, Deferred, Plan
from reconciler.plan import findings
from reconciler.plan.display import DeclarationChange
from reconciler.textfmt import markup as _escape
from reconciler.textfmt import md as _md
from reconciler.textfmt import md_code, safe_lines, value

SYMBOL = {Action.CREATE: "+", Action.UPDATE: "~", Action.ENABLE: "↑", Action.DISABLE: "↓", Action.REMOVE: "-"}
COLOUR = {Action.CREATE: "green", Action.UPDATE: "yellow", Action.ENABLE: "cyan", Action.DISABLE: "magenta",
          Action.REMOVE: "red"}
TITLE = {Action.CREATE: N_("Create"), Action.UPDATE: N_("Update"), Action.ENABLE: N_("Enable"),
         Action.DISABLE: N_("Disable"), Action.REMOVE: N_("Remove")}
#: the action as a verb in a terminal line
VERB = {Action.CREATE: N_("create"), Action.UPDATE: N_("update"), Action.ENABLE: N_("enable"),
        Action.DISABLE: N_("disable"), Action.REMOVE: N_("remove")}
#: field names as people call them
FIELD = {"name": N_("name"), "kind": N_("kind"), "unit": N_("unit"), "owner": N_("owner"), "aliases": N_("aliases"),
         "forward_to": N_("forward to"), "status": N_("status"), "expires": N_("expires"), "ticket": N_("ticket"),
         "owner_name": N_("owner's name"), "address": N_("address")}
VALUE = {"active": N_("active"), "disabled": N_("disabled"), "removed": N_("removed"), "personal": N_("personal"),
         "functional": N_("functional")}
#: where a change comes from, with --base (reconciler.audit.lifecycle.CHANGE / DRIFT)
ORIGIN = {"change": N_("change"), "drift": N_("drift"), "scheduled": N_("scheduled")}
#: list fields shown as what is added and what is removed
LIST_FIELDS = ("aliases", "forward_to")
#: sections longer than this are folded in Markdown so a big plan stays readable in a PR
COLLAPSE_AFTER = 10


def format_value(item: object) -> str:
    """A field's value for people: the one formatter (textfmt.value), with status and kind words translated."""
    if isinstance(item, str) and item in VALUE:
        return _(VALUE[item])
    return value(item, empty=_("(none)"))


def field_label(name: str) -> str:
    return _(FIELD[name]) if name in FIELD else name


def list_delta(before: object, after: object) -> str:
    """An alias list change as `+ added` / `− removed`, the way a reviewer reads it."""
    old = [str(v) for v in before] if isinstance(before, list) else []
    new = [str(v) for v in after] if isinstance(after, list) else []
    parts = [f"+ {v}" for v in new if v not in old] + [f"− {v}" for v in old if v not in new]
    return ", ".join(parts) if parts else _("(none)")


def describe_change(change: Change) -> str:
    why = f" — {change.reason}" if change.reason else ""
    if change.action is Action.CREATE:
        after = change.after or {}
        created = _("{name} ({kind}, {status}, owner {owner})").format(
            name=after.get("name"), kind=format_value(after.get("kind")), status=format_value(after.get("status")),
            owner=_owner(change, after.get("owner")))
        # What a new mailbox answers to and sends on is what a reviewer must see (an old address as an alias).
        extra = [f"{field_label(name)}: {list_delta([], after.get(name))}" for name in LIST_FIELDS if after.get(name)]
        return "; ".join([created, *extra]) + why
    if change.action is Action.REMOVE:
        return f"{(change.before or {}).get('name')}{why}"
    parts = []
    for name in change.changed_fields():
        old, new = (change.before or {}).get(name), (change.after or {}).get(name)
        if name in LIST_FIELDS:
            parts.append(f"{field_label(name)}: {list_delta(old, new)}")
        else:
            parts.append(f"{field_label(name)}: {format_value(old)} → {format_value(new)}")
    return "; ".join(parts) + why


def waiting_text(deferred: Deferred) -> str:
    return _("removal due on {date} (the account stays disabled until then)").format(
        date=format_date(deferred.eligible_on))


def nothing_line(plan: Plan) -> tuple[str, str] | None:
    """What to say when there is nothing to apply now (a lead and the rest); None when there is."""
    if plan.changes:
        return None
    if plan.deferred:
        return (_("Nothing to apply now."), ngettext(
            "{count} removal waits for its due date (a scheduled apply carries it out).",
            "{count} removals wait for their due date (a scheduled apply carries them out).",
            len(plan.deferred)).format(count=len(plan.deferred)))
    if plan.violations:
        return (_("No changes."), _("The directory matches the declarations, but it holds policy violations the "
                                    "declarations cannot repair (listed in their own section)."))
    return (_("No changes."), _("The directory matches the declarations."))


def _owner(change: Change, owner_id: object) -> str:
    return f"{change.owner_name} ({owner_id})" if change.owner_name and change.owner_name != change.name \
        else str(owner_id)


def unit_label(unit: str, unit_name: str | None) -> str:
    """A unit for people: its full name, with the id it is filed under."""
    return f"{unit_name} ({unit})" if unit_name else unit


def summary_line(plan: Plan) -> str:
    counts = ", ".join(_("{count} to {action}").format(count=plan.count(a), action=_(VERB[a])) for a in APPLY_ORDER)
    extra = ", " + _("{unchanged} unchanged, {unmanaged} unmanaged").format(
        unchanged=plan.unchanged, unmanaged=len(plan.unmanaged))
    if plan.deferred:
        extra += ", " + ngettext("{count} removal waiting for the grace period",
                                 "{count} removals waiting for the grace period",
                                 len(plan.deferred)).format(count=len(plan.deferred))
    extra += findings.summary_suffix(plan)
    return _("Plan: {counts}{extra}.").format(counts=counts, extra=extra)


def text_lines(plan: Plan, header: Iterable[str] = ()) -> list[str]:
    """Rich markup lines; the caller prints them with or without colour."""
    lines = [f"[dim]{_escape(line)}[/dim]" for line in header]
    for change in plan.changes:
        colour = COLOUR[change.action]
        origin = f" [dim]({_(ORIGIN.get(change.origin, change.origin))})[/dim]" if change.origin else ""
        detail = _escape(describe_change(change))
        who = f" {_escape(change.name)}" if change.name and change.action is not Action.CREATE else ""
        ticket = _("ticket {ticket}").format(ticket=change.ticket) if change.ticket else ""
        ticket = f" [dim]{_escape(ticket)}[/dim]" if ticket else ""
        lines.append(f"[{colour}]{SYMBOL[change.action]} {_(VERB[change.action]):<9}[/{colour}] "
                     f"[bold]{_escape(change.address)}[/bold]{who} "
                     f"[dim]{_escape(unit_label(change.unit, change.unit_name))}[/dim]{origin}{ticket}  {detail}")
    for deferred in plan.deferred:
        origin = f" ({_(ORIGIN.get(deferred.origin, deferred.origin))})" if deferred.origin else ""
        lines.append(f"[red]… {_escape(_('remove')):<7}[/red] [bold]{_escape(deferred.address)}[/bold] "
                     f"[dim]{_escape(unit_label(deferred.unit, deferred.unit_name))}{_escape(origin)}[/dim]  "
                     f"{_escape(waiting_text(deferred))}")
    for address in plan.unmanaged:
        lines.append("[yellow]? " + escape(_("unmanaged")) + "[/yellow] " + escape(
            _("{address}  not declared in any unit file: left untouched (adopt it with `reconciler import`)")
            .format(address=address)))
    lines += findings.text_lines(plan)
    for reminder in plan.reminders:
        word = _("credentials")
        lines.append(f"[bold yellow]! {_escape(word)}[/bold yellow] {_escape(reminder.message)}")
    nothing = nothing_line(plan)
    if nothing is not None:
        lines.append(f"[green]{escape(nothing[0])}[/green] {escape(nothing[1])}")
    lines.append(summary_line(plan))
    return safe_lines(lines)


def _table(changes: list[Change]) -> list[str]:
    rows = ["| " + " | ".join([_("Address"), _("Name"), _("Unit"), _("Ticket"), _("Changes")]) + " |",
            "| --- | --- | --- | --- | --- |"]
    for change in changes:
        origin = f" _({_(ORIGIN.get(change.origin, change.origin))})_" if change.origin else ""
        rows.append(f"| {md_code(change.address)} | {_md(change.name or '—')} | "
                    f"{_md(change.unit_name or change.unit)} | {_md(change.ticket or '—')} | "
                    f"{_md(describe_change(change))}{origin} |")
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
            lines += _section(_(TITLE[action]), _table(selected), len(selected))
    return lines


def _waiting_table(deferred: list[Deferred]) -> list[str]:
    body = ["| " + " | ".join([_("Address"), _("Name"), _("Unit"), _("Removal due on")]) + " |",
            "| --- | --- | --- | --- |"]
    return body + [f"| {md_code(d.address)} | {_md(d.name or '—')} | {_md(d.unit_name or d.unit)} | "
                   f"{format_date(d.eligible_on)} |" for d in deferred]


def markdown(plan: Plan, header: Iterable[str] = (), sections: dict[str, list[Change]] | None = None,
             waiting: dict[str, list[Deferred]] | None = None, *,
             declaration_changes: list[DeclarationChange] | tuple[DeclarationChange, ...] | None = None,
             threshold: str | None = None, drift: list[Change] | None = None) -> str:
    """A PR comment: a summary table, then a table per action; long sections fold away.

    ``sections``: title -> changes (with --base); ``waiting``: title -> the waiting removals of that
    section; ``declaration_changes``: what the pull request changes that the directory does not hold;
    ``threshold``: why apply would refuse the plan without --force; ``drift``: the changes that
    merging would also make, undoing differences already in the directory.
    """
    lines = ["### " + _("Mailbox plan"), ""]
    lines += [f"{line}  " for line in header]
    if header:
        lines.append("")
    lines += ["| " + " | ".join([_("Create"), _("Update"), _("Enable"), _("Disable"), _("Remove"), _("Unchanged"),
                                 _("Unmanaged")]) + " |",
              "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
              f"| {plan.count(Action.CREATE)} | {plan.count(Action.UPDATE)} | {plan.count(Action.ENABLE)} | "
              f"{plan.count(Action.DISABLE)} | {plan.count(Action.REMOVE)} | {plan.unchanged} | "
              f"{len(plan.unmanaged)} |", ""]
    if threshold:
        lines += ["> [!WARNING]",
                  "> " + _md(_("Apply will refuse this plan without force: {reason}.").format(reason=threshold)),
                  "> " + _md(_("If the change is intended, approve it, merge, and run the Apply workflow by hand "
                               "with force checked (it waits for the production environment's approval).")), ""]
    if drift:
        lines += ["> [!NOTE]", "> " + _md(ngettext(
            "Merging also reverts {count} drift change listed under Drift: the directory is brought back to what "
            "the base branch declares.",
            "Merging also reverts the {count} drift changes listed under Drift: the directory is brought back to "
            "what the base branch declares.", len(drift)).format(count=len(drift))), ""]
    if plan.violations:
        lines += [f"**{_(findings.VIOLATIONS_TITLE)}: {len(plan.violations)}** " + _("(listed below)"), ""]
    nothing = nothing_line(plan)
    if nothing is not None and not declaration_changes:
        lines += [f"**{nothing[0]}** {nothing[1]}", ""]
    if sections is None:
        lines += markdown_changes(list(plan.changes))
    else:
        for title, changes in sections.items():
            waits = (waiting or {}).get(title, [])
            lines += [f"### {title}", ""]
            lines += markdown_changes(changes) if changes or waits else [_("None."), ""]
            if waits:
                lines += _section(_("Removals (waiting for their due date)"), _waiting_table(waits), len(waits))
    if declaration_changes:
        lines += ["### " + _("Declaration changes (nothing changes in the directory)"), "",
                  *_declaration_table(list(declaration_changes)), ""]
    if plan.deferred and waiting is None:
        lines += _section(_("Removals waiting for the grace period"), _waiting_table(list(plan.deferred)),
                          len(plan.deferred))
    if plan.reminders:
        body = [f"- {_md(r.message)}" for r in plan.reminders]
        lines += _section(_("Credentials to issue after this apply"), body, len(plan.reminders))
    if plan.unmanaged:
        body = [_("Live accounts no unit file declares; never changed by the reconciler:"), ""]
        body += [f"- {md_code(a)}" for a in plan.unmanaged]
        lines += _section(_("Unmanaged accounts"), body, len(plan.unmanaged))
    lines += findings.markdown_lines(plan, _section)
    return "\n".join(safe_lines(lines)).rstrip() + "\n"


def _declaration_table(changes: list[DeclarationChange]) -> list[str]:
    rows = ["| " + " | ".join([_("Address"), _("Name"), _("Unit"), _("Ticket"), _("Changes")]) + " |",
            "| --- | --- | --- | --- | --- |"]
    for change in changes:
        detail = "; ".join(f"{field_label(name)}: {_declared(name, old)} → {_declared(name, new)}"
                           for name, old, new in change.fields)
        rows.append(f"| {md_code(change.address)} | {_md(change.name)} | {_md(change.unit_name or change.unit)} | "
                    f"{_md(change.ticket or '—')} | {_md(detail)} |")
    return rows


def _declared(name: str, value: object) -> str:
    if name == "expires" and isinstance(value, str):
        try:
            return format_date(date.fromisoformat(value))
        except ValueError:
            pass
    return format_value(value)
