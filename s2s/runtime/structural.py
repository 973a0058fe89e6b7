"""Runtime helpers for the structural and constructor rules: indexing,
joining, casts and the adjoints numpy does not spell in one call.

Adjoints of operations that read each element of their input at most once
(basic slicing, masks, a single index) assign the cotangent into zeros; only
those that may read an element several times (integer-array indices,
``take``, ``repeat``) accumulate with ``np.add.at``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .core import unbroadcast

__all__ = [
    "concatenate_pieces",
    "stack_pieces",
    "cast_derivative",
    "column_stack_piece",
    "concatenate_piece",
    "diag_adjoint",
    "diagonal_adjoint",
    "getitem_adjoint",
    "hstack_piece",
    "inverse_permutation",
    "item_adjoint",
    "linspace_adjoint",
    "repeat_adjoint",
    "stack_piece",
    "take_adjoint",
    "tile_adjoint",
    "vstack_piece",
]

Shape = tuple[int, ...]


def _zeros(x: Any, g: Any) -> np.ndarray:
    """Zeros shaped like ``x`` (a tuple of arrays counts as stacked), of a
    floating dtype that holds ``g``."""
    dtype = x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype
    return np.zeros(np.shape(x), dtype=np.result_type(dtype, g, 1.0))


def _along(axis: int, index: Any) -> tuple:
    """The index that applies ``index`` to axis ``axis`` (counted from 0)."""
    return (slice(None),) * axis + (index,)


# --------------------------------------------------------------------------
# Casts and permutations


def cast_derivative(d: Any, dtype: Any) -> Any:
    """A derivative passed through a cast to ``dtype`` (anything
    ``np.result_type`` accepts, an array meaning its own dtype): ``d`` itself
    for a floating dtype, zero for an integer or boolean one, whose values
    are locally constant."""
    kind = np.result_type(dtype).kind
    if kind == "f":
        return d
    if kind in "biu":
        return np.zeros(np.shape(d))
    raise TypeError(f"s2s differentiates real floating values, not a cast to {np.result_type(dtype)}")


def inverse_permutation(axes: Any) -> tuple[int, ...]:
    """The axes that undo ``np.transpose(x, axes)``; negative axes allowed."""
    n = len(axes)
    return tuple(int(i) for i in np.argsort([int(a) % n for a in axes]))


# --------------------------------------------------------------------------
# Indexing


def _reads_once(index: Any) -> bool:
    """Whether ``x[index]`` reads each element of ``x`` at most once: true
    unless the index holds an integer array or list, which may repeat."""
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if part is None or part is Ellipsis or isinstance(part, (slice, int, np.integer, bool, np.bool_)):
            continue
        if np.asarray(part).dtype.kind != "b":
            return False
    return True


def getitem_adjoint(g: Any, x: Any, index: Any) -> np.ndarray:
    """The adjoint of ``x[index]``: zeros shaped like ``x`` with ``g`` added
    at ``index``, as many times as the index names each element."""
    out = _zeros(x, g)
    if _reads_once(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


def item_adjoint(g: Any, a: Any, *args: Any) -> np.ndarray:
    """The adjoint of ``a.item(*args)``: ``g`` at the element it returns."""
    out = _zeros(a, g)
    if not args:  # the only element
        out.reshape(-1)[0] = g
    elif len(args) == 1 and np.ndim(args[0]) == 0:  # a flat index
        out.reshape(-1)[args[0]] = g
    else:  # a multi-index, as separate arguments or one tuple
        out[args if len(args) > 1 else tuple(args[0])] = g
    return out


def _wrapped(indices: Any, n: int, mode: str) -> np.ndarray:
    """``np.take``'s indices as the non-negative positions they read."""
    indices = np.asarray(indices)
    return np.clip(indices, 0, n - 1) if mode == "clip" else np.mod(indices, n)


def _add_along(out: np.ndarray, axis: int, indices: np.ndarray, g: Any) -> np.ndarray:
    """``out`` with ``g`` added at ``indices`` along ``axis`` (repeats accumulate)."""
    if indices.ndim == 0:
        out[_along(axis, indices)] = g
    else:
        np.add.at(out, _along(axis, indices), g)
    return out


def take_adjoint(g: Any, a: Any, indices: Any, axis: int | None = None, mode: str = "raise") -> np.ndarray:
    """The adjoint of ``np.take(a, indices, axis, mode=mode)``."""
    out = _zeros(a, g)
    if axis is None:  # positions in the flattened array; the flat view writes through to out
        _add_along(out.reshape(-1), 0, _wrapped(indices, out.size, mode), g)
        return out
    axis %= out.ndim
    return _add_along(out, axis, _wrapped(indices, out.shape[axis], mode), g)


def repeat_adjoint(g: Any, a: Any, repeats: Any, axis: int | None = None) -> Any:
    """The adjoint of ``np.repeat(a, repeats, axis)``: each element's copies
    summed; a reshape and a sum when every element repeats equally."""
    if axis is None:
        return np.reshape(repeat_adjoint(g, np.ravel(a), repeats, 0), np.shape(a))
    shape = np.shape(a)
    axis %= len(shape)
    if np.size(repeats) == 1:
        count = int(np.ravel(repeats)[0])
        split = shape[:axis] + (shape[axis], count) + shape[axis + 1 :]
        return np.sum(np.reshape(g, split), axis=axis + 1)
    owners = np.repeat(np.arange(shape[axis]), repeats)
    return _add_along(_zeros(a, g), axis, owners, g)


# --------------------------------------------------------------------------
# Joining: the piece of the cotangent each joined array receives


def _slab(g: Any, shapes: list[Shape], k: int, axis: int) -> np.ndarray:
    """The part of ``g`` that the ``k``-th of arrays of these ``shapes``
    occupies when they are concatenated along ``axis``."""
    g = np.asarray(g)
    axis %= g.ndim
    start = sum(s[axis] for s in shapes[:k])
    return g[_along(axis, slice(start, start + shapes[k][axis]))]


def _joined(g: Any, arrays: Any, k: int, axis: int, promote: Callable[[Shape], Shape]) -> np.ndarray:
    """The piece of ``g`` that came from ``arrays[k]``, when each array is
    promoted to ``promote(shape)`` and the results are concatenated along
    ``axis``; shaped like ``arrays[k]``."""
    shapes = [promote(np.shape(x)) for x in arrays]
    return np.reshape(_slab(g, shapes, k, axis), np.shape(arrays[k]))


def concatenate_piece(g: Any, arrays: Any, k: int, axis: int | None = 0) -> np.ndarray:
    """The adjoint of ``np.concatenate(arrays, axis)`` for ``arrays[k]``."""
    if axis is None:  # the arrays are flattened first
        sizes = [np.size(x) for x in arrays]
        start = sum(sizes[:k])
        return np.reshape(np.asarray(g)[start : start + sizes[k]], np.shape(arrays[k]))
    return _joined(g, arrays, k, axis, lambda shape: shape)


def stack_piece(g: Any, arrays: Any, k: int, axis: int = 0) -> np.ndarray:
    """The adjoint of ``np.stack(arrays, axis)`` (and ``np.array(arrays)``)
    for ``arrays[k]``: its slice at ``k`` along the new axis."""
    g = np.asarray(g)
    return np.reshape(g[_along(axis % g.ndim, k)], np.shape(arrays[k]))


def hstack_piece(g: Any, arrays: Any, k: int) -> np.ndarray:
    """The adjoint of ``np.hstack(arrays)`` for ``arrays[k]``: scalars count
    as vectors, which join along axis 0, and other arrays along axis 1."""
    return _joined(g, arrays, k, 0 if np.ndim(g) == 1 else 1, lambda shape: shape or (1,))


def vstack_piece(g: Any, arrays: Any, k: int) -> np.ndarray:
    """The adjoint of ``np.vstack(arrays)`` for ``arrays[k]``: vectors count
    as rows."""
    return _joined(g, arrays, k, 0, lambda shape: (1,) * (2 - len(shape)) + shape)


def column_stack_piece(g: Any, arrays: Any, k: int) -> np.ndarray:
    """The adjoint of ``np.column_stack(arrays)`` for ``arrays[k]``: vectors
    count as columns."""
    return _joined(g, arrays, k, 1, lambda shape: shape if len(shape) >= 2 else (shape or (1,)) + (1,))


# --------------------------------------------------------------------------
# Diagonals, tiles, ranges


def diagonal_adjoint(g: Any, a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> np.ndarray:
    """The adjoint of ``np.diagonal(a, offset, axis1, axis2)``: zeros shaped
    like ``a`` with ``g`` on that diagonal."""
    out = _zeros(a, g)
    steps = np.arange(np.shape(g)[-1])
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))  # writes through to out
    view[..., steps + max(-offset, 0), steps + max(offset, 0)] = g
    return out


def diag_adjoint(g: Any, v: Any, k: int = 0) -> np.ndarray:
    """The adjoint of ``np.diag(v, k)``: the diagonal of ``g`` for a vector
    ``v`` (which ``diag`` made a matrix), ``g`` on the diagonal otherwise."""
    if np.ndim(v) == 1:
        return np.diagonal(g, k)
    return diagonal_adjoint(g, v, k)


def tile_adjoint(g: Any, A: Any, reps: Any) -> Any:
    """The adjoint of ``np.tile(A, reps)``: the tiles of ``g`` summed."""
    shape = np.shape(A)
    reps = tuple(np.atleast_1d(reps))
    ndim = max(len(shape), len(reps))
    shape_n = (1,) * (ndim - len(shape)) + shape
    reps_n = (1,) * (ndim - len(reps)) + reps
    tiles = [n for pair in zip(reps_n, shape_n) for n in pair]  # (r0, s0, r1, s1, ...)
    summed = np.sum(np.reshape(g, tiles), axis=tuple(range(0, 2 * ndim, 2)))
    return np.reshape(summed, shape)


def linspace_adjoint(g: Any, end: Any, num: int = 50, endpoint: bool = True, axis: int = 0, stop: bool = False) -> Any:
    """The adjoint of ``np.linspace`` for its ``start`` (or, with ``stop``,
    its ``stop``), shaped like ``end``: sample ``i`` is
    ``start * (1 - w_i) + stop * w_i`` with ``w_i = i / (num - 1)``
    (``i / num`` without the endpoint)."""
    g = np.asarray(g)
    div = num - 1 if endpoint else num
    weights = np.arange(num) / div if div > 0 else np.zeros(num)
    if not stop:
        weights = 1.0 - weights
    axis %= g.ndim
    weights = np.reshape(weights, (num,) + (1,) * (g.ndim - 1 - axis))
    return unbroadcast(np.sum(g * weights, axis=axis), end)


def _pieces(piece, g: Any, arrays: list, **options: Any) -> list:
    return [piece(g, arrays, k, **options) for k in range(len(arrays))]


def concatenate_pieces(g: Any, arrays: list, axis: int = 0) -> list:
    """The adjoint of ``np.concatenate(arrays)`` for a list variable: one piece per array."""
    return _pieces(concatenate_piece, g, arrays, axis=axis)


def stack_pieces(g: Any, arrays: list, axis: int = 0) -> list:
    """The adjoint of ``np.stack(arrays)`` (or ``np.array(arrays)``) for a list variable."""
    return _pieces(stack_piece, g, arrays, axis=axis)
