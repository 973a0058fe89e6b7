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

import functools
import string
from typing import Any, Callable

import numpy as np

from . import core, linalg, structural
from .core import _float_dtype, _shape

__all__ = [
    "lift",
    "full_directions",
    "full_like_directions",
    "unpack_adjoint_directions",
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
    "fliplr_directions",
    "flipud_directions",
    "roll_directions",
    "tile_directions",
    "repeat_directions",
    "take_directions",
    "diagonal_directions",
    "diag_directions",
    "trace_directions",
    "tensordot_directions",
    "kron_directions",
    "inner_directions",
    "vdot_directions",
    "float_directions",
    "outer_adjoint_a_directions",
    "outer_adjoint_b_directions",
    "inner_adjoint_a_directions",
    "inner_adjoint_b_directions",
    "vdot_adjoint_directions",
    "einsum_adjoint_directions",
    "choice_tangent_directions",
    "choice_adjoint_directions",
    "prod_tangent_directions",
    "prod_adjoint_directions",
    "var_tangent_directions",
    "var_adjoint_directions",
    "std_tangent_directions",
    "std_adjoint_directions",
    "norm_tangent_directions",
    "norm_adjoint_directions",
    "cumprod_tangent_directions",
    "cumprod_adjoint_directions",
    "solve_tangent_directions",
    "solve_adjoint_directions",
    "solve_adjoint_a_directions",
    "det_tangent_directions",
    "det_adjoint_directions",
    "trace_adjoint_directions",
    "diagonal_adjoint_directions",
    "diag_adjoint_directions",
    "tile_adjoint_directions",
    "repeat_adjoint_directions",
    "take_adjoint_directions",
    "tensordot_adjoint_a_directions",
    "tensordot_adjoint_b_directions",
    "kron_adjoint_a_directions",
    "kron_adjoint_b_directions",
    "matmul_adjoint_a_directions",
    "matmul_adjoint_b_directions",
    "dot_adjoint_a_directions",
    "dot_adjoint_b_directions",
    "hstack_directions",
    "vstack_directions",
    "column_stack_directions",
    "array_directions",
    "asarray_directions",
    "asanyarray_directions",
    "linspace_directions",
    "linspace_adjoint_directions",
    "concatenate_piece_directions",
    "stack_piece_directions",
    "hstack_piece_directions",
    "vstack_piece_directions",
    "column_stack_piece_directions",
    "concatenate_pieces_directions",
    "stack_pieces_directions",
    "item_directions",
    "item_adjoint_directions",
    "list_adjoint_directions",
    "cumsum_adjoint_directions",
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


def _lifted(x: Any) -> np.ndarray:
    """A primal value with a trailing axis of length 1, which broadcasts
    against any number of directions (a number too, unlike ``lift``)."""
    return np.asarray(x)[..., None]


def _bare_zero(t: Any) -> bool:
    """Is this tangent a bare zero (a number), the same for every direction?"""
    return not isinstance(t, (list, tuple)) and np.ndim(t) == 0


def _operands(a: Any, b: Any, tangent: int) -> tuple[Any, Any]:
    """The operands of a product, the one carrying the directions as an array."""
    return (_tangent_array(a), b) if tangent == 0 else (a, _tangent_array(b))


def _summed_product(a: Any, b: Any, tangent: int, axis_of_b: Callable[[int], int]) -> Any:
    """A product that sums the last axis of ``a`` with axis ``axis_of_b(ndim)``
    of ``b`` (a number multiplies), where operand ``tangent`` carries the
    directions; they go last, after ``b``'s free axes."""
    a, b = _operands(a, b, tangent)
    if _bare_zero(a if tangent == 0 else b):
        return a if tangent == 0 else b
    na, nb = np.ndim(a) - (tangent == 0), np.ndim(b) - (tangent == 1)
    if na == 0 or nb == 0:
        return a * _lifted(b) if tangent == 0 else _lifted(a) * b
    out = np.tensordot(a, b, axes=(na - 1, axis_of_b(nb)))
    return out if tangent == 1 else np.moveaxis(out, na - 1, -1)


def dot_directions(a: Any, b: Any, tangent: int) -> Any:
    """``np.dot(a, b)`` where operand ``tangent`` carries the directions:
    ``@`` for vectors and matrices; otherwise a product with a number, or the
    sum over the last axis of ``a`` and the second-to-last of ``b``."""
    a, b = _operands(a, b, tangent)
    na, nb = np.ndim(a) - (tangent == 0), np.ndim(b) - (tangent == 1)
    if 1 <= na <= 2 and 1 <= nb <= 2:
        return matmul_directions(a, b, tangent)
    return _summed_product(a, b, tangent, lambda nb: max(nb - 2, 0))


def inner_directions(a: Any, b: Any, tangent: int) -> Any:
    """``np.inner(a, b)``: the sum over the last axes of both."""
    return _summed_product(a, b, tangent, lambda nb: nb - 1)


def vdot_directions(a: Any, b: Any, tangent: int) -> Any:
    """``np.vdot(a, b)`` of real arrays: the sum of the flattened products."""
    a, b = _operands(a, b, tangent)
    carrier, other = (a, b) if tangent == 0 else (b, a)
    return carrier if _bare_zero(carrier) else np.ravel(other) @ _flat(carrier)


def tensordot_directions(a: Any, b: Any, tangent: int, axes: Any = 2) -> Any:
    """``np.tensordot(a, b, axes)`` where operand ``tangent`` carries the
    directions: they are one more free axis of that operand, moved last."""
    a, b = _operands(a, b, tangent)
    carrier = a if tangent == 0 else b
    if _bare_zero(carrier):
        return carrier
    na, nb = np.ndim(a) - (tangent == 0), np.ndim(b) - (tangent == 1)
    summed = linalg._tensordot_axes(axes, na, nb)  # explicit axes: an integer would count the directions
    out = np.tensordot(a, b, axes=summed)
    if tangent == 1:
        return out
    return np.moveaxis(out, na - len(summed[0]), -1)  # after a's free axes come b's


def kron_directions(a: Any, b: Any, tangent: int) -> Any:
    """``np.kron(a, b)`` where operand ``tangent`` carries the directions.
    ``kron`` multiplies the shapes axis by axis (giving the operand of fewer
    axes leading ones, as the primal does): the directions meet a trailing
    axis of length 1 of the other operand, and stay last."""
    a, b = _operands(a, b, tangent)
    if tangent == 0:
        return a if _bare_zero(a) else np.kron(a, _lifted(b))
    return b if _bare_zero(b) else np.kron(_lifted(a), b)


def outer_directions(a: Any, b: Any, tangent: int) -> Any:
    """``np.outer(a, b)`` where operand ``tangent`` (0 or 1) carries the
    directions (each operand is flattened, as ``np.outer`` does)."""
    if tangent == 0:
        rows = np.reshape(a, (-1, np.shape(a)[-1])) if np.ndim(a) else np.reshape(a, (1, 1))
        return rows[:, None, :] * np.ravel(b)[None, :, None]
    columns = np.reshape(b, (-1, np.shape(b)[-1])) if np.ndim(b) else np.reshape(b, (1, 1))
    return np.ravel(a)[:, None, None] * columns[None, :, :]


def _labelled_directions(subscripts: str, ndims: tuple[int, ...], index: int) -> str:
    """Einsum subscripts spelled out in full (ellipses, an implicit output)
    with a label of its own for the directions, last in operand ``index``
    (of ``ndims`` primal axes each) and in the output."""
    labels, output = linalg._einsum_labels(subscripts, ndims)
    letter = next(c for c in string.ascii_letters if c not in "".join(labels) + output)
    terms = [term + letter if i == index else term for i, term in enumerate(labels)]
    return f"{','.join(terms)}->{output}{letter}"


def einsum_directions(tangent: int, subscripts: str, *operands: Any, **options: Any) -> Any:
    """``np.einsum(subscripts, *operands)`` where operand ``tangent``
    carries the directions: they get a subscript of their own, kept last in
    the output."""
    operands = tuple(_tangent_array(x) if i == tangent else x for i, x in enumerate(operands))
    if _bare_zero(operands[tangent]):
        return operands[tangent]
    ndims = tuple(np.ndim(x) - (i == tangent) for i, x in enumerate(operands))
    return np.einsum(_labelled_directions(subscripts, ndims, tangent), *operands, **options)


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


def _tangent_array(t: Any) -> Any:
    """A tangent as an array: the tangent of an argument written as a list
    (``np.linalg.det([[x, y], [y, 2.0]])``) is a list of its elements'
    tangents, which may differ in how many directions they spell out (a bare
    zero, a length-1 axis): they are broadcast, then stacked."""
    if not isinstance(t, (list, tuple)):
        return t
    parts = np.broadcast_arrays(*(_tangent_array(p) for p in t))
    if parts and parts[0].ndim == 0:  # numbers only: zeros, given a directions axis of length 1
        parts = [np.reshape(p, (1,)) for p in parts]
    return np.stack(parts)


def _zero_stays(helper: Callable) -> Callable:
    """A helper linear in its first argument, a tangent: a bare zero there
    (a number, the same for every direction) is its result whatever the
    shapes; a list of tangents is made one array."""

    @functools.wraps(helper)
    def batched(first: Any, *args: Any, **kwargs: Any) -> Any:
        return first if _bare_zero(first) else helper(_tangent_array(first), *args, **kwargs)

    return batched


def _flat(a: np.ndarray) -> np.ndarray:
    """The primal's axes flattened into one, the directions kept."""
    return np.reshape(a, (-1, a.shape[-1]))


def fliplr_directions(m: Any) -> Any:
    return flip_directions(m, 1)


def flipud_directions(m: Any) -> Any:
    return flip_directions(m, 0)


@_zero_stays
def roll_directions(a: Any, shift: Any, axis: Any = None) -> Any:
    if axis is None:  # the primal is rolled flat
        return np.reshape(np.roll(_flat(a), shift, axis=0), a.shape)
    return np.roll(a, shift, axis=_primal_axes(axis, a.ndim - 1))


@_zero_stays
def tile_directions(A: Any, reps: Any) -> Any:
    """``np.tile`` of the primal's axes: the primal (given leading axes as
    ``tile`` gives it) is repeated, the directions once."""
    reps = tuple(np.atleast_1d(reps))
    ndim = max(A.ndim - 1, len(reps))
    A = np.reshape(A, (1,) * (ndim + 1 - A.ndim) + A.shape)
    return np.tile(A, (1,) * (ndim - len(reps)) + reps + (1,))


@_zero_stays
def repeat_directions(a: Any, repeats: Any, axis: Any = None) -> Any:
    if axis is None:
        return np.repeat(_flat(a), repeats, axis=0)
    return np.repeat(a, repeats, axis=_primal_axis(axis, a.ndim - 1))


@_zero_stays
def take_directions(a: Any, indices: Any, axis: Any = None, out: Any = None, mode: str = "raise") -> Any:
    if axis is None:
        return np.take(_flat(a), indices, axis=0, mode=mode)
    return np.take(a, indices, axis=_primal_axis(axis, a.ndim - 1), mode=mode)


@_zero_stays
def diagonal_directions(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """``np.diagonal`` of the primal's axes; numpy puts the diagonal last,
    it goes before the directions."""
    ndim = a.ndim - 1
    return np.moveaxis(np.diagonal(a, offset, _primal_axis(axis1, ndim), _primal_axis(axis2, ndim)), -1, -2)


@_zero_stays
def diag_directions(v: Any, k: int = 0) -> Any:
    """``np.diag``: the diagonal of a matrix, or the matrix of a vector."""
    if v.ndim == 3:
        return diagonal_directions(v, k)
    n = v.shape[0]
    out = np.zeros((n + abs(k), n + abs(k), v.shape[-1]), dtype=v.dtype)
    steps = np.arange(n)
    out[steps + max(-k, 0), steps + max(k, 0)] = v
    return out


@_zero_stays
def trace_directions(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None, out: Any = None) -> Any:
    ndim = a.ndim - 1
    return np.trace(a, offset, _primal_axis(axis1, ndim), _primal_axis(axis2, ndim), dtype)


# The derivative helpers of the rules (``s2s/runtime/core.py``, ``linalg.py``,
# ``structural.py``) with the directions last in their tangent or cotangent,
# the first argument. Several call the single-direction helper with primal
# values spread over the directions (``_spread``): a value it reads only for
# its shape, or element by element, with one more axis the operation leaves
# alone, so that the directions need no rule of their own.


def _spread(x: Any, like: Any) -> np.ndarray:
    """The primal value ``x`` repeated along a trailing axis as long as the
    directions of ``like`` (a view: nothing is copied)."""
    x = np.asarray(x)
    return np.broadcast_to(x[..., None], x.shape + np.shape(like)[-1:])


def _expand_reduced(g: Any, ndim: int, axis: Any, keepdims: bool) -> Any:
    """A reduction's cotangent with the reduced axes of its ``ndim``-axis
    argument back as length-1 axes, before the directions."""
    if keepdims or axis is None:
        return g
    return np.expand_dims(g, _axes(ndim, axis))


def _chosen_share(x: Any, out: Any, axis: Any, keepdims: bool) -> np.ndarray:
    """The share of ``max``/``min``'s result each element of ``x`` has: one
    over the number of ties where it is chosen, zero elsewhere."""
    chosen = np.equal(x, core.expand_reduced(out, axis, keepdims))
    return chosen / np.sum(chosen, axis=axis, keepdims=True)


@_zero_stays
def choice_tangent_directions(t: Any, x: Any, out: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return sum_directions(t * _lifted(_chosen_share(x, out, axis, keepdims)), axis, keepdims=keepdims)


@_zero_stays
def choice_adjoint_directions(g: Any, x: Any, out: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return _expand_reduced(g, np.ndim(x), axis, keepdims) * _lifted(_chosen_share(x, out, axis, keepdims))


@_zero_stays
def prod_tangent_directions(t: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return sum_directions(t * _lifted(core._products_of_others(x, axis)), axis, keepdims=keepdims)


@_zero_stays
def prod_adjoint_directions(g: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return _expand_reduced(g, np.ndim(x), axis, keepdims) * _lifted(core._products_of_others(x, axis))


@_zero_stays
def var_tangent_directions(t: Any, x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    centered, dof = core._centered(x, axis, ddof)
    return 2.0 * sum_directions(_lifted(centered) * t, axis, keepdims=keepdims) / dof


@_zero_stays
def var_adjoint_directions(g: Any, x: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    centered, dof = core._centered(x, axis, ddof)
    return _expand_reduced(g, np.ndim(x), axis, keepdims) * (2.0 / dof) * _lifted(centered)


@_zero_stays
def std_tangent_directions(t: Any, x: Any, out: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    return var_tangent_directions(t, x, axis, ddof, keepdims) / _lifted(2.0 * out)


@_zero_stays
def std_adjoint_directions(g: Any, x: Any, out: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Any:
    return var_adjoint_directions(g / _lifted(2.0 * out), x, axis, ddof, keepdims)


@_zero_stays
def norm_tangent_directions(t: Any, x: Any, out: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return core.safe_divide(sum_directions(_lifted(x) * t, axis, keepdims=keepdims), _lifted(out))


@_zero_stays
def norm_adjoint_directions(g: Any, x: Any, out: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return _expand_reduced(core.safe_divide(g, _lifted(out)), np.ndim(x), axis, keepdims) * _lifted(x)


def _cumulative(helper: Callable, flat_result: bool) -> Callable:
    """``cumprod``'s tangent or adjoint helper for tangents with directions:
    along an axis of the primal (a flattened one for ``axis=None``, where the
    tangent stays flat), with ``x`` and ``out`` spread over the directions,
    which it treats as one more axis it does not run along."""

    @_zero_stays
    def batched(d: Any, x: Any, out: Any, axis: Any = None) -> Any:
        x = np.asarray(x)
        if axis is not None:
            return helper(d, _spread(x, d), _spread(out, d), _primal_axis(axis, x.ndim))
        flat = helper(_flat(np.asarray(d)), _spread(np.ravel(x), d), _spread(np.ravel(out), d), 0)
        return flat if flat_result else np.reshape(flat, x.shape + flat.shape[-1:])

    return batched


cumprod_tangent_directions = _cumulative(core.cumprod_tangent, flat_result=True)
cumprod_adjoint_directions = _cumulative(core.cumprod_adjoint, flat_result=False)


def _as_matrices(t: Any, vector: bool) -> Any:
    """A tangent of a right-hand side or solution of ``solve`` as matrices
    (a vector as one column), the directions last."""
    return np.asarray(t)[..., None, :] if vector else t


def _solve_each(a: Any, rhs: np.ndarray) -> np.ndarray:
    """``a^-1 rhs`` for matrices ``rhs`` with directions: one solve, the
    columns of every direction side by side."""
    solved = linalg._solve_matrices(np.asarray(a), np.reshape(rhs, rhs.shape[:-2] + (-1,)))
    return np.reshape(solved, solved.shape[:-1] + rhs.shape[-2:])


def solve_tangent_directions(a: Any, b: Any, x: Any, a_dot: Any = None, b_dot: Any = None) -> Any:
    """``a^-1 (b_dot - a_dot x)`` (a tangent not given, or a bare zero, is zero)."""
    vector = linalg._solves_vector(a, b)
    rhs: Any = 0.0
    if b_dot is not None and not _bare_zero(b_dot):
        rhs = _as_matrices(_tangent_array(b_dot), vector)
    if a_dot is not None and not _bare_zero(a_dot):
        rhs = rhs - np.einsum("...ijz,...jm->...imz", _tangent_array(a_dot), np.asarray(x)[..., None] if vector else x)
    if _bare_zero(rhs):
        return rhs
    x_dot = _solve_each(a, rhs)
    return x_dot[..., 0, :] if vector else x_dot


@_zero_stays
def solve_adjoint_directions(g: Any, a: Any, b: Any) -> Any:
    vector = linalg._solves_vector(a, b)
    w = _solve_each(linalg._matrix_transpose(np.asarray(a)), _as_matrices(g, vector))
    return w[..., 0, :] if vector else w


@_zero_stays
def solve_adjoint_a_directions(w: Any, a: Any, b: Any, x: Any) -> Any:
    """``-w x^T`` summed over the stacks ``a`` was broadcast along."""
    vector = linalg._solves_vector(a, b)
    bar = -np.einsum("...imz,...jm->...ijz", _as_matrices(w, vector), np.asarray(x)[..., None] if vector else x)
    return sum_to_shape_directions(bar, np.shape(a))


@_zero_stays
def det_tangent_directions(t: Any, a: Any, out: Any) -> Any:
    """Jacobi's formula, ``out * tr(a^-1 t)``, one solve for all directions."""
    return _lifted(out) * np.trace(_solve_each(a, t), axis1=-3, axis2=-2)


@_zero_stays
def det_adjoint_directions(g: Any, a: Any, out: Any) -> Any:
    scale = (g * _lifted(out))[..., None, None, :]
    return scale * linalg._matrix_transpose(np.linalg.inv(a))[..., None]


def _primal_axes_of(like: Any, *axes: int) -> tuple[int, ...]:
    """Axes of the primal ``like``, counted from 0 (so that one more axis
    after them, the directions', is not counted)."""
    return tuple(_primal_axis(a, np.ndim(like)) for a in axes)


@_zero_stays
def trace_adjoint_directions(g: Any, a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    return linalg.trace_adjoint(g, _spread(a, g), offset, *_primal_axes_of(a, axis1, axis2))


@_zero_stays
def diagonal_adjoint_directions(g: Any, a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The single-direction helper writes the diagonal last: the directions
    go before it."""
    return structural.diagonal_adjoint(np.moveaxis(g, -1, -2), _spread(a, g), offset, *_primal_axes_of(a, axis1, axis2))


@_zero_stays
def diag_adjoint_directions(g: Any, v: Any, k: int = 0) -> Any:
    if np.ndim(v) == 1:
        return diagonal_directions(g, k)
    return diagonal_adjoint_directions(g, v, k)


@_zero_stays
def tile_adjoint_directions(g: Any, A: Any, reps: Any) -> Any:
    """The tiles summed: the directions are one more axis, tiled once, of
    ``A`` given the leading axes ``tile`` gives it."""
    reps = tuple(np.atleast_1d(reps))
    ndim = max(np.ndim(A), len(reps))
    padded = np.reshape(A, (1,) * (ndim - np.ndim(A)) + np.shape(A))
    bar = structural.tile_adjoint(g, _spread(padded, g), (1,) * (ndim - len(reps)) + reps + (1,))
    return np.reshape(bar, np.shape(A) + bar.shape[-1:])


@_zero_stays
def repeat_adjoint_directions(g: Any, a: Any, repeats: Any, axis: Any = None) -> Any:
    if axis is None:  # the primal was repeated flat
        flat = structural.repeat_adjoint(g, _spread(np.ravel(a), g), repeats, 0)
        return np.reshape(flat, np.shape(a) + flat.shape[-1:])
    return structural.repeat_adjoint(g, _spread(a, g), repeats, _primal_axis(axis, np.ndim(a)))


@_zero_stays
def take_adjoint_directions(g: Any, a: Any, indices: Any, axis: Any = None, mode: str = "raise") -> Any:
    if axis is None:  # positions in the flattened primal
        flat = structural.take_adjoint(g, _spread(np.ravel(a), g), indices, 0, mode)
        return np.reshape(flat, np.shape(a) + flat.shape[-1:])
    return structural.take_adjoint(g, _spread(a, g), indices, _primal_axis(axis, np.ndim(a)), mode)


def _promoted(g: Any, a: Any, b: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``g``, ``a`` and ``b`` of ``a @ b`` with vectors promoted to matrices
    as ``matmul`` promotes them (``a`` to a row, ``b`` to a column), and the
    axes the promotion removed from the result put back into ``g``, before
    its directions."""
    g, a, b = np.asarray(g), np.asarray(a), np.asarray(b)
    if b.ndim == 1:
        b, g = b[:, None], g[..., None, :]
    if a.ndim == 1:
        a, g = a[None, :], g[..., None, :, :]
    return g, a, b


@_zero_stays
def matmul_adjoint_a_directions(g: Any, a: Any, b: Any) -> Any:
    """``g @ b^T`` per direction, summed over the stacks ``a`` was broadcast along."""
    gm, am, bm = _promoted(g, a, b)
    bar = sum_to_shape_directions(np.einsum("...mpz,...np->...mnz", gm, bm), am.shape)
    return np.reshape(bar, np.shape(a) + bar.shape[-1:])


@_zero_stays
def matmul_adjoint_b_directions(g: Any, a: Any, b: Any) -> Any:
    """``a^T @ g`` per direction, summed over the stacks ``b`` was broadcast along."""
    gm, am, bm = _promoted(g, a, b)
    bar = sum_to_shape_directions(np.einsum("...mn,...mpz->...npz", am, gm), bm.shape)
    return np.reshape(bar, np.shape(b) + bar.shape[-1:])


@_zero_stays
def tensordot_adjoint_a_directions(g: Any, a: Any, b: Any, axes: Any = 2) -> Any:
    """The directions are one more free axis of ``a``, its last: in the
    product they come after ``a``'s other free axes."""
    summed = linalg._tensordot_axes(axes, np.ndim(a), np.ndim(b))
    free_a = np.ndim(a) - len(summed[0])
    return linalg.tensordot_adjoint_a(np.moveaxis(g, -1, free_a), _spread(a, g), b, summed)


@_zero_stays
def tensordot_adjoint_b_directions(g: Any, a: Any, b: Any, axes: Any = 2) -> Any:
    """The directions are one more free axis of ``b``, its last, as in ``g``."""
    summed = linalg._tensordot_axes(axes, np.ndim(a), np.ndim(b))
    return linalg.tensordot_adjoint_b(g, a, _spread(b, g), summed)


@_zero_stays
def kron_adjoint_a_directions(g: Any, a: Any, b: Any) -> Any:
    """The directions of ``g`` are those of ``a`` times a length-1 axis of ``b``
    (see ``kron_directions``)."""
    return linalg.kron_adjoint_a(g, _spread(a, g), _lifted(b))


@_zero_stays
def kron_adjoint_b_directions(g: Any, a: Any, b: Any) -> Any:
    return linalg.kron_adjoint_b(g, _lifted(a), _spread(b, g))


def _contracted(g: Any, other: Any, axes_g: list, axes_other: list) -> np.ndarray:
    """``g`` contracted with ``other`` over these axes (of ``g``'s primal
    axes), the directions moved after the axes ``other`` is left with (its
    one free axis)."""
    return np.moveaxis(np.tensordot(g, other, axes=(axes_g, axes_other)), -2, -1)


@_zero_stays
def dot_adjoint_a_directions(g: Any, a: Any, b: Any) -> Any:
    """``g`` contracted with ``b`` over ``b``'s free axes (all but its
    second-to-last)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast_directions(g * _lifted(b), a)
    free_b = [axis for axis in range(np.ndim(b)) if axis != max(np.ndim(b) - 2, 0)]
    return _contracted(g, b, list(range(np.ndim(a) - 1, np.ndim(g) - 1)), free_b)


@_zero_stays
def dot_adjoint_b_directions(g: Any, a: Any, b: Any) -> Any:
    """``a`` contracted with ``g`` over ``a``'s leading axes; the summed axis
    of ``b`` goes back to its place (the directions stay last)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast_directions(g * _lifted(a), b)
    lead = list(range(np.ndim(a) - 1))
    return np.moveaxis(np.tensordot(a, g, axes=(lead, lead)), 0, max(np.ndim(b) - 2, 0))


@_zero_stays
def inner_adjoint_a_directions(g: Any, a: Any, b: Any) -> Any:
    """``g`` contracted with ``b`` over ``b``'s leading axes."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast_directions(g * _lifted(b), a)
    return _contracted(g, b, list(range(np.ndim(a) - 1, np.ndim(g) - 1)), list(range(np.ndim(b) - 1)))


@_zero_stays
def inner_adjoint_b_directions(g: Any, a: Any, b: Any) -> Any:
    """``g`` contracted with ``a`` over ``a``'s leading axes."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return unbroadcast_directions(g * _lifted(a), b)
    lead = list(range(np.ndim(a) - 1))
    return _contracted(g, a, lead, lead)


@_zero_stays
def outer_adjoint_a_directions(g: Any, a: Any, b: Any) -> Any:
    return np.reshape(np.einsum("mnz,n->mz", g, np.ravel(b)), np.shape(a) + np.shape(g)[-1:])


@_zero_stays
def outer_adjoint_b_directions(g: Any, a: Any, b: Any) -> Any:
    return np.reshape(np.einsum("m,mnz->nz", np.ravel(a), g), np.shape(b) + np.shape(g)[-1:])


@_zero_stays
def vdot_adjoint_directions(g: Any, other: Any, like: Any) -> Any:
    return g * _lifted(np.reshape(other, np.shape(like)))


@_zero_stays
def einsum_adjoint_directions(g: Any, index: int, subscripts: str, *operands: Any) -> Any:
    """The directions get a label of their own, in the output and in operand
    ``index`` (spread over them): the single-direction helper then sums
    nothing over them."""
    if not isinstance(subscripts, str):
        return linalg.einsum_adjoint(g, index, subscripts, *operands)  # refused there, with its message
    with_directions = _labelled_directions(subscripts, tuple(np.ndim(x) for x in operands), index)
    spread = [_spread(x, g) if i == index else x for i, x in enumerate(operands)]
    return linalg.einsum_adjoint(g, index, with_directions, *spread)


def float_directions(x: Any = 0.0) -> Any:
    """``float`` of a tangent: the one element of the primal, for each direction."""
    if _bare_zero(x):
        return float(x)
    x = _tangent_array(x)
    return np.reshape(x, np.shape(x)[-1:]).astype(float)


# Joining arrays along an axis of the primal: hstack, vstack and column_stack
# first give each array the axes the primal operation gives it.


def _counted_as_vector(shape: tuple) -> tuple:
    """``np.hstack``'s view of a joined array: a number is one element."""
    return shape or (1,)


def _counted_as_row(shape: tuple) -> tuple:
    """``np.vstack``'s view of a joined array: a vector (or a number) is one row."""
    return (1,) * (2 - len(shape)) + shape


def _counted_as_column(shape: tuple) -> tuple:
    """``np.column_stack``'s view of a joined array: a vector (or a number) is one column."""
    return shape if len(shape) >= 2 else _counted_as_vector(shape) + (1,)


def _joined_parts(tup: Any, promote: Callable[[tuple], tuple]) -> list:
    """The tangents of the joined arrays given the primal's promoted axes,
    all with as many directions. A bare zero is a number, as it is for the
    operation applied to one direction (where the primal is an array, the
    generated code broadcasts its tangent first)."""
    parts = [np.asarray(p) if np.ndim(p) else np.reshape(np.asarray(p, dtype=float), (1,)) for p in tup]
    directions = max(p.shape[-1] for p in parts)
    return [np.broadcast_to(np.reshape(p, promote(p.shape[:-1]) + p.shape[-1:]), promote(p.shape[:-1]) + (directions,)) for p in parts]


def hstack_directions(tup: Any, *, dtype: Any = None, casting: str = "same_kind") -> np.ndarray:
    """``np.hstack``: along the first axis when the arrays are vectors, the
    second otherwise (as numpy decides, from the first array)."""
    parts = _joined_parts(tup, _counted_as_vector)
    return np.concatenate(parts, axis=0 if parts[0].ndim == 2 else 1, dtype=dtype, casting=casting)


def vstack_directions(tup: Any, *, dtype: Any = None, casting: str = "same_kind") -> np.ndarray:
    return np.concatenate(_joined_parts(tup, _counted_as_row), axis=0, dtype=dtype, casting=casting)


def column_stack_directions(tup: Any) -> np.ndarray:
    return np.concatenate(_joined_parts(tup, _counted_as_column), axis=1)


def _converting(convert: Callable) -> Callable:
    """``np.array`` and its kin for a tangent: the tangents of a list's
    elements stacked (a bare zero broadcast to its neighbours' shape, which
    the primal's elements share), any other tangent converted as it is."""

    def batched(a: Any, *args: Any, **kwargs: Any) -> Any:
        return convert(_tangent_array(a) if isinstance(a, (list, tuple)) else a, *args, **kwargs)

    batched.__name__ = batched.__qualname__ = f"{convert.__name__}_directions"
    return batched


array_directions = _converting(np.array)
asarray_directions = _converting(np.asarray)
asanyarray_directions = _converting(np.asanyarray)


def _one_direction_if_bare(t: Any) -> Any:
    """A bare zero tangent of a number as a zero with one direction, which
    broadcasts against any number of them."""
    return np.reshape(np.asarray(t, dtype=float), (1,)) if _bare_zero(t) else t


def linspace_directions(start: Any, stop: Any, num: int = 50, endpoint: bool = True, retstep: bool = False, dtype: Any = None, axis: int = 0, **rest: Any) -> Any:
    """``np.linspace`` of the ends' tangents: linear in its ends, sample by
    sample with the same weights, so the directions are one more axis of
    the ends; the samples' axis goes before them."""
    start, stop = _one_direction_if_bare(start), _one_direction_if_bare(stop)
    ndim = np.broadcast(start, stop).ndim  # the primal's samples add an axis; the directions are one
    return np.linspace(start, stop, num, endpoint, retstep, dtype, _primal_axis(axis, ndim), **rest)


@_zero_stays
def linspace_adjoint_directions(g: Any, end: Any, num: int = 50, endpoint: bool = True, axis: int = 0, stop: bool = False) -> Any:
    """The directions are one more axis of the end (spread over them), after
    the samples' axis."""
    return structural.linspace_adjoint(g, _spread(end, g), num, endpoint, _primal_axis(axis, np.ndim(g) - 1), stop)


def _piece(g: np.ndarray, arrays: Any, k: int, axis: int, promote: Callable[[tuple], tuple]) -> np.ndarray:
    """The piece of ``g`` that came from ``arrays[k]`` (joined along the
    primal's ``axis`` once promoted), shaped like it, the directions last."""
    shapes = [promote(np.shape(x)) for x in arrays]
    return np.reshape(structural._slab(g, shapes, k, axis), np.shape(arrays[k]) + g.shape[-1:])


def _same_shape(shape: tuple) -> tuple:
    return shape


@_zero_stays
def concatenate_piece_directions(g: Any, arrays: Any, k: int, axis: Any = 0) -> np.ndarray:
    if axis is None:  # the primal's arrays were flattened first
        return _piece(_flat(g), [np.ravel(x) for x in arrays], k, 0, _same_shape).reshape(np.shape(arrays[k]) + g.shape[-1:])
    return _piece(g, arrays, k, _primal_axis(axis, g.ndim - 1), _same_shape)


@_zero_stays
def stack_piece_directions(g: Any, arrays: Any, k: int, axis: int = 0) -> np.ndarray:
    """The slice at ``k`` along the primal's new axis."""
    return np.reshape(g[structural._along(_primal_axis(axis, g.ndim - 1), k)], np.shape(arrays[k]) + g.shape[-1:])


@_zero_stays
def hstack_piece_directions(g: Any, arrays: Any, k: int) -> np.ndarray:
    return _piece(g, arrays, k, 0 if g.ndim == 2 else 1, _counted_as_vector)


@_zero_stays
def vstack_piece_directions(g: Any, arrays: Any, k: int) -> np.ndarray:
    return _piece(g, arrays, k, 0, _counted_as_row)


@_zero_stays
def column_stack_piece_directions(g: Any, arrays: Any, k: int) -> np.ndarray:
    return _piece(g, arrays, k, 1, _counted_as_column)


def concatenate_pieces_directions(g: Any, arrays: list, axis: Any = 0) -> list:
    """One piece per array of a list variable (each a bare zero for a bare zero ``g``)."""
    return [concatenate_piece_directions(g, arrays, k, axis) for k in range(len(arrays))]


def stack_pieces_directions(g: Any, arrays: list, axis: int = 0) -> list:
    return [stack_piece_directions(g, arrays, k, axis) for k in range(len(arrays))]


def _item_position(args: tuple) -> tuple[bool, Any]:
    """Where ``a.item(*args)`` reads: ``(True, i)`` for position ``i`` of the
    flattened array (the only one without arguments), ``(False, index)``
    for a multi-index given as separate arguments or one tuple."""
    if not args:
        return True, 0
    if len(args) == 1 and np.ndim(args[0]) == 0:
        return True, args[0]
    return False, args if len(args) > 1 else tuple(args[0])


def item_directions(a: Any, *args: Any) -> Any:
    """``a.item(*args)`` for each direction: the element it names, as
    floats (``item`` makes Python numbers)."""
    if _bare_zero(a):
        return a
    a = np.asarray(a)
    flat, index = _item_position(args)
    if flat and not args and a[..., 0].size != 1:
        raise ValueError("can only convert an array of size 1 to a Python scalar")
    return np.array((_flat(a) if flat else a)[index], dtype=float)


@_zero_stays
def item_adjoint_directions(g: Any, a: Any, *args: Any) -> np.ndarray:
    """Zeros shaped like ``a`` with ``g`` (one number per direction) at the element."""
    out = structural._zeros(_spread(a, g), g)
    flat, index = _item_position(args)
    (_flat(out) if flat else out)[index] = g  # the flat view writes through to out
    return out


def list_adjoint_directions(g: Any, items: Any) -> Any:
    """``list_adjoint`` for each direction: a list again for a list; for an
    array, the rows' adjoints stacked back, a bare zero given the shape of
    a row (from ``items``)."""
    if isinstance(items, (list, tuple)):
        return list(g)
    if not isinstance(g, (list, tuple)):  # the rows' adjoints as one array already, or a bare zero
        return g
    if not g:
        return np.zeros(np.shape(items) + (1,), dtype=_float_dtype(items))
    row = np.shape(items)[1:]
    rows = [np.zeros(row + (1,), dtype=_float_dtype(items)) if _bare_zero(r) else r for r in g]
    return np.stack(np.broadcast_arrays(*rows))


@_zero_stays
def cumsum_adjoint_directions(g: Any, x: Any, axis: Any = None) -> Any:
    """A cumulative sum from the end along the primal's axis (of the
    flattened primal for ``axis=None``)."""
    if axis is None:
        return np.reshape(core.cumsum_adjoint(_flat(g), _flat(_spread(x, g)), 0), np.shape(x) + g.shape[-1:])
    return core.cumsum_adjoint(g, _spread(x, g), _primal_axis(axis, np.ndim(x)))


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


def full_directions(shape: Any, fill_value: Any, dtype: Any = None, order: str = "C", **rest: Any) -> np.ndarray:
    """``np.full`` of a fill value's tangent (the directions its last axis):
    the fill value broadcast to the shape, each direction on its own."""
    shape = (shape,) if np.ndim(shape) == 0 else tuple(shape)
    fill_value = _one_direction_if_bare(fill_value)
    out = np.empty(shape + np.shape(fill_value)[-1:], dtype=dtype if dtype is not None else np.asarray(fill_value).dtype, order=order)
    out[...] = fill_value
    return out


def full_like_directions(a: Any, fill_value: Any, dtype: Any = None, order: str = "K", subok: bool = True, shape: Any = None, **rest: Any) -> np.ndarray:
    """``np.full_like`` of a fill value's tangent: ``a``'s shape (or
    ``shape``) and dtype, the directions last."""
    return full_directions(np.shape(a) if shape is None else shape, fill_value, dtype if dtype is not None else np.asarray(a).dtype)


def unpack_adjoint_directions(x: Any, bars: tuple) -> Any:
    """The adjoint of ``a, b, ... = x``: the parts' cotangents (each with the
    directions last) stacked along ``x``'s first axis."""
    given = [bar for bar in bars if bar is not None and not _bare_zero(bar)]
    if not given:
        return 0.0
    k = np.shape(given[0])[-1]
    out = np.zeros(_shape(x) + (k,), dtype=np.result_type(_float_dtype(x), *given))
    for i, bar in enumerate(bars):
        if bar is not None and not _bare_zero(bar):
            out[i] = bar
    return out

