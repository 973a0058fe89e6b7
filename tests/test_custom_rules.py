"""User-defined derivative rules (``s2s.derivative_rule``) and the rules
s2s ships for ``scipy.special``."""

from __future__ import annotations

import numpy as np
import pytest

import s2s
from s2s import S2SError, check, differentiate

SOURCE = """
import numpy as np
import s2s


def _softplus_tangent(args, tangents):
    (x, beta), (t, _) = args, tangents
    return t / (1.0 + np.exp(-beta * x))


def _softplus_adjoint(args, out, g):
    x, beta = args
    return (g / (1.0 + np.exp(-beta * x)), None)


@s2s.derivative_rule(tangent=_softplus_tangent, adjoint=_softplus_adjoint)
def softplus(x, beta=1.0):
    try:  # s2s cannot read this; with a rule it does not need to
        return np.logaddexp(0.0, beta * x) / beta
    except FloatingPointError:
        return np.maximum(x, 0.0)


def uses_softplus(w, x):
    return np.sum(softplus(w * x, beta=2.0) ** 2) + softplus(w[0])
"""

SCIPY_SOURCE = """
import numpy as np
from scipy import special
from scipy.special import erf, logsumexp


def model(x, w):
    return erf(w * x) + special.expit(x ** 2) * special.gammaln(2.0 + w)


def log_partition(a):
    return logsumexp(a * 2.0, axis=1) + logsumexp(np.sin(a))
"""

W = np.array([0.4, -1.1, 0.8])
X = np.array([1.3, 0.2, -0.7])


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    from conftest import write_module

    return write_module(tmp_path_factory.mktemp("custom"), SOURCE, "s2s_custom_rules")


def test_a_rule_differentiates_a_function_s2s_cannot_read(mod):
    check(mod.uses_softplus, W, X, wrt=("w", "x"))
    source = differentiate(mod.uses_softplus, wrt="w", mode="forward").source()
    assert "softplus(t1, beta=2.0)" in source  # called as the user wrote it
    assert "custom_tangent('s2s_custom_rules.softplus', (t1, 2.0), (t1_dot, 0.0))" in source


def test_a_missing_rule_is_named_when_the_code_runs():
    from s2s.runtime import custom_tangent

    with pytest.raises(S2SError, match="no derivative rule named 'nowhere.f' is registered in this process") as info:
        custom_tangent("nowhere.f", (1.0,), (1.0,))
    assert "import its module" in info.value.hint


def test_registration_checks_the_parameters():
    def f(x, y=2.0):
        return x * y

    with pytest.raises(S2SError, match=r"\['z'\] are not parameters of .*f\(x, y\)"):
        s2s.derivative_rule(f, tangent=lambda a, t: t[0], adjoint=lambda a, out, g: (g, None), wrt=("z",))


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_scipy_special_rules(tmp_path, mode):
    pytest.importorskip("scipy")
    from conftest import write_module

    scipy_mod = write_module(tmp_path, SCIPY_SOURCE, "s2s_scipy_rules")
    check(scipy_mod.model, X, 0.7, wrt=("x", "w"), modes=(mode,))
    check(scipy_mod.log_partition, np.stack([W, X]), wrt="a", modes=(mode,))
    assert "custom_tangent('scipy.special.erf'" in differentiate(scipy_mod.model, wrt="x", mode="forward").source()
