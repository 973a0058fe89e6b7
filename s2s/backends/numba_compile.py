"""The numba backend: a generated module's entries, compiled.

Entry point: ``compile_module(loaded, options, directory) -> CompiledModule``.

The generated numpy module is translated into a module for numba, in which
every function is ``numba.njit``-ed:

- User data read by name (the grid ``x``, a closure's constant) would be
  frozen into the machine code by numba, and stale once rebound. Instead,
  each function gets the data it reads, or that a function it calls reads,
  as extra parameters; the entry functions s2s calls read the current
  values by name on each call and pass them in. So a rebound global is
  always seen, and a large array is never copied into the compiled code.
- The user functions generated code calls (a primal ``f(xs)``) are compiled
  too, from their source, with the same treatment.
- Runs of consecutive elementwise statements and reductions become one
  call of a loop kernel (``numba_fuse`` finds them, ``numba_runs.fused_run``
  writes the loop): each element computed once, only the arrays read after
  the run stored.
- Each other ``np.sum(<elementwise expression>)`` and ``sum_product(a, b)``
  becomes a call of a small loop kernel (``numba_runtime.fused_sum``): the
  reduction and its expression in one loop, with no temporary array.
  Elementwise expressions themselves are fused into one loop by numba's
  array-expression rewriting.

The module is written to ``directory`` (a folder of s2s's cache) and
compiled from there, so that numba's own on-disk cache (``cache=True``)
applies: a later process loads the machine code instead of compiling it.

What numba cannot compile falls back to the numpy module: a construct
found while translating (a runtime helper with no compiled version, a user
global of a kind that cannot be passed in) at once, a typing error at the
first call; either way with one warning naming the construct.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import os
import sys
import tempfile
import time
import traceback
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import S2SWarning
from .numba_fuse import ELEMENTWISE, ELEMENTWISE_OPS, Run, fuse_runs

_NUMPY = "_s2s_numpy"  # the numba module's own name for numpy


@dataclass(frozen=True)
class NumbaOptions:
    """How to compile: numba's ``parallel`` and ``fastmath``."""

    parallel: bool = False
    fastmath: bool = False


class Unsupported(Exception):
    """A construct the numba backend does not compile (the message names it)."""


@dataclass
class CompiledModule:
    """Entry functions (role -> callable) running compiled code, and what
    compiling them cost."""

    entries: dict[str, Callable]
    text: str  # the module numba compiles
    path: str  # where it was compiled from
    seconds: float = 0.0  # spent in first calls: compiling, or loading from numba's cache
    dispatchers: list[Any] = field(default_factory=list)
    fallback: str | None = None  # why an entry runs the numpy code after numba refused it
    numpy_roles: list[str] = field(default_factory=list)  # sweeps handing a tape to Python: numpy code by design

    def cache_hits(self) -> int:
        """Signatures loaded from numba's on-disk cache instead of compiled."""
        return sum(sum(d.stats.cache_hits.values()) for d in self.dispatchers)

    def cache_misses(self) -> int:
        return sum(sum(d.stats.cache_misses.values()) for d in self.dispatchers)


def compile_module(loaded: Any, options: NumbaOptions, directory: Path | None, label: str) -> CompiledModule:
    """Compile ``loaded`` (an ``api.Loaded``) for numba; ``directory``, when
    given, holds the module file (and numba's cache beside it). Raises
    ``Unsupported`` for a construct the translation cannot handle."""
    translation = _Translation(loaded, options)
    text = translation.module_text()
    path, cache = _module_file(text, directory)
    namespace = _module_namespace(text, path, cache)
    compiled = CompiledModule({}, text, path)
    compiled.dispatchers = [namespace[f.name] for f in translation.functions.values()]
    for role, name in loaded.info.entry.items():
        function = translation.functions[name]
        if role in ("forward", "backward") and translation.keeps_tape:
            # the saved values cross into Python and back: numba cannot hand a tape (a
            # list of tuples, a range) to Python and take it back; the fused gradient keeps it inside
            compiled.entries[role] = loaded.entry(role)
            compiled.numpy_roles.append(role)
            continue
        compiled.entries[role] = _entry(namespace[name], function, translation.lifted, loaded.entry(role), compiled, label)
    return compiled


# --------------------------------------------------------------------------
# Translation


@dataclass
class _Function:
    """One function of the numba module: generated, or the user's."""

    name: str  # in the numba module
    tree: ast.FunctionDef
    owner: types.FunctionType  # whose globals and closure its free names mean
    renames: dict[str, ast.expr] = field(default_factory=dict)
    lifted: set[str] = field(default_factory=set)  # parameters added for the user data it reads
    lenders: dict[str, types.FunctionType] = field(default_factory=dict)  # free name -> whose scope it is read from instead (inlined callees)
    callees: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class _Lifted:
    """User data passed as a parameter: where to read it on each call."""

    scope: Any  # a globals dict or a closure cell
    name: str


class _Translation:
    def __init__(self, loaded: Any, options: NumbaOptions) -> None:
        self.options = options
        module = ast.parse(loaded.code)
        self.imports: list[str] = []
        self.module_names: set[str] = set()
        self.functions: dict[str, _Function] = {}
        self.user_functions: dict[types.FunctionType, str] = {}
        self.modules: dict[str, str] = {}  # alias -> module name, imported by the numba module
        self.scopes: dict[int, int] = {}
        self.lifted: dict[str, _Lifted] = {}
        self.kernels: list[str] = []
        generated = []
        for statement in module.body:
            if isinstance(statement, (ast.Import, ast.ImportFrom)):
                self._import(statement)
            elif isinstance(statement, ast.FunctionDef):
                generated.append(statement)
                self.module_names.add(statement.name)
        self.generated = {tree.name for tree in generated}
        self.keeps_tape = any(isinstance(node, (ast.List, ast.ListComp)) or isinstance(node, ast.Name) and node.id in ("list", "range") for tree in generated for node in ast.walk(tree))
        for tree in generated:
            lenders = {var: loaded.owners[lender] for var, (lender, _) in loaded.info.borrowed.get(tree.name, {}).items()}
            self._add(tree.name, tree, loaded.owners[tree.name], generated=True, lenders=lenders)
        self._propagate()
        for function in self.functions.values():
            self._rewrite(function)

    def _import(self, statement: ast.Import | ast.ImportFrom) -> None:
        if isinstance(statement, ast.ImportFrom) and statement.module == "s2s.runtime":
            from .numba_runtime import HELPERS

            for alias in statement.names:
                if alias.name not in HELPERS:
                    raise Unsupported(f"the runtime helper {alias.name}")
            statement = ast.ImportFrom("s2s.backends.numba_runtime", statement.names, 0)
        for alias in statement.names:
            self.module_names.add(alias.asname or alias.name.split(".")[0])
        self.imports.append(ast.unparse(statement))

    # functions ----------------------------------------------------------------

    def _add(self, name: str, tree: ast.FunctionDef, owner: types.FunctionType, generated: bool = False, lenders: dict[str, types.FunctionType] | None = None) -> None:
        """Translate one function; a generated one's free names may be the
        module's own (numpy, helpers, the other generated functions)."""
        tree.decorator_list = []
        function = self.functions[name] = _Function(name, tree, owner, lenders=lenders or {})
        for free in sorted(_free_names(tree)):
            if generated and free in self.generated:
                function.callees.add(free)
            elif not (generated and free in self.module_names):
                self._resolve(function, free)

    def _resolve(self, function: _Function, free: str) -> None:
        """What a free name of ``function`` means in its owner's scope, and
        how the numba module spells it."""
        owner = function.lenders.get(free, function.owner)
        found, scope, value = _lookup(owner, free)
        where = f"{free} in {owner.__qualname__}"
        if not found:
            return  # a builtin (or a NameError numpy's code would raise too)
        if isinstance(value, types.ModuleType):
            function.renames[free] = ast.Name(self._module_alias(value))
        elif isinstance(getattr(value, "__s2s_primal__", value), types.FunctionType):
            callee = self._user_function(getattr(value, "__s2s_primal__", value))
            function.renames[free] = ast.Name(callee)
            function.callees.add(callee)
        elif _is_data(value):
            parameter = self._lift(scope, free)
            function.renames[free] = ast.Name(parameter)
            function.lifted.add(parameter)
        elif _numpy_function(value) is not None:
            function.renames[free] = ast.Attribute(ast.Name(_NUMPY), _numpy_function(value))
        elif isinstance(value, (types.BuiltinFunctionType, type)) and getattr(builtins, free, None) is value:
            function.renames[free] = ast.Name(free)
        else:
            raise Unsupported(f"the global {where} (a {type(value).__name__})")

    def _module_alias(self, module: types.ModuleType) -> str:
        if module is np:
            return _NUMPY
        alias = "_s2s_module_" + module.__name__.replace(".", "_")
        self.modules[alias] = module.__name__
        return alias

    def _user_function(self, fn: types.FunctionType) -> str:
        """The numba module's name for a user function, translated once."""
        name = self.user_functions.get(fn)
        if name is None:
            name = f"_s2s_user_{fn.__name__}"
            while name in self.functions or name in self.module_names:
                name += "_"
            self.user_functions[fn] = name
            self._add(name, _function_tree(fn, name), fn)
        return name

    def _lift(self, scope: Any, name: str) -> str:
        index = self.scopes.setdefault(id(scope), len(self.scopes))
        parameter = f"_s2s_{index}_{name}"
        self.lifted[parameter] = _Lifted(scope, name)
        return parameter

    def _propagate(self) -> None:
        """A function needs the data its callees need, passed down."""
        changed = True
        while changed:
            changed = False
            for function in self.functions.values():
                for callee in function.callees:
                    missing = self.functions[callee].lifted - function.lifted
                    if missing:
                        function.lifted |= missing
                        changed = True

    # rewriting -----------------------------------------------------------------

    def _rewrite(self, function: _Function) -> None:
        tree = function.tree
        if function.lifted and (tree.args.defaults or tree.args.kwonlyargs or tree.args.vararg or tree.args.kwarg):
            raise Unsupported(f"{function.owner.__qualname__}: a function with default, keyword-only or variable arguments that reads global data")
        local = _local_names(tree)
        _Renamer(function.renames, local).visit(tree)
        _PassLifted({name: sorted(f.lifted) for name, f in self.functions.items()}).visit(tree)
        _Reversed().visit(tree)
        _SumsAsWritten(self).visit(tree)  # before the passes that look for np.sum
        fuse_runs(tree, self.numpy_names(), self.run)
        _FuseSums(self).visit(tree)
        _VectorizedExp(self).visit(tree)
        tree.args.args += [ast.arg(p) for p in sorted(function.lifted)]
        tree.decorator_list = [ast.Name("_s2s_jit")]
        ast.fix_missing_locations(tree)

    def numpy_names(self) -> set[str]:
        """The names numpy goes by in the translated functions."""
        return {_NUMPY} | {i.split(" as ")[-1] for i in self.imports if i.startswith("import numpy as ")}

    def run(self, run: Run) -> str:
        """The loop kernel of a run of statements (``numba_fuse``)."""
        name = f"_s2s_run{sum(k.startswith('_s2s_run') for k in self.kernels) + 1}"
        self.kernels.append(
            f"{name} = _s2s_fused_run({name!r}, {run.texts!r}, {run.inputs!r}, {run.outputs!r}, parallel={self.options.parallel}, fastmath={self.options.fastmath})"
        )
        return name

    def kernel(self, expression: ast.expr, leaves: list[ast.expr]) -> str:
        """A fused-sum kernel for ``expression`` over parameters ``a0, a1, ...``."""
        name = f"_s2s_sum{sum(k.startswith('_s2s_sum') for k in self.kernels) + 1}"
        parameters = tuple(f"a{i}" for i in range(len(leaves)))
        self.kernels.append(
            f"{name} = _s2s_fused_sum({name!r}, {ast.unparse(expression)!r}, {parameters!r}, parallel={self.options.parallel}, fastmath={self.options.fastmath})"
        )
        return name

    def module_text(self) -> str:
        options = self.options
        header = [
            "# The numba translation of a module s2s generated; written by s2s, do not edit.",
            f"# s2s and numba: {backend_fingerprint()}",
            f"import numpy as {_NUMPY}",
            "import numba as _s2s_numba",
            "from s2s.backends.numba_runtime import exp_ufunc as _s2s_exp_ufunc, fused_sum as _s2s_fused_sum, reversed_range as _s2s_reversed_range",
            "from s2s.backends.numba_runs import fused_run as _s2s_fused_run",
            "_s2s_exp = _s2s_exp_ufunc()",
            *self.imports,
            *(f"import {module} as {alias}" for alias, module in sorted(self.modules.items())),
            f'_s2s_jit = _s2s_numba.njit(cache=CACHE, parallel={options.parallel}, fastmath={options.fastmath}, error_model="numpy")',
            *self.kernels,
        ]
        bodies = [ast.unparse(f.tree) for f in self.functions.values()]
        return "\n".join(header) + "\n\n\n" + "\n\n\n".join(bodies) + "\n"


def _lookup(owner: types.FunctionType, name: str) -> tuple[bool, Any, Any]:
    """(found, scope, value) of a free name in ``owner``'s closure, then
    globals; not found for builtins (left to numba) and unbound names."""
    if name in owner.__code__.co_freevars:
        cell = owner.__closure__[owner.__code__.co_freevars.index(name)]  # type: ignore[index]
        try:
            return True, cell, cell.cell_contents
        except ValueError:
            return False, None, None
    scope = owner.__globals__
    if name in scope:
        return True, scope, scope[name]
    return False, None, None


def _is_data(value: Any) -> bool:
    if isinstance(value, tuple):
        return all(_is_data(v) for v in value)
    return isinstance(value, (np.ndarray, np.generic, int, float, bool, complex))


def _numpy_function(value: Any) -> str | None:
    """The name of a numpy function or ufunc imported by name, else ``None``."""
    name = getattr(value, "__name__", None)
    return name if isinstance(name, str) and getattr(np, name, None) is value else None


def _function_tree(fn: types.FunctionType, name: str) -> ast.FunctionDef:
    import inspect
    import textwrap

    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as exc:
        raise Unsupported(f"{fn.__qualname__}, whose source cannot be read ({exc})") from None
    tree = ast.parse(source).body[0]
    if not isinstance(tree, ast.FunctionDef):
        raise Unsupported(f"{fn.__qualname__}, which is not defined with def")
    if any(isinstance(node, (ast.FunctionDef, ast.Lambda, ast.ClassDef)) for node in ast.walk(tree) if node is not tree):
        raise Unsupported(f"{fn.__qualname__}, which defines a function inside")
    tree.name = name
    return tree


def _free_names(tree: ast.FunctionDef) -> set[str]:
    local = _local_names(tree)
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in local}


def _local_names(tree: ast.FunctionDef) -> set[str]:
    """Parameters and every name assigned in the function (Python's rule:
    assigned anywhere means local everywhere)."""
    args = tree.args
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    names |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


class _Renamer(ast.NodeTransformer):
    """Free names replaced by the numba module's spelling of what they mean."""

    def __init__(self, renames: dict[str, ast.expr], local: set[str]) -> None:
        self.renames = renames
        self.local = local

    def visit_Name(self, node: ast.Name) -> ast.AST:
        replacement = self.renames.get(node.id)
        if replacement is None or node.id in self.local or not isinstance(node.ctx, ast.Load):
            return node
        return ast.copy_location(_copy(replacement), node)


class _PassLifted(ast.NodeTransformer):
    """Calls of the module's functions pass on the data they need, by keyword."""

    def __init__(self, needs: dict[str, list[str]]) -> None:
        self.needs = needs

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in self.needs:
            node.keywords += [ast.keyword(p, ast.Name(p, ast.Load())) for p in self.needs[node.func.id]]
        return node


class _Reversed(ast.NodeTransformer):
    """``reversed(r)`` -> ``_s2s_reversed_range(r)``: numba has no ``reversed``;
    the helper takes a range (anything else is a typing error: numpy code)."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "reversed" and len(node.args) == 1 and not node.keywords:
            node.func = ast.Name("_s2s_reversed_range", ast.Load())
        return node


class _SumsAsWritten(ast.NodeTransformer):
    """``np.add.reduce(a, axis=None)`` -> ``np.sum(a)``: the generated
    module calls the ufunc's reduction to skip np.sum's dispatch, which
    compiled code does not pay, and numba compiles np.sum."""

    def __init__(self, translation: _Translation) -> None:
        self.numpy = translation.numpy_names()

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "reduce" and isinstance(func.value, ast.Attribute) and func.value.attr == "add":
            if isinstance(func.value.value, ast.Name) and func.value.value.id in self.numpy:
                node.func = ast.Attribute(func.value.value, "sum", ast.Load())
                if len(node.args) < 2 and not any(k.arg == "axis" for k in node.keywords):
                    node.keywords.append(ast.keyword("axis", ast.Constant(0)))  # the ufunc reduces along axis 0 by default, np.sum along all
                node.keywords = [k for k in node.keywords if not (k.arg == "axis" and isinstance(k.value, ast.Constant) and k.value.value is None)]
        return node


class _FuseSums(ast.NodeTransformer):
    """``np.sum(<elementwise expression>)`` and ``sum_product(a, b)`` ->
    a loop kernel over the expression's leaves."""

    def __init__(self, translation: _Translation) -> None:
        self.translation = translation
        self.numpy = translation.numpy_names()

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            return node
        if self._is_numpy(node.func, "sum") and len(node.args) == 1:
            expression = node.args[0]
        elif isinstance(node.func, ast.Name) and node.func.id == "sum_product" and len(node.args) == 2:
            expression = ast.BinOp(node.args[0], ast.Mult(), node.args[1])
        else:
            return node
        if not self._elementwise(expression) or isinstance(expression, ast.Constant):
            return node
        leaves: list[ast.expr] = []
        kernel_expression = self._parametrize(expression, leaves)
        name = self.translation.kernel(kernel_expression, leaves)
        return ast.copy_location(ast.Call(ast.Name(name, ast.Load()), leaves, []), node)

    def _is_numpy(self, func: ast.expr, name: str | None = None) -> bool:
        return isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in self.numpy and (name is None or func.attr == name)

    def _elementwise(self, node: ast.expr) -> bool:
        """Is ``node`` an arithmetic tree (not a bare leaf) worth a kernel?"""
        return isinstance(node, ast.BinOp) and isinstance(node.op, ELEMENTWISE_OPS) or isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) or self._elementwise_call(node)

    def _elementwise_call(self, node: ast.expr) -> bool:
        return isinstance(node, ast.Call) and self._is_numpy(node.func) and node.func.attr in ELEMENTWISE and len(node.args) == 1 and not node.keywords  # type: ignore[attr-defined]

    def _parametrize(self, node: ast.expr, leaves: list[ast.expr]) -> ast.expr:
        """The expression over parameters ``a<i>``; each distinct name, and
        each other operand that is not arithmetic, becomes one."""
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node
        if isinstance(node, ast.BinOp) and isinstance(node.op, ELEMENTWISE_OPS):
            return ast.BinOp(self._parametrize(node.left, leaves), node.op, self._parametrize(node.right, leaves))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return ast.UnaryOp(node.op, self._parametrize(node.operand, leaves))
        if self._elementwise_call(node):
            function = ast.Name("_s2s_exp", ast.Load()) if node.func.attr == "exp" else ast.Attribute(ast.Name("np", ast.Load()), node.func.attr, ast.Load())  # type: ignore[attr-defined]
            return ast.Call(function, [self._parametrize(node.args[0], leaves)], [])
        for i, leaf in enumerate(leaves):
            if isinstance(node, ast.Name) and isinstance(leaf, ast.Name) and leaf.id == node.id:
                return ast.Name(f"a{i}", ast.Load())
        leaves.append(node)
        return ast.Name(f"a{len(leaves) - 1}", ast.Load())


class _VectorizedExp(ast.NodeTransformer):
    """``np.exp(a)`` -> ``_s2s_exp(a)``: numba's own exp calls the C library
    once per element; this one is arithmetic that loops vectorize
    (``numba_runtime.exp_ufunc``)."""

    def __init__(self, translation: _Translation) -> None:
        self.numpy = translation.numpy_names()

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "exp" and isinstance(func.value, ast.Name) and func.value.id in self.numpy and len(node.args) == 1 and not node.keywords:
            node.func = ast.copy_location(ast.Name("_s2s_exp", ast.Load()), func)
        return node


def _copy(node: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(node), mode="eval").body


# --------------------------------------------------------------------------
# The module file


def backend_fingerprint() -> str:
    """A hash of the versions of numba and s2s (each of its files' size and
    time). It is written into the module, so that the module's file, named
    by a hash of its text, changes with them: numba's on-disk cache checks
    only that file, and machine code cached against other versions of the
    kernels in numba_runtime and numba_runs would crash the process."""
    import numba

    from ..cache import compiler_fingerprint

    return hashlib.sha256(repr((compiler_fingerprint(), numba.__version__)).encode()).hexdigest()[:16]


def _module_file(text: str, directory: Path | None) -> tuple[str, bool]:
    """Where the module is compiled from, and whether numba may cache it:
    ``directory/<hash>.py`` (written once: numba's cache is keyed by the
    file's time stamp), else a name that is no file (no numba cache)."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:32]
    if directory is None:
        return f"<s2s numba module {digest}>", False
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / f"m{digest}.py"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".m{digest}.", suffix=".tmp")
            with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
                out.write(text)
            os.replace(temporary, path)
    except OSError as exc:
        warnings.warn(f"s2s cannot write the numba module to {directory} ({exc.strerror or exc}); compiling without numba's cache", S2SWarning, stacklevel=4)
        return f"<s2s numba module {digest}>", False
    return str(path), True


def _module_namespace(text: str, path: str, cache: bool) -> dict[str, Any]:
    """Run the module as a module of its own, registered in ``sys.modules``:
    numba finds the globals of cached code by the module's name."""
    name = f"s2s_numba_{hashlib.sha256(text.encode()).hexdigest()[:32]}_{'cached' if cache else 'uncached'}"
    module = sys.modules.get(name)
    if module is None:
        module = types.ModuleType(name)
        module.__file__ = path
        source = text.replace("cache=CACHE", f"cache={cache}")
        exec(compile(source, path, "exec"), module.__dict__)  # noqa: S102 - s2s's own translation of its own generated code
        sys.modules[name] = module
    return module.__dict__


# --------------------------------------------------------------------------
# Entries


def _entry(dispatcher: Any, function: _Function, lifted: dict[str, _Lifted], numpy_entry: Callable, compiled: CompiledModule, label: str) -> Callable:
    """The function s2s calls for one role: the compiled function, given
    the user data read by name now; on numba's refusal, the numpy entry."""
    params = [a.arg for a in function.tree.args.args if a.arg not in function.lifted]
    reads = []
    scopes: dict[str, Any] = {}
    for parameter in sorted(function.lifted):
        where = lifted[parameter]
        scope_name = f"scope{len(scopes)}"
        for key, value in scopes.items():
            if value is where.scope:
                scope_name = key
        scopes[scope_name] = where.scope
        reads.append(f"{scope_name}.cell_contents" if isinstance(where.scope, types.CellType) else f"{scope_name}[{where.name!r}]")
    state = _EntryState(dispatcher, numpy_entry, len(params), compiled, label)
    arguments = ", ".join(params + reads)
    source = (
        f"def make(state, REFUSALS, {', '.join(scopes) or '_'}):\n"
        f"    def {function.name}({', '.join(params)}):\n"
        "        try:\n"
        f"            return state.run({arguments})\n"
        "        except REFUSALS as exc:\n"
        f"            return state.refused(exc, ({', '.join(params)}{',' if params else ''}))\n"
        f"    return {function.name}\n"
    )
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<s2s numba entry {function.name}>", "exec"), namespace)  # noqa: S102 - built from parameter names
    return namespace["make"](state, Exception, *(scopes.values() or [None]))


class _EntryState:
    """What an entry calls: first the timed first call, then the compiled
    function itself, or the numpy entry once numba has refused."""

    def __init__(self, dispatcher: Any, numpy_entry: Callable, nparams: int, compiled: CompiledModule, label: str) -> None:
        self.dispatcher = dispatcher
        self.numpy_entry = numpy_entry
        self.nparams = nparams
        self.compiled = compiled
        self.label = label
        self.run: Callable = self.first_call

    def first_call(self, *args: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.dispatcher(*args)
        finally:
            self.compiled.seconds += time.perf_counter() - start
            self.run = self.dispatcher

    def refused(self, exc: Exception, args: tuple) -> Any:
        """Run the numpy entry from now on, when numba refused to compile
        (an error while compiling, however numba raised it); any other
        exception is the user's code failing, raised as it is."""
        if not compiling(exc):
            raise exc
        reason = refusal(exc)
        if self.compiled.fallback is None:
            self.compiled.fallback = reason
            warnings.warn(f"s2s's numba backend cannot compile the derivative of {self.label}: {reason}; using the numpy backend", S2SWarning, stacklevel=4)
        numpy_entry, n = self.numpy_entry, self.nparams
        self.run = lambda *all_args: numpy_entry(*all_args[:n])
        return numpy_entry(*args)


def compiling(exc: BaseException) -> bool:
    """Whether ``exc`` comes from numba compiling: one of numba's errors,
    or any exception raised inside its compiler (numba fails with an
    IndexError while lowering some broadcasts, for one)."""
    from numba.core.errors import NumbaError

    if isinstance(exc, (NumbaError, SystemError)):
        return True
    frames = traceback.extract_tb(exc.__traceback__)
    return any(Path(frame.filename).match("numba/core/compiler*.py") for frame in frames)


def refusal(exc: BaseException) -> str:
    """The line of numba's message that names the construct (its first
    lines say which compiler stage failed)."""
    from numba.core.errors import NumbaError

    if not isinstance(exc, (NumbaError, SystemError)):
        return f"numba failed while compiling it ({type(exc).__name__}: {exc})"[:200]
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    skip = ("Failed in ", "During: ", "File ", "- Resolution failure", "Rewrite ", ">>>", "^")
    for line in lines:
        if not line.startswith(skip):
            return line[:200]
    return lines[0][:200] if lines else type(exc).__name__

