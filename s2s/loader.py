"""Loading a generated module: its functions, bound to the user's code.

Entry point: ``load_module(text, filename, info, owners) -> dict[str, function]``.

A generated function reads the user's module globals (data arrays such as
``x``) by name, when it runs, exactly as the primal does. So each function
is bound to the globals dictionary of the user function it differentiates,
and to that function's closure cells; names the generated module itself
binds (numpy, runtime helpers, the other generated functions) reach it as
closure cells of its own, so they never clash with, or leak into, the
user's namespace.

What s2s needs to know to call a module is written in the module itself, as
its last statement ``S2S_MODULE = {...}`` (a ``ModuleInfo``): a module read
back from the disk cache is used without generating anything again.
"""

from __future__ import annotations

import ast
import linecache
import re
import traceback
import types
from dataclasses import dataclass, field
from typing import Any, Callable

FACTORY = "__s2s_factory__"
INFO_NAME = "S2S_MODULE"


@dataclass(frozen=True)
class ModuleInfo:
    """How to call a generated module."""

    mode: str  # "forward" or "reverse", each maybe "-vector" (a trailing axis of directions)
    wrt: tuple[str, ...]
    entry: dict[str, str]  # role ("jvp", or "forward" and "backward") -> function name
    outputs: int  # how many values the differentiated function returns
    tuple_output: bool  # returned as a tuple (even of one)
    scalar_output: bool  # every output is a scalar by construction (a full reduction)
    bindings: dict[str, tuple[str, ...]]  # function -> chain of call names from the entry to its owner
    # function -> {user name it reads from another function's owner: (that function, "closure" or "global")}
    borrowed: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)

    def statement(self) -> str:
        """``S2S_MODULE = {...}``, a field per line."""
        fields = {
            "mode": self.mode,
            "wrt": self.wrt,
            "entry": self.entry,
            "outputs": self.outputs,
            "tuple_output": self.tuple_output,
            "scalar_output": self.scalar_output,
            "bindings": self.bindings,
        }
        if self.borrowed:
            fields["borrowed"] = self.borrowed
        lines = "".join(f"    {name!r}: {value!r},\n" for name, value in fields.items())
        return f"{INFO_NAME} = {{\n{lines}}}"

    @classmethod
    def read(cls, text: str) -> "ModuleInfo":
        """The ``ModuleInfo`` a module's text ends with; ``ValueError`` when
        it has none or a malformed one."""
        start = text.rfind(f"\n{INFO_NAME} = ")
        if start < 0:
            raise ValueError(f"no {INFO_NAME} statement")
        fields: Any = ast.literal_eval(text[start + len(INFO_NAME) + 4 :])  # the last statement
        try:
            info = cls(
                mode=fields["mode"],
                wrt=tuple(fields["wrt"]),
                entry=dict(fields["entry"]),
                outputs=int(fields["outputs"]),
                tuple_output=bool(fields["tuple_output"]),
                scalar_output=bool(fields["scalar_output"]),
                bindings={str(k): tuple(v) for k, v in fields["bindings"].items()},
                borrowed={str(k): {str(n): (str(s), str(w)) for n, (s, w) in v.items()} for k, v in fields.get("borrowed", {}).items()},
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed {INFO_NAME}: {exc}") from None
        if info.mode not in ("forward", "reverse", "forward-vector", "reverse-vector") or not set(info.entry.values()) <= set(info.bindings):
            raise ValueError(f"malformed {INFO_NAME}")
        return info


def load_module(text: str, filename: str, info: ModuleInfo, owners: dict[str, types.FunctionType]) -> dict[str, Callable]:
    """Compile ``text`` and bind each of its functions ``name`` to the
    globals and closure of ``owners[name]``.

    The module's statements run inside a factory function whose parameters
    are the user's closure variables, so that generated functions reading
    them get cells to rebind; every statement keeps its line and column, so
    that tracebacks point into the module's text."""
    user_cells = sorted({v for f in owners.values() for v in f.__code__.co_freevars})
    module = ast.parse(text, filename)
    arguments = ast.arguments([], [ast.arg(v) for v in user_cells], None, [], [], None, [ast.Constant(None) for _ in user_cells])
    body = module.body + [ast.Return(ast.Call(ast.Name("locals", ast.Load()), [], []))]
    factory = ast.FunctionDef(FACTORY, arguments, body, [], None, type_params=[], lineno=1, col_offset=0)
    code = compile(ast.fix_missing_locations(ast.Module([factory], [])), filename, "exec")
    _remember_source(filename, text)
    scratch: dict = {"__name__": f"s2s.generated.{FACTORY}"}
    exec(code, scratch)  # noqa: S102 - s2s's own generated code
    made = scratch[FACTORY]()
    bound = {name: _rebind(made[name], owners[name], _borrowed_cells(name, info, owners)) for name in info.bindings}
    for fn in bound.values():
        for var, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
            if var in bound:
                cell.cell_contents = bound[var]
    return bound


def owners_by_chain(entry: types.FunctionType, bindings: dict[str, tuple[str, ...]]) -> dict[str, types.FunctionType]:
    """The user function each generated function belongs to, found by
    following its chain of call names from the differentiated function as
    Python would resolve them now; ``LookupError`` when a link is no longer
    a function."""
    from .frontend import FunctionRef, LiveScope

    owners: dict[str, types.FunctionType] = {}
    for name, chain in bindings.items():
        fn = entry
        for link in chain:
            scope = LiveScope(fn, set())
            first, *attrs = link.split(".")
            ref: Any = scope.resolve(first)
            for attr in attrs:
                ref = scope.resolve_attr(ref, attr)
            if not isinstance(ref, FunctionRef):
                raise LookupError(f"{link} in {fn.__qualname__} is no longer a function")
            fn = ref.identity  # type: ignore[assignment]
        owners[name] = fn
    return owners


_USER_LINE = re.compile(r"^\s*# line (\d+): ")


@dataclass(frozen=True)
class Origin:
    """The user's line whose derivative code raised an exception."""

    filename: str | None
    lineno: int | None
    source: str | None  # the user's line
    note: str  # said as a note on the exception


def origin_of(exc: BaseException, text: str, filename: str, owners: dict[str, types.FunctionType]) -> Origin | None:
    """For an exception raised in the module ``text`` (compiled as
    ``filename``): the user's line whose derivative code raised it, from the
    ``# line N:`` comment above the generated line."""
    frames = [f for f, _ in traceback.walk_tb(exc.__traceback__) if f.f_code.co_filename == filename]
    if not frames:
        return None
    frame = frames[-1]  # the innermost generated frame
    owner = owners.get(frame.f_code.co_name)
    lines = text.split("\n")
    generated = f"(generated line {frame.f_lineno}: {lines[frame.f_lineno - 1].strip()})"
    for index in range(min(frame.f_lineno, len(lines)) - 1, -1, -1):
        line = lines[index]
        if line.startswith("def "):
            break
        match = _USER_LINE.match(line)
        if match and owner is not None:
            user_file, lineno = owner.__code__.co_filename, int(match.group(1))
            source = linecache.getline(user_file, lineno).strip()
            note = f"raised by the derivative code of {owner.__qualname__} for its line {user_file}:{lineno}: {source}\n{generated}"
            return Origin(user_file, lineno, source, note)
    where = f" of {owner.__qualname__}" if owner is not None else ""
    return Origin(None, None, None, f"raised by the derivative code{where} {generated}")


def _borrowed_cells(name: str, info: ModuleInfo, owners: dict[str, types.FunctionType]) -> dict[str, Any]:
    """The closure cells function ``name`` borrows from other functions'
    owners (for the callees inlined into it); ``LookupError`` when a lender
    no longer has the name as it had when the module was generated."""
    cells: dict[str, Any] = {}
    for var, (lender_name, kind) in info.borrowed.get(name, {}).items():
        lender = owners[lender_name]
        if kind == "closure" and var in lender.__code__.co_freevars:
            cells[var] = lender.__closure__[lender.__code__.co_freevars.index(var)]  # type: ignore[index]
        elif kind != "global" or lender.__globals__ is not owners[name].__globals__:
            raise LookupError(f"{var} of {lender.__qualname__} is no longer what {name} was generated to read")
    return cells


def _rebind(fn: types.FunctionType, owner: types.FunctionType, borrowed: dict[str, Any]) -> types.FunctionType:
    owner_cells = {**dict(zip(owner.__code__.co_freevars, owner.__closure__ or ())), **borrowed}
    closure = tuple(owner_cells.get(var, cell) for var, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()))
    rebound = types.FunctionType(fn.__code__, owner.__globals__, fn.__name__, None, closure or None)
    rebound.__qualname__ = fn.__name__
    rebound.__module__ = owner.__module__
    return rebound


def _remember_source(filename: str, text: str) -> None:
    """Let tracebacks through generated code show its lines."""
    if filename.startswith("<"):
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
