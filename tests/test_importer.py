"""Unit files written by import load back as the same values (YAML indicators quoted)."""

from __future__ import annotations

import yaml

from reconciler.declarations.importer import unit_files
from reconciler.model import Account


def test_imported_values_round_trip_through_yaml():
    names = ["&Co", "@x", "- dash", "yes", "Nguyễn Văn An", "Lê: Văn", "#tag", ""]
    accounts = [Account(f"u{i}@quangngai.gov.vn", {"unit": "so-tttt", "kind": "personal", "owner": "QN-1",
                                                    "aliases": [], "forward_to": []}, name=name)
                for i, name in enumerate(names)]
    (text,) = unit_files(accounts).values()
    loaded = yaml.safe_load(text)
    assert [m["name"] for m in loaded["mailboxes"]] == names
