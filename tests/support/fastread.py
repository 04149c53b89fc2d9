"""Twenty-three mailboxes of a real slapd, and a directory object over it, to compare both client libraries."""

from __future__ import annotations

from reconciler.directory.ldapserver import LdapDirectory
from reconciler.settings import DirectorySettings

NAMES = [
    "Nguyễn Văn An", "Trần Thị Bình", "Lê Hoàng Cường", "Phạm Thị Dung", "Hoàng Đức Giang",
    "Huỳnh Ngọc Hà", "Phan Thanh Hải", "Vũ Thị Hiếu", "Võ Văn Hùng", "Đặng Ngọc Dũng",
    "Bùi Thị Lan", "Đỗ Minh Lộc", "Hồ Thị Mận", "Ngô Quốc Nam", "Dương Thị Nhàn",
    "Lý Văn Ninh", "Đoàn Thị Sương", "Trương Công Tâm", "Đinh Xuân Thịnh", "Lương Thị Uyên",
    "Nguyễn Thị Yến", "Trần Đình Việt", "Lê Thị Ánh Tuyết",
]


def directory_ldif(base: str) -> str:
    records = []
    for n, name in enumerate(NAMES):
        family, given = name.split()[0], name.split()[-1]
        lines = [
            f"dn: uid=user{n:02d},{base}",
            "objectClass: inetOrgPerson",
            "objectClass: inetLocalMailRecipient",
            f"uid: user{n:02d}",
            f"mail: user{n:02d}@quangngai.gov.vn",
            f"cn: {name}",
            f"displayName: {name}",
            f"sn: {family}",
            f"givenName: {given}",
            f"ou: unit-{n % 3}",
            f"employeeNumber: QN-{n:06d}",
            "employeeType: personal",
            "userPassword: secret-not-read",
        ]
        lines += [f"mailLocalAddress: alias{k}.user{n:02d}@quangngai.gov.vn" for k in range(n % 4)]
        if n % 5 == 0:
            lines.append("mailRoutingAddress: vanthu@quangngai.gov.vn")
        if n % 3 == 1:
            lines.append(f"pwdEndTime: 2025{(n % 12) + 1:02d}15083000Z")
        records.append("\n".join(lines))
    # Not a mailbox: must not be returned by a search for inetOrgPerson.
    records.append(f"dn: cn=reconciler-state,{base}\nobjectClass: applicationProcess\ncn: reconciler-state\n"
                   "description: {}")
    return "\n\n".join(records) + "\n"


def directory_for(server, *, fast_read: bool, page_size: int = 1000, password: str | None = None,
                  base_dn: str | None = None, url: str | None = None, ca_file: str | None = None) -> LdapDirectory:
    settings = DirectorySettings(
        url=url or server.url, base_dn=base_dn or server.mailbox_base, ca_file=ca_file, page_size=page_size,
        timeout_seconds=5, bind_dn=server.admin_dn,
        bind_password=server.admin_password if password is None else password)
    return LdapDirectory(settings, fast_read=fast_read)
