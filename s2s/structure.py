"""Structuring: ``continue``, ``break`` and early ``return`` as flags and guards.

Entry point: ``structure(body, names, fn) -> body``.

A derivative's reverse sweep runs the statements of a loop iteration
backwards, so it must know which of them ran. After this pass:

- no ``continue``: the rest of an iteration sits in the branch that does
  not continue, or under a guard on a flag;
- ``break`` only as the last statement of a loop's body, as
  ``if <flag>: break``;
- one ``return``, at the end of the function.

Example::

    for i in range(n):                      stop = False
        if x[i] < 0:                        for i in range(n):
            continue                            cond1 = x[i] < 0
        s = s + x[i]                            if cond1:
        if s > 10:                  ->              pass
            break                               else:
                                                    s = s + x[i]
                                                    cond2 = s > 10
                                                    if cond2:
                                                        stop = True
                                                if stop:
                                                    break

A branch that always leaves takes the rest of the block into its sibling
branch; a flag is used only where some paths of a branch leave and others
do not.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field

from .anno import get_anno, set_anno
from .frontend import FunctionSource
from .names import NameAllocator


@dataclass
class Exits:
    """How a block ends: ``always`` when no path falls through to what
    follows it, ``flags`` set on the paths that leave."""

    always: bool = False
    flags: set[str] = field(default_factory=set)

    @property
    def maybe(self) -> bool:
        return bool(self.flags) or self.always


@dataclass
class Loop:
    skip: str  # set by `continue`: skip the rest of this iteration
    stop: str  # set by `break` and by `return`: leave the loop


class Structurer:
    def __init__(self, names: NameAllocator, fn: FunctionSource) -> None:
        self.names = names
        self.fn = fn
        self.loops: list[Loop] = []
        self.returned = names.fresh("returned")
        self.outputs: list[str] | None = None
        self.used: set[str] = set()  # flags some guard or check reads
        self.created: set[str] = {self.returned}

    # statements that leave ---------------------------------------------------

    def flag(self, name: str, origin: ast.stmt) -> ast.stmt:
        stmt = ast.Assign([ast.Name(name, ast.Store())], ast.Constant(True))
        return _flag(_located(stmt, origin))

    def leave_return(self, stmt: ast.Return) -> tuple[list[ast.stmt], Exits]:
        value = stmt.value
        elts = value.elts if isinstance(value, ast.Tuple) else [value]
        if self.outputs is None:
            base = [e.id if isinstance(e, ast.Name) else "out" for e in elts]
            self.outputs = [self.names.fresh(f"{b}_result" if len(elts) > 1 else "result") for b in base]
        if len(elts) != len(self.outputs):
            raise self.fn.error(stmt, f"{self.fn.name} returns tuples of different lengths", "return the same number of values everywhere")
        out = [_located(ast.Assign([ast.Name(o, ast.Store())], copy.deepcopy(e)), stmt) for o, e in zip(self.outputs, elts)]
        flags = {self.returned} | {loop.stop for loop in self.loops}
        out += [self.flag(f, stmt) for f in sorted(flags)]
        return out, Exits(always=True, flags=flags)

    # blocks --------------------------------------------------------------

    def block(self, stmts: list[ast.stmt], top: bool = False) -> tuple[list[ast.stmt], Exits]:
        """The structured block; ``top`` for the function's own body."""
        out: list[ast.stmt] = []
        for i, stmt in enumerate(stmts):
            rest = stmts[i + 1 :]
            if isinstance(stmt, ast.Continue):
                loop = self.loops[-1]
                return out + [self.flag(loop.skip, stmt)], Exits(always=True, flags={loop.skip})
            if isinstance(stmt, ast.Break):
                loop = self.loops[-1]
                return out + [self.flag(loop.stop, stmt)], Exits(always=True, flags={loop.stop})
            if isinstance(stmt, ast.Return):
                if top and not rest and self.outputs is None:
                    return out + [stmt], Exits()  # the one final return: nothing to do
                stmts_, exits = self.leave_return(stmt)
                return out + stmts_, exits
            if isinstance(stmt, ast.If):
                done, exits = self.if_(stmt, rest)
                out += done
                if exits is not None:
                    return out, exits
                continue
            if isinstance(stmt, (ast.For, ast.While)):
                loop_stmts, returns = self.loop(stmt)
                out += loop_stmts
                if returns:
                    guarded, exits = self.guarded(rest, {self.returned}, stmt)
                    return out + guarded, exits
                continue
            out.append(stmt)
        return out, Exits()

    def if_(self, stmt: ast.If, rest: list[ast.stmt]) -> tuple[list[ast.stmt], Exits | None]:
        """The structured ``if``; with ``Exits`` when it absorbed the rest of
        the block (then the caller stops), else ``None``."""
        body, body_exits = self.block(stmt.body)
        orelse, else_exits = self.block(stmt.orelse)
        new = _located(ast.If(stmt.test, body or [_located(ast.Pass(), stmt)], orelse), stmt)
        if not body_exits.maybe and not else_exits.maybe:
            return [new], None
        if body_exits.always and else_exits.always:
            return [new], Exits(always=True, flags=body_exits.flags | else_exits.flags)
        if body_exits.always and not else_exits.maybe:  # the rest runs only after the else branch
            rest_stmts, rest_exits = self.block(rest)
            new.orelse = orelse + rest_stmts
            return [new], Exits(always=rest_exits.always, flags=body_exits.flags | rest_exits.flags)
        if else_exits.always and not body_exits.maybe:
            rest_stmts, rest_exits = self.block(rest)
            new.body = body + rest_stmts
            return [new], Exits(always=rest_exits.always, flags=else_exits.flags | rest_exits.flags)
        flags = body_exits.flags | else_exits.flags
        guarded, rest_exits = self.guarded(rest, flags, stmt)
        return [new] + guarded, rest_exits

    def guarded(self, rest: list[ast.stmt], flags: set[str], origin: ast.stmt) -> tuple[list[ast.stmt], Exits]:
        """``rest`` under ``if not (flag or ...)``, when there is any rest."""
        rest_stmts, rest_exits = self.block(rest)
        if not rest_stmts:
            return [], Exits(flags=set(flags))
        self.used |= flags
        go_on = self.names.numbered("go_on")
        test = ast.UnaryOp(ast.Not(), _any(sorted(flags)))
        check = _flag(_located(ast.Assign([ast.Name(go_on, ast.Store())], _opaque(test)), origin))
        guard = _located(ast.If(ast.Name(go_on, ast.Load()), rest_stmts, []), origin)
        # the guard is skipped only on paths that already left
        return [check, guard], Exits(always=rest_exits.always, flags=set(flags) | rest_exits.flags)

    def loop(self, stmt: ast.For | ast.While) -> tuple[list[ast.stmt], bool]:
        """The structured loop (with its flags' initial values), and whether a
        ``return`` may leave it."""
        loop = Loop(self.names.numbered("skip"), self.names.numbered("stop"))
        self.created |= {loop.skip, loop.stop}
        self.loops.append(loop)
        try:
            body, exits = self.block(stmt.body)
        finally:
            self.loops.pop()
        flags = exits.flags
        before: list[ast.stmt] = []
        if loop.skip in flags:
            body.insert(0, _flag(_located(ast.Assign([ast.Name(loop.skip, ast.Store())], ast.Constant(False)), stmt)))
        if loop.stop in flags:
            self.used.add(loop.stop)
            before.append(_flag(_located(ast.Assign([ast.Name(loop.stop, ast.Store())], ast.Constant(False)), stmt)))
            body.append(_located(ast.If(ast.Name(loop.stop, ast.Load()), [_located(ast.Break(), stmt)], []), stmt))
        new = copy.copy(stmt)
        new.body = body or [_located(ast.Pass(), stmt)]
        return before + [_located(new, stmt)], self.returned in flags

    def run(self, body: list[ast.stmt]) -> list[ast.stmt]:
        out, exits = self.block(body, top=True)
        if self.outputs is None:
            if not out or not isinstance(out[-1], ast.Return):
                raise self.fn.error(out[-1] if out else self.fn.tree, f"{self.fn.name} does not end with `return <value>`", "end every path with `return <value>`")
            return out
        if not exits.always and not (out and isinstance(out[-1], ast.Return)):
            falls = self.fn.tree.body[-1]  # where control reaches the end of the function
            raise self.fn.error(falls, f"not every path of {self.fn.name} returns a value", "end every path with `return <value>`")
        origin = get_anno(out[-1], "origin") if out else None
        start = _flag(_located(ast.Assign([ast.Name(self.returned, ast.Store())], ast.Constant(False)), origin))
        value = ast.Tuple([ast.Name(o, ast.Load()) for o in self.outputs], ast.Load()) if len(self.outputs) > 1 else ast.Name(self.outputs[0], ast.Load())
        final = _located(ast.Return(value), origin)
        return [start] + out + [final]


def _any(flags: list[str]) -> ast.expr:
    names = [ast.Name(f, ast.Load()) for f in flags]
    return names[0] if len(names) == 1 else ast.BoolOp(ast.Or(), names)


def _opaque(e: ast.expr) -> ast.expr:
    set_anno(e, "opaque", True)
    return e


def _flag(stmt: ast.stmt) -> ast.stmt:
    set_anno(stmt, "flag", True)
    return stmt


def _located(stmt: ast.stmt, origin: ast.stmt | None) -> ast.stmt:
    origin = get_anno(origin, "origin", origin) if origin is not None else None
    if origin is not None:
        ast.copy_location(stmt, origin)
        set_anno(stmt, "origin", origin)
    return stmt


def _drop_unread_flags(body: list[ast.stmt], flags: set[str], used: set[str]) -> list[ast.stmt]:
    """Assignments to flags nothing reads (a branch that always leaves
    moved the rest into its sibling instead) are removed."""
    unread = flags - used

    def keep(stmt: ast.stmt) -> bool:
        return not (isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name) and stmt.targets[0].id in unread)

    def clean(stmts: list[ast.stmt]) -> list[ast.stmt]:
        out = []
        for stmt in stmts:
            if not keep(stmt):
                continue
            for name in ("body", "orelse"):
                if hasattr(stmt, name):
                    setattr(stmt, name, clean(getattr(stmt, name)) or ([] if name == "orelse" else [_located(ast.Pass(), stmt)]))
            out.append(stmt)
        return out

    return clean(body)


def structure(body: list[ast.stmt], names: NameAllocator, fn: FunctionSource) -> list[ast.stmt]:
    """The block with structured exits (see the module docstring)."""
    structurer = Structurer(names, fn)
    out = structurer.run(body)
    return _drop_unread_flags(out, structurer.created, _read_names(out))


def _read_names(body: list[ast.stmt]) -> set[str]:
    return {n.id for n in ast.walk(ast.Module(body=body, type_ignores=[])) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
