"""The runtime helpers of generated code, for code compiled with numba.

Entry points: the helpers ``HELPERS`` names (same names and meanings as in
``s2s.runtime``), and ``fused_sum(name, expression, parameters)``, which
makes the loop kernel of one ``np.sum(<elementwise expression>)``.

Each helper is a plain Python function whose numba implementation is chosen
when numba types a call (``numba.extending.overload``): the ranks of the
arrays and the length of shape tuples are known then, so the code written
for a call is specialized on them, with no test of rank at run time. The
Python bodies are those of ``s2s.runtime`` (numba never runs them; they keep
the module usable, and testable, without compiling).

Imported only when the numba backend is used: it imports numba.
"""

from __future__ import annotations

import ast
import cmath
import functools
import math
from typing import Any, Callable

import numba
import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.extending import intrinsic, overload
from numba.np.numpy_support import as_dtype

from ..runtime import core, linalg

__all__ = [
    "HELPERS", "fused_sum", "exp_ufunc", "reversed_range", "shape_of", "sum_to_shape", "unbroadcast", "broadcast_like", "broadcast_to_operands", "owned_like",
    "zeros_like", "frozen", "sum_product", "matmul_adjoint_a", "matmul_adjoint_b", "reduced_size", "power_base_partial", "xlogy",
]

# The helpers of s2s.runtime that compiled code can call; a module calling any other falls back to numpy.
HELPERS = (
    "shape_of", "sum_to_shape", "unbroadcast", "broadcast_like", "broadcast_to_operands", "owned_like", "zeros_like", "frozen", "sum_product",
    "matmul_adjoint_a", "matmul_adjoint_b", "reduced_size", "power_base_partial", "xlogy",
)


def shape_of(x: Any) -> tuple[int, ...]:
    return core.shape_of(x)


def sum_to_shape(g: Any, target: tuple[int, ...]) -> Any:
    return core.sum_to_shape(g, target)


def unbroadcast(g: Any, like: Any) -> Any:
    return core.unbroadcast(g, like)


def broadcast_like(t: Any, like: Any) -> Any:
    return core.broadcast_like(t, like)


def broadcast_to_operands(t: Any, *operands: Any) -> Any:
    return core.broadcast_to_operands(t, *operands)


def matmul_adjoint_a(g: Any, a: Any, b: Any) -> Any:
    return linalg.matmul_adjoint_a(g, a, b)


def matmul_adjoint_b(g: Any, a: Any, b: Any) -> Any:
    return linalg.matmul_adjoint_b(g, a, b)


def reduced_size(x: Any, axis: Any = None) -> Any:
    return core.reduced_size(x, axis)


def owned_like(t: Any, like: Any) -> Any:
    return core.owned_like(t, like)


def zeros_like(x: Any) -> Any:
    return core.zeros_like(x)


def frozen(x: Any) -> Any:
    return core.frozen(x)


def sum_product(a: Any, b: Any) -> Any:
    return core.sum_product(a, b)


def power_base_partial(x: Any, p: Any) -> Any:
    return core.power_base_partial(x, p)


def xlogy(x: Any, y: Any) -> Any:
    return core.xlogy(x, y)


def reversed_range(r: range) -> range:
    """``reversed(r)`` for a range, as a range (numba has no ``reversed``)."""
    return r[::-1]


# --------------------------------------------------------------------------
# Typing-time code generation


def _implementation(source: str, name: str = "impl", **namespace: Any) -> Callable:
    """Compile the text of one implementation (written for the argument
    types at hand) in a namespace with numpy and ``namespace``."""
    scope: dict[str, Any] = {"np": np, "prange": prange, **namespace}
    if "_s2s_exp" in source:  # the vectorizable exp, made when first needed
        scope["_s2s_exp"] = exp_ufunc()
    exec(compile(source, f"<s2s numba helper {name}>", "exec"), scope)  # noqa: S102 - s2s's own text
    return scope[name]


def _is_array(t: types.Type) -> bool:
    return isinstance(t, types.Array)


def _float_dtype(*typs: types.Type) -> np.dtype:
    """The floating dtype numpy gives a result computed from these types
    (float64 for integers, as ``np.result_type(x, 1.0)``)."""
    dtypes = [as_dtype(t.dtype if _is_array(t) else t) for t in typs if _is_array(t) or isinstance(t, types.Number)]
    dtype = np.result_type(*dtypes, 1.0) if dtypes else np.dtype(np.float64)
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


def _shape_type_length(t: types.Type) -> int | None:
    """The length of a shape tuple type, ``None`` for anything else."""
    if isinstance(t, types.UniTuple) and isinstance(t.dtype, types.Integer):
        return t.count
    if isinstance(t, types.Tuple) and len(t.types) == 0:
        return 0
    return None


@overload(shape_of)
def _shape_of(x):
    if _is_array(x):
        return lambda x: x.shape
    if isinstance(x, types.Number):
        return lambda x: ()
    return None


def _sum_to_shape_source(ndim: int, k: int, dtype: np.dtype) -> str:
    """``sum_to_shape`` for an array of rank ``ndim`` and a target of ``k``
    axes, as numpy's version computes it: leading axes summed, axes the
    target has as 1 summed (kept), the rest broadcast to the target.

    Target axis ``j`` lines up with the array's axis ``j - (k - ndim)``
    (none when that is negative: a padded axis of length 1)."""
    offset = k - ndim
    reduced, index = [], []
    for j in range(k):
        a = j - offset
        if a < 0:
            reduced.append("1")
            index.append("0")
        else:
            reduced.append(f"(1 if target[{j}] == 1 else g.shape[{a}])")
            index.append(f"(0 if target[{j}] == 1 else idx[{a}])")
    same = "g.shape == target" if ndim == k else "False"
    shape = f"({', '.join(reduced)},)"
    at = f"({', '.join(index)},)"
    return (
        "def impl(g, target):\n"
        f"    if {same}:\n"
        "        return g\n"
        f"    reduced = np.zeros({shape}, np.{dtype.name})\n"
        "    for idx in np.ndindex(g.shape):\n"
        f"        reduced[{at}] += g[idx]\n"
        "    if reduced.shape == target:\n"
        "        return reduced\n"
        "    return np.broadcast_to(reduced, target).copy()\n"
    )


@overload(sum_to_shape)
def _sum_to_shape(g, target):
    k = _shape_type_length(target)
    if k is None:
        return None
    if not _is_array(g):
        if k == 0:
            return lambda g, target: g
        dtype = _float_dtype(g)
        return lambda g, target: np.full(target, g, dtype)
    if k == 0:
        return lambda g, target: np.sum(g)
    if g.ndim == 0:
        dtype = _float_dtype(g)
        return lambda g, target: np.full(target, g[()], dtype)
    return _implementation(_sum_to_shape_source(g.ndim, k, _float_dtype(g)))


@overload(unbroadcast)
def _unbroadcast(g, like):
    if _is_array(like) or isinstance(like, types.Number):
        return lambda g, like: sum_to_shape(g, shape_of(like))
    return None


@overload(broadcast_like)
def _broadcast_like(t, like):
    if isinstance(like, types.Number) and isinstance(t, types.Number):
        return lambda t, like: t
    if not _is_array(like):
        return None  # a tuple or list of tangents: numpy's helper goes element by element
    dtype = _float_dtype(t)
    if not _is_array(t):
        return lambda t, like: np.full(like.shape, t, dtype)

    def impl(t, like):
        if t.shape == like.shape:
            return t
        return np.broadcast_to(t, like.shape).astype(dtype)

    return impl


@overload(broadcast_to_operands)
def _broadcast_to_operands(t, *operands):
    """The broadcast of the operands' shapes is computed when the code runs;
    its rank, hence the result's type, is known now."""
    arrays = [i for i, o in enumerate(operands) if _is_array(o)]
    if not all(_is_array(o) or isinstance(o, types.Number) for o in operands) or not (_is_array(t) or isinstance(t, types.Number)):
        return None
    rank = max([operands[i].ndim for i in arrays] + [t.ndim if _is_array(t) else 0])
    if rank == 0:
        return lambda t, *operands: t
    dtype = _float_dtype(t)
    shapes = ", ".join([f"operands[{i}].shape" for i in arrays] + (["t.shape"] if _is_array(t) else []))
    same = "    if shape == t.shape:\n        return t\n" if _is_array(t) and t.ndim == rank else ""
    fill = "np.broadcast_to(t, shape).astype(dtype)" if _is_array(t) else "np.full(shape, t, dtype)"
    source = f"def impl(t, *operands):\n    shape = np.broadcast_shapes({shapes})\n{same}    return {fill}\n"
    return _implementation(source, dtype=dtype)


# The adjoints of a @ b for vectors and matrices (stacks of matrices have
# no compiled form: numba refuses the call, and the module runs numpy code).
_MATMUL_ADJOINTS = {
    "a": {(2, 2): "g @ b.T", (1, 1): "g * b", (2, 1): "np.outer(g, b)", (1, 2): "b @ g"},
    "b": {(2, 2): "a.T @ g", (1, 1): "g * a", (2, 1): "g @ a", (1, 2): "np.outer(a, g)"},
}


def _matmul_adjoint(which: str):
    def typer(g, a, b):
        if not (_is_array(a) and _is_array(b)):
            return None
        expression = _MATMUL_ADJOINTS[which].get((a.ndim, b.ndim))
        return None if expression is None else _implementation(f"def impl(g, a, b):\n    return {expression}\n")

    return typer


overload(matmul_adjoint_a)(_matmul_adjoint("a"))
overload(matmul_adjoint_b)(_matmul_adjoint("b"))


@overload(reduced_size)
def _reduced_size(x, axis=None):
    """How many elements a reduction over ``axis`` adds up (a mean divides by it)."""
    whole = axis is None or isinstance(axis, (types.NoneType, types.Omitted))
    if isinstance(x, types.Number) and whole:
        return lambda x, axis=None: 1
    if not _is_array(x):
        return None
    if whole:
        return lambda x, axis=None: x.size
    if isinstance(axis, types.Integer):
        return lambda x, axis=None: x.shape[axis if axis >= 0 else axis + x.ndim]
    return None


@overload(owned_like)
def _owned_like(t, like):
    if not _is_array(like):
        return None
    dtype = _float_dtype(t)
    if not _is_array(t):
        return lambda t, like: np.full(like.shape, t, dtype)
    return lambda t, like: np.broadcast_to(t, like.shape).astype(dtype)


@overload(zeros_like)
def _zeros_like(x):
    dtype = _float_dtype(x)
    if _is_array(x):
        return lambda x: np.zeros(x.shape, dtype)
    if isinstance(x, types.Number):
        # numpy's helper gives a 0-d array; a number has the same value and
        # keeps the types of loop variables consistent (s2s hands 0-d results back as numbers)
        zero = dtype.type(0)
        return lambda x: zero
    return None


@overload(reversed_range)
def _reversed_range(r):
    if not isinstance(r, types.RangeType):
        return None

    def impl(r):
        n = len(r)
        last = r.start + (n - 1) * r.step
        return range(last, last - n * r.step, -r.step)

    return impl


@overload(frozen)
def _frozen(x):
    if _is_array(x):
        return lambda x: x.copy()
    return lambda x: x


# --------------------------------------------------------------------------
# Reductions of elementwise expressions, as loops


def fused_sum(name: str, expression: str, parameters: tuple[str, ...], parallel: bool = False, fastmath: bool = False) -> Callable:
    """A function ``name(*parameters)`` computing ``np.sum(expression)``
    that numba compiles, where the arrays among its arguments have one
    shape, into one loop accumulating the elementwise expression: no
    temporary array. Arrays of different shapes (broadcasting) take
    ``np.sum`` of the expression as written."""
    stub = _implementation(f"def {name}({', '.join(parameters)}):\n    return np.sum({expression})\n", name)
    options = {"parallel": parallel, "fastmath": fastmath, "error_model": "numpy"}

    def typed(*args: types.Type) -> Callable | None:
        arrays = [p for p, t in zip(parameters, args) if _is_array(t)]
        if not arrays:
            return _implementation(f"def impl({', '.join(parameters)}):\n    return {expression}\n")
        dtype = _float_dtype(*args) if any(as_dtype(t.dtype).kind in "fc" for t in args if _is_array(t)) else as_dtype(args[parameters.index(arrays[0])].dtype)
        return _implementation(_fused_sum_source(expression, parameters, arrays, {t.ndim for t in args if _is_array(t)}, dtype, parallel))

    overload(stub, jit_options=options)(_with_signature(typed, parameters))
    return stub


def _with_signature(typed: Callable, parameters: tuple[str, ...]) -> Callable:
    """``typed`` as a function whose parameters are named ``parameters``
    (``overload`` requires the implementation to have the stub's signature)."""
    return _implementation(f"def typer({', '.join(parameters)}):\n    return typed({', '.join(parameters)})\n", "typer", typed=typed)


def _fused_sum_source(expression: str, parameters: tuple[str, ...], arrays: list[str], ranks: set[int], dtype: np.dtype, parallel: bool) -> str:
    """The loop: each array read through a flat view, element ``i``."""
    whole = f"    return np.sum({expression})\n"
    if len(ranks) != 1:  # arrays of different ranks broadcast: no single loop
        return f"def impl({', '.join(parameters)}):\n" + whole
    element = _index_names(expression, {a: f"flat_{a}[i]" for a in arrays})
    same = " and ".join(f"{a}.shape == {arrays[0]}.shape" for a in arrays[1:]) or "True"
    flats = "".join(f"        flat_{a} = {a}.ravel()\n" for a in arrays)
    loop = "prange" if parallel else "range"
    return (
        f"def impl({', '.join(parameters)}):\n"
        f"    if {same}:\n"
        f"{flats}"
        f"        total = np.{dtype.name}(0)\n"
        f"        for i in {loop}(flat_{arrays[0]}.size):\n"
        f"            total += {element}\n"
        "        return total\n"
        f"{whole}"
    )


def _index_names(expression: str, replacements: dict[str, str]) -> str:
    """``expression`` with each name in ``replacements`` replaced."""

    class Replace(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            if node.id in replacements:
                return ast.parse(replacements[node.id], mode="eval").body
            return node

    return ast.unparse(Replace().visit(ast.parse(expression, mode="eval")))


@overload(sum_product)
def _sum_product(a, b):
    return lambda a, b: _sum_of_product(a, b)


_sum_of_product = fused_sum("_sum_of_product", "a * b", ("a", "b"))


# --------------------------------------------------------------------------
# exp in a form the compiler vectorizes
#
# numba's np.exp is a call of the C library's scalar exp for every element,
# several times slower than numpy's vectorized loop on large arrays. This one
# is arithmetic only (Cody and Waite's reduction x = k ln 2 + r, |r| <= ln 2 / 2,
# then e^r by its Taylor polynomial to degree 13, whose remainder is below
# 1e-17, then 2^k from its exponent bits in two halves, which also covers
# subnormal results), so loops over it vectorize. It is within one unit in the
# last place of numpy's exp over the whole range (tests/test_numba_backend.py),
# and gives numpy's results at the edges: inf above 709.78..., 0 below
# -745.13..., NaN for NaN.

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 to 32 bits: k * _LN2_HI is exact for |k| < 2^20
_LN2_LO = 1.90821492927058770002e-10


@intrinsic
def _float_from_bits(typingctx, bits):
    """The float64 whose bits are the int64 ``bits`` (2^k from its exponent)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@numba.njit(inline="always", error_model="numpy")
def _exp_real(x):
    k = np.floor(x * _LOG2E + 0.5)
    k = min(max(k, -1080.0), 1030.0)  # beyond, the edges below decide
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0  # 1/13!, then Horner's scheme down to 1/0!
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    n = np.int64(k)
    half = n >> 1
    y = p * _float_from_bits((half + 1023) << 52) * _float_from_bits((n - half + 1023) << 52)
    if x > 709.782712893384:
        y = np.inf
    if x < -745.1332191019412:
        y = 0.0
    if x != x:
        y = x
    return y


def _exp_any(x: Any) -> Any:
    return np.exp(x)


@overload(_exp_any, inline="always")
def _exp_by_type(x):
    if isinstance(x, types.Float):
        return lambda x: _exp_real(x)
    if isinstance(x, types.Complex):
        return lambda x: cmath.exp(x)
    return None


def _exp_element(x):
    return _exp_any(x)


@functools.cache
def exp_ufunc() -> Callable:
    """``np.exp`` as a numba ufunc, made on first use: vectorizable
    arithmetic for float64 and float32 (computed in float64, rounded back
    to float32), cmath's exp for complex numbers."""
    # narrower types first: numpy picks the first loop its inputs cast to safely
    return numba.vectorize(["float32(float32)", "float64(float64)", "complex64(complex64)", "complex128(complex128)"], cache=True)(_exp_element)


# --------------------------------------------------------------------------
# The partials of a power, as ufuncs: element by element, broadcasting as numpy does


def _power_base_partial_element(x, p):
    return 0.0 if p == 0 else p * x ** (p - 1)  # x ** 0 is constant, even at x == 0


def _xlogy_element(x, y):
    return 0.0 if x == 0 else x * math.log(y)  # y ** p at y == 0, p == 0: 0, not nan


@functools.cache
def _real_ufunc(element: Callable) -> Callable:
    """``element`` of two real numbers as a numba ufunc, made on first use
    (float32 computed in float32, as numpy's loops do)."""
    return numba.vectorize(["float32(float32, float32)", "float64(float64, float64)"], cache=True)(element)


def _real_binary(element: Callable) -> Callable:
    """The overload of a helper computing ``element`` of two real numbers
    or arrays of them; anything else (complex numbers, integer arrays) is a
    typing error, and the module runs numpy's code."""

    def typer(a, b):
        real = (types.Float, types.Integer)
        if not all(isinstance(t.dtype if _is_array(t) else t, real) for t in (a, b)) or not any(isinstance(t.dtype if _is_array(t) else t, types.Float) for t in (a, b)):
            return None
        ufunc = _real_ufunc(element)
        return lambda a, b: ufunc(a, b)

    return typer


overload(power_base_partial)(_real_binary(_power_base_partial_element))
overload(xlogy)(_real_binary(_xlogy_element))
