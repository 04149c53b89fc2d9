"""Policy violations in the live directory (pure): forwards and aliases the province forbids.

A forward (mailRoutingAddress) or an alias (mailLocalAddress) at a public mail provider, or outside the
official domains, is a violation whether or not a unit file declares the account: `plan` lists them in
their own section and `--detailed-exitcode` exits 2. For a managed account the plan also repairs it (the
declarations cannot carry such a value, so the diff removes it); an unmanaged one is reported until the
account is adopted or removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from reconciler.declarations.policy import domain_of, is_public
from reconciler.i18n import _
from reconciler.model import Account, Violation


def forbidden_reason(address: str, domains: tuple[str, ...], public_mail_domains: tuple[str, ...]) -> str | None:
    """Why mail may not go to ``address`` under the policy, or None when it may."""
    domain = domain_of(address)
    if is_public(domain, public_mail_domains):
        return _("public mail provider ({domain})").format(domain=domain)
    if domain not in domains:
        return _("outside the official domains ({domain})").format(domain=domain)
    return None


def live_violations(live: Mapping[str, Account], declared: Iterable[str], domains: tuple[str, ...],
                    public_mail_domains: tuple[str, ...], *,
                    unit_ids: Iterable[str] | None = None) -> tuple[Violation, ...]:
    """Every forbidden forward and alias on a live account; ``declared``: lowercase declared addresses;
    ``unit_ids``: the declared units (an account in none of them is shown with its `ou` as written)."""
    managed = set(declared)
    units = None if unit_ids is None else set(unit_ids)
    reasons: dict[str, str | None] = {}  # per domain: a directory holds a handful of them
    found: list[Violation] = []
    for key, account in live.items():
        fields = account.fields
        if not fields.get("forward_to") and not fields.get("aliases"):
            continue  # most accounts: nothing to check
        unit = fields.get("unit")
        if units is not None and unit not in units:
            unit = account.ou
        for field in ("forward_to", "aliases"):
            for value in fields.get(field) or ():  # type: ignore[attr-defined]
                domain = domain_of(str(value))
                if domain not in reasons:
                    reasons[domain] = forbidden_reason(str(value), domains, public_mail_domains)
                reason = reasons[domain]
                if reason:
                    found.append(Violation(account.address, None if unit is None else str(unit), field, str(value),
                                           reason, key in managed))
    return tuple(sorted(found, key=lambda v: (v.address.lower(), v.field != "forward_to", v.value)))
