"""Where the directory server is and how we may talk to it, decided from the settings alone.

Connections are encrypted: ``ldaps://``, or ``ldap://`` upgraded with StartTLS when a CA file is
set (``directory.ca_file`` or ``RECONCILER_CA_FILE``). A simple bind in clear text is only allowed to
a loopback address (a test server) or with ``--insecure``; anything else is refused before a
connection is opened. Both client libraries follow these rules.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from reconciler.directory.base import DirectoryError
from reconciler.i18n import _
from reconciler.settings import DirectorySettings


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    use_ssl: bool

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host.strip("[]")).is_loopback
        except ValueError:
            return False

    def describe(self) -> str:
        return f"{'ldaps' if self.use_ssl else 'ldap'}://{self.host}:{self.port}"


def parse_url(url: str) -> Endpoint:
    parsed = urlparse(url)
    if parsed.scheme not in ("ldap", "ldaps") or not parsed.hostname:
        raise DirectoryError(_("directory url '{url}' is not ldap://host[:port] or ldaps://host[:port]").format(url=url))
    use_ssl = parsed.scheme == "ldaps"
    try:
        port = parsed.port or (636 if use_ssl else 389)
    except ValueError:
        raise DirectoryError(_("directory url '{url}' has an invalid port").format(url=url)) from None
    return Endpoint(parsed.hostname, port, use_ssl)


def uses_start_tls(endpoint: Endpoint, ca_file: str | None) -> bool:
    """ldap:// is upgraded with StartTLS when a CA file says whom to trust, and stays clear text otherwise."""
    return not endpoint.use_ssl and bool(ca_file)


def clear_text_refusal(endpoint: Endpoint, ca_file: str | None, insecure: bool) -> str | None:
    """Why the bind password must not be sent, or None; decided from the settings, before any connection."""
    if endpoint.use_ssl or uses_start_tls(endpoint, ca_file) or endpoint.loopback or insecure:
        return None
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    return _("refusing to send the bind password in clear text to {url}: use ldaps://, "
             "or set directory.ca_file or RECONCILER_CA_FILE for StartTLS, or pass --insecure").format(
        url=f"ldap://{host}:{endpoint.port}")


def check_ca_file(path: str) -> None:
    """A CA file that cannot be used is named before any connection (not as an obscure TLS error later)."""
    where = _("CA file {path} (directory.ca_file or RECONCILER_CA_FILE)").format(path=path)
    try:
        pem = Path(path).read_bytes()
    except OSError as err:
        raise DirectoryError(_("{where} cannot be read: {reason}").format(where=where, reason=err.strerror)) from None
    if b"-----BEGIN CERTIFICATE-----" not in pem:
        raise DirectoryError(_("{where} holds no PEM certificate").format(where=where))
    try:
        ssl.create_default_context(cafile=path)
    except (ssl.SSLError, ValueError):
        raise DirectoryError(_("{where} holds no valid PEM certificate").format(where=where)) from None


@dataclass(frozen=True, slots=True)
class Connection:
    """Everything a client needs to open a bound connection; checked when it is built."""

    settings: DirectorySettings
    endpoint: Endpoint
    insecure: bool = False

    @property
    def start_tls(self) -> bool:
        return uses_start_tls(self.endpoint, self.settings.ca_file)

    @property
    def encrypted(self) -> bool:
        return self.endpoint.use_ssl or self.start_tls

    def describe(self) -> str:
        return self.endpoint.describe()

    def check(self) -> None:
        """Credentials present and the clear-text rule kept: checked again before every connection."""
        settings = self.settings
        if not settings.bind_dn or settings.bind_password is None:
            raise DirectoryError(_("no directory credentials: set RECONCILER_BIND_DN and RECONCILER_BIND_PASSWORD "
                                   "(or RECONCILER_BIND_PASSWORD_FILE)"))
        refusal = clear_text_refusal(self.endpoint, settings.ca_file, self.insecure)
        if refusal:
            raise DirectoryError(refusal)
