"""Official mailboxes as code: YAML declarations reconciled with an LDAP mail directory."""

__version__ = "0.1.0"
