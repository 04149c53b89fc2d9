"""Mutation testing of the safety code: change it on purpose, one change at a time, and see a test fail.

Usage: python scripts/mutate.py FILE [FILE ...] --tests TEST [TEST ...]

For every comparison (< <= > >= == != is, is not, in, not in), boolean operator (and/or), `not`,
True/False constant, and `if` test (forced true, or false: "skip the check") in the given files, a
copy of the package is made with that one change, and the tests run against the copy (it comes first
on PYTHONPATH, the work tree is never modified). A mutant is killed when the tests fail. The score is
killed / all; the survivors are listed with their line so that each one is either covered by a new
test or explained as equivalent.

mutmut and cosmic-ray were considered; this script is small, needs nothing outside the standard
library, and never writes into the work tree (an interrupted run leaves no mutated source behind).
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "reconciler"

_FLIP_COMPARE: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In,
}
_SYMBOL = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is",
           ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}


@dataclass(frozen=True)
class Mutant:
    file: Path
    line: int
    description: str
    source: str


class _Mutator(ast.NodeTransformer):
    """Applies the ``target``-th possible mutation of a tree (counting in walk order)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.seen = 0
        self.applied: tuple[int, str] | None = None

    def _hit(self, node: ast.AST, description: str) -> bool:
        hit = self.seen == self.target
        self.seen += 1
        if hit:
            self.applied = (getattr(node, "lineno", 0), description)
        return hit

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        for i, op in enumerate(node.ops):
            flipped = _FLIP_COMPARE.get(type(op))
            if flipped and self._hit(node, f"{_SYMBOL[type(op)]} -> {_SYMBOL[flipped]}"):
                node.ops[i] = flipped()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        if self._hit(node, f"{type(node.op).__name__.lower()} -> {type(other).__name__.lower()}"):
            node.op = other
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and self._hit(node, "not x -> x"):
            return node.operand
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, bool) and self._hit(node, f"{node.value} -> {not node.value}"):
            return ast.copy_location(ast.Constant(not node.value), node)
        return node

    def visit_If(self, node: ast.If) -> ast.AST:
        self.generic_visit(node)
        for forced in (True, False):
            if self._hit(node, f"if ... -> if {forced}" + (" (check skipped)" if not forced else "")):
                node.test = ast.copy_location(ast.Constant(forced), node.test)
        return node


def mutants(file: Path) -> Iterator[Mutant]:
    text = file.read_text(encoding="utf-8")
    index = 0
    while True:
        mutator = _Mutator(index)
        tree = mutator.visit(ast.parse(text))
        if mutator.applied is None:
            return
        ast.fix_missing_locations(tree)
        line, description = mutator.applied
        yield Mutant(file, line, description, ast.unparse(tree))
        index += 1


def run_tests(package_copy: Path, tests: list[str]) -> bool:
    """True when the tests pass against the copy (the mutant survived)."""
    env = {**os.environ, "PYTHONPATH": f"{package_copy}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "PYTHONDONTWRITEBYTECODE": "1"}
    # Run from the copy: `python -m` puts the current folder first on sys.path, so the copy is imported.
    done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                           *(str(ROOT / t) for t in tests)],
                          cwd=package_copy, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return done.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--tests", nargs="+", required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mutate-") as tmp:
        copy = Path(tmp)
        shutil.copytree(ROOT / PACKAGE, copy / PACKAGE, symlinks=False,
                        ignore=shutil.ignore_patterns("__pycache__"))
        if not run_tests(copy, args.tests):
            print("error: the tests fail without any mutation; fix them first", file=sys.stderr)
            return 1
        total = killed = 0
        survivors: list[Mutant] = []
        for file in args.files:
            relative = file.resolve().relative_to(ROOT)
            target = copy / relative
            original = target.read_text(encoding="utf-8")
            try:
                for mutant in mutants(ROOT / relative):
                    target.write_text(mutant.source, encoding="utf-8")
                    total += 1
                    if run_tests(copy, args.tests):
                        survivors.append(mutant)
                        print(f"survived  {relative}:{mutant.line}: {mutant.description}", flush=True)
                    else:
                        killed += 1
                        print(f"killed    {relative}:{mutant.line}: {mutant.description}", flush=True)
            finally:
                target.write_text(original, encoding="utf-8")
    elapsed = time.perf_counter() - started
    score = killed / total if total else 1.0
    print(f"mutation score: {killed}/{total} killed ({score:.0%}) in {elapsed:.0f} s; "
          f"{len(survivors)} survived")
    return 0 if not survivors else 2


if __name__ == "__main__":
    sys.exit(main())
