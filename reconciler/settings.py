"""reconciler.yaml: the settings, validated by their own schema, plus environment overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path, PurePath

from reconciler import clock as clocks
from reconciler.declarations import schema, yamlsource
from reconciler.i18n import _
from reconciler.problems import InputError, Problem

DEFAULT_PUBLIC_MAIL_DOMAINS = (
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.com.vn", "hotmail.com", "outlook.com",
    "live.com", "msn.com", "icloud.com", "aol.com",
)
#: Sign-up and notification senders of social networks and forums (subdomains included); the README
#: ("Review") says how each was checked against the senders these services really use.
DEFAULT_SIGNUP_SENDER_DOMAINS = (
    "facebookmail.com", "metamail.com", "instagram.com", "x.com", "twitter.com", "tiktok.com",
    "linkedin.com", "zalo.me", "pinterest.com", "redditmail.com", "discord.com", "quora.com",
)


@dataclass(frozen=True, slots=True)
class DirectorySettings:
    url: str
    base_dn: str
    profile: str = "openldap"
    ca_file: str | None = None
    page_size: int = 1000
    timeout_seconds: float = 10.0
    #: DNs and LDAP filters (strings starting with '(') of entries kept out of every report
    ignore: tuple[str, ...] = ()
    bind_dn: str | None = field(default=None, repr=False)
    bind_password: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class PolicySettings:
    public_mail_domains: tuple[str, ...] = DEFAULT_PUBLIC_MAIL_DOMAINS
    removal_grace_days: int = 30
    max_disable_fraction: float = 0.10
    threshold_min_existing: int = 20
    #: updates allowed per apply, as a share of the accounts managed before it (octoDNS's update threshold)
    max_update_fraction: float = 0.30
    #: max_disable_fraction also holds over the applies recorded in this many days (0: per apply only)
    threshold_window_days: int = 7


@dataclass(frozen=True, slots=True)
class ReviewSettings:
    signup_sender_domains: tuple[str, ...] = DEFAULT_SIGNUP_SENDER_DOMAINS


@dataclass(frozen=True, slots=True)
class Settings:
    domains: tuple[str, ...]
    directory: DirectorySettings
    root: Path = Path(".")
    mailboxes_dir: str = "mailboxes"
    policy: PolicySettings = PolicySettings()
    apply_branch: str = "main"
    file: str = "reconciler.yaml"
    review: ReviewSettings = ReviewSettings()
    #: "today", expiry and every displayed time (an IANA zone name, checked on load)
    timezone: str = clocks.DEFAULT_TIMEZONE
    #: vi | en, or None when the file does not say (then the locale decides, else vi: reconciler.i18n)
    language: str | None = None

    @property
    def mailboxes_path(self) -> Path:
        return self.root / self.mailboxes_dir

    def clock(self, at: datetime | None = None) -> clocks.Clock:
        return clocks.Clock(self.timezone, at)


def _present(data: Mapping[str, object], *keys: str) -> dict[str, object]:
    """The keys the file sets: the dataclasses above hold every default, written once."""
    return {key: data[key] for key in keys if key in data}


def from_data(data: dict, root: Path, file: str) -> Settings:
    """Build Settings from schema-valid data."""
    directory = data["directory"]
    policy = data.get("policy", {})
    directory_args = _present(directory, "url", "base_dn", "profile", "ca_file", "page_size")
    if "timeout_seconds" in directory:
        directory_args["timeout_seconds"] = float(directory["timeout_seconds"])
    if "ignore" in directory:
        directory_args["ignore"] = tuple(directory["ignore"])
    policy_args = _present(policy, "removal_grace_days", "threshold_min_existing", "threshold_window_days")
    if "max_update_fraction" in policy:
        policy_args["max_update_fraction"] = float(policy["max_update_fraction"])
    if "public_mail_domains" in policy:
        policy_args["public_mail_domains"] = tuple(d.lower() for d in policy["public_mail_domains"])
    if "max_disable_fraction" in policy:
        policy_args["max_disable_fraction"] = float(policy["max_disable_fraction"])
    review_args = {}
    if "signup_sender_domains" in data.get("review", {}):
        review_args["signup_sender_domains"] = tuple(d.lower() for d in data["review"]["signup_sender_domains"])
    top = _present(data, "mailboxes_dir", "timezone")
    if "branch" in data.get("apply", {}):
        top["apply_branch"] = data["apply"]["branch"]
    return Settings(
        domains=tuple(d.lower() for d in data["domains"]),
        directory=DirectorySettings(**directory_args),  # type: ignore[arg-type]
        root=root,
        policy=PolicySettings(**policy_args),  # type: ignore[arg-type]
        file=file,
        review=ReviewSettings(**review_args),
        **top,  # type: ignore[arg-type]
        language=data.get("language"),
    )


def load(path: Path) -> Settings:
    """Read and check a settings file; raises InputError naming file, line and field."""
    file = str(path)
    if not path.exists():
        raise InputError(Problem(file, _("settings file not found (run from the repository root or give "
                                         "--config PATH)"), rule="io"))
    doc = yamlsource.load(path, file)
    problems = schema.check(doc, schema.SETTINGS_SCHEMA)
    if problems:
        raise InputError(problems)
    assert isinstance(doc.data, dict)
    problems = [doc.problem(("directory", "ignore", i), _("not an LDAP filter: {reason}").format(reason=reason),
                            rule="schema")
                for i, reason in ignore_filter_problems(doc.data["directory"].get("ignore", ()))]
    if problems:
        raise InputError(problems)
    if "timezone" in doc.data:
        try:
            clocks.zone(doc.data["timezone"])
        except ValueError as err:
            raise InputError(doc.problem(("timezone",), str(err), rule="schema")) from None
    mailboxes_dir = doc.data.get("mailboxes_dir", "mailboxes")
    reason = mailboxes_dir_problem(path.parent, mailboxes_dir)
    if reason:
        raise InputError(doc.problem(("mailboxes_dir",), reason, rule="mailboxes-dir")
                         if "mailboxes_dir" in doc.data else Problem(file, f"mailboxes_dir: {reason}",
                                                                     rule="mailboxes-dir"))
    return from_data(doc.data, path.parent, file)


def ignore_filter_problems(ignore: list[str]) -> list[tuple[int, str]]:
    """(index, reason) of each `directory.ignore` filter that does not parse."""
    from reconciler.directory.ldapfilter import FilterError, compile_filter

    found = []
    for i, item in enumerate(ignore):
        if item.strip().startswith("("):
            try:
                compile_filter(item)
            except FilterError as err:
                found.append((i, str(err)))
    return found


def mailboxes_dir_problem(root: Path, mailboxes_dir: str) -> str | None:
    """Why the unit files' folder is not a plain folder inside the repository, or None.

    The audit (history, report, --base) reads the unit files from git; a folder outside the work tree,
    or reached through a symbolic link, would let the directory change with no trace in git.
    """
    relative = PurePath(mailboxes_dir)
    if relative.is_absolute() or ".." in relative.parts:
        return _("'{folder}' is not inside the repository: use a relative path without '..' "
                 "(git must see every unit file)").format(folder=mailboxes_dir)
    folder = root
    for part in relative.parts:
        folder = folder / part
        if folder.is_symlink():
            return _("'{folder}' is a symbolic link: the unit files must be plain files inside the repository "
                     "(git stores the link, not the files)").format(folder=folder)
    try:
        inside = (root / relative).resolve().is_relative_to(root.resolve())
    except OSError:
        return None
    if not inside:
        return _("'{folder}' leads outside the repository: the unit files must be inside it").format(
            folder=mailboxes_dir)
    return None


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
            raise InputError(Problem(password_file, _("RECONCILER_BIND_PASSWORD_FILE cannot be read: {reason}").format(
                reason=err.strerror), rule="io")) from None
    directory = replace(
        directory,
        url=env.get("RECONCILER_LDAP_URL") or directory.url,
        ca_file=env.get("RECONCILER_CA_FILE") or directory.ca_file,
        bind_dn=env.get("RECONCILER_BIND_DN") or directory.bind_dn,
        bind_password=password if password is not None else directory.bind_password,
    )
    return replace(settings, directory=directory)
