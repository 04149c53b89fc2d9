"""Hypothesis strategies for declared mailboxes and live accounts (the diff's convergence properties)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from reconciler.model import Account, Kind, Mailbox, Status

from .model import live_of, mailbox

addresses = st.sampled_from([f"u{i}@quangngai.gov.vn" for i in range(8)])
names = st.sampled_from(["Nguyễn Văn An", "Trần Thị Bình", "Lê Đức", "Phạm Ngọc Ánh Tuyết"])
alias_lists = st.lists(st.sampled_from([f"a{i}@quangngai.gov.vn" for i in range(4)]), unique=True, max_size=2)


@st.composite
def mailboxes(draw) -> Mailbox:
    return mailbox(
        draw(addresses), draw(st.sampled_from(list(Status))), name=draw(names),
        kind=draw(st.sampled_from(list(Kind))), owner=draw(st.sampled_from(["QN-1", "QN-2"])),
        unit=draw(st.sampled_from(["so-tttt", "so-noi-vu"])), aliases=tuple(draw(alias_lists)),
        forward_to=tuple(draw(st.lists(st.just("f@quangngai.gov.vn"), max_size=1))),
    )


@st.composite
def live_accounts(draw) -> list[Account]:
    result = []
    for address in draw(st.lists(addresses, unique=True, max_size=8)):
        m = draw(mailboxes())
        disabled = draw(st.one_of(st.none(), st.integers(0, 90)))
        result.append(live_of(replace(m, address=address), disabled))
    return result
