"""The audit trail: git revisions, provenance, apply records (git notes), history and reports."""
