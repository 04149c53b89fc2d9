"""Unit files for tests: a few mailboxes of one unit, written the way the IT centre writes them."""

from __future__ import annotations

#: a password an administrator sets by hand in tests (never a real one)
ADMIN_RESET = "Quan-tri-dat-lai-1"


def unit_file(mailboxes: list[dict], unit_id: str = "so-tttt") -> str:
    lines = ["unit:", f"  id: {unit_id}", "  name: Sở Thông tin và Truyền thông", "mailboxes:"]
    for m in mailboxes:
        lines += [
            f"  - address: {m['address']}",
            f"    name: {m.get('name', 'Nguyễn Văn An')}",
            f"    kind: {m.get('kind', 'personal')}",
            f"    owner: {{id: {m.get('owner', 'QN-' + m['address'].split('@')[0])}, name: Nguyễn Văn An}}",
            f"    status: {m.get('status', 'active')}",
        ]
        if m.get("aliases"):
            lines.append(f"    aliases: [{', '.join(m['aliases'])}]")
        if m.get("forward_to"):
            lines.append(f"    forward_to: [{', '.join(m['forward_to'])}]")
    return "\n".join(lines) + "\n"


def people(n: int, **overrides) -> list[dict]:
    return [{"address": f"user{i:02d}@quangngai.gov.vn", **overrides} for i in range(n)]


def one_mailbox(status: str, address: str = "annv@quangngai.gov.vn") -> str:
    """A unit file with Nguyễn Văn An's one mailbox in ``status``."""
    return ("unit:\n  id: so-tttt\n  name: Sở Thông tin và Truyền thông\nmailboxes:\n"
            f"  - address: {address}\n    name: Nguyễn Văn An\n    kind: personal\n"
            f"    owner: {{id: QN-1, name: Nguyễn Văn An}}\n    status: {status}\n")
