"""A program: the function being differentiated and every user function it
calls, each normalized once."""

from __future__ import annotations

import ast

from .activity import Analyzer
from .frontend import FunctionSource
from .normalize import normalize


class Program:
    def __init__(self, entry: FunctionSource) -> None:
        self.entry = entry
        self.functions: dict[object, FunctionSource] = {entry.identity: entry}
        self._normal: dict[object, ast.FunctionDef] = {}
        self.analyzer = Analyzer(self)

    def normal_form(self, fn: FunctionSource) -> ast.FunctionDef:
        tree = self._normal.get(fn.identity)
        if tree is None:
            self.functions.setdefault(fn.identity, fn)
            tree = self._normal[fn.identity] = normalize(fn)
        return tree

    def is_normalized(self, fn: FunctionSource) -> bool:
        return fn.identity in self._normal

    def sources(self) -> list[FunctionSource]:
        """Every function normalized so far, the entry first."""
        return [self.functions[i] for i in self._normal]
