"""Second derivatives: forward mode over the reverse-mode gradient code."""

from __future__ import annotations

import numpy as np
import pytest

import s2s
from s2s import S2SError, differentiate
from s2s.check import finite_difference

from conftest import SEED_SOURCE

SOURCE = "import numpy as np\n" + SEED_SOURCE + """

def rosenbrock(v):
    return np.sum(100.0 * (v[1:] - v[:-1] ** 2) ** 2 + (1.0 - v[:-1]) ** 2)


def rs_scalar(d, xs):
    return np.sum(rs(d, xs) ** 2)


def looped(v):
    s = 0.0
    for i in range(3):
        s = s + np.sum(np.sin(v * s + v))
    return s


def branchy(v, c):
    # a loop whose branches and carried values the gradient code keeps on a tape
    y = v
    s = 0.0
    k = 0
    while k < 4:
        y = np.sin(y) * v + c
        if np.sum(y) > 0.5:
            s = s + np.sum(y ** 2)
        else:
            s = s - np.sum(y * v)
        k += 1
    return s


def helper(y, v):
    return np.tanh(y) * v


def updates(v):
    w = v.copy()
    for i in range(1, len(v)):
        w[i] = helper(w[i - 1], v[i]) + w[i] ** 2
    return np.sum(w ** 3)


def vector_out(v):
    return v ** 2
"""

V = np.array([0.5, -0.3, 1.2, 0.8])


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    from conftest import write_module

    return write_module(tmp_path_factory.mktemp("hessians"), SOURCE, "s2s_hessian_cases")


def gradient_differences(g, args, k):
    """The Jacobian of the gradient by central differences (w.r.t. argument k)."""
    return finite_difference(lambda *a: g.grad(*a), args, k)


def test_rosenbrock_hessian_and_hvp(mod):
    g = differentiate(mod.rosenbrock, wrt="v")
    hessian = g.hessian(V)
    assert hessian.shape == (4, 4)
    np.testing.assert_allclose(hessian, gradient_differences(g, (V,), 0), atol=1e-5)
    np.testing.assert_allclose(hessian, hessian.T, rtol=1e-14)
    np.testing.assert_allclose(s2s.hessian(mod.rosenbrock)(V), hessian, rtol=1e-14)
    u = np.array([1.0, -2.0, 0.5, 0.25])
    gradient, product = s2s.hvp(mod.rosenbrock, (V,), (u,))
    np.testing.assert_allclose(gradient, g.grad(V), rtol=1e-14)
    np.testing.assert_allclose(product, hessian @ u, rtol=1e-12)
    assert "directions" in g.second_order().source("forward-vector")  # one vectorized pass


def test_seed_hessian_wrt_the_data_and_blocks_in_wrt_order(mod):
    d = 2.5 * mod.f(0.7)
    g = differentiate(mod.rs_scalar, wrt="d")
    np.testing.assert_allclose(g.hessian(d, 0.3), gradient_differences(g, (d, 0.3), 0), atol=1e-7)
    both = differentiate(mod.rs_scalar, wrt=("xs", "d"))
    blocks = both.hessian(d, 0.3)
    assert [[np.shape(b) for b in row] for row in blocks] == [[(), (21,)], [(21,), (21, 21)]]
    g_d = differentiate(mod.rs_scalar, wrt=("d", "xs"))
    cross = finite_difference(lambda d_, xs: g_d.grad(d_, xs)[0], (d, 0.3), 1)  # d(grad_d)/dxs
    np.testing.assert_allclose(blocks[1][0], cross, atol=1e-7)
    np.testing.assert_allclose(blocks[0][1], cross, atol=1e-7)
    np.testing.assert_allclose(blocks[1][1], g.hessian(d, 0.3), rtol=1e-12)


@pytest.mark.parametrize("case, args", [("looped", (V,)), ("branchy", (V, 0.2)), ("branchy", (V, -1.5)), ("updates", (V,))])
def test_hessians_of_loops_branches_and_updates(mod, case, args):
    """The gradient code of these keeps a tape (pushes in the forward sweep,
    pops in the backward one): forward mode carries a tangent tape along."""
    g = differentiate(getattr(mod, case), wrt="v")
    assert ".pop()" in g.source("reverse")
    hessian = g.hessian(*args)
    np.testing.assert_allclose(hessian, gradient_differences(g, args, 0), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(hessian, hessian.T, rtol=1e-10, atol=1e-12)
    u = np.array([0.3, -1.0, 0.5, 2.0])
    gradient, product = g.hvp(args, (u,))
    np.testing.assert_allclose(gradient, g.grad(*args), rtol=1e-14)
    np.testing.assert_allclose(product, hessian @ u, rtol=1e-10, atol=1e-12)


def test_second_derivatives_refuse_what_they_cannot_do(mod):
    with pytest.raises(S2SError, match=r"needs one scalar output; the function returns an array of shape \(4,\)"):
        differentiate(mod.vector_out, wrt="v").hessian(V)


def test_second_derivatives_keep_float32(mod):
    """The gradient code the Hessian differentiates is seeded in the
    arguments' precision: float32 in, float32 out."""
    v = V.astype(np.float32)
    g = differentiate(mod.rosenbrock, wrt="v")
    hessian = g.hessian(v)
    assert hessian.dtype == np.float32
    np.testing.assert_allclose(hessian, g.hessian(V), rtol=1e-4, atol=1e-3)
    assert g.hvp((v,), (v,))[1].dtype == np.float32
