"""Core runtime helpers: broadcasting, reductions, cumulative operations.

This is the only part of s2s that generated modules import, and it imports
only numpy. Each helper does one thing a derivative needs that numpy does
not spell in one call, with a fast path for the common case (most calls of
``unbroadcast`` find the shapes already equal and return at once).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "unbroadcast",
    "sum_to_shape",
    "broadcast_like",
    "broadcast_to_operands",
    "owned_like",
    "zeros_like",
    "sum_product",
    "unit_cotangent",
    "unit_seed",
    "xlogy",
    "power_base_partial",
    "safe_divide",
    "reduced_size",
    "expand_reduced",
    "choice_tangent",
    "choice_adjoint",
    "prod_tangent",
    "prod_adjoint",
    "var_tangent",
    "var_adjoint",
    "std_tangent",
    "std_adjoint",
    "cumsum_adjoint",
    "cumprod_tangent",
    "cumprod_adjoint",
    "norm_tangent",
    "norm_adjoint",
    "unpack_adjoint",
    "add_at",
    "frozen",
    "shape_of",
    "check_not_stale",
    "check_distinct_index",
    "zeros_like_list",
    "add_lists",
    "as_list_adjoint",
    "list_adjoint",
]


_SHAPES: dict[tuple[int, ...], tuple[int, ...]] = {}


_NUMBERS = (float, int, complex, bool)


def _shape(x: Any) -> tuple[int, ...]:
    """``np.shape(x)``, fast for the arrays and Python numbers generated
    code passes (np.shape of a float takes 0.3 us)."""
    if type(x) is np.ndarray:
        return x.shape
    if type(x) in _NUMBERS:
        return ()
    shape = getattr(x, "shape", None)
    return shape if shape is not None else np.shape(x)


def shape_of(x: Any) -> tuple[int, ...]:
    """``np.shape(x)``, as the forward sweep records it for an adjoint that
    needs only the shape: without numpy's conversion of array scalars, and
    one shared tuple per distinct shape, so that a loop's tape holds
    references rather than a new tuple per iteration."""
    shape = _shape(x)
    if len(_SHAPES) > 4096:  # many distinct shapes: start afresh rather than grow
        _SHAPES.clear()
    return _SHAPES.setdefault(shape, shape)


def _float_dtype(x: Any) -> np.dtype:
    dtype = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


# --------------------------------------------------------------------------
# Broadcasting


def unbroadcast(g: Any, like: Any) -> Any:
    """``g`` brought to the shape of ``like``: summed over the axes that
    broadcasting added or stretched, broadcast where ``g`` is smaller.

    This is the adjoint of numpy's broadcasting.
    """
    target = _shape(like)
    if _shape(g) == target:
        return g
    return sum_to_shape(g, target)


def sum_to_shape(g: Any, target: tuple[int, ...]) -> Any:
    """``unbroadcast`` to a shape given as a tuple (a shape the forward sweep
    recorded instead of keeping the array)."""
    have = _shape(g)
    if have == target:
        return g
    if not target:
        return np.add.reduce(g, axis=None)
    g = np.asarray(g)
    lead = g.ndim - len(target)
    if lead > 0:
        g = np.add.reduce(g, axis=tuple(range(lead)))
    elif lead < 0:
        g = g.reshape((1,) * -lead + g.shape)
    stretched = tuple(i for i, (n, m) in enumerate(zip(g.shape, target)) if m == 1 and n != 1)
    if stretched:
        g = np.add.reduce(g, axis=stretched, keepdims=True)
    if g.shape != target:
        out = np.empty(target, dtype=np.result_type(g, 1.0))
        out[...] = g
        g = out
    return g


def broadcast_like(t: Any, like: Any) -> Any:
    """``t`` broadcast to the shape of ``like``, as a new array (element by
    element for the tangent of a tuple or list)."""
    if isinstance(like, (tuple, list)) and isinstance(t, (tuple, list)):
        return type(t)(broadcast_like(a, b) for a, b in zip(t, like, strict=True))
    target = _shape(like)
    if _shape(t) == target:
        return t
    out = np.empty(target, dtype=np.result_type(t, 1.0))
    out[...] = t
    return out


def broadcast_to_operands(t: Any, *operands: Any) -> Any:
    """``broadcast_like(t, out)`` for an ``out`` computed elementwise from
    ``operands``, without ``out``: numpy gives it their broadcast shape."""
    shape = _shape(t)
    target = shape
    for operand in operands:
        other = _shape(operand)
        if other and other != target:  # a number never changes the shape
            target = np.broadcast_shapes(target, other)
    if target == shape:
        return t
    out = np.empty(target, dtype=np.result_type(t, 1.0))
    out[...] = t
    return out


def owned_like(t: Any, like: Any) -> np.ndarray:
    """A new, writable array shaped like ``like`` holding ``t`` (broadcast):
    a derivative that generated code may then update in place."""
    out = np.empty(_shape(like), dtype=np.result_type(t, 1.0))
    out[...] = t
    return out


def frozen(x: Any) -> Any:
    """``x`` as a value of its own: a copy if it is an array (which may be a
    view of an array updated in place later), ``x`` itself otherwise."""
    return x.copy() if type(x) is np.ndarray else x


def check_not_stale(view: Any, base: Any, view_name: str, base_name: str) -> None:
    """Refuse, when the code runs, a value read after an in-place update of
    an array it is a view of: its value changed under it, which s2s's
    derivative does not follow. (A number read from an array is a copy.)"""
    if isinstance(view, np.ndarray) and isinstance(base, np.ndarray) and np.may_share_memory(view, base):
        from ..errors import S2SError

        raise S2SError(
            f"`{view_name}` is a view of `{base_name}`, which was updated in place after `{view_name}` was made",
            hint=f"take a copy before the update ({view_name} = {view_name}.copy()), or read it again after the update",
        )


def check_distinct_index(index: Any) -> None:
    """Refuse, when the code runs, an in-place update through integer arrays
    that name an element twice: numpy keeps one of the values written there,
    and which one the derivative cannot tell."""
    parts = index if type(index) is tuple else (index,)
    arrays = [np.asarray(p) for p in parts if isinstance(p, (list, np.ndarray)) and np.asarray(p).dtype.kind in "iu"]
    if not arrays:
        return
    positions = np.stack([a.ravel() for a in np.broadcast_arrays(*arrays)])
    if np.unique(positions, axis=1).shape[1] < positions.shape[1]:
        from ..errors import S2SError

        raise S2SError(
            "an in-place update through an index that names an element more than once: numpy keeps one of the values written there",
            hint="write through indices without repeats (np.unique), or build the result without writing in place",
        )


def zeros_like(x: Any) -> Any:
    """A zero derivative for ``x``: its shape, a floating dtype (a tuple of
    them for a tuple, as a callee's saved values are)."""
    if isinstance(x, tuple):
        return tuple(zeros_like(v) for v in x)
    return np.zeros(_shape(x), dtype=_float_dtype(x))


def sum_product(a: Any, b: Any) -> Any:
    """``np.sum(a * b)``: a dot product when ``a`` and ``b`` are float arrays
    of one shape, which makes no temporary array and is several times faster
    (the same sum, added in another order); ``np.sum(a * b)`` otherwise."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.shape == b.shape and a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return a.dot(b) if a.ndim == 1 else a.ravel().dot(b.ravel())  # the method: np.dot's dispatch costs 0.1 us
    return np.add.reduce(a * b, axis=None)


def unit_cotangent(out: Any) -> Any:
    """The cotangent 1 of a scalar output (its dtype), which makes a
    backward sweep compute the gradient; refused for any other output."""
    if np.ndim(out) != 0 or isinstance(out, (tuple, list)):
        from ..errors import S2SError

        raise S2SError(
            f"a gradient (for a Hessian) needs one scalar output; the function returns an array of shape {np.shape(out)}",
            hint="differentiate a scalar such as np.sum(...) of the output, or use jacobian()",
        )
    return _float_dtype(out).type(1)


def unit_seed(*values: Any) -> Any:
    """The cotangent 1 of a scalar output computed from these values, in
    their floating precision (float32 stays float32), for a gradient whose
    code does not compute the output itself."""
    dtypes = [_float_dtype(v) for v in values]
    return np.result_type(*dtypes).type(1) if dtypes else np.float64(1)


def power_base_partial(x: Any, p: Any) -> Any:
    """``p * x ** (p - 1)``, the derivative of ``x ** p`` w.r.t. ``x``, and 0
    where ``p == 0`` (``x ** 0`` is constant, even at ``x == 0``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        partial = np.multiply(p, np.power(x, np.subtract(p, 1)))
    return np.where(np.equal(p, 0), 0.0, partial) if np.any(np.equal(p, 0)) else partial


def xlogy(x: Any, y: Any) -> Any:
    """``x * log(y)``, and 0 where ``x == 0`` (the derivative of ``y ** p``
    w.r.t. ``p`` at ``y == 0``)."""
    zero = np.equal(x, 0)
    return np.where(zero, 0.0, x * np.log(np.where(zero, 1.0, y)))


# --------------------------------------------------------------------------
# Reductions


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return tuple(sorted(a % ndim if ndim else 0 for a in axes))


def reduced_size(x: Any, axis: Any = None) -> int:
    """How many elements of ``x`` each result of a reduction over ``axis`` sums."""
    shape = _shape(x)
    size = 1
    for a in _axes(axis, len(shape)):
        size *= shape[a]
    return size


def expand_reduced(g: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """A reduction's result with the reduced axes back, as length-1 axes."""
    if keepdims or axis is None:
        return g
    return np.expand_dims(g, axis)


def choice_tangent(t: Any, x: Any, out: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Tangent of ``max``/``min``: the mean of the tangents at the chosen
    positions (ties share equally)."""
    chosen = np.equal(x, expand_reduced(out, axis, keepdims))
    count = np.sum(chosen, axis=axis, keepdims=keepdims)
    return np.sum(t * chosen, axis=axis, keepdims=keepdims) / count


def choice_adjoint(g: Any, x: Any, out: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Adjoint of ``max``/``min``: the cotangent split among the chosen positions."""
    chosen = np.equal(x, expand_reduced(out, axis, keepdims))
    count = np.sum(chosen, axis=axis, keepdims=True)
    return expand_reduced(g, axis, keepdims) * chosen / count


def _products_of_others(x: Any, axis: Any) -> np.ndarray:
    """For each element, the product of the other elements it is reduced
    with: exact where ``x`` has zeros (no division)."""
    x = np.asarray(x)
    axes = _axes(axis, x.ndim)
    if not axes:
        return np.ones_like(x)
    moved = np.moveaxis(x, axes, range(x.ndim - len(axes), x.ndim))
    kept_shape = moved.shape[: x.ndim - len(axes)]
    flat = moved.reshape(kept_shape + (-1,))
    ones = np.ones(kept_shape + (1,), dtype=flat.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.flip(np.cumprod(np.concatenate([ones, np.flip(flat, -1)[..., :-1]], axis=-1), axis=-1), -1)
    others = (left * right).reshape(moved.shape)
    return np.moveaxis(others, range(x.ndim - len(axes), x.ndim), axes)


def prod_tangent(t: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return np.sum(t * _products_of_others(x, axis), axis=axis, keepdims=keepdims)


def prod_adjoint(g: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return expand_reduced(g, axis, keepdims) * _products_of_others(x, axis)


def _centered(x: Any, axis: Any, ddof: int) -> tuple[Any, Any]:
    x = np.asarray(x)
    return x - np.mean(x, axis=axis, keepdims=True), reduced_size(x, axis) - ddof


def var_tangent(t: Any, x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    centered, dof = _centered(x, axis, ddof)
    return 2.0 * np.sum(centered * t, axis=axis, keepdims=keepdims) / dof


def var_adjoint(g: Any, x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    centered, dof = _centered(x, axis, ddof)
    return expand_reduced(g, axis, keepdims) * (2.0 / dof) * centered


def std_tangent(t: Any, x: Any, out: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    return var_tangent(t, x, axis, ddof, keepdims) / (2.0 * out)


def std_adjoint(g: Any, x: Any, out: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    return var_adjoint(g / (2.0 * out), x, axis, ddof, keepdims)


def safe_divide(a: Any, b: Any) -> Any:
    """``a / b``, and 0 where ``b == 0``: the derivatives of the 2-norm and
    of ``hypot`` at 0, where s2s takes the smallest subgradient, as for
    ``abs``."""
    if np.ndim(b) == 0 and np.ndim(a) == 0:
        return a / b if b != 0 else 0.0 * a
    zero = np.equal(b, 0)
    return np.where(zero, 0.0, np.divide(a, np.where(zero, 1.0, b))) if np.any(zero) else np.divide(a, b)


def norm_tangent(t: Any, x: Any, out: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Tangent of the 2-norm (Frobenius for matrices); 0 where the norm is 0."""
    return safe_divide(np.sum(x * t, axis=axis, keepdims=keepdims), out)


def norm_adjoint(g: Any, x: Any, out: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return expand_reduced(safe_divide(g, out), axis, keepdims) * x


# --------------------------------------------------------------------------
# Cumulative operations


def cumsum_adjoint(g: Any, x: Any, axis: Any = None) -> Any:
    """Adjoint of ``np.cumsum``: a cumulative sum from the end."""
    if axis is None:
        return np.flip(np.cumsum(np.flip(g))).reshape(_shape(x))
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


def cumprod_tangent(t: Any, x: Any, out: Any, axis: Any = None) -> Any:
    """Tangent of ``np.cumprod`` by the product rule along the axis."""
    if axis is None:
        return cumprod_tangent(np.ravel(t), np.ravel(x), np.ravel(out), 0)
    x, out = np.asarray(x), np.asarray(out)
    t = np.broadcast_to(t, x.shape)
    if np.all(x != 0):
        return out * np.cumsum(t / x, axis=axis)
    xm, om, tm = (np.moveaxis(a, axis, 0) for a in (x, out, t))
    result = np.empty(xm.shape, dtype=np.result_type(tm, xm, 1.0))
    result[0] = tm[0]
    for j in range(1, xm.shape[0]):
        result[j] = result[j - 1] * xm[j] + om[j - 1] * tm[j]
    return np.moveaxis(result, 0, axis)


def cumprod_adjoint(g: Any, x: Any, out: Any, axis: Any = None) -> Any:
    """Adjoint of ``np.cumprod``, exact where ``x`` has zeros."""
    if axis is None:
        return cumprod_adjoint(np.ravel(g), np.ravel(x), np.ravel(out), 0).reshape(_shape(x))
    x, out = np.asarray(x), np.asarray(out)
    g = np.broadcast_to(g, x.shape)
    if np.all(x != 0):
        return np.flip(np.cumsum(np.flip(g * out, axis), axis=axis), axis) / x
    xm, om, gm = (np.moveaxis(a, axis, 0) for a in (x, out, g))
    n = xm.shape[0]
    suffix = np.empty(xm.shape, dtype=np.result_type(gm, xm, 1.0))
    suffix[n - 1] = gm[n - 1]
    for j in range(n - 2, -1, -1):
        suffix[j] = gm[j] + xm[j + 1] * suffix[j + 1]
    before = np.concatenate([np.ones_like(om[:1]), om[:-1]], axis=0)
    return np.moveaxis(suffix * before, 0, axis)


# --------------------------------------------------------------------------
# Unpacking


def unpack_adjoint(x: Any, bars: tuple) -> Any:
    """Adjoint of ``a, b, ... = x`` for an array ``x`` unpacked along its
    first axis: the cotangents of the parts, stacked (zeros where a part
    carries none)."""
    out = np.zeros(_shape(x), dtype=_float_dtype(x))  # an array also for a tuple x
    for i, bar in enumerate(bars):
        if bar is not None:
            out[i] = bar
    return out


def add_at(bar: np.ndarray, index: Any, g: Any) -> None:
    """``bar[index] += g``, adding once per occurrence where an integer-array
    index repeats an element (as ``np.add.at`` does)."""
    if type(index) is int or type(index) is slice:
        bar[index] += g
        return
    parts = index if isinstance(index, tuple) else (index,)
    if any(isinstance(p, (list, np.ndarray)) and np.asarray(p).dtype.kind in "iu" for p in parts):
        np.add.at(bar, index, g)
    else:
        bar[index] += g


# --------------------------------------------------------------------------
# Lists built with append: their derivatives are lists too


def zeros_like_list(items: list) -> list:
    """A zero derivative for each element of a list."""
    return [zeros_like(x) for x in items]


def add_lists(a: list, b: list) -> list:
    """Two lists of derivatives added element by element."""
    return [x + y for x, y in zip(a, b, strict=True)]


def as_list_adjoint(g: Any, items: list) -> list:
    """The adjoint of a list numpy read as an array: ``g`` summed to the
    array's shape, split into one adjoint per element."""
    g = sum_to_shape(g, np.shape(items))
    return [g[i] for i in range(len(items))]


def list_adjoint(g: list, items: Any) -> Any:
    """The adjoint of ``list(items)``: a list again for a list (or tuple), the
    rows stacked back into an array for an array."""
    if isinstance(items, (list, tuple)):
        return list(g)
    return np.array(g) if len(g) else zeros_like(items)
