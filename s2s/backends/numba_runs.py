"""The loop kernel of a run of fused statements (numba backend).

Entry point: ``fused_run(name, statements, inputs, outputs)``, which makes
the function a run found by ``numba_fuse`` calls; and
``run_source(statements, inputs, outputs, *argument_types)``, the
implementation numba compiles for those argument types (for tests).

The statements are plain numpy (``t = x - m``, ``s = np.sum(d * t) / 2``);
what they compute depends on types known only when numba types the call
(``numba.extending.overload``): which values are arrays, their rank and
dtype. For one-dimensional float64 arrays (or all float32; or C-contiguous
arrays of one rank, read through flat views), and when the arrays have one
shape at run time, the implementation is one loop::

    def impl(in_x, in_m, in_d):
        if in_d.shape == in_x.shape:
            n = in_x.size
            v1_out = np.empty(in_x.shape, np.float64)   # only the arrays read after the run
            lanes0 = np.zeros(64)
            ...
            for start in range(0, full, 64):
                for k in range(64):
                    i = start + k
                    e_v0_t1 = in_x[i] - in_m
                    e_v1_out = _s2s_exp(-1.5 * e_v0_t1 ** 2)
                    v1_out[i] = e_v1_out
                    lanes0[k] += in_d[i] * e_v1_out
            ...
            v2_sum1 = np.sum(lanes0)
        else:                                           # broadcasting: as written
            v0_t1 = in_x - in_m
            v1_out = _s2s_exp(-1.5 * v0_t1 ** 2)
            v2_sum1 = np.sum(in_d * v1_out)
        return (v1_out, v2_sum1)

Statements whose operands are all scalars are computed once, before the
loop; reductions accumulate in the loop and their enclosing expression is
computed after it. Each element is computed as numba computes the array
expression (the scalar expression, rounded to the array's dtype); only the
order of summation differs: a reduction adds into 64 partial sums, which
keeps the loop vectorizable without ``fastmath`` (a single running sum is a
chain the compiler may not reorder). For any other types the implementation
is the statements as written.

``sum_to_shape(v, s)``, ``unbroadcast(v, like)``, ``broadcast_like(v, like)``
and ``broadcast_to_operands(v, *operands)`` are computed as ``v`` in the loop
(the helpers give ``v`` back when shapes agree); the loop's check of
shapes includes ``s == <the arrays' shape>`` for each ``sum_to_shape``.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from numba import types
from numba.core.errors import NumbaError
from numba.core.registry import cpu_target
from numba.extending import overload
from numba.np.numpy_support import as_dtype

from .numba_runtime import _implementation, _shape_type_length, _with_signature, broadcast_like, broadcast_to_operands, exp_ufunc, sum_product, sum_to_shape, unbroadcast

LANES = 64  # partial sums of a reduction: element i adds into lane i % LANES
_FUSED_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))
_OPERATORS: dict[type, Callable] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv, ast.Pow: operator.pow,
    ast.USub: operator.neg, ast.UAdd: operator.pos,
}
_EXP = "_s2s_exp"  # the vectorizable exp (numba_runtime.exp_ufunc), as generated code spells it
_HELPERS = {"sum_product": sum_product, "sum_to_shape": sum_to_shape, "unbroadcast": unbroadcast, "broadcast_like": broadcast_like, "broadcast_to_operands": broadcast_to_operands}


def fused_run(name: str, statements: tuple[str, ...], inputs: tuple[str, ...], outputs: tuple[str, ...], parallel: bool = False, fastmath: bool = False) -> Callable:
    """A function ``name(*inputs)`` returning ``outputs`` (one value, or a
    tuple) as ``statements`` set them; compiled by numba as one loop when
    the argument types allow (see the module's docstring)."""
    run = parse_run(statements, inputs, outputs)
    stub = _implementation(_source(run, None, "impl").replace("def impl(", f"def {name}(", 1), name, **_HELPERS)
    options = {"parallel": parallel, "fastmath": fastmath, "error_model": "numpy"}

    def typed(*args: types.Type) -> Callable:
        plan = _plan(run, args)
        return _implementation(_source(run, plan, "impl", parallel=parallel, fastmath=fastmath), **_HELPERS)

    overload(stub, jit_options=options)(_with_signature(typed, run.parameters))
    return stub


def run_source(statements: tuple[str, ...], inputs: tuple[str, ...], outputs: tuple[str, ...], *args: types.Type, parallel: bool = False, fastmath: bool = False) -> str:
    """The implementation ``fused_run`` compiles for arguments of types ``args``."""
    run = parse_run(statements, inputs, outputs)
    return _source(run, _plan(run, args), "impl", parallel=parallel, fastmath=fastmath)


# --------------------------------------------------------------------------
# The run, over the kernel's own names


@dataclass(frozen=True)
class _Step:
    """One statement: ``target = value``, both over kernel names; a
    reduction statement (``reduces``) holds ``np.sum`` or ``sum_product`` calls."""

    target: str
    value: ast.expr
    reduces: bool


@dataclass(frozen=True)
class _Run:
    parameters: tuple[str, ...]
    steps: tuple[_Step, ...]
    results: tuple[str, ...]


def parse_run(statements: tuple[str, ...], inputs: tuple[str, ...], outputs: tuple[str, ...]) -> _Run:
    """Each name renamed to its version (an input ``x`` is ``in_x``; the
    ``k``-th statement sets ``v<k>_<name>``: a name set twice is two
    variables, as numba wants them), ``np.exp`` spelled ``_s2s_exp``.
    Raises ``ValueError`` when a statement reads a reduction of the run:
    the loop has not finished it."""
    version = {name: f"in_{name}" for name in inputs}
    reduced: set[str] = set()
    steps = []
    for k, text in enumerate(statements):
        stmt = ast.parse(text).body[0]
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            raise ValueError(f"not an assignment to a name: {text}")
        value = _Versions(version).visit(stmt.value)
        if {n.id for n in ast.walk(value) if isinstance(n, ast.Name)} & reduced:
            raise ValueError(f"{text} reads a reduction of its run")
        target = f"v{k}_{stmt.targets[0].id}"
        version[stmt.targets[0].id] = target
        reduces = any(_is_reduction(n) for n in ast.walk(value))
        if reduces:
            reduced.add(target)
        steps.append(_Step(target, value, reduces))
    return _Run(tuple(f"in_{name}" for name in inputs), tuple(steps), tuple(version[name] for name in outputs))


class _Versions(ast.NodeTransformer):
    def __init__(self, version: dict[str, str]) -> None:
        self.version = version

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id not in self.version:
            raise ValueError(f"{node.id} is neither an input nor set before it is read")
        return ast.Name(self.version[node.id], ast.Load())

    def visit_Call(self, node: ast.Call) -> ast.AST:
        node.args = [self.visit(a) for a in node.args]
        if _numpy_function(node) == "exp":
            node.func = ast.Name(_EXP, ast.Load())
        return node


def _numpy_function(node: ast.AST) -> str | None:
    """``f`` of a call ``np.f(...)``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) and node.func.value.id == "np":
        return node.func.attr
    return None


def _is_reduction(node: ast.AST) -> bool:
    return _numpy_function(node) == "sum" or isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "sum_product"


def _identity(node: ast.AST) -> str | None:
    """The helper's name, for a call ``sum_to_shape(v, s)``,
    ``unbroadcast(v, like)``, ``broadcast_like(v, like)`` or
    ``broadcast_to_operands(v, *operands)``:
    ``v`` itself when shapes agree (``numba_runtime``'s implementations
    return their argument then), which the loop computes element by element."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("sum_to_shape", "unbroadcast", "broadcast_like", "broadcast_to_operands") and node.args:
        return node.func.id
    return None


def _summand(node: ast.Call) -> ast.expr:
    """What a reduction adds up: ``a * b`` for ``sum_product(a, b)``."""
    return node.args[0] if _numpy_function(node) == "sum" else ast.BinOp(node.args[0], ast.Mult(), node.args[1])


# --------------------------------------------------------------------------
# Types, and whether one loop computes the run


class _Untyped(Exception):
    """numba has no type for an operation of the run on these types."""


def _context() -> Any:
    """numba's typing context, with numpy's functions registered."""
    cpu_target.target_context.refresh()
    context = cpu_target.typing_context
    context.refresh()
    return context


def _typeof(node: ast.expr, env: dict[str, types.Type], context: Any) -> types.Type:
    """The type numba gives ``node`` (an array for an array operation)."""
    if isinstance(node, ast.Constant):
        return context.resolve_value_type(node.value)
    if isinstance(node, ast.Name):
        return env[node.id]
    if isinstance(node, ast.BinOp):
        return _resolve(context, _OPERATORS[type(node.op)], [_typeof(node.left, env, context), _typeof(node.right, env, context)])
    if isinstance(node, ast.UnaryOp):
        return _resolve(context, _OPERATORS[type(node.op)], [_typeof(node.operand, env, context)])
    if _identity(node) is not None:
        return _identity_type(_identity(node), [_typeof(a, env, context) for a in node.args])  # type: ignore[arg-type, attr-defined]
    if isinstance(node, ast.Call) and _is_reduction(node):
        return _resolve(context, context.resolve_value_type(np.sum), [_typeof(_summand(node), env, context)])
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == _EXP:
        return _resolve(context, context.resolve_value_type(exp_ufunc()), [_typeof(node.args[0], env, context)])
    if isinstance(node, ast.Call) and _numpy_function(node) is not None:
        return _resolve(context, context.resolve_value_type(getattr(np, _numpy_function(node))), [_typeof(a, env, context) for a in node.args])  # type: ignore[arg-type]
    raise _Untyped(ast.unparse(node))


def _identity_type(helper: str, args: list[types.Type]) -> types.Type:
    """The type of an identity's first argument, when the helper gives that
    argument back once the loop's arrays have one shape (the loop's guard
    checks a ``sum_to_shape`` target): an array with a target of its rank
    (a ``like`` array of its rank, operands arrays of its rank or
    numbers), or a number with a target of none (numbers). Else the
    helper may reduce or broadcast: ``_Untyped``, the statements as written."""
    value, rest = args[0], args[1:]
    number = (types.Integer, types.Float)
    rank = value.ndim if isinstance(value, types.Array) else 0 if isinstance(value, number) else None
    if rank is None:
        raise _Untyped(f"{helper} of {value}")

    def fits(t: types.Type) -> bool:
        return isinstance(t, types.Array) and t.ndim == rank or isinstance(t, number) and rank == 0

    if helper == "sum_to_shape":
        ok = _shape_type_length(rest[0]) == rank
    elif helper in ("unbroadcast", "broadcast_like"):
        ok = fits(rest[0])
    else:
        ok = all(fits(t) or isinstance(t, number) for t in rest)
    if not ok:
        raise _Untyped(f"{helper} of {args}")
    return value


def _resolve(context: Any, function: Any, args: list[types.Type]) -> types.Type:
    try:
        signature = context.resolve_function_type(function, tuple(args), {})
    except NumbaError:
        signature = None
    if signature is None:
        raise _Untyped(f"{function} of {args}")
    return signature.return_type


@dataclass
class _Sum:
    """A reduction whose summand is an array: accumulated in the loop."""

    node: ast.Call
    summand: ast.expr
    dtype: np.dtype  # of the summand's elements, as numpy would store them
    result: types.Type  # what np.sum gives


@dataclass
class _Plan:
    """How one loop computes the run for the argument types at hand."""

    arrays: list[str]  # array parameters
    ndim: int
    looped: dict[str, np.dtype]  # array statements: computed element by element, with their dtype
    kept: set[str]  # looped statements stored in arrays: read after the run, or after the loop
    sums: list[_Sum] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)  # shapes of sum_to_shape identities: the loop runs when they are the arrays' shape


def _plan(run: _Run, args: tuple[types.Type, ...]) -> _Plan | None:
    """The loop's plan, or ``None`` when the statements run as written:
    other types than float arrays of one rank and int or float scalars, or
    no array at all."""
    env = dict(zip(run.parameters, args, strict=True))
    arrays = _loop_arrays(env)
    if arrays is None:
        return None
    context = _context()
    try:
        for step in run.steps:
            env[step.target] = _typeof(step.value, env, context)
        sums = [_summed(n, env, context) for s in run.steps if s.reduces for n in ast.walk(s.value) if _is_reduction(n)]
    except _Untyped:
        return None
    looped = {s.target: _element_dtype(env[s.target]) for s in run.steps if not s.reduces and isinstance(env[s.target], types.Array)}
    sums = [s for s in sums if s is not None]
    ndim = env[arrays[0]].ndim
    if not looped and not sums or any(d not in _FUSED_DTYPES for d in [*looped.values(), *(s.dtype for s in sums)]) or any(env[t].ndim != ndim for t in looped):
        return None
    after = set(run.results) | {n for s in run.steps if s.reduces for n in _names_outside_sums(s.value)}
    targets = [ast.unparse(n.args[1]) for s in run.steps if s.reduces or s.target in looped for n in ast.walk(s.value) if _identity(n) == "sum_to_shape" and isinstance(_typeof(n.args[0], env, context), types.Array)]  # type: ignore[attr-defined]
    return _Plan(arrays, ndim, looped, after & set(looped), sums, list(dict.fromkeys(targets)))  # type: ignore[arg-type]


def _loop_arrays(env: dict[str, types.Type]) -> list[str] | None:
    """The array parameters, if one loop can go over them all: all float64
    or all float32, of one rank (1, or more if C-contiguous), beside int
    or float scalars and shape tuples."""
    arrays = [p for p, t in env.items() if isinstance(t, types.Array)]
    if not arrays or not all(isinstance(t, (types.Array, types.Integer, types.Float)) or _shape_type_length(t) is not None for t in env.values()):
        return None
    if {_element_dtype(env[a]) for a in arrays} not in ({np.dtype(np.float64)}, {np.dtype(np.float32)}):
        return None
    ndims = {env[a].ndim for a in arrays}
    if len(ndims) != 1 or ndims == {0} or ndims != {1} and any(env[a].layout != "C" for a in arrays):
        return None
    return arrays


def _summed(node: ast.Call, env: dict[str, types.Type], context: Any) -> _Sum | None:
    """The reduction ``node`` as a sum to accumulate; ``None`` when it adds up a scalar."""
    dtype = _element_dtype(_typeof(_summand(node), env, context))
    return None if dtype is None else _Sum(node, _summand(node), dtype, _typeof(node, env, context))


def _element_dtype(t: types.Type) -> np.dtype | None:
    return np.dtype(as_dtype(t.dtype)) if isinstance(t, types.Array) else None


def _names_outside_sums(node: ast.expr) -> set[str]:
    """Names a reduction statement reads after the loop."""
    if _is_reduction(node):
        return set()
    if isinstance(node, ast.Name):
        return {node.id}
    return {n for child in ast.iter_child_nodes(node) for n in _names_outside_sums(child)} if isinstance(node, ast.expr) else set()


# --------------------------------------------------------------------------
# The implementation's text


def _source(run: _Run, plan: _Plan | None, name: str, parallel: bool = False, fastmath: bool = False) -> str:
    header = f"def {name}({', '.join(run.parameters)}):\n"
    result = run.results[0] if len(run.results) == 1 else f"({', '.join(run.results)})"
    if plan is None:
        return header + _lines([_assignment(s) for s in run.steps], 1) + f"    return {result}\n"
    hoisted = [s for s in run.steps if not s.reduces and s.target not in plan.looped]
    rest = [s for s in run.steps if s not in hoisted]
    same = " and ".join([f"{a}.shape == {plan.arrays[0]}.shape" for a in plan.arrays[1:]] + [f"{t} == {plan.arrays[0]}.shape" for t in plan.targets]) or "True"
    return (
        header
        + _lines([_assignment(s) for s in hoisted], 1)
        + f"    if {same}:\n"
        + _lines(_fused(run, plan, parallel, fastmath), 2)
        + "    else:\n"
        + _lines([_assignment(s) for s in rest], 2)
        + f"    return {result}\n"
    )


def _lines(lines: list[str], depth: int) -> str:
    return "".join("    " * depth + line + "\n" for line in lines)


def _assignment(step: _Step) -> str:
    return f"{step.target} = {ast.unparse(step.value)}"


def _fused(run: _Run, plan: _Plan, parallel: bool, fastmath: bool) -> list[str]:
    """The loop, and the reduction statements after it."""
    first = plan.arrays[0]
    lines = [f"n = {first}.size"]
    if plan.ndim > 1:
        lines += [f"flat_{a} = {a}.ravel()" for a in plan.arrays]
    for target in (s.target for s in run.steps if s.target in plan.kept):
        lines.append(f"{target} = np.empty({first}.shape, np.{plan.looped[target].name})")
        if plan.ndim > 1:
            lines.append(f"flat_{target} = {target}.ravel()")
    if plan.sums and not (parallel or fastmath):
        lines += _lanes_loop(run, plan)
    else:
        lines += [f"acc{j} = 0.0" for j in range(len(plan.sums))]
        lines += [f"for i in {'prange' if parallel else 'range'}(n):"] + ["    " + line for line in _body(run, plan, lambda j: f"acc{j}")]
    totals = {id(s.node): _cast(f"acc{j}", s.result) for j, s in enumerate(plan.sums)}
    for step in run.steps:
        if step.reduces:
            lines.append(f"{step.target} = {ast.unparse(_substituted(step.value, lambda node: ast.Name(totals[id(node)]) if id(node) in totals else None))}")
    return lines


def _lanes_loop(run: _Run, plan: _Plan) -> list[str]:
    """Blocks of ``LANES`` elements, element ``k`` of a block adding into
    lane ``k`` of each sum (no chain of additions: the loop vectorizes),
    then the last partial block; then each sum's lanes added up."""
    lines = [f"lanes{j} = np.zeros({LANES})" for j in range(len(plan.sums))]
    lines += [f"full = n - n % {LANES}", f"for start in range(0, full, {LANES}):", f"    for k in range({LANES}):", "        i = start + k"]
    body = _body(run, plan, lambda j: f"lanes{j}[k]")
    lines += ["        " + line for line in body]
    lines += ["for k in range(n - full):", "    i = full + k"] + ["    " + line for line in body]
    return lines + [f"acc{j} = np.sum(lanes{j})" for j in range(len(plan.sums))]


def _body(run: _Run, plan: _Plan, accumulator: Callable[[int], str]) -> list[str]:
    """One element ``i`` of each array statement, stored if kept; each
    sum's summand added into ``accumulator(j)``."""
    flat = "flat_" if plan.ndim > 1 else ""
    arrays = set(plan.arrays)

    def element(node: ast.expr) -> ast.expr:
        def read(name: ast.AST) -> ast.expr | None:
            if _identity(name) is not None:
                return element(name.args[0])  # type: ignore[attr-defined]
            if not isinstance(name, ast.Name):
                return None
            if name.id in arrays:
                return ast.parse(f"{flat}{name.id}[i]", mode="eval").body
            return ast.Name(f"e_{name.id}") if name.id in plan.looped else None

        return _substituted(node, read)

    lines = []
    for step in run.steps:
        if step.target in plan.looped:
            lines.append(f"e_{step.target} = {_round(ast.unparse(element(step.value)), plan.looped[step.target])}")
            if step.target in plan.kept:
                lines.append(f"{flat}{step.target}[i] = e_{step.target}")
    for j, s in enumerate(plan.sums):
        lines.append(f"{accumulator(j)} += {_round(ast.unparse(element(s.summand)), s.dtype)}")
    return lines


def _round(expression: str, dtype: np.dtype) -> str:
    """An element as the array stores it: numba computes an array
    expression's elements in the scalars' types (float64 for a float32
    array divided by an int), then rounds them to the array's dtype."""
    return expression if dtype == np.float64 else f"np.{dtype.name}({expression})"


def _cast(total: str, result: types.Type) -> str:
    return f"np.{as_dtype(result).name}({total})" if isinstance(result, types.Float) and result != types.float64 else total


def _substituted(node: ast.AST, replace: Callable[[ast.AST], ast.expr | None]) -> Any:
    """A copy of ``node`` with each node for which ``replace`` gives an
    expression replaced by it (``node`` itself is left as it is)."""
    replacement = replace(node)
    if replacement is not None:
        return replacement
    fields = {}
    for name, value in ast.iter_fields(node):
        if isinstance(value, ast.AST):
            value = _substituted(value, replace)
        elif isinstance(value, list):
            value = [_substituted(v, replace) if isinstance(v, ast.AST) else v for v in value]
        fields[name] = value
    return type(node)(**fields)
