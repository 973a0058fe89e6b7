"""Runtime helpers for the linalg rules (see s2s/rules/linalg.py).

Products (``@``, ``dot``, ``inner``, ``tensordot``, ``einsum``, ``kron``)
are bilinear, so the adjoint of one operand is again a product: of the
cotangent with the other operand. Which product depends on the operands'
ranks, which generated code does not know, so each adjoint is a helper that
looks at the real arrays; the common 1-D and 2-D cases take a fast path.

An adjoint has exactly the shape of its operand: where numpy broadcast an
operand (stacks of matrices in ``@``, size-1 axes in ``einsum``), the helper
sums the cotangent back over the broadcast axes.
"""

from __future__ import annotations

import functools
import string
from collections import Counter
from typing import Any

import numpy as np

from .core import unbroadcast

__all__ = [
    "matmul_adjoint_a",
    "matmul_adjoint_b",
    "dot_adjoint_a",
    "dot_adjoint_b",
    "inner_adjoint_a",
    "inner_adjoint_b",
    "vdot_adjoint",
    "outer_adjoint_a",
    "outer_adjoint_b",
    "tensordot_adjoint_a",
    "tensordot_adjoint_b",
    "einsum_adjoint",
    "trace_adjoint",
    "kron_adjoint_a",
    "kron_adjoint_b",
    "solve_tangent",
    "solve_adjoint",
    "solve_adjoint_a",
    "det_tangent",
    "det_adjoint",
]


def _matrix_transpose(x: np.ndarray) -> np.ndarray:
    """Each matrix of a stack transposed (``x.mT`` in numpy 2)."""
    return np.swapaxes(x, -1, -2)


# --------------------------------------------------------------------------
# a @ b


def _as_matrices(g: Any, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``g``, ``a`` and ``b`` with 1-D operands promoted as ``matmul`` promotes
    them (``a`` to a row, ``b`` to a column), and the axes that the promotion
    removed from the result put back into ``g``."""
    g = np.asarray(g)
    if b.ndim == 1:
        b, g = b[:, None], g[..., None]
    if a.ndim == 1:
        a, g = a[None, :], g[..., None, :]
    return g, a, b


def matmul_adjoint_a(g: Any, a: Any, b: Any) -> Any:
    """Adjoint of ``a @ b`` w.r.t. ``a``: ``g @ b^T``, summed over the stack
    axes along which ``a`` was broadcast."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 2 and b.ndim == 2:
        return g @ b.T
    if a.ndim == 1 and b.ndim == 1:
        return np.multiply(g, b)
    if a.ndim == 2 and b.ndim == 1:
        return np.outer(g, b)
    if a.ndim == 1 and b.ndim == 2:
        return b @ g
    gm, am, bm = _as_matrices(g, a, b)
    return unbroadcast(gm @ _matrix_transpose(bm), am).reshape(a.shape)


def matmul_adjoint_b(g: Any, a: Any, b: Any) -> Any:
    """Adjoint of ``a @ b`` w.r.t. ``b``: ``a^T @ g``, summed over the stack
    axes along which ``b`` was broadcast."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 2 and b.ndim == 2:
        return a.T @ g
    if a.ndim == 1 and b.ndim == 1:
        return np.multiply(g, a)
    if a.ndim == 2 and b.ndim == 1:
        return g @ a
    if a.ndim == 1 and b.ndim == 2:
        return np.outer(a, g)
    gm, am, bm = _as_matrices(g, a, b)
    return unbroadcast(_matrix_transpose(am) @ gm, bm).reshape(b.shape)


# --------------------------------------------------------------------------
# np.dot, np.inner, np.vdot, np.outer


def dot_adjoint_a(g: Any, a: Any, b: Any) -> Any:
    """Adjoint of ``np.dot(a, b)`` w.r.t. ``a``.

    ``np.dot`` multiplies when either operand is a scalar, and otherwise sums
    over the last axis of ``a`` and the second-to-last of ``b`` (the only
    axis of a vector ``b``).
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return unbroadcast(np.multiply(g, b), a)
    if b.ndim == 1:
        return np.multiply.outer(g, b)
    if a.ndim <= 2 and b.ndim == 2:
        return matmul_adjoint_a(g, a, b)
    b_free = [axis for axis in range(b.ndim) if axis != b.ndim - 2]
    return np.tensordot(g, b, axes=(list(range(a.ndim - 1, np.ndim(g))), b_free))


def dot_adjoint_b(g: Any, a: Any, b: Any) -> Any:
    """Adjoint of ``np.dot(a, b)`` w.r.t. ``b`` (see ``dot_adjoint_a``)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return unbroadcast(np.multiply(g, a), b)
    if a.ndim <= 2 and b.ndim <= 2:
        return matmul_adjoint_b(g, a, b)
    lead = list(range(a.ndim - 1))
    bar = np.tensordot(a, g, axes=(lead, lead))  # the summed axis first
    return np.moveaxis(bar, 0, max(b.ndim - 2, 0))


def inner_adjoint_a(g: Any, a: Any, b: Any) -> Any:
    """Adjoint of ``np.inner(a, b)`` (a sum over the last axes of both)
    w.r.t. ``a``."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return unbroadcast(np.multiply(g, b), a)
    if b.ndim == 1:
        return np.multiply.outer(g, b)
    return np.tensordot(g, b, axes=(list(range(a.ndim - 1, np.ndim(g))), list(range(b.ndim - 1))))


def inner_adjoint_b(g: Any, a: Any, b: Any) -> Any:
    """Adjoint of ``np.inner(a, b)`` w.r.t. ``b``."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return unbroadcast(np.multiply(g, a), b)
    if a.ndim == 1:
        return np.multiply.outer(g, a)
    lead = list(range(a.ndim - 1))
    return np.tensordot(g, a, axes=(lead, lead))


def vdot_adjoint(g: Any, other: Any, like: Any) -> Any:
    """Adjoint of ``np.vdot`` (the inner product of two flattened real
    arrays) w.r.t. the operand ``like``: ``g`` times the other operand,
    in ``like``'s shape."""
    return np.multiply(g, np.reshape(other, np.shape(like)))


def outer_adjoint_a(g: Any, a: Any, b: Any) -> Any:
    """Adjoint of ``np.outer(a, b)`` (of the flattened operands) w.r.t. ``a``."""
    return (g @ np.ravel(b)).reshape(np.shape(a))


def outer_adjoint_b(g: Any, a: Any, b: Any) -> Any:
    """Adjoint of ``np.outer(a, b)`` w.r.t. ``b``."""
    return (np.ravel(a) @ g).reshape(np.shape(b))


# --------------------------------------------------------------------------
# np.tensordot


def _tensordot_axes(axes: Any, ndim_a: int, ndim_b: int) -> tuple[list[int], list[int]]:
    """The summed axes of ``a`` and of ``b``, pairwise, as non-negative
    integers; ``axes=n`` sums the last ``n`` axes of ``a`` with the first
    ``n`` of ``b``."""
    if np.ndim(axes) == 0:
        n = int(axes)
        return list(range(ndim_a - n, ndim_a)), list(range(n))
    axes_a, axes_b = axes
    axes_a = [axes_a] if np.ndim(axes_a) == 0 else list(axes_a)
    axes_b = [axes_b] if np.ndim(axes_b) == 0 else list(axes_b)
    return [int(i) % ndim_a for i in axes_a], [int(j) % ndim_b for j in axes_b]


def tensordot_adjoint_a(g: Any, a: Any, b: Any, axes: Any = 2) -> Any:
    """Adjoint of ``np.tensordot(a, b, axes)`` w.r.t. ``a``.

    The result's axes are the free axes of ``a``, then those of ``b``; the
    adjoint contracts ``g`` with ``b`` over ``b``'s free axes, and puts the
    axes it is left with back into ``a``'s order.
    """
    a, b = np.asarray(a), np.asarray(b)
    axes_a, axes_b = _tensordot_axes(axes, a.ndim, b.ndim)
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [j for j in range(b.ndim) if j not in axes_b]
    bar = np.tensordot(g, b, axes=(list(range(len(free_a), np.ndim(g))), free_b))
    source = free_a + [axes_a[axes_b.index(j)] for j in sorted(axes_b)]  # the axis of a each axis of bar is
    return np.transpose(bar, np.argsort(source))


def tensordot_adjoint_b(g: Any, a: Any, b: Any, axes: Any = 2) -> Any:
    """Adjoint of ``np.tensordot(a, b, axes)`` w.r.t. ``b``."""
    a, b = np.asarray(a), np.asarray(b)
    axes_a, axes_b = _tensordot_axes(axes, a.ndim, b.ndim)
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [j for j in range(b.ndim) if j not in axes_b]
    bar = np.tensordot(a, g, axes=(free_a, list(range(len(free_a)))))
    source = [axes_b[axes_a.index(i)] for i in sorted(axes_a)] + free_b  # the axis of b each axis of bar is
    return np.transpose(bar, np.argsort(source))


# --------------------------------------------------------------------------
# np.einsum


@functools.lru_cache(maxsize=512)
def _einsum_labels(subscripts: str, ndims: tuple[int, ...]) -> tuple[tuple[str, ...], str]:
    """The labels of each operand and of the result, one letter per axis:
    ellipses spelled out with unused letters (right-aligned, as numpy
    broadcasts them), and the implicit result of a subscript string without
    ``->`` made explicit."""
    spec = subscripts.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"einsum subscripts {subscripts!r} name {len(terms)} operands; {len(ndims)} were given")
    spare = [c for c in string.ascii_letters if c not in spec]
    widths = [nd - (len(t) - 3) for t, nd in zip(terms, ndims) if "..." in t]
    ellipsis = "".join(spare[: max(widths, default=0)])

    def spelled(term: str, ndim: int) -> str:
        if "..." not in term:
            return term
        width = ndim - (len(term) - 3)
        return term.replace("...", ellipsis[len(ellipsis) - width :])

    labels = tuple(spelled(t, nd) for t, nd in zip(terms, ndims))
    if arrow:
        return labels, output.replace("...", ellipsis)
    counts = Counter("".join(terms).replace(".", ""))
    return labels, ellipsis + "".join(sorted(c for c, n in counts.items() if n == 1))


def einsum_adjoint(g: Any, index: int, subscripts: str, *operands: Any) -> Any:
    """Adjoint of ``np.einsum(subscripts, *operands)`` w.r.t. operand ``index``.

    It is itself an einsum: of ``g`` and the other operands, giving the
    operand's labels. Three things einsum cannot say directly are done
    around it: a summed label that no other operand spans (``'ij->i'``, or
    one that einsum broadcast from length 1 in the others) enters through a
    vector of ones, since the adjoint is constant along it; an axis of
    length 1 that einsum broadcast is summed back; and a label repeated
    within the operand (``'ii->i'``) makes the adjoint zero off that
    diagonal.
    """
    if not isinstance(subscripts, str):
        raise TypeError("s2s differentiates np.einsum called with a subscripts string, such as 'ij,jk->ik'")
    arrays = [np.asarray(x) for x in operands]
    labels, output = _einsum_labels(subscripts, tuple(x.ndim for x in arrays))
    mine, target = labels[index], arrays[index]
    distinct = "".join(dict.fromkeys(mine))
    others = [i for i in range(len(arrays)) if i != index]
    size = dict(zip(mine, target.shape))
    carried = {c: n for i in others for c, n in zip(labels[i], arrays[i].shape) if n != 1}
    alone = [c for c in distinct if c not in output and carried.get(c) != size[c]]
    terms = [output, *(labels[i] for i in others), *alone]
    inputs = [g, *(arrays[i] for i in others), *(np.ones(size[c]) for c in alone)]
    bar = np.einsum(",".join(terms) + "->" + distinct, *inputs, optimize=len(inputs) > 2)
    stretched = tuple(k for k, c in enumerate(distinct) if size[c] == 1 and bar.shape[k] != 1)
    if stretched:
        bar = np.sum(bar, axis=stretched, keepdims=True)
    if distinct == mine:
        return bar
    full = np.zeros(target.shape, dtype=bar.dtype)
    np.einsum(f"{mine}->{distinct}", full)[...] = bar  # a writeable view of the diagonal
    return full


# --------------------------------------------------------------------------
# np.trace, np.kron


def trace_adjoint(g: Any, a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """Adjoint of ``np.trace``: ``g`` spread along the traced diagonal of
    each matrix, zero elsewhere."""
    shape = np.shape(a)
    axis1, axis2 = axis1 % len(shape), axis2 % len(shape)
    eye = np.eye(shape[axis1], shape[axis2], k=offset)
    if (axis1, axis2) == (0, 1) and len(shape) == 2:
        return np.multiply(g, eye)
    bar = np.expand_dims(g, (-2, -1)) * eye
    return np.moveaxis(bar, (-2, -1), (axis1, axis2))


def _kron_blocks(g: Any, a: Any, b: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """``g`` with each axis split in two, (axis of ``a``, axis of ``b``), and
    the operands with the leading length-1 axes ``np.kron`` gives the one of
    fewer dimensions."""
    a, b = np.asarray(a), np.asarray(b)
    ndim = max(a.ndim, b.ndim)
    shape_a = (1,) * (ndim - a.ndim) + a.shape
    shape_b = (1,) * (ndim - b.ndim) + b.shape
    split = [n for pair in zip(shape_a, shape_b) for n in pair]
    return np.reshape(g, split), a.reshape(shape_a), b.reshape(shape_b), ndim


def kron_adjoint_a(g: Any, a: Any, b: Any) -> Any:
    """Adjoint of ``np.kron(a, b)`` w.r.t. ``a``: each block of ``g``
    contracted with ``b``."""
    blocks, _, b_full, ndim = _kron_blocks(g, a, b)
    bar = np.tensordot(blocks, b_full, axes=(list(range(1, 2 * ndim, 2)), list(range(ndim))))
    return bar.reshape(np.shape(a))


def kron_adjoint_b(g: Any, a: Any, b: Any) -> Any:
    """Adjoint of ``np.kron(a, b)`` w.r.t. ``b``: the blocks of ``g``
    weighted by the elements of ``a``."""
    blocks, a_full, _, ndim = _kron_blocks(g, a, b)
    bar = np.tensordot(blocks, a_full, axes=(list(range(0, 2 * ndim, 2)), list(range(ndim))))
    return bar.reshape(np.shape(b))


# --------------------------------------------------------------------------
# np.linalg.solve, np.linalg.det

_NUMPY2 = int(np.__version__.split(".")[0]) >= 2


def _solves_vector(a: Any, b: Any) -> bool:
    """Does ``np.linalg.solve(a, b)`` take ``b`` as one vector (per matrix
    of ``a``) rather than as a stack of matrices? numpy 2 says so for a 1-D
    ``b`` only; numpy 1 when ``b`` has one dimension fewer than ``a``."""
    return np.ndim(b) == 1 if _NUMPY2 else np.ndim(b) == np.ndim(a) - 1


def _solve_matrices(a: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """``a^-1 rhs`` for right-hand sides that are matrices, whatever
    ``np.linalg.solve`` would take for a vector: ``rhs`` is given ``a``'s
    stack axes when it has fewer."""
    if rhs.ndim < a.ndim:
        rhs = np.broadcast_to(rhs, np.broadcast_shapes(a.shape[:-2], rhs.shape[:-2]) + rhs.shape[-2:])
    return np.linalg.solve(a, rhs)


def solve_tangent(a: Any, b: Any, x: Any, a_dot: Any = None, b_dot: Any = None) -> Any:
    """Tangent of ``x = np.linalg.solve(a, b)``: ``a^-1 (b_dot - a_dot x)``.
    A tangent not given is zero."""
    a, x = np.asarray(a), np.asarray(x)
    vector = _solves_vector(a, b)
    if vector:
        x = x[..., None]
        b_dot = None if b_dot is None else np.asarray(b_dot)[..., None]
    if a_dot is None:
        rhs = np.asarray(b_dot)
    else:
        rhs = -(a_dot @ x) if b_dot is None else b_dot - a_dot @ x
    x_dot = _solve_matrices(a, rhs)
    return x_dot[..., 0] if vector else x_dot


def solve_adjoint(g: Any, a: Any, b: Any) -> Any:
    """``a^-T g`` for the cotangent ``g`` of ``x = np.linalg.solve(a, b)``:
    the adjoint of ``b`` before it is summed over broadcast stacks, and a
    factor of the adjoint of ``a`` (see ``solve_adjoint_a``)."""
    a, g = np.asarray(a), np.asarray(g)
    vector = _solves_vector(a, b)
    w = _solve_matrices(_matrix_transpose(a), g[..., None] if vector else g)
    return w[..., 0] if vector else w


def solve_adjoint_a(w: Any, a: Any, b: Any, x: Any) -> Any:
    """Adjoint of ``x = np.linalg.solve(a, b)`` w.r.t. ``a``: ``-w x^T``,
    with ``w = solve_adjoint(g, a, b)``, summed over broadcast stacks."""
    w, x = np.asarray(w), np.asarray(x)
    if np.ndim(a) == 2 and x.ndim == 1:
        return -np.outer(w, x)
    if _solves_vector(a, b):
        w, x = w[..., None], x[..., None]
    return unbroadcast(-(w @ _matrix_transpose(x)), a)


def det_tangent(t: Any, a: Any, out: Any) -> Any:
    """Tangent of ``out = np.linalg.det(a)``: ``out * tr(a^-1 t)`` (Jacobi's
    formula), per matrix of a stack. ``a`` must be invertible."""
    return out * np.trace(np.linalg.solve(a, t), axis1=-2, axis2=-1)


def det_adjoint(g: Any, a: Any, out: Any) -> Any:
    """Adjoint of ``out = np.linalg.det(a)``: ``g * out * a^-T``, per matrix
    of a stack. ``a`` must be invertible."""
    scale = np.asarray(np.multiply(g, out))[..., None, None]
    return scale * _matrix_transpose(np.linalg.inv(a))
