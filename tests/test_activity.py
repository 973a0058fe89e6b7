"""Activity analysis: derivative code only for values that depend on wrt
and reach the output."""

from __future__ import annotations

import pytest

from s2s.activity import analyze
from s2s.frontend import load_function
from s2s.program import Program

SOURCE = """
import numpy as np

x = np.arange(-3.0, 4.0)

def f(m):
    return np.exp(-1.5 * (x - m) ** 2)

def rs(d, xs):
    d0 = f(xs)
    return d - np.sum(d * d0) / np.sum(d0 * d0) * d0

def branches(a, b):
    u = a * 2.0
    v = b * 3.0
    w = np.floor(u)
    unused = np.exp(a)
    return u * w + v
"""


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    from conftest import write_module

    return write_module(tmp_path_factory.mktemp("activity"), SOURCE, "s2s_activity_cases")


def activity(fn, wrt):
    program = Program(load_function(fn))
    return analyze(program, program.entry, frozenset(wrt), frozenset({0}))


def test_seed_wrt_xs(mod):
    a = activity(mod.rs, {"xs"})
    assert a.dump() == "d: inactive | xs: active | d0: active | sum1: active | sum2: active | out: active"
    (call,) = a.calls.values()
    assert call.callee.name == "f" and call.active_params == {"m"}


def test_seed_wrt_d(mod):
    a = activity(mod.rs, {"d"})
    assert a.dump() == "d: active | xs: inactive | d0: inactive | sum1: active | sum2: inactive | out: active"
    assert not a.calls  # f is called as it is


def test_not_varied_and_not_useful(mod):
    a = activity(mod.branches, {"a"})
    # w is computed from a but through floor (no derivative); unused never reaches the output
    assert a.dump() == "a: active | b: inactive | u: active | v: inactive | w: inactive | unused: inactive | out: active"
