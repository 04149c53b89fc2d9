"""An address belongs to one account: declared and live addresses checked together (pure).

Validation already keeps addresses and aliases unique among the declarations. The directory may hold
accounts no file declares (unmanaged), and the mail system routes by every address and alias it
finds: declaring an alias that is a live account's address (or alias) would reroute that account's
mail. So a plan refuses any declared address or alias that is the address or an alias of a live
account other than the mailbox's own, managed or not. One case is a move, not a takeover: the other
account is managed and the same plan takes the alias away from it. Another is a rename: the address
of the same owner's mailbox declared disabled or removed may be an alias of the new one (a disabled
account receives no mail, so the address answers for the new mailbox only).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from reconciler.i18n import _
from reconciler.model import Account, Desired, Mailbox, Plan, Status
from reconciler.problems import Problem
from reconciler.textfmt import visible


def _declared(mailbox: Mailbox) -> Iterator[tuple[tuple[str | int, ...], str]]:
    yield ("address",), mailbox.address
    for index, alias in enumerate(mailbox.aliases):
        yield ("aliases", index), alias


def live_aliases(live: Mapping[str, Account]) -> dict[str, list[tuple[Account, str]]]:
    """Every alias of the live directory (lowercase) -> the accounts carrying it."""
    index: dict[str, list[tuple[Account, str]]] = {}
    for account in live.values():
        aliases = account.fields.get("aliases")
        for alias in aliases if isinstance(aliases, list) else ():
            index.setdefault(str(alias).lower(), []).append((account, "alias"))
    return index


def _released(plan: Plan | None) -> dict[str, set[str]]:
    """Aliases this plan takes away from a live account: account address -> aliases it loses."""
    released: dict[str, set[str]] = {}
    for change in plan.changes if plan is not None else ():
        before, after = change.before or {}, change.after or {}
        if "aliases" in before and "aliases" in after:
            old = {str(a).lower() for a in before["aliases"] or []}  # type: ignore[union-attr]
            new = {str(a).lower() for a in after["aliases"] or []}  # type: ignore[union-attr]
            released[change.address.lower()] = old - new
    return released


def address_conflicts(desired: Desired, live: Mapping[str, Account], plan: Plan | None = None) -> list[Problem]:
    """Problems for declared addresses and aliases that another live account already answers to.

    ``live`` is keyed by lowercase address; a mailbox's own account is ``live[address]``. Tombstones
    (``status: removed``) write nothing and are not checked.
    """
    # ``live`` is keyed by address already: only the aliases need an index of their own (far fewer).
    aliases = live_aliases(live)

    def carriers(key: str, own: Account | None) -> list[tuple[Account, str]]:
        """The live accounts other than ``own`` that answer to ``key``, and how."""
        account = live.get(key)
        found = [(account, "address")] if account is not None and account is not own \
            and account.address.lower() == key else []
        return found + [(a, how) for a, how in aliases.get(key, ()) if a is not own]

    declared = {m.address.lower() for m in desired.mailboxes()}
    retired_by_owner = {m.address.lower(): m.owner.id for m in desired.mailboxes()
                        if m.status in (Status.DISABLED, Status.REMOVED)}
    released = _released(plan)
    problems: list[Problem] = []
    for mailbox in desired.mailboxes():
        if mailbox.status is Status.REMOVED or mailbox.source is None:
            continue
        key = mailbox.address.lower()
        own = live.get(key)  # the account with this address is the mailbox's own (live is keyed by address)
        if key not in aliases and not mailbox.aliases:
            continue  # the common case: no alias on either side, so nothing to collide with
        for path, address in _declared(mailbox):
            key = address.lower()
            for account, how in carriers(key, own):
                other = account.address.lower()
                if how == "alias" and other in declared and key in released.get(other, set()):
                    continue  # moved: the same plan takes the alias away from the other managed account
                if how == "address" and retired_by_owner.get(other) == mailbox.owner.id and path != ("address",):
                    continue  # renamed: the same owner's old mailbox is retired, its address now an alias
                state = _("managed") if other in declared else _("unmanaged")
                message = (_("{address} is the address of the live account {account} "
                             "({state}, {dn}): an address belongs to one account; free it in the directory (or in "
                             "that account's declaration) first") if how == "address" else
                           _("{address} is an alias of the live account {account} "
                             "({state}, {dn}): an address belongs to one account; free it in the directory (or in "
                             "that account's declaration) first"))
                problems.append(Problem(
                    mailbox.source.file,
                    message.format(address=visible(address), account=visible(account.address), state=state,
                                   dn=visible(account.dn) or _("no DN")),
                    ("mailboxes", mailbox.source.index, *path), rule="address-owner", subject=mailbox.address))
    return problems
