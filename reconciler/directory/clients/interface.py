"""The LDAP client interface both client libraries implement, and the result names the reconciler acts on."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

from reconciler.directory.base import DirectoryError, Entry, OnDone, Operation

#: RFC 4511 result codes the reconciler acts on, by name
SUCCESS = "success"
REFERRAL = "referral"
NO_SUCH_OBJECT = "noSuchObject"
ENTRY_ALREADY_EXISTS = "entryAlreadyExists"
ASSERTION_FAILED = "assertionFailed"
UNWILLING_TO_PERFORM = "unwillingToPerform"

#: the code of each name the reconciler uses (and a few for messages)
RESULT_CODES: dict[int, str] = {
    0: SUCCESS, 10: REFERRAL, 32: NO_SUCH_OBJECT, 49: "invalidCredentials", 50: "insufficientAccessRights",
    53: UNWILLING_TO_PERFORM, 65: "objectClassViolation", 68: ENTRY_ALREADY_EXISTS, 122: ASSERTION_FAILED,
}

#: RFC 3296: act on referral objects themselves instead of returning a referral
MANAGE_DSA_IT = "2.16.840.1.113730.3.4.2"
#: RFC 4528: carry out the operation only if the entry matches a filter
ASSERTION = "1.3.6.1.1.12"


class LdapResultError(DirectoryError):
    """The server answered an operation with a result other than success."""

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message)
        self.name = name


class ConnectionLost(DirectoryError):
    """The connection failed under a single operation; whether it was carried out is unknown."""


class LdapClient(Protocol):
    """What LdapDirectory needs from a client library. ``manage_dsa_it`` sends the ManageDsaIT control;
    ``assertion`` is an RFC 4515 filter the entry must match for the operation to be carried out
    (the result is ``assertionFailed`` otherwise)."""

    name: str

    def paged_search(self, base: str, search_filter: str, attributes: Sequence[str]) -> Iterator[Entry]:
        """Entries one level under ``base``, page by page, on a connection of its own."""
        ...

    def pipelined_write(self, operations: Iterable[Operation], on_done: OnDone, window: int) -> None:
        """Up to ``window`` writes in flight on a connection of its own; outcomes in submission order.
        Outcomes the connection lost are ``UnknownOutcome`` messages."""
        ...

    def read(self, dn: str, attributes: Sequence[str], *, manage_dsa_it: bool = True) -> Entry | None:
        """One entry (a base search) on the long-lived connection; None when there is no such entry."""
        ...

    def add(self, dn: str, attrs: dict[str, list[str]], *, manage_dsa_it: bool = True) -> None: ...

    def modify(self, dn: str, replace: dict[str, list[str]], *, assertion: str | None = None,
               manage_dsa_it: bool = True) -> None: ...

    def delete(self, dn: str, *, assertion: str | None = None, manage_dsa_it: bool = True) -> None: ...

    def close(self) -> None: ...


def escape_filter_value(value: str) -> str:
    """RFC 4515 escaping of a value inside a filter."""
    return (value.replace("\\", "\\5c").replace("*", "\\2a").replace("(", "\\28").replace(")", "\\29")
            .replace("\0", "\\00"))
