"""Front end: a function's source, parsed, with every free name resolved.

Entry points:

- ``load_function(fn)`` for a live function object (the decorator path);
- ``load_from_file(path, name)`` for the command line, which reads the file as
  text and never executes it.

Output contract: a ``FunctionSource`` whose ``tree`` is the function's
``ast.FunctionDef`` without decorators, with the line and column numbers of
the user's file, and whose ``scope.resolve(name)`` says what Python would find
for a name the body reads::

    import numpy as np            resolve("np")  -> NumpyRef("")
    from numpy import exp         resolve("exp") -> NumpyRef("exp")
    x = np.arange(3.0)            resolve("x")   -> DataRef("x", "global")
    def f(m): ...                 resolve("f")   -> FunctionRef("f", ...)
    def rs(d, xs): ...            resolve("d")   -> LocalRef("d")
"""

from __future__ import annotations

import ast
import builtins
import copy
import dataclasses
import functools
import inspect
import linecache
import math
import os
import textwrap
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Protocol

import numpy as np

from .errors import S2SError, SourceLocator

# --------------------------------------------------------------------------
# What a name can denote


@dataclass(frozen=True)
class NumpyRef:
    """``numpy.<path>``; ``path == ""`` is the numpy module itself."""

    path: str


@dataclass(frozen=True)
class MathRef:
    """``math.<path>``; ``path == ""`` is the math module itself."""

    path: str


@dataclass(frozen=True)
class BuiltinRef:
    name: str


@dataclass(frozen=True)
class LocalRef:
    """A parameter or a variable assigned in the function."""

    name: str


@dataclass(frozen=True)
class DataRef:
    """A global or closure value used as data: it stays a name in generated
    code and is read when the derivative runs, as the primal reads it."""

    name: str
    where: str  # "global" or "closure"


@dataclass(frozen=True, eq=False)
class FunctionRef:
    """A user-defined Python function, differentiated from its source."""

    name: str
    identity: Hashable
    load: Callable[[], "FunctionSource"] = field(repr=False)


@dataclass(frozen=True)
class ModuleRef:
    """A module other than numpy and math, whose attributes s2s cannot read
    as source (they are called as they are, when inactive)."""

    name: str
    module: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class RuntimeRef:
    """A helper of s2s's generated code (``s2s.runtime``), met when generated
    code is differentiated again."""

    name: str


@dataclass(frozen=True)
class RuleRef:
    """A callable with a derivative rule registered by ``s2s.derivative_rule``:
    called as it is, differentiated by its rule."""

    name: str
    rule: str  # the rule's name


@dataclass(frozen=True)
class OpaqueRef:
    """A callable s2s cannot read (compiled code, classes, other libraries)."""

    name: str


@dataclass(frozen=True)
class UnboundRef:
    name: str


Ref = (
    NumpyRef | MathRef | BuiltinRef | LocalRef | DataRef | FunctionRef | ModuleRef | RuntimeRef | RuleRef | OpaqueRef | UnboundRef
)


class Scope(Protocol):
    def resolve(self, name: str) -> Ref: ...

    def resolve_attr(self, ref: Ref, attr: str) -> Ref | None: ...


@dataclass(eq=False)
class FunctionSource:
    """A user function as s2s reads it."""

    name: str
    qualname: str
    filename: str
    tree: ast.FunctionDef
    lines: list[str]  # every line of the file, for errors and comments
    scope: Scope
    source_text: str  # the function's own source, dedented
    identity: Hashable
    function: types.FunctionType | None = None  # the live object, when there is one

    @property
    def lineno(self) -> int:
        return self.tree.lineno

    @property
    def locator(self) -> SourceLocator:
        return SourceLocator(self.filename, self.lines)

    def error(self, node: ast.AST | None, message: str, hint: str | None = None) -> S2SError:
        return self.locator.error(node, message, hint)

    def __repr__(self) -> str:
        return f"<FunctionSource {self.qualname} {self.filename}:{self.lineno}>"


# --------------------------------------------------------------------------
# numpy and math by identity


@functools.cache
def _numpy_names() -> dict[int, str]:
    names: dict[int, str] = {}
    for module, prefix in ((np, ""), (np.linalg, "linalg.")):
        for name in sorted(dir(module)):
            if name.startswith("_"):
                continue
            obj = getattr(module, name, None)
            if callable(obj) or isinstance(obj, types.ModuleType):
                names.setdefault(id(obj), prefix + name)
    return names


@functools.cache
def _math_names() -> dict[int, str]:
    return {id(getattr(math, n)): n for n in sorted(dir(math)) if not n.startswith("_") and callable(getattr(math, n))}


@functools.cache
def _builtin_names() -> dict[int, str]:
    return {id(getattr(builtins, n)): n for n in dir(builtins) if callable(getattr(builtins, n))}


def numpy_object(path: str) -> Any:
    """The numpy object at ``path`` (``""`` is numpy), or ``None``."""
    obj: Any = np
    for part in filter(None, path.split(".")):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _numpy_path_of_module(module: types.ModuleType) -> str | None:
    name = module.__name__
    if name == "numpy":
        return ""
    if name.startswith("numpy."):
        path = name[len("numpy.") :]
        # private implementation modules are not a public spelling
        return None if any(p.startswith("_") for p in path.split(".")) else path
    return None


@functools.cache
def _runtime_names() -> frozenset[str]:
    from . import runtime

    return frozenset(runtime.__all__)


def classify_value(value: Any, name: str, where: str) -> Ref:
    """What a live global or closure value denotes for s2s."""
    if value is np:
        return NumpyRef("")
    if value is math:
        return MathRef("")
    if isinstance(value, types.ModuleType):
        path = _numpy_path_of_module(value)
        return NumpyRef(path) if path is not None else ModuleRef(value.__name__, value)
    wrapped = getattr(value, "__s2s_primal__", None)
    if wrapped is not None:  # a function already decorated with @differentiate
        value = wrapped
    if callable(value) and getattr(value, "__module__", "").startswith("s2s.runtime.") and getattr(value, "__name__", "") in _runtime_names():
        return RuntimeRef(value.__name__)
    if callable(value):
        from .custom import find

        rule = find(value)
        if rule is not None:
            return RuleRef(name, rule.name)
    if isinstance(value, types.FunctionType):
        if value.__name__ == "<lambda>":
            return OpaqueRef(f"lambda {name}")
        return FunctionRef(name, value, functools.partial(load_function, value))
    if callable(value):
        try:
            numpy_path = _numpy_names().get(id(value))
            if numpy_path is not None:
                return NumpyRef(numpy_path)
            math_name = _math_names().get(id(value))
            if math_name is not None:
                return MathRef(math_name)
            builtin_name = _builtin_names().get(id(value))
            if builtin_name is not None:
                return BuiltinRef(builtin_name)
        except TypeError:
            pass
        return OpaqueRef(getattr(value, "__qualname__", None) or getattr(value, "__name__", None) or name)
    return DataRef(name, where)


# --------------------------------------------------------------------------
# Locals of a function body


def local_names(fdef: ast.FunctionDef) -> set[str]:
    """Names Python treats as local to ``fdef``: parameters and assigned names."""
    args = fdef.args
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    if args.vararg:
        names.add(args.vararg.arg)
    if args.kwarg:
        names.add(args.kwarg.arg)
    declared: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(child.name)
                continue  # a nested scope
            if isinstance(child, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                continue  # their variables are their own
            if isinstance(child, (ast.Global, ast.Nonlocal)):
                declared.update(child.names)
            elif isinstance(child, ast.Name) and isinstance(child.ctx, (ast.Store, ast.Del)):
                names.add(child.id)
            elif isinstance(child, (ast.Import, ast.ImportFrom)):
                for alias in child.names:
                    names.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(child, ast.ExceptHandler) and child.name:
                names.add(child.name)
            visit(child)

    for stmt in fdef.body:
        visit(ast.Module(body=[stmt], type_ignores=[]))
    return names - declared


# --------------------------------------------------------------------------
# Live functions (the decorator path)


class LiveScope:
    """Resolves names as Python would when ``fn`` runs: locals, closure cells,
    the function's module globals, then builtins."""

    def __init__(self, fn: types.FunctionType, locals_: set[str]) -> None:
        self.fn = fn
        self.locals = locals_
        self.cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or ()))
        self.globals = fn.__globals__
        b = self.globals.get("__builtins__", builtins)
        self.builtins = b if isinstance(b, dict) else vars(b)

    def resolve(self, name: str) -> Ref:
        if name in self.locals:
            return LocalRef(name)
        if name in self.cells:
            try:
                value = self.cells[name].cell_contents
            except ValueError:  # an empty cell: assigned later in the enclosing function
                return DataRef(name, "closure")
            ref = classify_value(value, name, "closure")
            return ref
        if name in self.globals:
            return classify_value(self.globals[name], name, "global")
        if name in self.builtins:
            return BuiltinRef(name)
        return UnboundRef(name)

    def resolve_attr(self, ref: Ref, attr: str) -> Ref | None:
        return _resolve_module_attr(ref, attr)


def _resolve_module_attr(ref: Ref, attr: str) -> Ref | None:
    if isinstance(ref, NumpyRef):
        path = f"{ref.path}.{attr}" if ref.path else attr
        return NumpyRef(path) if numpy_object(path) is not None else UnboundRef(f"numpy.{path}")
    if isinstance(ref, MathRef) and not ref.path:
        return MathRef(attr) if hasattr(math, attr) else UnboundRef(f"math.{attr}")
    if isinstance(ref, ModuleRef):
        full = f"{ref.name}.{attr}"
        if ref.module is None:
            return OpaqueRef(full)
        if isinstance(ref.module, StaticScope):  # a module read as text
            return ref.module.resolve(attr) if attr in ref.module.bindings else UnboundRef(full)
        if not hasattr(ref.module, attr):
            return UnboundRef(full)
        return classify_value(getattr(ref.module, attr), full, "global")
    return None


def display_path(filename: str) -> str:
    """A file name relative to the working directory when it lies below it."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:
        return filename
    return filename if relative.startswith("..") else relative


def differentiable_function(fn: Any) -> types.FunctionType:
    """``fn`` (unwrapped from ``differentiate``) if it is a function s2s can
    read the source of, else an ``S2SError`` saying why not."""
    fn = getattr(fn, "__s2s_primal__", fn)
    if not isinstance(fn, types.FunctionType):
        raise S2SError(
            f"s2s differentiates Python functions written with `def`; got {type(fn).__name__} {fn!r}",
            hint="pass the function itself, not a call's result or a compiled function",
        )
    if fn.__name__ == "<lambda>":
        raise S2SError(
            "s2s cannot differentiate a lambda: its source is part of another statement",
            filename=fn.__code__.co_filename,
            lineno=fn.__code__.co_firstlineno,
            hint="define the function with `def`",
        )
    return fn


def load_function(fn: Any) -> FunctionSource:
    """Read, parse and scope a live Python function."""
    fn = differentiable_function(fn)
    code = fn.__code__
    try:
        source_lines, start = inspect.getsourcelines(fn)
    except (OSError, TypeError) as exc:
        raise S2SError(
            f"cannot read the source of {fn.__qualname__}: {exc}",
            filename=code.co_filename,
            lineno=code.co_firstlineno,
            hint="s2s reads source code; define the function in a file (not in an interactive session or with exec)",
        ) from None
    filename = inspect.getsourcefile(fn) or code.co_filename
    text = "".join(source_lines)
    indent = len(source_lines[0]) - len(source_lines[0].lstrip())
    dedented = textwrap.dedent(text)
    try:
        module = ast.parse(dedented)
    except SyntaxError as exc:
        raise S2SError(
            f"cannot parse the source of {fn.__qualname__}: {exc.msg}",
            filename=filename,
            lineno=start,
        ) from None
    fdef = next((n for n in module.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if fdef is None or fdef.name != fn.__name__:
        raise S2SError(
            f"cannot find the definition of {fn.__qualname__} in its source",
            filename=filename,
            lineno=code.co_firstlineno,
            hint="s2s needs a function defined with a plain `def` statement",
        )
    if not _same_code(module, fn):
        raise S2SError(
            f"the source of {fn.__qualname__} in {display_path(filename)} is not the code it runs: the file has changed since it was defined",
            filename=filename,
            lineno=start,
            hint="import the module again (or redefine the function) before differentiating it",
        )
    ast.increment_lineno(module, start - 1)
    if indent:
        for node in ast.walk(module):
            if hasattr(node, "col_offset"):
                node.col_offset += indent
                if getattr(node, "end_col_offset", None) is not None:
                    node.end_col_offset += indent
    file_lines = [line.rstrip("\n") for line in (linecache.getlines(filename) or text.splitlines())]
    locator = SourceLocator(filename, file_lines)
    if isinstance(fdef, ast.AsyncFunctionDef):
        raise locator.error(fdef, f"cannot differentiate async function {fn.__qualname__}", "use a plain `def`")
    fdef.decorator_list = []
    return FunctionSource(
        name=fn.__name__,
        qualname=fn.__qualname__,
        filename=filename,
        tree=fdef,
        lines=file_lines,
        scope=LiveScope(fn, local_names(fdef)),
        source_text=dedented,
        identity=fn,
        function=fn,
    )


def _same_code(module: ast.Module, fn: types.FunctionType) -> bool:
    """Does the source s2s read compile to the code ``fn`` runs? Not when
    the file was edited after the function was defined: differentiating
    the new text would silently describe another function."""
    try:
        compiled = compile(module, fn.__code__.co_filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    code = next((c for c in compiled.co_consts if isinstance(c, types.CodeType) and c.co_name == fn.__name__), None)
    return code is None or _code_shape(code) == _code_shape(fn.__code__)


# a free variable is a global when the function is compiled on its own, a cell in its closure
_FREE_LOADS = {"LOAD_GLOBAL", "LOAD_DEREF", "LOAD_NAME", "LOAD_CLASSDEREF"}
_CLOSURE_ONLY = {"COPY_FREE_VARS", "PUSH_NULL", "RESUME", "NOP", "CACHE"}
_LAYOUT_ONLY = {"EXTENDED_ARG"}  # widens a jump offset, which depends on where the code sits
_SAME_OP = {"LOAD_METHOD": "LOAD_ATTR"}  # the compiler picks one or the other by line layout


def _code_shape(code: types.CodeType) -> tuple:
    """What a function computes, the same however it is compiled: its
    instructions (free variables loaded alike), variables and constants."""
    import dis

    instructions = []
    for ins in dis.get_instructions(code):
        if ins.opname in _CLOSURE_ONLY or ins.opname in _LAYOUT_ONLY:
            continue
        opname = "LOAD_FREE" if ins.opname in _FREE_LOADS and ins.argval not in code.co_varnames else _SAME_OP.get(ins.opname, ins.opname)
        jump = ins.opcode in dis.hasjrel or ins.opcode in dis.hasjabs  # offsets depend on instruction sizes
        argument = None if jump or isinstance(ins.argval, types.CodeType) else ins.argval
        instructions.append((opname, repr(argument) if opname != "LOAD_FREE" else ins.argval))
    constants = [_code_shape(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts]
    return (tuple(instructions), code.co_varnames, tuple(constants))


# --------------------------------------------------------------------------
# Files read as text (the command line)


class StaticScope:
    """Resolves names from a module's text: its imports and top-level
    definitions, without executing anything. A module it imports that lies
    beside it (``helpers.py`` for ``import helpers`` or ``from .helpers
    import f``) is read the same way, so that its functions are
    differentiated as they would be when the code runs."""

    def __init__(self, module: ast.Module, filename: str, lines: list[str], registry: dict[str, "StaticScope"] | None = None) -> None:
        self.module = module
        self.filename = filename
        self.lines = lines
        self.locals: set[str] = set()
        self.bindings: dict[str, Ref] = {}
        self.star_modules: list[Ref] = []
        self.registry = {} if registry is None else registry  # every file read, by path: imports may go round
        self.registry[os.path.abspath(filename)] = self
        for stmt in _module_level_statements(module.body):
            self._bind(stmt)

    def with_locals(self, locals_: set[str]) -> "StaticScope":
        scope = object.__new__(StaticScope)
        scope.__dict__.update(self.__dict__)
        scope.locals = set(locals_)
        return scope

    def _bind(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    self.bindings[alias.asname] = self._module_ref(alias.name)
                else:
                    top = alias.name.split(".")[0]
                    self.bindings[top] = self._module_ref(top)
        elif isinstance(stmt, ast.ImportFrom):
            base = self._module_ref(stmt.module or "", stmt.level)
            for alias in stmt.names:
                if alias.name == "*":
                    self.star_modules.append(base)
                    continue
                ref = _resolve_module_attr(base, alias.name) or OpaqueRef(alias.name)
                if isinstance(ref, FunctionRef):  # named as imported, as a live function would be
                    ref = dataclasses.replace(ref, name=alias.asname or alias.name)
                self.bindings[alias.asname or alias.name] = ref
        elif isinstance(stmt, ast.FunctionDef):
            identity = (self.filename, stmt.name)
            self.bindings[stmt.name] = FunctionRef(stmt.name, identity, functools.partial(self._load_def, stmt))
        elif isinstance(stmt, (ast.AsyncFunctionDef, ast.ClassDef)):
            self.bindings[stmt.name] = OpaqueRef(stmt.name)
        else:
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    self.bindings[node.id] = DataRef(node.id, "global")

    def _module_ref(self, name: str, level: int = 0) -> Ref:
        if not level and (name == "numpy" or name.startswith("numpy.")):
            path = name[len("numpy.") :] if "." in name else ""
            return NumpyRef(path)
        if not level and name == "math":
            return MathRef("")
        spelled = "." * level + name
        path = self._beside(name, level)
        if path is None:
            return ModuleRef(spelled)
        scope = self.registry.get(os.path.abspath(path))
        if scope is None:
            module, lines = parse_file(path)
            scope = StaticScope(module, path, lines, self.registry)
        return ModuleRef(spelled, scope)

    def _beside(self, name: str, level: int) -> str | None:
        """The file of module ``name`` imported from this one, when it lies
        in this file's directory (or ``level - 1`` directories up)."""
        directory = os.path.dirname(self.filename)
        for _ in range(max(level - 1, 0)):
            directory = os.path.dirname(directory)
        base = os.path.join(directory, *name.split(".")) if name else directory
        for candidate in (base + ".py", os.path.join(base, "__init__.py")):
            if name and os.path.isfile(candidate):
                return candidate
        return None

    def resolve(self, name: str) -> Ref:
        if name in self.locals:
            return LocalRef(name)
        if name in self.bindings:
            return self.bindings[name]
        for module in reversed(self.star_modules):
            ref = _resolve_module_attr(module, name)
            if ref is not None and not isinstance(ref, UnboundRef):
                return ref
        if hasattr(builtins, name):
            return BuiltinRef(name)
        return UnboundRef(name)

    def resolve_attr(self, ref: Ref, attr: str) -> Ref | None:
        return _resolve_module_attr(ref, attr)

    def _load_def(self, fdef: ast.FunctionDef) -> FunctionSource:
        text = ast.get_source_segment("\n".join(self.lines), fdef) or ast.unparse(fdef)
        tree = _copy_function(fdef)
        return FunctionSource(
            name=fdef.name,
            qualname=fdef.name,
            filename=self.filename,
            tree=tree,
            lines=self.lines,
            scope=self.with_locals(local_names(tree)),
            source_text=text,
            identity=(self.filename, fdef.name),
        )


def _copy_function(fdef: ast.FunctionDef) -> ast.FunctionDef:
    tree = copy.deepcopy(fdef)
    tree.decorator_list = []
    return tree


def _module_level_statements(body: list[ast.stmt]):
    """Top-level statements, looking inside if/try/with blocks (conditional
    imports) but not inside functions or classes."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            blocks = [getattr(stmt, f, []) for f in ("body", "orelse", "finalbody")]
            blocks += [h.body for h in getattr(stmt, "handlers", [])]
            for block in blocks:
                yield from _module_level_statements(block)


def parse_file(path: str | Path) -> tuple[ast.Module, list[str]]:
    """Parse a Python file as text, with errors that name it."""
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise S2SError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise S2SError(f"cannot read {path}: {exc}") from None
    lines = text.splitlines()
    try:
        module = ast.parse(text, filename=path)
    except SyntaxError as exc:
        raise S2SError(
            f"syntax error: {exc.msg}",
            filename=path,
            lineno=exc.lineno,
            col=(exc.offset - 1) if exc.offset else None,
            source_line=lines[exc.lineno - 1] if exc.lineno and exc.lineno <= len(lines) else None,
        ) from None
    except ValueError as exc:  # e.g. source with NUL bytes
        raise S2SError(f"cannot parse {path}: {exc}") from None
    return module, lines


def load_from_file(path: str | Path, name: str) -> FunctionSource:
    """Read the top-level function ``name`` from a file, without executing it."""
    path = str(path)
    module, lines = parse_file(path)
    scope = StaticScope(module, path, lines)
    ref = scope.bindings.get(name)
    if not isinstance(ref, FunctionRef):
        defined = sorted(n for n, r in scope.bindings.items() if isinstance(r, FunctionRef))
        listing = ", ".join(defined) if defined else "none"
        raise S2SError(
            f"no top-level function named {name!r} in {path}",
            hint=f"functions defined there: {listing}",
        )
    return ref.load()
