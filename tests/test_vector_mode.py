"""Vector forward mode: tangents with a trailing axis of directions, so that
a Jacobian w.r.t. k input elements takes one forward pass."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from s2s import check, differentiate
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


@pytest.mark.parametrize("subscripts, shapes", [("ij,j->i", [(2, 3), (3,)]), ("ij,jk->ik", [(2, 3), (3, 4)]), ("...i,i->...", [(5, 2, 3), (3,)]), ("ii->", [(3, 3)])])
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
