"""The seed example: rs and rs_scalar against hand-written derivatives."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from s2s import differentiate

from conftest import REPO


@pytest.fixture(scope="module")
def seed():
    spec = importlib.util.spec_from_file_location("s2s_golden_seed", REPO / "tests" / "golden" / "seed.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def hand_written(seed, d, xs):
    """The derivatives of the seed, written out by hand."""
    x = seed.x
    d0 = np.exp(-1.5 * (x - xs) ** 2)
    d0_xs = d0 * 3.0 * (x - xs)
    a, b = np.sum(d * d0), np.sum(d0 * d0)
    a_xs, b_xs = np.sum(d * d0_xs), 2.0 * np.sum(d0 * d0_xs)
    r = d - a / b * d0
    r_xs = -((a_xs * b - a * b_xs) / b**2 * d0 + a / b * d0_xs)
    r_d = np.eye(x.size) - np.outer(d0, d0) / b
    return {"rs/xs": r_xs, "rs/d": r_d, "rs_scalar/xs": 2.0 * np.sum(r * r_xs), "rs_scalar/d": 2.0 * r_d.T @ r}


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
@pytest.mark.parametrize("name, wrt", [("rs", "xs"), ("rs", "d"), ("rs_scalar", "xs"), ("rs_scalar", "d")])
def test_matches_hand_written(seed, name, wrt, mode):
    rng = np.random.default_rng(1)
    d = 2.0 * seed.f(0.4) + 0.1 * rng.standard_normal(seed.x.size)
    expected = hand_written(seed, d, 0.3)[f"{name}/{wrt}"]
    got = differentiate(getattr(seed, name), wrt=wrt, mode=mode).derivative(d, 0.3)
    assert np.shape(got) == np.shape(expected)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12 * np.max(np.abs(expected)))


def test_auto_picks_the_cheap_mode(seed):
    d = seed.f(0.1)
    assert differentiate(seed.rs, wrt="xs").mode_for(d, 0.3) == "forward"
    assert differentiate(seed.rs_scalar, wrt="d").mode_for(d, 0.3) == "reverse"
    assert differentiate(seed.rs_scalar, wrt="xs").mode_for(d, 0.3) == "forward"


def test_value_and_derivative(seed):
    d = seed.f(0.1)
    g = differentiate(seed.rs, wrt="xs")
    value, derivative = g.value_and_derivative(d, 0.3)
    np.testing.assert_array_equal(value, seed.rs(d, 0.3))  # bitwise the primal
    np.testing.assert_array_equal(derivative, g.derivative(d, 0.3))
    np.testing.assert_array_equal(derivative, g.derivative(d, 0.3))  # the derivative-only code, after the first call


def test_the_derivative_alone_does_not_compute_the_output(seed):
    """derivative() runs rs_tangent: the jvp function without the output
    (its shape comes from the operands), and it broadcasts as the output does."""
    g = differentiate(seed.rs, wrt="xs", mode="forward")
    tangent = g.source().split("def rs_tangent")[1].split("\n\n\n")[0]
    assert "out =" not in tangent and "broadcast_to_operands(out_dot, d, t1, d0)" in tangent
    rows = np.stack([seed.f(0.1), 2.0 * seed.f(0.4)])  # two data sets: the output is (2, 21)
    np.testing.assert_array_equal(g.derivative(rows, 0.3), g.value_and_derivative(rows, 0.3)[1])
    np.testing.assert_array_equal(g.derivative(rows, 0.3), g.value_and_derivative(rows, 0.3)[1])


@pytest.mark.parametrize("wrt, mode, absent", [("xs", "forward", "d_dot"), ("d", "reverse", "xs_bar"), ("d", "forward", "xs_dot")])
def test_only_what_was_asked(seed, wrt, mode, absent):
    """No derivative code for the argument that was not asked for, nor for
    values computed only from it."""
    source = differentiate(seed.rs, wrt=wrt, mode=mode).source()
    assert absent not in source
    if wrt == "d":
        assert "f_jvp" not in source and "f_forward" not in source and "sum2_" not in source


def test_forward_tangent_of_the_gaussian_is_fused(seed):
    source = differentiate(seed.f, wrt="m", mode="forward").source()
    body = source.split("def f_jvp(m, m_dot):")[1].split("\n\n")[0]
    assert "out_dot = 3.0 * m_dot * t1 * out" in body
    code = [line for line in body.splitlines() if not line.strip().startswith("#")]
    assert sum(line.count("np.exp") for line in code) == 1  # the primal value is reused, not recomputed
