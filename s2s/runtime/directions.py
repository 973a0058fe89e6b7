"""Helpers of vector forward mode: tangents with a trailing axis of directions.

A tangent of a value of shape ``S`` has shape ``S + (k,)``: the ``k``
directions of one forward pass side by side. Because numpy broadcasts from
the right, a primal operand of an elementwise tangent expression needs only
a trailing axis of length 1 (``lift``); reductions, matrix products and
indexing with ``...`` must leave the last axis alone, which these helpers
do. A zero tangent may be a bare ``0.0``, or have a trailing axis of length
1: both broadcast against any number of directions.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .core import _float_dtype, _shape

__all__ = [
    "lift",
    "zeros_directions_like",
    "broadcast_directions_like",
    "owned_directions_like",
    "sum_directions",
    "mean_directions",
    "unbroadcast_directions",
    "sum_to_shape_directions",
    "matmul_directions",
    "dot_directions",
    "outer_directions",
    "einsum_directions",
    "getitem_directions",
    "reshape_directions",
    "ravel_directions",
    "transpose_directions",
    "swapaxes_directions",
    "moveaxis_directions",
    "expand_dims_directions",
    "squeeze_directions",
    "broadcast_to_directions",
    "concatenate_directions",
    "stack_directions",
    "flip_directions",
    "cumsum_directions",
    "each_direction",
    "method",
    "attribute",
]


def lift(x: Any) -> Any:
    """A primal operand of a tangent expression, with a trailing axis of
    length 1 when it is an array (numbers broadcast as they are)."""
    return x[..., None] if type(x) is np.ndarray else x


def zeros_directions_like(x: Any, directions: int) -> Any:
    """A zero tangent of ``x`` for each direction (a tuple of them for a tuple)."""
    if isinstance(x, tuple):
        return tuple(zeros_directions_like(v, directions) for v in x)
    return np.zeros(_shape(x) + (directions,), dtype=_float_dtype(x))


def broadcast_directions_like(t: Any, like: Any, directions: int) -> Any:
    """The tangent ``t`` broadcast to ``like``'s shape, for each direction
    (element by element for the tangent of a tuple or list)."""
    if isinstance(like, (tuple, list)) and isinstance(t, (tuple, list)):
        return type(t)(broadcast_directions_like(a, b, directions) for a, b in zip(t, like, strict=True))
    target = _shape(like) + (directions,)
    if _shape(t) == target:
        return t
    out = np.empty(target, dtype=np.result_type(t, 1.0))
    out[...] = t
    return out


def owned_directions_like(t: Any, like: Any, directions: int) -> np.ndarray:
    """A new, writable tangent of ``like`` holding ``t``: generated code may
    then update it in place."""
    out = np.empty(_shape(like) + (directions,), dtype=np.result_type(t, 1.0))
    out[...] = t
    return out


def _axes(ndim: int, axis: Any) -> tuple[int, ...]:
    """The axes of a reduction over the primal's ``ndim`` axes (negative
    ones counted from the primal's last axis, not the directions')."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(int(a) % ndim if ndim else int(a) for a in axes)


def sum_directions(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, **rest: Any) -> Any:
    """``np.sum`` of a tangent over the primal's axes."""
    a = np.asarray(a)
    if a.ndim == 0:
        return a[()] if not keepdims else a
    return np.sum(a, axis=_axes(a.ndim - 1, axis), dtype=dtype, keepdims=keepdims, **rest)


def mean_directions(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, keepdims: bool = False, **rest: Any) -> Any:
    """``np.mean`` of a tangent over the primal's axes."""
    a = np.asarray(a)
    if a.ndim == 0:
        return a[()]
    return np.mean(a, axis=_axes(a.ndim - 1, axis), dtype=dtype, keepdims=keepdims, **rest)


def sum_to_shape_directions(g: Any, target: tuple[int, ...]) -> Any:
    """``sum_to_shape`` for each direction: summed over the axes that
    broadcasting added or stretched, broadcast where smaller, the last axis
    (the directions) kept."""
    g = np.asarray(g)
    target = tuple(target)
    if g.ndim == 0:  # a zero the same for every direction
        g = g.reshape((1,))
    if g.shape[:-1] == target:
        return g
    lead = g.ndim - 1 - len(target)
    if lead > 0:
        g = np.add.reduce(g, axis=tuple(range(lead)))
    elif lead < 0:
        g = g.reshape((1,) * -lead + g.shape)
    stretched = tuple(i for i, (n, m) in enumerate(zip(g.shape[:-1], target)) if m == 1 and n != 1)
    if stretched:
        g = np.add.reduce(g, axis=stretched, keepdims=True)
    if g.shape[:-1] != target:
        out = np.empty(target + g.shape[-1:], dtype=np.result_type(g, 1.0))
        out[...] = g
        g = out
    return g


def unbroadcast_directions(g: Any, like: Any) -> Any:
    """``sum_to_shape_directions`` to the shape of ``like``."""
    return sum_to_shape_directions(g, _shape(like))


_LEFT = {(1, 1): "iz,i->z", (1, 2): "iz,ij->jz", (2, 1): "ijz,j->iz"}
_RIGHT = {(1, 1): "i,iz->z", (1, 2): "i,ijz->jz", (2, 1): "ij,jz->iz"}


def matmul_directions(a: Any, b: Any, tangent: int) -> Any:
    """``a @ b`` where operand ``tangent`` (0 or 1) carries the directions."""
    na, nb = np.ndim(a) - (tangent == 0), np.ndim(b) - (tangent == 1)
    if min(na, nb) < 1:
        raise ValueError("matmul: input operand does not have enough dimensions")
    if tangent == 0:
        spec = _LEFT.get((na, nb)) or ("iz,...ij->...jz" if na == 1 else "...ijz,j->...iz" if nb == 1 else "...ijz,...jk->...ikz")
    else:
        spec = _RIGHT.get((na, nb)) or ("i,...ijz->...jz" if na == 1 else "...ij,jz->...iz" if nb == 1 else "...ij,...jkz->...ikz")
    return np.einsum(spec, a, b)


def dot_directions(a: Any, b: Any, tangent: int) -> Any:
    """``np.dot(a, b)`` where operand ``tangent`` carries the directions:
    ``@`` for vectors and matrices, the product direction by direction
    otherwise (numbers, N-D arrays)."""
    na, nb = np.ndim(a) - (tangent == 0), np.ndim(b) - (tangent == 1)
    if 1 <= na <= 2 and 1 <= nb <= 2:
        return matmul_directions(a, b, tangent)
    k = np.shape(a if tangent == 0 else b)[-1] if np.ndim(a if tangent == 0 else b) else 1
    return each_direction(np.dot, (tangent,), k, a, b)


def outer_directions(a: Any, b: Any, tangent: int) -> Any:
    """``np.outer(a, b)`` where operand ``tangent`` (0 or 1) carries the
    directions (each operand is flattened, as ``np.outer`` does)."""
    if tangent == 0:
        rows = np.reshape(a, (-1, np.shape(a)[-1])) if np.ndim(a) else np.reshape(a, (1, 1))
        return rows[:, None, :] * np.ravel(b)[None, :, None]
    columns = np.reshape(b, (-1, np.shape(b)[-1])) if np.ndim(b) else np.reshape(b, (1, 1))
    return np.ravel(a)[:, None, None] * columns[None, :, :]


def einsum_directions(tangent: int, subscripts: str, *operands: Any, **options: Any) -> Any:
    """``np.einsum(subscripts, *operands)`` where operand ``tangent``
    carries the directions: they get a subscript of their own, kept last in
    the output. Subscripts are explicit (``"ij,j->i"``), as s2s requires."""
    inputs, output = subscripts.replace(" ", "").split("->")
    letter = next(c for c in "zyxwvutsrqponmlkjihgfedcbaZYXWVUTSRQPONMLKJIHGFEDCBA" if c not in subscripts)
    parts = inputs.split(",")
    parts[tangent] += letter
    return np.einsum(f"{','.join(parts)}->{output}{letter}", *operands, **options)


def getitem_directions(t: Any, index: Any) -> Any:
    """``t[index]`` for the primal's axes: an index with ``...`` gets a
    trailing ``:`` so that it never selects among the directions."""
    parts = index if isinstance(index, tuple) else (index,)
    if any(i is Ellipsis for i in parts):
        return t[parts + (slice(None),)]
    if all(isinstance(i, (int, np.integer)) for i in parts):
        return t[index].copy()  # the primal reads a number (a copy) or a view it checks: never a view here
    return t[index]


# Shapes and axes of the primal, with the directions as the last axis. A bare
# zero tangent (a number) is the same whatever the shape: it is returned as is.


def _primal_axis(axis: int, ndim: int) -> int:
    return int(axis) % ndim if ndim else int(axis)


def _primal_axes(axes: Any, ndim: int) -> tuple[int, ...]:
    return tuple(_primal_axis(a, ndim) for a in (axes if isinstance(axes, (tuple, list)) else (axes,)))


def reshape_directions(a: Any, shape: Any = None, order: str = "C", newshape: Any = None, copy: Any = None) -> Any:
    """``np.reshape`` of the primal axes (C order keeps each direction's
    elements in place, the directions being the fastest axis)."""
    if np.ndim(a) == 0:
        return a
    shape = newshape if shape is None else shape
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if order != "C":
        return each_direction(np.reshape, (0,), a.shape[-1], a, shape, order=order)
    return np.reshape(a, shape + a.shape[-1:])


def ravel_directions(a: Any, order: str = "C") -> Any:
    return reshape_directions(a, -1, order)


def transpose_directions(a: Any, axes: Any = None) -> Any:
    if np.ndim(a) == 0:
        return a
    ndim = a.ndim - 1
    order = tuple(reversed(range(ndim))) if axes is None else _primal_axes(axes, ndim)
    return np.transpose(a, order + (ndim,))


def swapaxes_directions(a: Any, axis1: int, axis2: int) -> Any:
    if np.ndim(a) == 0:
        return a
    ndim = a.ndim - 1
    return np.swapaxes(a, _primal_axis(axis1, ndim), _primal_axis(axis2, ndim))


def moveaxis_directions(a: Any, source: Any, destination: Any) -> Any:
    if np.ndim(a) == 0:
        return a
    ndim = a.ndim - 1
    return np.moveaxis(a, _primal_axes(source, ndim), _primal_axes(destination, ndim))


def expand_dims_directions(a: Any, axis: Any) -> Any:
    if np.ndim(a) == 0:
        return a
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return np.expand_dims(a, _primal_axes(axes, a.ndim - 1 + len(axes)))


def squeeze_directions(a: Any, axis: Any = None) -> Any:
    if np.ndim(a) == 0:
        return a
    ndim = a.ndim - 1
    axes = tuple(i for i in range(ndim) if a.shape[i] == 1) if axis is None else _primal_axes(axis, ndim)
    return np.squeeze(a, axis=axes)


def broadcast_to_directions(array: Any, shape: Any, subok: bool = False) -> Any:
    if np.ndim(array) == 0:
        return array
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return np.broadcast_to(array, shape + np.shape(array)[-1:])


def _with_directions(arrays: Any) -> list:
    """The parts of a concatenation, a bare zero given the others' shape."""
    parts = list(arrays)
    k = max((np.shape(p)[-1] for p in parts if np.ndim(p)), default=1)
    return [p if np.ndim(p) else np.full((1, k), p) for p in parts]


def concatenate_directions(arrays: Any, axis: Any = 0, out: Any = None, dtype: Any = None, casting: str = "same_kind") -> Any:
    parts = _with_directions(arrays)
    if axis is None:
        return np.concatenate([np.reshape(p, (-1, p.shape[-1])) for p in parts], axis=0, dtype=dtype, casting=casting)
    return np.concatenate(parts, axis=_primal_axis(axis, parts[0].ndim - 1), dtype=dtype, casting=casting)


def stack_directions(arrays: Any, axis: int = 0, out: Any = None, dtype: Any = None, casting: str = "same_kind") -> Any:
    parts = list(arrays)
    ndim = max((np.ndim(p) - 1 for p in parts if np.ndim(p)), default=0)
    return np.stack(np.broadcast_arrays(*parts), axis=_primal_axis(axis, ndim + 1), dtype=dtype, casting=casting)


def flip_directions(m: Any, axis: Any = None) -> Any:
    if np.ndim(m) == 0:
        return m
    ndim = m.ndim - 1
    return np.flip(m, axis=tuple(range(ndim)) if axis is None else _primal_axes(axis, ndim))


def cumsum_directions(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    if np.ndim(a) == 0:
        return a
    if axis is None:
        return np.cumsum(np.reshape(a, (-1, a.shape[-1])), axis=0, dtype=dtype)
    return np.cumsum(a, axis=_primal_axis(axis, a.ndim - 1), dtype=dtype)


def _direction(value: Any, j: int) -> Any:
    """Direction ``j`` of a tangent (a zero tangent is the same for all)."""
    if isinstance(value, (list, tuple)):
        return type(value)(_direction(v, j) for v in value)
    if isinstance(value, np.ndarray) and value.ndim:
        return value[..., j if value.shape[-1] != 1 else 0]
    return value


def each_direction(function: Callable, tangent_at: tuple, directions: int, *args: Any, **kwargs: Any) -> np.ndarray:
    """``function`` applied to each direction of the arguments named in
    ``tangent_at`` (positions, or keyword names), the results side by side:
    the tangent of an operation with no vectorized form."""
    results = []
    for j in range(directions):
        positional = [_direction(v, j) if i in tangent_at else v for i, v in enumerate(args)]
        keywords = {k: _direction(v, j) if k in tangent_at else v for k, v in kwargs.items()}
        results.append(function(*positional, **keywords))
    return _stacked(results)


def _stacked(results: list) -> Any:
    """Per-direction results side by side; lists (of derivatives of list
    elements) element by element."""
    first = results[0]
    if isinstance(first, (list, tuple)):
        return type(first)(_stacked([r[i] for r in results]) for i in range(len(first)))
    return np.stack(results, axis=-1)


def method(name: str) -> Callable:
    """``lambda obj, *args: obj.name(*args)``, for ``each_direction``."""
    return lambda obj, *args, **kwargs: getattr(obj, name)(*args, **kwargs)


def attribute(name: str) -> Callable:
    """``lambda obj: obj.name``, for ``each_direction``."""
    return lambda obj: getattr(obj, name)
