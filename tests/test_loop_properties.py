"""Loop programs with random trip counts and inputs (hypothesis): both modes
agree with central finite differences and with each other. And what the
reverse sweep records: only what the forward sweep overwrites and an
adjoint reads."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from s2s import check, differentiate

SOURCE = '''
import numpy as np


def recurrence(u, alpha):
    y = np.zeros(len(u))
    y[0] = u[0]
    for i in range(1, len(u)):
        y[i] = alpha * y[i - 1] + u[i]
    return np.sum(y * y)


def horner(c, x):
    p = 0.0
    for ci in c:
        p = p * x + ci
    return p


def damped_steps(u0, k, n):
    u = u0
    for step in range(n):
        if np.max(u) > 1.0:
            u = u * 0.5
        else:
            u = u + k * np.sin(u)
    return u


def until_small(x, decay):
    count = 0
    while x > 0.1 and count < 20:
        x = x * decay
        count += 1
    return x * x


def first_large(v, threshold):
    total = 0.0
    for i in range(len(v)):
        if v[i] > threshold:
            total = total + v[i] ** 2
            break
        total = total + np.tanh(v[i])
    return total


def heat(u0, c, steps):
    u = u0
    for _ in range(steps):
        u = u + c * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))
    return u


def heat_step(u, c):
    return u + c * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))


def heat_by_steps(u0, c, steps):
    u = u0
    for _ in range(steps):
        u = heat_step(u, c)
    return u
'''


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    from conftest import write_module

    return write_module(tmp_path_factory.mktemp("loop_properties"), SOURCE, "s2s_loop_property_cases")


PROPERTY = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
floats = st.floats(-1.0, 1.0, allow_nan=False)


def vector(min_size: int, max_size: int, lo: float = -1.0, hi: float = 1.0):
    return st.lists(st.floats(lo, hi, allow_nan=False), min_size=min_size, max_size=max_size).map(np.array)


@PROPERTY
@given(u=vector(1, 7), alpha=floats)
def test_recurrence(mod, u, alpha):
    check(mod.recurrence, u, alpha, wrt=("u", "alpha"))


@PROPERTY
@given(c=vector(0, 6), x=floats)
def test_horner(mod, c, x):
    check(mod.horner, c, x, wrt=("c", "x") if len(c) else ("x",))


@PROPERTY
@given(u0=vector(2, 5, 0.1, 2.0), k=st.floats(0.1, 0.5), n=st.integers(0, 6))
def test_branches_in_a_loop(mod, u0, k, n):
    # away from the branch's switching point, where the derivative jumps
    u = u0.copy()
    for _ in range(n):
        if abs(np.max(u) - 1.0) < 1e-3:
            return
        u = u * 0.5 if np.max(u) > 1.0 else u + k * np.sin(u)
    check(mod.damped_steps, u0, k, n, wrt=("u0", "k"))


@PROPERTY
@given(x=st.floats(0.05, 3.0), decay=st.floats(0.3, 0.95))
def test_while_loop(mod, x, decay):
    # the trip count must not change within the finite-difference step
    y, count = x, 0
    while True:
        if abs(y - 0.1) < 1e-4:
            return
        if not (y > 0.1 and count < 20):
            break
        y, count = y * decay, count + 1
    check(mod.until_small, x, decay, wrt=("x", "decay"))


@PROPERTY
@given(v=vector(0, 6), threshold=st.floats(-0.5, 0.5))
def test_break(mod, v, threshold):
    if np.any(np.abs(v - threshold) < 1e-4):
        return
    check(mod.first_large, v, threshold, wrt=("v",) if len(v) else ("threshold",))


def _tape(g, *args):
    """The tape one forward sweep recorded."""
    loaded = g._load("reverse")
    *_, saved = loaded.entry("forward")(*args)
    names = loaded.source.split("def ")[2].split("= saved")[0].split("\n")[-1]
    return dict(zip([n.strip() for n in names.split(",")], saved))["tape"]


def test_time_stepping_records_no_arrays(mod):
    """The heat equation's steps are linear in u: the reverse sweep reads no
    value of u, so nothing the size of u is recorded per step."""
    u0 = np.sin(np.linspace(0.0, 3.0, 50))
    g = differentiate(mod.heat, wrt="u0", mode="reverse")
    tape = _tape(g, u0, 0.2, 30)
    assert len(tape) == 30
    assert all(not isinstance(part, np.ndarray) for entry in tape for part in entry)


def _arrays_in(entry) -> int:
    if isinstance(entry, np.ndarray):
        return 1
    return sum(_arrays_in(part) for part in entry) if isinstance(entry, tuple) else 0


def test_time_stepping_through_a_callee_records_no_arrays(mod):
    """The same, with the step in a function of its own: what each call
    saves for its backward sweep holds shapes, not the arrays it read."""
    u0 = np.sin(np.linspace(0.0, 3.0, 50))
    g = differentiate(mod.heat_by_steps, wrt="u0", mode="reverse")
    tape = _tape(g, u0, 0.2, 30)
    assert len(tape) == 30
    assert sum(_arrays_in(entry) for entry in tape) == 0
    check(mod.heat_by_steps, u0, 0.2, 3, wrt=("u0", "c"))


def test_recurrence_records_one_number_per_step(mod):
    """y[i] = alpha * y[i-1] + u[i]: w.r.t. alpha the reverse sweep needs the
    element read, y[i-1], once per step (and the shape of what is written),
    and nothing else of y: no copy of y, nor of its overwritten elements."""
    u = np.linspace(0.1, 1.0, 40)
    g = differentiate(mod.recurrence, wrt="alpha", mode="reverse")
    tape = _tape(g, u, 0.8)
    numbers = [e for e in tape if not isinstance(e, tuple)]
    assert len(numbers) == 39 and all(np.ndim(e) == 0 and not isinstance(e, np.ndarray) for e in numbers)
    assert all(e == () for e in tape if isinstance(e, tuple))  # shapes of scalars
