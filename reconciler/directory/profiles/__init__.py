"""Directory profiles: how a mailbox maps to one directory flavour."""
