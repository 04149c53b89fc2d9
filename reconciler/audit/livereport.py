"""`report --live`: what the directory holds now, per unit (pure; the CLI reads the directory).

Where `report` answers from git (what was declared), this answers from the live directory: forwards
and aliases that leave the province, accounts no unit file declares, and disabled accounts with the
moment they were disabled. Formats: text, markdown, CSV (one row per finding) and JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from reconciler.clock import Clock
from reconciler.i18n import N_, _
from reconciler.model import LiveView
from reconciler.plan.violations import forbidden_reason
from reconciler.textfmt import csv_document, md, md_code, one_line

FORMAT_VERSION = 1
FIELD_WORD = {"forward_to": N_("forward"), "aliases": N_("alias")}
NO_UNIT = "(no ou)"


@dataclass(frozen=True, slots=True)
class Outside:
    address: str
    #: "forward" or "alias"
    what: str
    value: str
    reason: str
    managed: bool


@dataclass(frozen=True, slots=True)
class Held:
    address: str
    name: str
    managed: bool
    status: str
    disabled_since: datetime | None = None


@dataclass
class UnitSection:
    #: the declared unit id, or None when the account's `ou` names no declared unit
    id: str | None
    #: the declared name, or the `ou` as written in the directory
    name: str
    outside: list[Outside] = field(default_factory=list)
    unmanaged: list[Held] = field(default_factory=list)
    disabled: list[Held] = field(default_factory=list)


@dataclass
class LiveReport:
    generated_at: datetime
    directory: str
    units: list[UnitSection]
    accounts: int
    unreadable: list[tuple[str, str]]
    not_mailboxes: list[str]
    #: the one clock: every time shown and written is in its zone (the ``timezone`` setting)
    clock: Clock = field(default_factory=Clock)

    def when(self, moment: datetime | None) -> str:
        """For people: dd/mm/yyyy HH:MM in the configured zone, with its offset."""
        return "—" if moment is None else self.clock.time_text(moment)

    def iso(self, moment: datetime | None) -> str | None:
        return None if moment is None else self.clock.json_time(moment)


def build(view: LiveView, declared: Iterable[str], unit_names: Mapping[str, str], *, domains: tuple[str, ...],
          public_mail_domains: tuple[str, ...], now: datetime, directory: str,
          clock: Clock | None = None) -> LiveReport:
    """``declared``: lowercase addresses the unit files declare; ``unit_names``: unit id -> name;
    ``clock``: the zone times are shown in (the ``timezone`` setting; Vietnam time without one)."""
    managed_keys = set(declared)
    sections: dict[tuple[str | None, str], UnitSection] = {}
    for key, account in sorted(view.accounts.items()):
        unit = account.fields.get("unit")
        unit_id = str(unit) if unit in unit_names else None
        name = unit_names[unit_id] if unit_id is not None else (account.ou or NO_UNIT)
        section = sections.setdefault((unit_id, name), UnitSection(unit_id, name))
        managed = key in managed_keys
        for field_name in ("forward_to", "aliases"):
            for value in account.fields.get(field_name) or ():  # type: ignore[attr-defined]
                reason = forbidden_reason(str(value), domains, public_mail_domains)
                if reason:
                    section.outside.append(
                        Outside(account.address, FIELD_WORD[field_name], str(value), reason, managed))
        held = Held(account.address, account.name, managed, account.status.value, account.disabled_since)
        if not managed:
            section.unmanaged.append(held)
        if account.disabled_since is not None:
            section.disabled.append(held)
    units = [s for _, s in sorted(sections.items(), key=lambda item: (item[0][0] is None, item[0][1]))
             if s.outside or s.unmanaged or s.disabled]
    return LiveReport(now, directory, units, len(view.accounts), [(u.dn, u.reason) for u in view.unreadable],
                      list(view.not_mailboxes), clock or Clock())


def _unit_title(section: UnitSection, escape: Callable[[str], str] = str) -> str:
    """The unit as people know it; ``escape`` writes the name (which the directory may hold) for the output."""
    name = escape(section.name)
    return f"{name} ({section.id})" if section.id else _("{name} (not a declared unit)").format(name=name)


def _totals(report: LiveReport) -> dict[str, int]:
    return {
        "accounts": report.accounts,
        "forwards_and_aliases_outside": sum(len(s.outside) for s in report.units),
        "unmanaged": sum(len(s.unmanaged) for s in report.units),
        "disabled": sum(len(s.disabled) for s in report.units),
        "unreadable": len(report.unreadable),
        "not_mailboxes": len(report.not_mailboxes),
    }


def _heading(report: LiveReport) -> str:
    totals = _totals(report)
    return _("Live directory {directory} at {when}: {accounts} account(s), {outside} forward(s)/alias(es) outside "
             "the province, "
             "{unmanaged} unmanaged, {disabled} disabled.").format(
        directory=report.directory, when=report.when(report.generated_at), accounts=totals["accounts"],
        outside=totals["forwards_and_aliases_outside"], unmanaged=totals["unmanaged"], disabled=totals["disabled"])


def _outside_line(o: Outside) -> str:
    return _("{address}: {what} to {value} ({reason})").format(
        address=o.address, what=_(o.what), value=o.value, reason=o.reason) + (
        "" if o.managed else _(", unmanaged account"))


def _held_line(report: LiveReport, h: Held, *, since: bool) -> str:
    name = f" ({h.name})" if h.name else ""
    if since:
        return _("{address}{name}: disabled since {when}").format(address=h.address, name=name,
                                                                  when=report.when(h.disabled_since))
    return f"{h.address}{name}: {_(h.status)}"


def text(report: LiveReport) -> str:
    lines = [_heading(report), ""]
    for section in report.units:
        lines.append(_unit_title(section))
        for title, items in ((_("Forwards and aliases outside the province"),
                              [_outside_line(o) for o in section.outside]),
                             (_("Unmanaged accounts"), [_held_line(report, h, since=False) for h in section.unmanaged]),
                             (_("Disabled accounts"), [_held_line(report, h, since=True) for h in section.disabled])):
            if items:
                lines.append(f"  {title}:")
                lines += [f"    {item}" for item in items]
        lines.append("")
    if report.unreadable:
        lines.append(_("Entries the profile cannot read:"))
        lines += [f"  {dn}: {reason}" for dn, reason in report.unreadable]
    if report.not_mailboxes:
        lines.append(_("Not mailboxes, ignored:"))
        lines += [f"  {dn}" for dn in report.not_mailboxes]
    # Values come from the live directory: each line stays one visible line, and none starts a CI command.
    return "\n".join(one_line(line) for line in lines).rstrip() + "\n"


def markdown(report: LiveReport) -> str:
    lines = ["## " + _("What the live directory holds"), "", _heading(report), ""]
    yes, no = _("yes"), _("no")
    for section in report.units:
        lines += [f"### {_unit_title(section, md)}", ""]
        if section.outside:
            lines += ["**" + _("Forwards and aliases outside the province") + "**", "",
                      "| " + " | ".join([_("Address"), _("What"), _("To"), _("Why"), _("Managed")]) + " |",
                      "| --- | --- | --- | --- | --- |"]
            lines += [f"| {md_code(o.address)} | {md(_(o.what))} | {md_code(o.value)} | {md(o.reason)} | "
                      f"{yes if o.managed else no} |"
                      for o in section.outside]
            lines.append("")
        if section.unmanaged:
            lines += ["**" + _("Unmanaged accounts") + "**", "",
                      "| " + " | ".join([_("Address"), _("Name"), _("Status")]) + " |", "| --- | --- | --- |"]
            lines += [f"| {md_code(h.address)} | {md(h.name)} | {md(_(h.status))} |" for h in section.unmanaged]
            lines.append("")
        if section.disabled:
            lines += ["**" + _("Disabled accounts") + "**", "",
                      "| " + " | ".join([_("Address"), _("Name"), _("Disabled since"), _("Managed")]) + " |",
                      "| --- | --- | --- | --- |"]
            lines += [f"| {md_code(h.address)} | {md(h.name)} | {report.when(h.disabled_since)} | "
                      f"{yes if h.managed else no} |"
                      for h in section.disabled]
            lines.append("")
    if report.unreadable:
        lines += ["### " + _("Entries the profile cannot read"), ""]
        lines += [f"- {md_code(dn)}: {md(reason)}" for dn, reason in report.unreadable]
        lines.append("")
    if report.not_mailboxes:
        lines += ["### " + _("Not mailboxes, ignored"), ""] + [f"- {md_code(dn)}" for dn in report.not_mailboxes] + [""]
    return "\n".join(lines).rstrip() + "\n"


CSV_COLUMNS = ["unit", "unit_name", "address", "finding", "value", "reason", "managed", "status", "disabled_since"]


def csv_text(report: LiveReport) -> str:
    """One row per finding: forward, alias, unmanaged, disabled."""
    rows: list[list[object]] = [list(CSV_COLUMNS)]
    for s in report.units:
        for o in s.outside:
            rows.append([s.id or "", s.name, o.address, o.what, o.value, o.reason, o.managed, "", ""])
        for h in s.unmanaged:
            rows.append([s.id or "", s.name, h.address, "unmanaged", "", "", False, h.status,
                        report.iso(h.disabled_since) or ""])
        for h in s.disabled:
            rows.append([s.id or "", s.name, h.address, "disabled", "", "", h.managed, h.status,
                        report.iso(h.disabled_since)])
    return csv_document(rows)


def to_json(report: LiveReport) -> dict[str, object]:
    def held(h: Held) -> dict[str, object]:
        return {"address": h.address, "name": h.name, "managed": h.managed, "status": h.status,
                "disabled_since": report.iso(h.disabled_since)}

    return {
        "format_version": FORMAT_VERSION,
        "kind": "live",
        "generated_at": report.iso(report.generated_at),
        "directory": report.directory,
        "summary": _totals(report),
        "units": [{"unit": s.id, "name": s.name,
                   "outside": [{"address": o.address, "what": o.what, "value": o.value, "reason": o.reason,
                                "managed": o.managed} for o in s.outside],
                   "unmanaged": [held(h) for h in s.unmanaged],
                   "disabled": [held(h) for h in s.disabled]} for s in report.units],
        "unreadable": [{"dn": dn, "reason": reason} for dn, reason in report.unreadable],
        "not_mailboxes": report.not_mailboxes,
    }


def json_text(report: LiveReport) -> str:
    return json.dumps(to_json(report), ensure_ascii=False, indent=2)
