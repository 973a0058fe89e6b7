"""Vector forward mode: tangents with a trailing axis of directions, so that
a Jacobian w.r.t. k input elements takes one forward pass."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from s2s import check, differentiate
from s2s.runtime import core as runtime_core
from s2s.runtime import directions as rt

from conftest import SEED_SOURCE

SOURCE = "import numpy as np\n" + SEED_SOURCE + """

def products(W, v, T):
    h = np.tanh(W @ v)
    return np.sum(T @ h) + v @ W.T @ h + np.dot(h, W[:, 0])


def ellipsis_and_axes(T):
    s = np.sum(T[..., 1:] ** 2, axis=-1)
    return np.mean(np.sin(T), axis=(0, -1)) * s[..., 0][:, None]


def swap(v):
    y = v.copy()
    t = y[0]
    y[0] = y[1]
    y[1] = t
    return y * v


def per_direction_operations(m):
    r = np.reshape(m, (-1,))
    c = np.concatenate([r, np.cumsum(r) * 0.5])
    return np.outer(c[:3], m.T[0]) + np.transpose(m)[0, 0]


def mixed(a, b):
    return a * np.exp(b), np.sum(b) * a


def contiguous_number(a, b):
    # np.ascontiguousarray makes a number a vector: its tangent needs that axis too
    v = np.ascontiguousarray(a * b)
    return v[0] * a + np.sum(v)
"""

T = np.linspace(-1.0, 1.2, 24).reshape(2, 3, 4)
W = np.array([[0.5, -0.2, 0.1], [0.3, 0.9, -0.4]])
V = np.array([0.3, -0.8, 1.1])


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    from conftest import write_module

    return write_module(tmp_path_factory.mktemp("vector"), SOURCE, "s2s_vector_cases")


def test_the_seed_jacobian_is_one_vectorized_pass(mod):
    g = differentiate(mod.rs, wrt="d", mode="forward")
    d = 2.5 * mod.f(0.7)
    jacobian = g.derivative(d, 0.3)
    np.testing.assert_allclose(jacobian, differentiate(mod.rs, wrt="d", mode="reverse").derivative(d, 0.3), rtol=1e-12, atol=1e-14)
    source = g.source("forward-vector")
    assert "def rs_jvp(d, xs, d_dot, directions):" in source
    assert "sum1_dot = sum_directions(lift(d0) * d_dot)" in source
    assert "out_dot = d_dot - sum1_dot * lift(d0) / sum2" in source
    assert "each_direction" not in source  # elementwise code and reductions need no loop over directions


@pytest.mark.parametrize(
    "name, args, wrt",
    [
        ("products", (W, V, T[:, :2, :3].transpose(0, 2, 1)), ("W", "v", "T")),
        ("ellipsis_and_axes", (T,), "T"),
        ("swap", (V,), "v"),
        ("per_direction_operations", (W,), "m"),
        ("mixed", (V, 0.4), ("a", "b")),
        ("contiguous_number", (0.7, 1.3), ("a", "b")),
    ],
)
def test_vector_jacobians_match_finite_differences_and_reverse_mode(mod, name, args, wrt):
    check(getattr(mod, name), *args, wrt=wrt)


def test_float32_stays_float32(mod):
    v = V.astype(np.float32)
    jacobian = differentiate(mod.swap, wrt="v", mode="forward").derivative(v)
    assert jacobian.dtype == np.float32 and jacobian.shape == (3, 3)


@pytest.mark.parametrize("a_shape, b_shape", [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)), ((3,), (5, 3, 2)), ((5, 2, 3), (3,)), ((2, 3), (5, 3, 4))])
@pytest.mark.parametrize("tangent", [0, 1])
def test_matmul_with_directions_is_matmul_per_direction(a_shape, b_shape, tangent):
    rng = np.random.default_rng(0)
    k = 4
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    if tangent == 0:
        dirs = rng.standard_normal(a_shape + (k,))
        expected = np.stack([dirs[..., j] @ b for j in range(k)], axis=-1)
        found = rt.matmul_directions(dirs, b, 0)
    else:
        dirs = rng.standard_normal(b_shape + (k,))
        expected = np.stack([a @ dirs[..., j] for j in range(k)], axis=-1)
        found = rt.matmul_directions(a, dirs, 1)
    np.testing.assert_allclose(found, expected, rtol=1e-13)


@pytest.mark.parametrize("axis, keepdims", list(itertools.product([None, 0, -1, (0, -1), 1], [False, True])))
def test_reductions_leave_the_directions_alone(axis, keepdims):
    t = np.random.default_rng(1).standard_normal((2, 3, 4, 5))  # primal (2, 3, 4), 5 directions
    expected = np.stack([np.sum(t[..., j], axis=axis, keepdims=keepdims) for j in range(5)], axis=-1)
    np.testing.assert_allclose(rt.sum_directions(t, axis=axis, keepdims=keepdims), expected, rtol=1e-13)
    expected = np.stack([np.mean(t[..., j], axis=axis, keepdims=keepdims) for j in range(5)], axis=-1)
    np.testing.assert_allclose(rt.mean_directions(t, axis, keepdims=keepdims), expected, rtol=1e-13)


def test_indexing_and_zero_tangents():
    t = np.arange(24.0).reshape(2, 3, 4)  # primal (2, 3), 4 directions
    np.testing.assert_array_equal(rt.getitem_directions(t, (Ellipsis, 1)), t[:, 1, :])
    element = rt.getitem_directions(t, (1, 2))
    np.testing.assert_array_equal(element, t[1, 2])
    assert not np.shares_memory(element, t)  # the primal reads a number: a copy
    assert rt.each_direction(np.reshape, (0,), 4, t, (-1,)).shape == (6, 4)
    assert rt.each_direction(np.reshape, (0,), 4, 0.0, (1,)).shape == (1, 4)  # a bare zero tangent
    assert rt.zeros_directions_like(np.ones((2, 3), np.float32), 4).dtype == np.float32


def test_the_seed_jacobian_in_reverse_is_one_vectorized_backward_sweep(mod):
    g = differentiate(mod.rs, wrt="d", mode="reverse")
    d = 2.5 * mod.f(0.7)
    np.testing.assert_allclose(g.derivative(d, 0.3), differentiate(mod.rs, wrt="d", mode="forward").derivative(d, 0.3), rtol=1e-12, atol=1e-14)
    source = g.source("reverse-vector")
    assert "def rs_backward(saved, out_bar, directions):" in source
    assert "each_direction" not in source


@pytest.mark.parametrize("primal, target", [((2, 3), (3,)), ((2, 3), (2, 1)), ((2, 3), ()), ((3,), (2, 3)), ((1, 3), (2, 3)), ((2, 3), (1, 1))])
def test_adjoints_are_summed_to_a_shape_per_direction(primal, target):
    g = np.random.default_rng(2).standard_normal(primal + (4,))
    expected = np.stack([np.broadcast_to(_sum_to_shape(g[..., j], target), target) for j in range(4)], axis=-1)
    np.testing.assert_allclose(rt.sum_to_shape_directions(g, target), expected, rtol=1e-13)


def _sum_to_shape(g, target):
    from s2s.runtime import sum_to_shape

    return sum_to_shape(g, target)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_the_seed_jacobian_wrt_data_and_position_in_one_pass(mod, mode):
    d = 2.5 * mod.f(0.7)
    check(mod.rs, d, 0.3, wrt=("d", "xs"), modes=(mode,))
    jd, jxs = differentiate(mod.rs, wrt=("d", "xs"), mode=mode).derivative(d, 0.3)
    assert jd.shape == (21, 21) and jxs.shape == (21,)
    vector = "forward-vector" if mode == "forward" else "reverse-vector"
    assert "directions" in differentiate(mod.rs, wrt=("d", "xs"), mode=mode).source(vector)


T4 = np.random.default_rng(3).standard_normal((2, 1, 3, 4))  # primal (2, 1, 3), 4 directions
AXIS_OPERATIONS = [
    ("reshape", np.reshape, rt.reshape_directions, ((3, 2),)),
    ("reshape -1", np.reshape, rt.reshape_directions, ((-1,),)),
    ("ravel", np.ravel, rt.ravel_directions, ()),
    ("transpose", np.transpose, rt.transpose_directions, ()),
    ("transpose axes", np.transpose, rt.transpose_directions, ((2, 0, -2),)),
    ("swapaxes", np.swapaxes, rt.swapaxes_directions, (0, -1)),
    ("moveaxis", np.moveaxis, rt.moveaxis_directions, (-1, 0)),
    ("expand_dims", np.expand_dims, rt.expand_dims_directions, ((0, -1),)),
    ("squeeze", np.squeeze, rt.squeeze_directions, ()),
    ("squeeze axis", np.squeeze, rt.squeeze_directions, (-2,)),
    ("broadcast_to", np.broadcast_to, rt.broadcast_to_directions, ((5, 2, 4, 3),)),
    ("flip", np.flip, rt.flip_directions, ()),
    ("flip axis", np.flip, rt.flip_directions, (-1,)),
    ("cumsum", np.cumsum, rt.cumsum_directions, ()),
    ("cumsum axis", np.cumsum, rt.cumsum_directions, (-1,)),
]


@pytest.mark.parametrize("name, primal, batched, args", AXIS_OPERATIONS, ids=[a[0] for a in AXIS_OPERATIONS])
def test_operations_on_axes_leave_the_directions_alone(name, primal, batched, args):
    expected = np.stack([primal(T4[..., j], *args) for j in range(4)], axis=-1)
    np.testing.assert_array_equal(batched(T4, *args), expected)
    assert batched(0.0, *args) == 0.0  # a bare zero tangent stays one


@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_joining_leaves_the_directions_alone(axis):
    a, b = T4[:, 0], T4[:, 0] * 2.0  # primal (2, 3) each
    expected = np.stack([np.concatenate([a[..., j], b[..., j]], axis=axis) for j in range(4)], axis=-1)
    np.testing.assert_array_equal(rt.concatenate_directions([a, b], axis=axis), expected)
    if axis is not None:
        expected = np.stack([np.stack([a[..., j], b[..., j]], axis=axis) for j in range(4)], axis=-1)
        np.testing.assert_array_equal(rt.stack_directions([a, b], axis=axis), expected)


@pytest.mark.parametrize("tangent", [0, 1])
def test_outer_with_directions_is_outer_per_direction(tangent):
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal(4)
    dirs = rng.standard_normal((a if tangent == 0 else b).shape + (5,))
    pair = (lambda j: (dirs[..., j], b)) if tangent == 0 else (lambda j: (a, dirs[..., j]))
    expected = np.stack([np.outer(*pair(j)) for j in range(5)], axis=-1)
    found = rt.outer_directions(dirs, b, 0) if tangent == 0 else rt.outer_directions(a, dirs, 1)
    np.testing.assert_allclose(found, expected, rtol=1e-14)


@pytest.mark.parametrize("subscripts, shapes", [("ij,j->i", [(2, 3), (3,)]), ("ij,jk->ik", [(2, 3), (3, 4)]), ("...i,i->...", [(5, 2, 3), (3,)]), ("ii->", [(3, 3)]), ("ii", [(3, 3)]), ("ij,jk", [(2, 3), (3, 4)]), ("i...,i", [(3, 2), (3,)])])
def test_einsum_with_directions_is_einsum_per_direction(subscripts, shapes):
    rng = np.random.default_rng(5)
    operands = [rng.standard_normal(s) for s in shapes]
    for tangent in range(len(operands)):
        dirs = rng.standard_normal(shapes[tangent] + (3,))
        with_direction = lambda j: [dirs[..., j] if i == tangent else o for i, o in enumerate(operands)]  # noqa: E731
        expected = np.stack([np.einsum(subscripts, *with_direction(j)) for j in range(3)], axis=-1)
        given = [dirs if i == tangent else o for i, o in enumerate(operands)]
        np.testing.assert_allclose(rt.einsum_directions(tangent, subscripts, *given), expected, rtol=1e-13)


@pytest.mark.parametrize("a_shape, b_shape", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((), (3,)), ((2, 2, 3), (3,))])
@pytest.mark.parametrize("tangent", [0, 1])
def test_dot_with_directions_is_dot_per_direction(a_shape, b_shape, tangent):
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    dirs = rng.standard_normal((a_shape if tangent == 0 else b_shape) + (4,))
    pair = (lambda j: (dirs[..., j], b)) if tangent == 0 else (lambda j: (a, dirs[..., j]))
    expected = np.stack([np.dot(*pair(j)) for j in range(4)], axis=-1)
    found = rt.dot_directions(dirs, b, 0) if tangent == 0 else rt.dot_directions(a, dirs, 1)
    np.testing.assert_allclose(found, expected, rtol=1e-13)


# Operations with a batched form: each one's vector Jacobians (forward and
# reverse) against finite differences, with no per-direction loop in the code.

BATCHED_SOURCE = """
import numpy as np


def tensordot(a, b, s):
    return np.tensordot(a, b, axes=1) + np.tensordot(b.T, a.T, axes=([0, 1], [1, 0])) + np.tensordot(s, a, axes=0) @ b


def kron(a, m, s):
    return np.kron(a, m) + np.kron(m, a) + np.kron(s, np.kron(m, m))[:2, :6]


def dot_of_numbers_and_arrays(s, m, t):
    return np.dot(s, m) + np.dot(m, s) + np.dot(t, m[0]) + np.sum(np.dot(t, t.transpose(1, 2, 0)))


def reorderings(a):
    r = np.roll(a, 1, axis=0) + np.roll(a, -2)
    t = np.tile(a, (2, 1))[1:3] + np.tile(a[0], 2)[1:4]
    return r * t + np.repeat(a, 2, axis=1)[:, ::2] + np.repeat(a, [1, 0, 2, 1, 1, 1])[:6].reshape(2, 3)


def takes(a):
    return np.take(a, [0, 2, 2], axis=1) * np.take(a, [5, 0, 1])


def diagonals(m, v):
    return np.diag(v) @ m + np.diag(m) * v + np.diagonal(m, 1).sum() + np.diag(v, -1)[1:, :3] + np.trace(m) * v + np.trace(m, -1)


def linalg(a, b, m):
    return np.linalg.solve(a, b), np.linalg.solve(a, m), np.linalg.det(a) * b, np.linalg.inv(a) @ b


def stacked_linalg(a, b):
    return np.linalg.solve(a, b), np.linalg.det(a)


def reductions(x):
    return np.var(x, axis=0), np.std(x, axis=1, ddof=1), np.prod(x, axis=0), np.max(x, axis=1), np.min(x, axis=0, keepdims=True), np.var(x) * x


def other_products(a, m, e):
    p = np.inner(a, m) + np.inner(m, a) * np.vdot(a, m[0]) + np.vdot(m[1], a)
    q = np.outer(a, m[0]) @ m.T + np.einsum("ij,jk->ik", e, m).T * np.einsum("...i,i->...", m, a) * np.einsum("ii", e)
    return p, q


def casts_and_sums(m):
    s = sum([m[0], m[1] * 2.0], m[1]) + sum(m)
    return s * float(m[0, 1]) + m.flatten()[:3] * np.float64(m[1, 2]) + m.astype(np.float64)[0]


def cumulative(x):
    return np.cumprod(x, axis=1), np.cumprod(x) * 2.0, np.linalg.norm(x, axis=0)


def joins(a, b, s):
    h = np.hstack([a, b * 2.0, s]) + np.hstack([s, a * b, a[0], b[:2]])
    v = np.vstack([a, b * s]) * np.column_stack([a, s * b])[:, ::-1].T
    return h, v, np.array([a, b * s]) + np.asarray((s, s * s, 1.0))[None, :]


def joined_matrices(m, n):
    h = np.hstack([m, n * 2.0])
    v = np.vstack([m.T, n[0], n[1]])
    return h @ v + np.column_stack([m, n[:, 0], n[:, 1]])[0] @ v, np.array([m, n[:, :1] * m]).sum(axis=0)


def listed(a, b):
    xs = []
    xs.append(a)
    xs.append(a * b)
    ys = []
    for x in xs:
        ys.append(x * 2.0)
    return np.array(xs) + np.concatenate(xs).reshape(2, -1) * np.stack(ys, axis=1).T + np.concatenate([a, b], axis=None)[1:4].reshape(1, -1)


def ranges(s, t, a, b):
    return np.linspace(s, t, 5) * np.linspace(t, 1.0, 5, endpoint=False), np.linspace(a, b, 4, axis=1) + np.linspace(s, b, 4)[:, :, None]


def items(m):
    return m.item(1) * m + m.item((0, 2)) + m.item(-1) * m.item(1, 0) + m[:1, :1].item()


def rows(m):
    r = list(m)
    return r[0] * r[1] + np.cumsum(m)[:3] + np.cumsum(m, axis=-1)[1]


def einsum_options(a, m):
    return np.einsum("ij,j->i", m, a, optimize=True) + np.einsum("ij,ij->i", m, m, optimize="greedy")


def filled(a, b):
    h = np.full((3,), a * b)
    g = np.full_like(h, b)
    return h * g + np.full((2, 3), a)


def unpacked(m):
    p, q = m
    return p * q + np.sin(p)
"""

A23 = np.array([[0.7, -1.2, 0.4], [1.1, 0.3, -0.6]])
SPD = np.array([[2.0, 0.5, -0.3], [0.1, 1.5, 0.4], [-0.2, 0.3, 1.8]])
BATCHED = [
    ("filled", (0.7, 1.3), ("a", "b")),
    ("unpacked", (A23,), "m"),
    ("tensordot", (A23, A23.T * 0.5 + 0.1, 1.3), ("a", "b", "s")),
    ("kron", (V[:2], A23, -0.8), ("a", "m", "s")),
    ("dot_of_numbers_and_arrays", (1.7, A23, T[:, :, :3]), ("s", "m", "t")),
    ("dot_of_numbers_and_arrays", (np.float64(-0.4), A23, T[:, :, :3]), ("s", "t")),
    ("reorderings", (A23,), "a"),
    ("takes", (A23,), "a"),
    ("diagonals", (SPD, V), ("m", "v")),
    ("linalg", (SPD, V, A23.T), ("a", "b", "m")),
    ("stacked_linalg", (np.stack([SPD, SPD.T + 0.2]), V), ("a", "b")),
    ("reductions", (np.array([[0.7, -1.2, 0.4, 2.0], [1.1, 0.3, -0.6, 0.9], [0.5, 1.4, -0.2, -1.3]]),), "x"),
    ("cumulative", (np.array([[0.7, -1.2, 0.4], [1.1, 0.3, -0.6]]),), "x"),
    ("other_products", (V, A23 * 2.0, SPD[:2, :2]), ("a", "m", "e")),
    ("casts_and_sums", (A23,), "m"),
    ("cumulative", (np.array([[0.7, 0.0, 0.4], [1.1, 0.3, 0.0]]),), "x"),  # zeros: products along the axis
    ("joins", (V, V[::-1] * 0.5, 1.3), ("a", "b", "s")),
    ("joins", (V, V[::-1] * 0.5, 1.3), ("b", "s")),  # the pieces of a carry zeros
    ("joined_matrices", (A23, A23[:, :2].T * 0.5), ("m", "n")),
    ("listed", (V, V[::-1] * 0.5), ("a", "b")),
    ("ranges", (0.3, 1.4, A23, A23[::-1] * 2.0), ("s", "t", "a", "b")),
    ("ranges", (0.3, 1.4, A23, A23[::-1] * 2.0), ("t", "a")),
    ("items", (A23,), "m"),
    ("rows", (A23,), "m"),
    ("einsum_options", (V, A23), ("a", "m")),
]


@pytest.fixture(scope="module")
def batched_mod(tmp_path_factory):
    from conftest import write_module

    return write_module(tmp_path_factory.mktemp("batched"), BATCHED_SOURCE, "s2s_vector_batched_cases")


@pytest.mark.parametrize("name, args, wrt", BATCHED, ids=[f"{c[0]}-{i}" for i, c in enumerate(BATCHED)])
def test_batched_operations_have_vector_jacobians_without_a_loop(batched_mod, name, args, wrt):
    f = getattr(batched_mod, name)
    names = (wrt,) if isinstance(wrt, str) else wrt
    values = dict(zip(differentiate(f, wrt=names).params, args))
    outputs = f(*args) if isinstance(f(*args), tuple) else (f(*args),)
    # several input and output elements: both modes run their vector code
    assert sum(np.size(values[n]) for n in names) > 1 and sum(np.size(o) for o in outputs) > 1
    for mode in ("forward", "reverse"):
        assert "each_direction" not in differentiate(f, wrt=names, mode=mode).source(f"{mode}-vector")
    check(f, *args, wrt=names)


# Each helper with directions against the single-direction operation (or
# helper) applied to each direction in turn: (id, single, batched, args, the
# position of the tangent). The tangent's value in ``args`` gives its shape.

def _maxed(x, axis=None, keepdims=False):
    return np.max(x, axis=axis, keepdims=keepdims)


def structural_helper(name):
    from s2s.runtime import structural

    return getattr(structural, name)


def _item(a, *args):
    return a.item(*args)


def _product(batched, tangent, *options):
    """A batched product helper with the arguments of the single product."""
    return lambda a, b: batched(a, b, tangent, *options)


R = np.random.default_rng(8)
M3 = SPD
STACK = np.stack([SPD, SPD.T + 0.2])
TIES = np.array([[1.0, 3.0, 3.0], [2.0, -1.0, 2.0]])
ZEROS = np.array([[0.7, 0.0, 0.4], [1.1, 0.3, 0.0]])
A234 = R.standard_normal((2, 3, 4))
A34 = R.standard_normal((3, 4))


def _cases():
    from s2s.runtime import core, linalg, structural

    x_v, x_m = np.linalg.solve(M3, V), np.linalg.solve(M3, A23.T)
    x_s = np.linalg.solve(STACK, V)
    return [
        ("roll", np.roll, rt.roll_directions, (A23, 1), 0),
        ("roll axis", np.roll, rt.roll_directions, (A23, -1, 0), 0),
        ("roll axes", np.roll, rt.roll_directions, (A234, (1, 2), (0, -1)), 0),
        ("tile", np.tile, rt.tile_directions, (A23, (2, 1, 2)), 0),
        ("tile int", np.tile, rt.tile_directions, (A23, 2), 0),
        ("repeat", np.repeat, rt.repeat_directions, (A23, 2), 0),
        ("repeat axis", np.repeat, rt.repeat_directions, (A23, [1, 0, 2], -1), 0),
        ("take", np.take, rt.take_directions, (A23, [0, 5, 5]), 0),
        ("take axis", np.take, rt.take_directions, (A23, [[0], [2]], 1), 0),
        ("take wrap", np.take, rt.take_directions, (A23, [7, -1], 0, None, "wrap"), 0),
        ("diagonal", np.diagonal, rt.diagonal_directions, (A234, 1, 2, 0), 0),
        ("diag matrix", np.diag, rt.diag_directions, (A23, 1), 0),
        ("diag vector", np.diag, rt.diag_directions, (V, -1), 0),
        ("trace", np.trace, rt.trace_directions, (A234, -1, -1, 0), 0),
        ("fliplr", np.fliplr, rt.fliplr_directions, (A23,), 0),
        ("flipud", np.flipud, rt.flipud_directions, (A23,), 0),
        ("tensordot a", lambda a, b: np.tensordot(a, b, 1), _product(rt.tensordot_directions, 0, 1), (A234, A34.T), 0),
        ("tensordot b", lambda a, b: np.tensordot(a, b, ([0, 1], [1, 0])), _product(rt.tensordot_directions, 1, ([0, 1], [1, 0])), (A234, A23.T), 1),
        ("tensordot number", lambda a, b: np.tensordot(a, b, 0), _product(rt.tensordot_directions, 0, 0), (np.float64(2.0), A23), 0),
        ("kron a", np.kron, _product(rt.kron_directions, 0), (V, A23), 0),
        ("kron b", np.kron, _product(rt.kron_directions, 1), (A234, A23), 1),
        ("kron number", np.kron, _product(rt.kron_directions, 1), (1.5, A23), 1),
        ("inner a", np.inner, _product(rt.inner_directions, 0), (A234, A34), 0),
        ("inner b", np.inner, _product(rt.inner_directions, 1), (V, A23), 1),
        ("inner number", np.inner, _product(rt.inner_directions, 0), (np.float64(2.0), A23), 0),
        ("vdot a", np.vdot, _product(rt.vdot_directions, 0), (A23, A23 * 2.0), 0),
        ("vdot b", np.vdot, _product(rt.vdot_directions, 1), (A23.ravel(), A23), 1),
        ("float", float, rt.float_directions, (np.array(0.5),), 0),
        ("choice tangent", core.choice_tangent, rt.choice_tangent_directions, (TIES, TIES, _maxed(TIES, 1), 1), 0),
        ("choice tangent all", core.choice_tangent, rt.choice_tangent_directions, (TIES, TIES, _maxed(TIES)), 0),
        ("choice adjoint", core.choice_adjoint, rt.choice_adjoint_directions, (V[:2], TIES, _maxed(TIES, -1), -1), 0),
        ("choice adjoint keepdims", core.choice_adjoint, rt.choice_adjoint_directions, (V[None], TIES, _maxed(TIES, 0, True), 0, True), 0),
        ("prod tangent", core.prod_tangent, rt.prod_tangent_directions, (ZEROS, ZEROS, 0), 0),
        ("prod adjoint", core.prod_adjoint, rt.prod_adjoint_directions, (V[:2], ZEROS, 1), 0),
        ("prod adjoint all", core.prod_adjoint, rt.prod_adjoint_directions, (0.5, A23), 0),
        ("var tangent", core.var_tangent, rt.var_tangent_directions, (A23, A23, 0, 1, True), 0),
        ("var adjoint", core.var_adjoint, rt.var_adjoint_directions, (V, A23, (0,)), 0),
        ("std tangent", core.std_tangent, rt.std_tangent_directions, (A23, A23, np.std(A23, axis=1), 1), 0),
        ("std adjoint", core.std_adjoint, rt.std_adjoint_directions, (0.5, A23, np.std(A23)), 0),
        ("norm tangent", core.norm_tangent, rt.norm_tangent_directions, (A23, A23, np.linalg.norm(A23, axis=0), 0), 0),
        ("norm adjoint", core.norm_adjoint, rt.norm_adjoint_directions, (V, A23, np.linalg.norm(A23, axis=0), 0), 0),
        ("cumprod tangent", core.cumprod_tangent, rt.cumprod_tangent_directions, (A23, A23, np.cumprod(A23, 1), 1), 0),
        ("cumprod tangent zeros", core.cumprod_tangent, rt.cumprod_tangent_directions, (ZEROS, ZEROS, np.cumprod(ZEROS, 0), 0), 0),
        ("cumprod tangent flat", core.cumprod_tangent, rt.cumprod_tangent_directions, (ZEROS, ZEROS, np.cumprod(ZEROS)), 0),
        ("cumprod adjoint", core.cumprod_adjoint, rt.cumprod_adjoint_directions, (A23, A23, np.cumprod(A23, -1), -1), 0),
        ("cumprod adjoint zeros", core.cumprod_adjoint, rt.cumprod_adjoint_directions, (ZEROS, ZEROS, np.cumprod(ZEROS, 1), 1), 0),
        ("cumprod adjoint flat", core.cumprod_adjoint, rt.cumprod_adjoint_directions, (ZEROS.ravel(), ZEROS, np.cumprod(ZEROS)), 0),
        ("solve tangent a", linalg.solve_tangent, rt.solve_tangent_directions, (M3, V, x_v, M3), 3),
        ("solve tangent b", linalg.solve_tangent, rt.solve_tangent_directions, (M3, A23.T, x_m, None, A23.T), 4),
        ("solve tangent stack", linalg.solve_tangent, rt.solve_tangent_directions, (STACK, V, x_s, STACK), 3),
        ("solve adjoint", linalg.solve_adjoint, rt.solve_adjoint_directions, (V, M3, V), 0),
        ("solve adjoint matrix", linalg.solve_adjoint, rt.solve_adjoint_directions, (A23.T, STACK, A23.T), 0),
        ("solve adjoint a", linalg.solve_adjoint_a, rt.solve_adjoint_a_directions, (x_s, STACK, V, x_s), 0),
        ("solve adjoint a matrix", linalg.solve_adjoint_a, rt.solve_adjoint_a_directions, (x_m, M3, A23.T, x_m), 0),
        ("solve adjoint a summed", linalg.solve_adjoint_a, rt.solve_adjoint_a_directions, (np.stack([x_m, x_m]), M3, A23.T[None], np.stack([x_m, x_m])), 0),
        ("det tangent", linalg.det_tangent, rt.det_tangent_directions, (STACK, STACK, np.linalg.det(STACK)), 0),
        ("det adjoint", linalg.det_adjoint, rt.det_adjoint_directions, (0.5, M3, np.linalg.det(M3)), 0),
        ("trace adjoint", linalg.trace_adjoint, rt.trace_adjoint_directions, (V[:2], A234, 1, -1, 1), 0),
        ("diagonal adjoint", structural.diagonal_adjoint, rt.diagonal_adjoint_directions, (A23[:, :2], A234, -1, 2, 1), 0),
        ("diag adjoint vector", structural.diag_adjoint, rt.diag_adjoint_directions, (R.standard_normal((4, 4)), V, 1), 0),
        ("diag adjoint matrix", structural.diag_adjoint, rt.diag_adjoint_directions, (V[:2], A23, 1), 0),
        ("tile adjoint", structural.tile_adjoint, rt.tile_adjoint_directions, (np.tile(A23, (2, 1, 2)), A23, (2, 1, 2)), 0),
        ("repeat adjoint", structural.repeat_adjoint, rt.repeat_adjoint_directions, (np.repeat(A23, 2, 0), A23, 2, 0), 0),
        ("repeat adjoint flat", structural.repeat_adjoint, rt.repeat_adjoint_directions, (R.standard_normal(9), A23, [1, 0, 2, 3, 1, 2]), 0),
        ("take adjoint", structural.take_adjoint, rt.take_adjoint_directions, (A23[:, [0, 0]], A23, [2, 2], 1), 0),
        ("take adjoint flat", structural.take_adjoint, rt.take_adjoint_directions, (V, A23, [5, 5, -1], None, "wrap"), 0),
        ("tensordot adjoint a", linalg.tensordot_adjoint_a, rt.tensordot_adjoint_a_directions, (np.tensordot(A234, A34.T, 1), A234, A34.T, 1), 0),
        ("tensordot adjoint b", linalg.tensordot_adjoint_b, rt.tensordot_adjoint_b_directions, (V[:2] * 1.0, A234, A234[0].T, ([1, 2], [1, 0])), 0),
        ("kron adjoint a", linalg.kron_adjoint_a, rt.kron_adjoint_a_directions, (np.kron(V, A23), V, A23), 0),
        ("kron adjoint b", linalg.kron_adjoint_b, rt.kron_adjoint_b_directions, (np.kron(A234, A23), A234, A23), 0),
        ("matmul adjoint a", linalg.matmul_adjoint_a, rt.matmul_adjoint_a_directions, (A23 @ A34, A23, A34), 0),
        ("matmul adjoint a vector", linalg.matmul_adjoint_a, rt.matmul_adjoint_a_directions, (0.5, V, V), 0),
        ("matmul adjoint a stack", linalg.matmul_adjoint_a, rt.matmul_adjoint_a_directions, (A23 @ A234, A23, A234), 0),
        ("matmul adjoint b", linalg.matmul_adjoint_b, rt.matmul_adjoint_b_directions, (A34[0], V, A34), 0),
        ("matmul adjoint b stack", linalg.matmul_adjoint_b, rt.matmul_adjoint_b_directions, (STACK @ V, STACK, V), 0),
        ("dot adjoint a", linalg.dot_adjoint_a, rt.dot_adjoint_a_directions, (np.dot(A234, A34.T), A234, A34.T), 0),
        ("dot adjoint a vector", linalg.dot_adjoint_a, rt.dot_adjoint_a_directions, (A23[:, 0], A23, V), 0),
        ("dot adjoint a number", linalg.dot_adjoint_a, rt.dot_adjoint_a_directions, (A23, 1.5, A23), 0),
        ("dot adjoint b", linalg.dot_adjoint_b, rt.dot_adjoint_b_directions, (np.dot(A23, A234), A23, A234), 0),
        ("inner adjoint a", linalg.inner_adjoint_a, rt.inner_adjoint_a_directions, (np.inner(A234, A34), A234, A34), 0),
        ("inner adjoint a vector", linalg.inner_adjoint_a, rt.inner_adjoint_a_directions, (A23[:, 0], A23, V), 0),
        ("inner adjoint b", linalg.inner_adjoint_b, rt.inner_adjoint_b_directions, (np.inner(A23, A234.transpose(0, 2, 1)), A23, A234.transpose(0, 2, 1)), 0),
        ("inner adjoint b vector", linalg.inner_adjoint_b, rt.inner_adjoint_b_directions, (A23[:, 0], V, A23), 0),
        ("inner adjoint number", linalg.inner_adjoint_b, rt.inner_adjoint_b_directions, (A23, 1.5, A23), 0),
        ("outer adjoint a", linalg.outer_adjoint_a, rt.outer_adjoint_a_directions, (np.outer(A23, V), A23, V), 0),
        ("outer adjoint b", linalg.outer_adjoint_b, rt.outer_adjoint_b_directions, (np.outer(V, A23), V, A23), 0),
        ("vdot adjoint", linalg.vdot_adjoint, rt.vdot_adjoint_directions, (0.5, A23.ravel(), A23), 0),
        ("einsum adjoint", linalg.einsum_adjoint, rt.einsum_adjoint_directions, (A23, 1, "ij,jk->ik", A23, SPD), 0),
        ("einsum adjoint ellipsis", linalg.einsum_adjoint, rt.einsum_adjoint_directions, (A34, 0, "...ij,j", A234, V[:1].repeat(4)), 0),
        ("einsum adjoint diagonal", linalg.einsum_adjoint, rt.einsum_adjoint_directions, (V, 0, "ii->i", SPD), 0),
        ("einsum adjoint summed", linalg.einsum_adjoint, rt.einsum_adjoint_directions, (0.5, 0, "ij,ij", A23, A23), 0),
        ("dot adjoint b number", linalg.dot_adjoint_b, rt.dot_adjoint_b_directions, (A23, A23, np.float64(1.5)), 0),
        ("item", _item, rt.item_directions, (A23, 1), 0),
        ("item negative", _item, rt.item_directions, (A23, -1), 0),
        ("item tuple", _item, rt.item_directions, (A23, (0, 2)), 0),
        ("item indices", _item, rt.item_directions, (A23, 1, 0), 0),
        ("item only", _item, rt.item_directions, (A23[:1, :1],), 0),
        ("item adjoint", structural.item_adjoint, rt.item_adjoint_directions, (0.5, A23, 4), 0),
        ("item adjoint tuple", structural.item_adjoint, rt.item_adjoint_directions, (0.5, A234, (1, 0, -1)), 0),
        ("item adjoint indices", structural.item_adjoint, rt.item_adjoint_directions, (0.5, A23, 1, 2), 0),
        ("item adjoint only", structural.item_adjoint, rt.item_adjoint_directions, (0.5, A23[:1, :1]), 0),
        ("linspace adjoint", structural.linspace_adjoint, rt.linspace_adjoint_directions, (np.linspace(V, 2.0, 5), V, 5), 0),
        ("linspace adjoint stop", structural.linspace_adjoint, rt.linspace_adjoint_directions, (np.linspace(0.5, A23, 4, False, axis=-1), A23, 4, False, -1, True), 0),
        ("linspace adjoint summed", structural.linspace_adjoint, rt.linspace_adjoint_directions, (np.linspace(0.5, A23, 4, axis=1), 0.5, 4, True, 1), 0),
        ("cumsum adjoint", core.cumsum_adjoint, rt.cumsum_adjoint_directions, (A23, A23, -1), 0),
        ("cumsum adjoint flat", core.cumsum_adjoint, rt.cumsum_adjoint_directions, (A23.ravel(), A23), 0),
        ("concatenate piece", structural.concatenate_piece, rt.concatenate_piece_directions, (np.hstack([A23, A23]), [A23, A23], 1, -1), 0),
        ("concatenate piece flat", structural.concatenate_piece, rt.concatenate_piece_directions, (np.ones(9), [A23, V], 0, None), 0),
        ("stack piece", structural.stack_piece, rt.stack_piece_directions, (np.stack([A23, A23], -1), [A23, A23], 1, -1), 0),
        ("hstack piece vectors", structural.hstack_piece, rt.hstack_piece_directions, (np.hstack([V, 1.5, V[:2]]), [V, 1.5, V[:2]], 1), 0),
        ("hstack piece matrices", structural.hstack_piece, rt.hstack_piece_directions, (np.hstack([A23, A23[:, :1]]), [A23, A23[:, :1]], 1), 0),
        ("vstack piece", structural.vstack_piece, rt.vstack_piece_directions, (np.vstack([A23, V]), [A23, V], 1), 0),
        ("vstack piece numbers", structural.vstack_piece, rt.vstack_piece_directions, (np.vstack([1.5, 2.0]), [1.5, 2.0], 0), 0),
        ("column_stack piece", structural.column_stack_piece, rt.column_stack_piece_directions, (np.column_stack([A23.T, V]), [A23.T, V], 1), 0),
        ("column_stack piece numbers", structural.column_stack_piece, rt.column_stack_piece_directions, (np.column_stack([1.5, 2.0]), [1.5, 2.0], 1), 0),
    ]


HELPER_CASES = _cases()


@pytest.mark.parametrize("name, single, batched, args, at", HELPER_CASES, ids=[c[0] for c in HELPER_CASES])
def test_helpers_with_directions_are_the_operation_per_direction(name, single, batched, args, at):
    dirs = np.random.default_rng(9).standard_normal(np.shape(args[at]) + (3,))
    with_tangent = lambda t: [t if i == at else a for i, a in enumerate(args)]  # noqa: E731
    expected = np.stack([single(*with_tangent(dirs[..., j])) for j in range(3)], axis=-1)
    found = batched(*with_tangent(dirs))
    assert np.shape(found) == expected.shape
    np.testing.assert_allclose(found, expected, rtol=1e-12, atol=1e-13)
    assert batched(*with_tangent(0.0)) == 0.0  # a bare zero tangent stays one


@pytest.mark.parametrize("a_shape, b_shape", [((), (2, 3)), ((2, 3), ()), ((2, 3, 4), (4,)), ((3,), (2, 3, 4)), ((2, 3, 4), (5, 4, 2))])
@pytest.mark.parametrize("tangent", [0, 1])
def test_dot_of_numbers_and_arrays_is_dot_per_direction(a_shape, b_shape, tangent):
    test_dot_with_directions_is_dot_per_direction(a_shape, b_shape, tangent)


def test_a_list_of_tangents_is_stacked():
    rows = [[np.ones(3), 0.0], [np.arange(3.0), np.full((1,), 2.0)]]  # bare zeros and one direction spelled once
    expected = np.stack([np.trace(np.array([[1.0, 0.0], [j, 2.0]])) for j in range(3)])
    np.testing.assert_allclose(rt.trace_directions.__wrapped__(rt._tangent_array(rows)), expected)


# Joins and conversions of lists of tangents against the operation applied to
# each direction: a bare zero (the same for every direction) and a zero with
# one direction among tangents with three.

DIRS = np.random.default_rng(10).standard_normal((2, 3, 3))  # primal (2, 3), 3 directions
ONE = np.zeros((2, 1))  # a zero tangent of a vector of 2, for any number of directions
JOINS = [
    ("hstack vectors", np.hstack, rt.hstack_directions, [DIRS[0], 0.0, ONE]),
    ("hstack numbers", np.hstack, rt.hstack_directions, [DIRS[0, 0], 0.0, DIRS[1, 1]]),
    ("hstack matrices", np.hstack, rt.hstack_directions, [DIRS, DIRS[:, :1], np.zeros((2, 2, 1))]),
    ("vstack vectors", np.vstack, rt.vstack_directions, [DIRS[0], DIRS, np.zeros((3, 1))]),
    ("vstack numbers", np.vstack, rt.vstack_directions, [DIRS[0, 0], 0.0]),
    ("column_stack vectors", np.column_stack, rt.column_stack_directions, [DIRS[:, 0], DIRS, ONE]),
    ("column_stack numbers", np.column_stack, rt.column_stack_directions, [0.0, DIRS[1, 1]]),
    ("array numbers", np.array, rt.array_directions, [DIRS[0, 0], 0.0, DIRS[1, 2]]),
    ("asarray vectors", np.asarray, rt.asarray_directions, (DIRS[0], DIRS[1], np.zeros((3, 1)))),
    ("asanyarray nested", np.asanyarray, rt.asanyarray_directions, [[DIRS[0, 0], 0.0], [0.0, DIRS[1, 1]]]),
]


@pytest.mark.parametrize("name, single, batched, pieces", JOINS, ids=[c[0] for c in JOINS])
def test_joins_with_directions_are_the_join_per_direction(name, single, batched, pieces):
    expected = np.stack([single(rt._direction(pieces, j)) for j in range(3)], axis=-1)
    found = batched(pieces)
    assert found.shape == expected.shape
    np.testing.assert_array_equal(found, expected)


def test_a_list_of_bare_zeros_is_zeros_with_a_directions_axis():
    """A bare zero in a list stands for its neighbours' shape (the primal's
    elements share one), which numpy cannot know direction by direction; with
    no neighbour, the elements are numbers."""
    found = rt.array_directions([DIRS[0], 0.0])
    np.testing.assert_array_equal(found, np.stack([DIRS[0], np.zeros((3, 3))]))
    assert rt.array_directions([0.0, 0.0]).shape == (2, 1)  # numbers, one direction for all
    assert rt.asarray_directions(DIRS) is DIRS  # a tangent that is an array already


@pytest.mark.parametrize(
    "start, stop, options",
    [(DIRS[0, 0], DIRS[0], {}), (DIRS, 0.0, {"axis": -1}), (0.0, DIRS[1, 1], {"endpoint": False}), (DIRS[0], np.zeros((1,)), {"axis": 1})],
)
def test_linspace_with_directions_is_linspace_per_direction(start, stop, options):
    expected = np.stack([np.linspace(rt._direction(start, j), rt._direction(stop, j), 4, **options) for j in range(3)], axis=-1)
    found = rt.linspace_directions(start, stop, 4, **options)
    assert found.shape == expected.shape
    np.testing.assert_allclose(found, expected, rtol=1e-14)


def test_a_linspace_of_bare_zeros_has_a_directions_axis():
    np.testing.assert_array_equal(rt.linspace_directions(0.0, 0.0, 4), np.zeros((4, 1)))


@pytest.mark.parametrize(
    "single, batched, arrays, options",
    [
        (structural_helper("stack_pieces"), rt.stack_pieces_directions, [A23, A23 * 2.0], {"axis": 1}),
        (structural_helper("concatenate_pieces"), rt.concatenate_pieces_directions, [A23, A23[:1]], {}),
        (structural_helper("concatenate_pieces"), rt.concatenate_pieces_directions, [V, A23], {"axis": None}),
    ],
)
def test_pieces_of_a_list_are_the_pieces_per_direction(single, batched, arrays, options):
    joined = (np.stack if single.__name__ == "stack_pieces" else np.concatenate)(arrays, **options)
    dirs = np.random.default_rng(11).standard_normal(joined.shape + (3,))
    found = batched(dirs, arrays, **options)
    per_direction = [single(dirs[..., j], arrays, **options) for j in range(3)]
    assert len(found) == len(arrays)
    for k, piece in enumerate(found):
        np.testing.assert_array_equal(piece, np.stack([p[k] for p in per_direction], axis=-1))
    assert batched(0.0, arrays, **options) == [0.0] * len(arrays)  # a bare zero for each piece


def test_the_adjoint_of_a_list_of_rows_is_the_adjoint_per_direction():
    from s2s.runtime import list_adjoint

    rows = [DIRS[0], np.zeros((3, 1)), DIRS[1]]
    items = np.ones((3, 3))
    expected = np.stack([list_adjoint(rt._direction(rows, j), items) for j in range(3)], axis=-1)
    np.testing.assert_array_equal(rt.list_adjoint_directions(rows, items), expected)
    # a bare zero: a row that received no adjoint, shaped like a row of items
    found = rt.list_adjoint_directions([DIRS[0], 0.0], items[:2])
    np.testing.assert_array_equal(found, np.stack([DIRS[0], np.zeros((3, 3))]))
    assert rt.list_adjoint_directions(DIRS, items[:2]) is DIRS  # the rows' adjoints as one array
    listed = rt.list_adjoint_directions(DIRS, [V, V])
    assert isinstance(listed, list) and len(listed) == 2  # a list again for a list
    np.testing.assert_array_equal(listed[1], DIRS[1])
    assert rt.list_adjoint_directions([], np.ones((0, 3))).shape == (0, 3, 1)


@pytest.mark.parametrize("shape, fill", [((3,), np.array([1.0, -2.0])), ((2, 3), np.arange(6.0).reshape(3, 2)), (4, np.array([0.5, 1.5, 2.5]))])
def test_full_with_directions_is_full_per_direction(shape, fill):
    expected = np.stack([np.full(shape, fill[..., j]) for j in range(fill.shape[-1])], axis=-1)
    np.testing.assert_array_equal(rt.full_directions(shape, fill), expected)
    like = np.zeros(shape)
    np.testing.assert_array_equal(rt.full_like_directions(like, fill), expected)


def test_unpack_adjoint_with_directions_is_per_direction():
    x = np.zeros((3, 2))
    bars = (np.arange(4.0).reshape(2, 2), None, np.ones((2, 2)))
    expected = np.stack([runtime_core.unpack_adjoint(x, tuple(b if b is None else b[..., j] for b in bars)) for j in range(2)], axis=-1)
    np.testing.assert_array_equal(rt.unpack_adjoint_directions(x, bars), expected)
