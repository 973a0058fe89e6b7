"""Generated code calls ``np.add.reduce`` where the user wrote ``np.sum``:
the same reduction without np.sum's dispatch. The values s2s returns stay
the primal's, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from s2s import differentiate

SOURCE = """
import numpy as np


def energy(a, w):
    return np.sum(np.sin(a) * w) + np.sum(a * a, axis=0, keepdims=True) * np.sum(w, 0)


def total(a):
    return np.sum(a) * np.sum(a * a)
"""

VALUES = {
    "vector": (np.linspace(0.1, 1.0, 7), np.linspace(1.0, 2.0, 7)),
    "matrix float32": (np.linspace(0.1, 1.0, 12, dtype=np.float32).reshape(3, 4), np.linspace(1.0, 2.0, 4, dtype=np.float32)),
    "scalar": (0.3, 1.5),
    "integer weights": (np.linspace(0.1, 1.0, 5), np.arange(5)),
}


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    from conftest import write_module

    return write_module(tmp_path_factory.mktemp("sums"), SOURCE, "s2s_sum_lowering")


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_the_module_reduces_with_the_ufunc(user, mode):
    g = differentiate(user.energy, wrt="a", mode=mode)
    g.derivative(*VALUES["vector"])
    source = g.source()
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("#"))
    assert "np.sum(" not in code
    assert "np.add.reduce(np.sin(a) * w, axis=None)" in code
    assert "np.add.reduce(a * a, axis=0, keepdims=True)" in code and "np.add.reduce(w, 0)" in code


@pytest.mark.parametrize("values", VALUES)
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_values_are_the_primals_bit_for_bit(user, values, mode):
    args = VALUES[values]
    for fn, wrt in ((user.energy, "a"), (user.total, "a")):
        call_args = args if fn is user.energy else args[:1]
        value, _ = differentiate(fn, wrt=wrt, mode=mode).value_and_derivative(*call_args)
        expected = fn(*call_args)
        assert np.asarray(value).dtype == np.asarray(expected).dtype
        assert np.array_equal(value, expected)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_the_derivative_matches_central_differences(user, mode):
    from s2s import check

    for values in ("vector", "scalar", "integer weights"):
        check(user.energy, *VALUES[values], wrt="a", modes=(mode,))
    check(user.total, VALUES["matrix float32"][0].astype(float), wrt="a", modes=(mode,))
