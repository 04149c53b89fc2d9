"""reconciler.yaml: the settings, validated by their own schema, plus environment overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from reconciler import clock as clocks
from reconciler.declarations import schema, yamlsource
from reconciler.problems import InputError, Problem

DEFAULT_PUBLIC_MAIL_DOMAINS = (
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.com.vn", "hotmail.com", "outlook.com",
    "live.com", "msn.com", "icloud.com", "aol.com",
)


@dataclass(frozen=True, slots=True)
class DirectorySettings:
    url: str
    base_dn: str
    profile: str = "openldap"
    ca_file: str | None = None
    page_size: int = 1000
    timeout_seconds: float = 10.0
    bind_dn: str | None = field(default=None, repr=False)
    bind_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class PolicySettings:
    public_mail_domains: tuple[str, ...] = DEFAULT_PUBLIC_MAIL_DOMAINS
    removal_grace_days: int = 30
    max_disable_fraction: float = 0.10
    threshold_min_existing: int = 20


@dataclass(frozen=True, slots=True)
class Settings:
    domains: tuple[str, ...]
    directory: DirectorySettings
    root: Path = Path(".")
    mailboxes_dir: str = "mailboxes"
    policy: PolicySettings = PolicySettings()
    apply_branch: str = "main"
    file: str = "reconciler.yaml"
    #: "today", expiry and every displayed time (an IANA zone name, checked on load)
    timezone: str = clocks.DEFAULT_TIMEZONE
    #: vi | en: the language of messages
    language: str = "vi"

    @property
    def mailboxes_path(self) -> Path:
        return self.root / self.mailboxes_dir

    def clock(self, at: datetime | None = None) -> clocks.Clock:
        return clocks.Clock(self.timezone, at)


def from_data(data: dict, root: Path, file: str) -> Settings:
    """Build Settings from schema-valid data."""
    directory = data["directory"]
    policy = data.get("policy", {})
    return Settings(
        domains=tuple(d.lower() for d in data["domains"]),
        directory=DirectorySettings(
            url=directory["url"],
            base_dn=directory["base_dn"],
            profile=directory.get("profile", "openldap"),
            ca_file=directory.get("ca_file"),
            page_size=directory.get("page_size", 1000),
            timeout_seconds=float(directory.get("timeout_seconds", 10)),
        ),
        root=root,
        mailboxes_dir=data.get("mailboxes_dir", "mailboxes"),
        policy=PolicySettings(
            public_mail_domains=tuple(
                d.lower() for d in policy.get("public_mail_domains", DEFAULT_PUBLIC_MAIL_DOMAINS)
            ),
            removal_grace_days=policy.get("removal_grace_days", 30),
            max_disable_fraction=float(policy.get("max_disable_fraction", 0.10)),
            threshold_min_existing=policy.get("threshold_min_existing", 20),
        ),
        apply_branch=data.get("apply", {}).get("branch", "main"),
        file=file,
        timezone=data.get("timezone", clocks.DEFAULT_TIMEZONE),
        language=data.get("language", "vi"),
    )


def load(path: Path) -> Settings:
    """Read and check a settings file; raises InputError naming file, line and field."""
    file = str(path)
    if not path.exists():
        raise InputError(Problem(file, "settings file not found (run from the repository root or give "
                                       "--config PATH)", rule="io"))
    doc = yamlsource.load(path, file)
    problems = schema.check(doc, schema.SETTINGS_SCHEMA)
    if problems:
        raise InputError(problems)
    assert isinstance(doc.data, dict)
    if "timezone" in doc.data:
        try:
            clocks.zone(doc.data["timezone"])
        except ValueError as err:
            raise InputError(doc.problem(("timezone",), str(err), rule="schema")) from None
    return from_data(doc.data, path.parent, file)


def with_environment(settings: Settings, env: Mapping[str, str] = os.environ) -> Settings:
    """Apply RECONCILER_* overrides: where CI keeps the directory's address and credentials."""
    directory = settings.directory
    # An empty variable (a CI secret that is not set) counts as unset.
    password = env.get("RECONCILER_BIND_PASSWORD") or None
    password_file = env.get("RECONCILER_BIND_PASSWORD_FILE")
    if password is None and password_file:
        try:
            password = Path(password_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as err:
            raise InputError(Problem(password_file, f"RECONCILER_BIND_PASSWORD_FILE cannot be read: "
                                                    f"{err.strerror}", rule="io")) from None
    directory = replace(
        directory,
        url=env.get("RECONCILER_LDAP_URL") or directory.url,
        ca_file=env.get("RECONCILER_CA_FILE") or directory.ca_file,
        bind_dn=env.get("RECONCILER_BIND_DN") or directory.bind_dn,
        bind_password=password if password is not None else directory.bind_password,
    )
    return replace(settings, directory=directory)
