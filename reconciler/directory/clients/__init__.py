"""One small LDAP client interface, two implementations: python-ldap (libldap, C) and ldap3 (pure Python).

``LdapDirectory`` (directory/ldapserver.py) speaks only this interface; markers, the lock and the
removal re-check are written once on top of it. Each implementation opens its own connections
with the same security rules (clients/endpoint.py), never chases a referral, and reports the same
one-line errors and the same RFC 4511 result names.
"""
