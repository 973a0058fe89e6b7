"""The derivative verbs (grad, value_and_grad, jacobian, jvp, vjp) and
functions returning several outputs, in both modes."""

from __future__ import annotations

import numpy as np
import pytest

import s2s
from s2s import S2SError, check, differentiate
from s2s.check import finite_difference

SOURCE = """
import numpy as np

def energy(x, k):
    return 0.5 * k * np.sum(x ** 2) + np.sum(np.cos(x))

def field(x, w):
    return np.tanh(w @ x) * x[0]

def two_outputs(x, y):
    return np.sin(x) * y, np.sum(x ** 2) * y

def tuple_of_one(x):
    return (np.exp(x),)

def vector_out(x):
    return x * 2.0
"""

X = np.array([0.3, -0.8, 1.1])
W = np.array([[0.5, -0.2, 0.1], [0.3, 0.9, -0.4]])


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    from conftest import write_module

    return write_module(tmp_path_factory.mktemp("verbs"), SOURCE, "s2s_verbs_cases")


def gradient_of_energy(x, k):
    return k * x - np.sin(x)


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_grad_is_the_gradient_with_the_argument_shape(mod, mode):
    g = s2s.grad(mod.energy, mode=mode)  # the first parameter by default
    np.testing.assert_allclose(g(X, 2.0), gradient_of_energy(X, 2.0), rtol=1e-13)
    value, gradient = s2s.value_and_grad(mod.energy, mode=mode)(X, k=2.0)
    assert value == pytest.approx(mod.energy(X, 2.0), rel=1e-15)
    np.testing.assert_allclose(gradient, gradient_of_energy(X, 2.0), rtol=1e-13)
    dk = s2s.grad(mod.energy, wrt="k", mode=mode)(X, 2.0)
    assert dk == pytest.approx(0.5 * np.sum(X ** 2), rel=1e-13)
    assert differentiate(mod.energy, wrt="x", mode=mode).grad(X, 2.0).shape == X.shape


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_grad_of_a_non_scalar_output_names_the_function_and_the_alternatives(mod, mode):
    with pytest.raises(S2SError) as info:
        s2s.grad(mod.vector_out, mode=mode)(X)
    message = str(info.value)
    assert "grad needs a function with one scalar output; vector_out returns an array of shape (3,)" in message
    assert "s2s_verbs_cases.py:" in message and "use jacobian()" in message
    with pytest.raises(S2SError, match="vector_out returns an array of shape"):
        differentiate(mod.vector_out, wrt="x", mode=mode).value_and_grad(X)
    with pytest.raises(S2SError, match="two_outputs returns a tuple of 2 outputs"):
        s2s.grad(mod.two_outputs, mode=mode)(X, 2.0)


@pytest.mark.parametrize("mode", ["auto", "forward", "reverse"])
def test_jacobian_matches_finite_differences(mod, mode):
    jac = s2s.jacobian(mod.field, mode=mode)(X, W)
    assert jac.shape == (2, 3)
    np.testing.assert_allclose(jac, finite_difference(mod.field, (X, W), 0), atol=1e-8)
    jw = s2s.jacobian(mod.field, wrt="w", mode=mode)(X, W)
    np.testing.assert_allclose(jw, finite_difference(mod.field, (X, W), 1), atol=1e-8)


def test_jvp_and_vjp_are_products_with_the_jacobian(mod):
    v, u = np.array([0.2, -1.0, 0.5]), np.array([[1.0, 0.0, -0.3], [0.4, 0.1, 2.0]])
    value, tangent = s2s.jvp(mod.field, (X, W), (v, u))
    np.testing.assert_allclose(value, mod.field(X, W), rtol=1e-15)
    expected = finite_difference(mod.field, (X, W), 0) @ v + np.einsum("ijk,jk->i", finite_difference(mod.field, (X, W), 1), u)
    np.testing.assert_allclose(tangent, expected, atol=1e-8)
    w = np.array([0.7, -1.3])
    value, (dx, dw) = s2s.vjp(mod.field, (X, W), w)
    np.testing.assert_allclose(value, mod.field(X, W), rtol=1e-15)
    np.testing.assert_allclose(dx, w @ finite_difference(mod.field, (X, W), 0), atol=1e-8)
    np.testing.assert_allclose(dw, np.einsum("i,ijk->jk", w, finite_difference(mod.field, (X, W), 1)), atol=1e-8)
    # wrt chooses the arguments, in its order
    _, (dw2, dx2) = s2s.vjp(mod.field, (X, W), w, wrt=("w", "x"))
    np.testing.assert_allclose(dw2, dw, rtol=1e-14)
    np.testing.assert_allclose(dx2, dx, rtol=1e-14)
    _, tangent_x = s2s.jvp(mod.field, (X, W), (v,), wrt="x")
    np.testing.assert_allclose(tangent_x, finite_difference(mod.field, (X, W), 0) @ v, atol=1e-8)


def test_jvp_and_vjp_refuse_directions_of_the_wrong_shape_or_count(mod):
    with pytest.raises(S2SError, match=r"a tangent of shape \(2,\) for a value of shape \(3,\)"):
        s2s.jvp(mod.field, (X, W), (np.ones(2), W))
    with pytest.raises(S2SError, match="tangents must be a sequence of 2 values, one per wrt argument"):
        s2s.jvp(mod.field, (X, W), (X,))
    with pytest.raises(S2SError, match=r"a cotangent of shape \(3,\) for a value of shape \(2,\)"):
        s2s.vjp(mod.field, (X, W), np.ones(3))


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_several_outputs_give_one_derivative_per_output(mod, mode):
    g = differentiate(mod.two_outputs, wrt=("x", "y"), mode=mode)
    (first, second), ((d1x, d1y), (d2x, d2y)) = g.value_and_derivative(X, 2.0)
    np.testing.assert_allclose(first, np.sin(X) * 2.0, rtol=1e-15)
    np.testing.assert_allclose(d1x, np.diag(np.cos(X) * 2.0), rtol=1e-13)
    np.testing.assert_allclose(d1y, np.sin(X), rtol=1e-13)
    np.testing.assert_allclose(d2x, 2 * X * 2.0, rtol=1e-13)
    assert d2y == pytest.approx(np.sum(X ** 2), rel=1e-13)
    (one,) = differentiate(mod.tuple_of_one, wrt="x", mode=mode).derivative(X)
    np.testing.assert_allclose(one, np.diag(np.exp(X)), rtol=1e-13)


def test_several_outputs_pass_check_and_the_products(mod):
    report = check(mod.two_outputs, X, 2.0, wrt=("x", "y"))
    assert [a.name for a in report.arguments] == ["x (output 0)", "y (output 0)", "x (output 1)", "y (output 1)"]
    v = np.array([1.0, 0.5, -0.5])
    (value, tangents) = s2s.jvp(mod.two_outputs, (X, 2.0), (v, 0.25))
    np.testing.assert_allclose(tangents[0], np.cos(X) * 2.0 * v + np.sin(X) * 0.25, rtol=1e-13)
    assert tangents[1] == pytest.approx(np.sum(2 * X * v) * 2.0 + np.sum(X ** 2) * 0.25, rel=1e-13)
    _, (dx, dy) = s2s.vjp(mod.two_outputs, (X, 2.0), (v, 3.0))
    np.testing.assert_allclose(dx, v * np.cos(X) * 2.0 + 3.0 * 2 * X * 2.0, rtol=1e-13)
    assert dy == pytest.approx(np.sum(v * np.sin(X)) + 3.0 * np.sum(X ** 2), rel=1e-13)
