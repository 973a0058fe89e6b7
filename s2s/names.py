"""Fresh, deterministic names for generated code."""

from __future__ import annotations

import ast
import keyword
import re
from typing import Iterable


class NameAllocator:
    """Hands out identifiers that clash with none already taken.

    ``fresh("x_dot")`` gives ``x_dot`` when it is free, else ``x_dot2``,
    ``x_dot3``...; ``numbered("sum")`` gives ``sum1``, ``sum2``... Names
    depend only on the order of requests, so output is reproducible.
    """

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self.taken: set[str] = set(taken)

    def take(self, name: str) -> None:
        self.taken.add(name)

    def _free(self, name: str) -> bool:
        return name not in self.taken and not keyword.iskeyword(name) and name.isidentifier()

    def fresh(self, base: str) -> str:
        base = identifier(base)
        name, k = base, 2
        while not self._free(name):
            name, k = f"{base}{k}", k + 1
        self.taken.add(name)
        return name

    def numbered(self, base: str) -> str:
        base = identifier(base)
        k = 1
        while not self._free(f"{base}{k}"):
            k += 1
        name = f"{base}{k}"
        self.taken.add(name)
        return name


def identifier(text: str) -> str:
    """``text`` made into a valid identifier (``helpers.g`` -> ``helpers_g``)."""
    name = re.sub(r"\W", "_", text) or "_"
    return f"_{name}" if name[0].isdigit() else name


def names_in(tree: ast.AST) -> set[str]:
    """Every identifier a tree mentions: names, parameters, attributes' bases."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
    return found
