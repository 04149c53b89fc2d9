"""Directory backends: a real LDAP server, or the embedded LDIF file."""

from __future__ import annotations

from pathlib import Path

from reconciler.directory.base import Directory, DirectoryError
from reconciler.i18n import _
from reconciler.settings import Settings


def open_directory(settings: Settings, *, insecure: bool = False) -> Directory:
    url = settings.directory.url
    if url.startswith("ldif:"):
        from reconciler.directory.ldiffile import LdifDirectory

        path = Path(url.removeprefix("ldif:"))
        if not path.is_absolute():
            path = settings.root / path
        return LdifDirectory(path, settings.directory.base_dn)
    if url.startswith(("ldap://", "ldaps://")):
        from reconciler.directory.ldapserver import LdapDirectory

        return LdapDirectory(settings.directory, insecure=insecure)
    raise DirectoryError(_("directory url '{url}' must start with ldif:, ldap:// or ldaps://").format(url=url))


__all__ = ["Directory", "DirectoryError", "open_directory"]
