"""Loading a generated module: its functions, bound to the user's code.

Entry point: ``load_module(text, filename, owners) -> dict[str, function]``.

A generated function reads the user's module globals (data arrays such as
``x``) by name, when it runs, exactly as the primal does. So each function
is bound to the globals dictionary of the user function it differentiates,
and to that function's closure cells; names the generated module itself
binds (numpy, runtime helpers, the other generated functions) reach it as
closure cells of its own, so they never clash with, or leak into, the
user's namespace.
"""

from __future__ import annotations

import ast
import linecache
import types
from typing import Callable

FACTORY = "__s2s_factory__"


def load_module(text: str, filename: str, owners: dict[str, types.FunctionType]) -> dict[str, Callable]:
    """Compile ``text`` and bind each top-level function ``name`` to the
    globals and closure of ``owners[name]``."""
    module = ast.parse(text, filename)
    defined = [s.name for s in module.body if isinstance(s, ast.FunctionDef)]
    user_cells = {v for f in owners.values() for v in f.__code__.co_freevars}
    body: list[ast.stmt] = [ast.Assign([ast.Name(v, ast.Store())], ast.Constant(None)) for v in sorted(user_cells)]
    body += [s for s in module.body if not _is_bindings(s)]
    body.append(ast.Return(ast.Dict([ast.Constant(n) for n in defined], [ast.Name(n, ast.Load()) for n in defined])))
    factory = ast.FunctionDef(FACTORY, ast.arguments([], [], None, [], [], None, []), body, [], None, type_params=[])
    code = compile(ast.fix_missing_locations(ast.Module([factory], [])), filename, "exec")
    _remember_source(filename, text)
    scratch: dict = {"__name__": f"s2s.generated.{FACTORY}"}
    exec(code, scratch)  # noqa: S102 - our own generated code
    made: dict[str, types.FunctionType] = scratch[FACTORY]()
    bound = {name: _rebind(fn, owners[name]) for name, fn in made.items()}
    for fn in bound.values():
        for var, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            if var in bound:
                cell.cell_contents = bound[var]
    return bound


def _rebind(fn: types.FunctionType, owner: types.FunctionType) -> types.FunctionType:
    owner_cells = dict(zip(owner.__code__.co_freevars, owner.__closure__ or ()))
    closure = tuple(owner_cells.get(var, cell) for var, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    rebound = types.FunctionType(fn.__code__, owner.__globals__, fn.__name__, None, closure or None)
    rebound.__qualname__ = fn.__name__
    rebound.__module__ = owner.__module__
    return rebound


def _is_bindings(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "S2S_BINDINGS" for t in stmt.targets)


def _remember_source(filename: str, text: str) -> None:
    """Let tracebacks through generated code show its lines."""
    if filename.startswith("<"):
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
