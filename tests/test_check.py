"""``s2s.check``: it passes right derivatives and catches wrong ones."""

from __future__ import annotations

import numpy as np
import pytest

from s2s import check, differentiate
from s2s.api import Differentiated
from s2s.check import DerivativeMismatch, dot_product_error

SOURCE = """
import numpy as np

def smooth(x, y):
    return np.sin(x) * y ** 2

def staircase(x):
    return np.floor(x) * x

def energy(x):
    return np.sum(np.sin(x) * x)
"""


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    from conftest import write_module

    return write_module(tmp_path_factory.mktemp("check"), SOURCE, "s2s_check_cases")


def test_a_right_derivative_passes_and_reports_every_comparison(mod):
    x, y = np.linspace(-1.0, 1.0, 4), np.array([[0.5], [2.0]])
    report = check(mod.smooth, x, y, wrt=("x", "y"))
    assert report.ok
    assert [a.name for a in report.arguments] == ["x", "y"]
    assert set(report.arguments[1].errors) == {
        "forward", "reverse", "forward alone", "reverse alone", "forward~reverse", "dot product", "forward~jvp", "reverse~vjp",
    }
    assert set(report.value_errors) == {"forward", "reverse"}
    assert all(e < 1e-12 for e in report.value_errors.values())
    assert str(report).startswith("s2s.check(smooth): ok")


def test_a_derivative_that_disagrees_with_finite_differences_fails(mod):
    # floor jumps at 2.0: its derivative is 0 on each side, the difference quotient is huge
    with pytest.raises(DerivativeMismatch, match=r"MISMATCH[\s\S]*x \(3,\): forward"):
        check(mod.staircase, np.array([0.5, 2.0, 3.5]), wrt="x")
    report = check(mod.staircase, np.array([0.5, 2.0, 3.5]), wrt="x", raises=False)
    assert not report.ok and report.arguments[0].errors["forward"] > 0.5  # relative to the huge quotient


def test_a_value_that_differs_from_the_primal_fails(mod, monkeypatch):
    true_value_and_derivative = Differentiated.value_and_derivative

    def off_by_one(self, *args):
        value, derivative = true_value_and_derivative(self, *args)
        return value + 1.0, derivative

    monkeypatch.setattr(Differentiated, "value_and_derivative", off_by_one)
    report = check(mod.smooth, 0.0, 2.0, wrt="x", raises=False)  # value 0: the error is absolute
    assert not report.ok
    assert report.value_errors == {"forward": pytest.approx(1.0), "reverse": pytest.approx(1.0)}
    assert "value: forward 1.0e+00" in str(report)


def test_a_gradient_whose_own_code_differs_fails(mod, monkeypatch):
    """derivative() of a scalar output runs the fused gradient function, not
    the two sweeps value_and_derivative() runs: check compares the two."""
    from s2s import api

    true_first_gradient = api._ReversePlan.first_gradient

    def doubled(self, values):
        gradient = true_first_gradient(self, values)
        self.derivative = lambda values: 2.0 * gradient
        return 2.0 * gradient

    monkeypatch.setattr(api._ReversePlan, "first_gradient", doubled)
    report = check(mod.energy, np.array([0.3, 0.5]), wrt="x", raises=False)
    assert not report.ok
    assert report.arguments[0].errors["reverse alone"] > 1.0 and report.arguments[0].errors["forward alone"] == 0.0


def test_check_accepts_a_decorated_function(mod):
    decorated = differentiate(mod.smooth, wrt="y")
    assert check(decorated, 0.4, np.array([1.0, -2.0]), wrt="y").ok


def test_the_dot_product_test_catches_a_transposed_reverse_jacobian():
    jacobian = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert dot_product_error(jacobian, jacobian, (2,)) < 1e-15
    assert dot_product_error(jacobian, jacobian.T, (2,)) > 1e-3
