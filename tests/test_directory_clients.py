"""One LDAP client interface, one implementation per library, and no import cycle in directory/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from reconciler.directory.clients.interface import LdapClient
from reconciler.directory.clients.ldap3client import Ldap3Client
from reconciler.directory.clients.pythonldap import PythonLdapClient

PACKAGE = Path(__file__).resolve().parent.parent / "reconciler"


def imports_of(path: Path) -> set[str]:
    """Every reconciler module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("reconciler"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if module_path(candidate) else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("reconciler")}
    return found


def module_path(name: str) -> Path | None:
    base = PACKAGE.parent.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def test_no_import_cycle_in_the_directory_package():
    graph: dict[str, set[str]] = {}
    todo = [".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
            for p in (PACKAGE / "directory").rglob("*.py")]
    while todo:
        name = todo.pop()
        if name in graph or (path := module_path(name)) is None:
            continue
        graph[name] = imports_of(path)
        todo += list(graph[name])

    def cycle_from(start: str) -> list[str] | None:
        stack = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, trail = stack.pop()
            for dep in graph.get(node, ()):
                if dep == start:
                    return [*trail, dep]
                if dep not in seen:
                    seen.add(dep)
                    stack.append((dep, [*trail, dep]))
        return None

    cycles = [c for name in graph if name.startswith("reconciler.directory") and (c := cycle_from(name))]
    assert cycles == []


@pytest.mark.parametrize("implementation", [Ldap3Client, PythonLdapClient])
def test_each_library_implements_the_whole_interface(implementation):
    wanted = {name for name in vars(LdapClient) if not name.startswith("_")} - {"name"}
    assert wanted <= set(dir(implementation))
    assert implementation.name in ("ldap3", "python-ldap")


def test_the_directory_uses_no_private_function_of_a_client():
    source = (PACKAGE / "directory" / "ldapserver.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    private = [f"{node.value.id}.{node.attr}" for node in ast.walk(tree)
               if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
               and node.value.id in ("pythonldap", "ldap3client") and node.attr.startswith("_")]
    assert private == []
