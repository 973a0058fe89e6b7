"""Numerical edge cases, each with the convention s2s follows, in both modes:
NaN and inf as in the primal, derivatives at the edges of domains and at
kinks, precision, integer arguments.

| case                         | derivative                                  |
|------------------------------|---------------------------------------------|
| NaN or inf in the input      | NaN or inf where the formula gives them     |
| sqrt(x), x ** 0.5 at 0       | inf (also for a Python float 0.0); NaN for  |
|                              | the Jacobian entries beside it (0 * inf)    |
| log(x) at 0                  | inf                                         |
| abs(x) at 0                  | 0                                           |
| x ** 0                       | 0, also at x = 0                            |
| x ** p w.r.t. x where p == 0 | 0, also at x = 0                            |
| 0 ** p w.r.t. p, p > 0       | 0                                           |
| maximum(x, y) at x == y      | 1/2 to each                                 |
| norm(x), hypot(x, y) at 0    | 0 (the smallest subgradient, as for abs)    |
| arctan2(y, x) at (0, 0)      | NaN (undefined)                             |
| clip(x, lo, hi) at a bound   | 1 (x passes where lo <= x <= hi)            |
| float32 inputs               | float32 derivatives                         |
| integer arrays not in wrt    | stay integers (indices keep working)        |
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from s2s import differentiate

MODES = ("forward", "reverse")

SOURCE = '''
import numpy as np


def sin_times(x, y):
    return np.sin(x) * y


def root(x):
    return np.sqrt(x)


def half_power(x):
    return x ** 0.5


def log(x):
    return np.log(x)


def absolute(x):
    return np.abs(x)


def zeroth_power(x):
    return x ** 0


def power(x, p):
    return x ** p


def zero_base(p):
    return 0.0 ** p


def larger(x, y):
    return np.maximum(x, y)


def norm(x):
    return np.linalg.norm(x)


def hypot(x, y):
    return np.hypot(x, y)


def angle(y, x):
    return np.arctan2(y, x)


def clipped(x):
    return np.clip(x, 0.0, 1.0)


def gather(x, idx):
    return np.sum(x[idx * 2] ** 2) + float(idx[0])
'''


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    from conftest import write_module

    return write_module(tmp_path_factory.mktemp("edge"), SOURCE, "s2s_edge_cases")


def derivatives(fn, args, wrt):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's divide-by-zero and invalid-value warnings, as in the primal
        return {m: differentiate(fn, wrt=wrt, mode=m).derivative(*args) for m in MODES}


EXPECTED = [
    ("sin_times", (0.5, np.nan), "x", np.nan),
    ("sin_times", (np.inf, 2.0), "x", np.nan),
    ("sin_times", (0.5, np.inf), "x", np.inf),
    ("sin_times", (np.nan, 2.0), "y", np.nan),
    ("root", (0.0,), "x", np.inf),
    ("root", (np.zeros(2),), "x", [[np.inf, np.nan], [np.nan, np.inf]]),  # 0 * inf beside an infinite entry
    ("half_power", (0.0,), "x", np.inf),
    ("log", (0.0,), "x", np.inf),
    ("absolute", (0.0,), "x", 0.0),
    ("zeroth_power", (0.0,), "x", 0.0),
    ("zeroth_power", (2.0,), "x", 0.0),
    ("power", (0.0, 0.0), "x", 0.0),
    ("power", (0.0, 2.0), "x", 0.0),
    ("power", (0.0, 2.0), "p", 0.0),
    ("zero_base", (2.0,), "p", 0.0),
    ("larger", (1.0, 1.0), ("x", "y"), (0.5, 0.5)),
    ("norm", (np.zeros(3),), "x", np.zeros(3)),
    ("hypot", (0.0, 0.0), ("x", "y"), (0.0, 0.0)),
    ("angle", (0.0, 0.0), ("y", "x"), (np.nan, np.nan)),
    ("clipped", (np.array([0.0, 0.5, 1.0, 1.5]),), "x", np.diag([1.0, 1.0, 1.0, 0.0])),
]


@pytest.mark.parametrize("name, args, wrt, expected", EXPECTED, ids=[f"{e[0]}{e[1]!r}-{e[2]}" for e in EXPECTED])
def test_convention(mod, name, args, wrt, expected):
    for mode, value in derivatives(getattr(mod, name), args, wrt).items():
        np.testing.assert_array_equal(np.asarray(value, dtype=float), np.asarray(expected, dtype=float), err_msg=mode)


@pytest.mark.parametrize("mode", MODES)
def test_float32_in_float32_out(mod, mode):
    g = differentiate(mod.sin_times, wrt=("x", "y"), mode=mode)
    dx, dy = g.derivative(np.array([0.5, 1.0], dtype=np.float32), np.float32(2.0))
    assert dx.dtype == np.float32 and dy.dtype == np.float32
    scalar = differentiate(mod.root, wrt="x", mode=mode).derivative(np.float32(4.0))
    assert isinstance(scalar, np.float32) and scalar == np.float32(0.25)


@pytest.mark.parametrize("mode", MODES)
def test_python_floats_give_floats(mod, mode):
    d = differentiate(mod.sin_times, wrt="x", mode=mode).derivative(0.5, 2.0)
    assert isinstance(d, float) and d == pytest.approx(2.0 * np.cos(0.5))


@pytest.mark.parametrize("mode", MODES)
def test_integer_arrays_not_differentiated_stay_integers(mod, mode):
    x = np.array([0.5, -1.0, 2.0, 0.3])
    idx = np.array([0, 1])
    g = differentiate(mod.gather, wrt="x", mode=mode)
    value, d = g.value_and_derivative(x, idx)
    assert value == mod.gather(x, idx)  # the primal's value, bitwise
    np.testing.assert_array_equal(d, [1.0, 0.0, 4.0, 0.0])
    assert idx.dtype.kind == "i"
