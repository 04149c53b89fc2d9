"""What a plan found in the live directory besides changes: policy violations, entries the profile
cannot read, entries that are not mailboxes. Rendered as separate sections in every plan format
(kept apart from render.py so each section can be reworded on its own)."""

from __future__ import annotations

from reconciler.i18n import N_, _, ngettext
from reconciler.model import Plan, Violation
from reconciler.textfmt import markup as escape
from reconciler.textfmt import md, md_code

VIOLATIONS_TITLE = N_("Policy violations in the live directory")
UNREADABLE_TITLE = N_("Entries the profile cannot read (left alone)")
NOT_MAILBOXES_TITLE = N_("Not mailboxes, ignored")
FIELD_WORD = {"forward_to": N_("forward"), "aliases": N_("alias")}


def _field_word(field: str) -> str:
    return _(FIELD_WORD[field]) if field in FIELD_WORD else field


def describe_violation(v: Violation) -> str:
    where = f" ({v.unit})" if v.unit else ""
    fate = (_("repaired by apply") if v.managed
            else _("unmanaged: reported until the account is adopted (`reconciler import`) or removed"))
    return _("{address}{unit}: {field} to {value} at a {reason}; {fate}").format(
        address=v.address, unit=where, field=_field_word(v.field), value=v.value, reason=v.reason, fate=fate)


def summary_suffix(plan: Plan) -> str:
    """Added to the plan's summary line: counts of what needs attention besides changes."""
    parts = []
    if plan.violations:
        parts.append(_("{count} policy violation(s) in the live directory").format(count=len(plan.violations)))
    if plan.unreadable:
        parts.append(ngettext("{count} unreadable entry", "{count} unreadable entries",
                              len(plan.unreadable)).format(count=len(plan.unreadable)))
    if plan.not_mailboxes:
        parts.append(_("{count} not mailboxes (ignored)").format(count=len(plan.not_mailboxes)))
    return "".join(f", {p}" for p in parts)


def text_lines(plan: Plan) -> list[str]:
    """Rich markup lines, one per finding."""
    lines: list[str] = []
    if plan.violations:
        lines.append(f"[bold red]{escape(_(VIOLATIONS_TITLE))} ({len(plan.violations)}):[/bold red]")
        word = escape(_("violation"))
        lines += [f"[red]! {word}[/red] {escape(describe_violation(v))}" for v in plan.violations]
    for item in plan.unreadable:
        line = _("{dn}: {reason}; left alone").format(dn=item.dn, reason=item.reason)
        lines.append("[yellow]! " + escape(_("unreadable")) + "[/yellow] " + escape(line))
    for dn in plan.not_mailboxes:
        lines.append("[dim]· " + escape(_("not a mailbox, ignored: {dn}").format(dn=dn)) + "[/dim]")
    return lines


def markdown_lines(plan: Plan, section: object) -> list[str]:
    """Markdown sections; ``section(title, body, count)`` folds long ones like the plan's own."""
    lines: list[str] = []
    if plan.violations:
        body = ["| " + " | ".join([_("Address"), _("Unit"), _("What"), _("Where to"), _("Why"), _("Managed")]) + " |",
                "| --- | --- | --- | --- | --- | --- |"]
        yes, no = _("yes: apply repairs it"), _("no: adopt or remove the account")
        body += [f"| {md_code(v.address)} | {md(v.unit or '—')} | {_field_word(v.field)} | {md_code(v.value)} | "
                 f"{md(v.reason)} | {yes if v.managed else no} |"
                 for v in plan.violations]
        lines += section(_(VIOLATIONS_TITLE), body, len(plan.violations))  # type: ignore[operator]
    if plan.unreadable:
        body = [f"- {md_code(u.dn)}: {md(u.reason)}" for u in plan.unreadable]
        lines += section(_(UNREADABLE_TITLE), body, len(plan.unreadable))  # type: ignore[operator]
    if plan.not_mailboxes:
        body = [f"- {md_code(dn)}" for dn in plan.not_mailboxes]
        lines += section(_(NOT_MAILBOXES_TITLE), body, len(plan.not_mailboxes))  # type: ignore[operator]
    return lines


def json_fields(plan: Plan) -> dict[str, object]:
    """Plan JSON keys (stable): violations, unreadable, not_mailboxes."""
    return {
        "violations": [{"address": v.address, "unit": v.unit, "field": v.field, "value": v.value, "reason": v.reason,
                        "managed": v.managed} for v in plan.violations],
        "unreadable": [{"dn": u.dn, "reason": u.reason} for u in plan.unreadable],
        "not_mailboxes": list(plan.not_mailboxes),
    }
