"""Control flow in every mode against central finite differences: branches
(both outcomes), loops that run zero, one and many times, break, continue
and early returns taken and not taken, in-place updates."""

from __future__ import annotations

import numpy as np
import pytest

from s2s import check, differentiate

MODES = ("forward", "reverse")

SOURCE = '''
import numpy as np


def branch(x, y):
    if x > 0:
        z = x * y
    elif x > -1:
        z = np.sin(x) + y
    else:
        z = y ** 2
    return z * x


def conditional_expression(x, y):
    return (x * y if x > y else x - y) * 2.0


def branch_on_array(a):
    if np.sum(a) > 0:
        b = a * a
    else:
        b = -a
    return np.sum(b)


def one_sided(x, y):
    z = y
    if x > 0:
        z = x * y
    return z + x


def horner(c, x):
    p = 0.0
    for ci in c:
        p = p * x + ci
    return p


def read_then_loop_overwrites(x, c):
    u = x * 2.0
    w = np.sum(u * c)
    for k in range(3):
        u = c * k
    return w + np.sum(u)


def loop_overwrites_unread(x, c):
    u = x * 1.0
    for k in range(3):
        u = c * k
    return np.sum(u)


def clipped_power(x, n):
    p = 1.0
    for k in range(n):
        p = p * x
    if p > 4.0:
        return 4.0 + np.log(p - 3.0)
    return p


def calls_control_flow(x, y, n):
    return clipped_power(x, n) * y + clipped_power(y, 2)


def swap_first_two(v):
    y = v.copy()
    t = y[0]
    y[0] = y[1]
    y[1] = t
    return y * v


def index_reassigned(x, n):
    s = 0.0
    for i in range(n):
        s = s + x[i] * i
        i = i + 1
        s = s + x[i % len(x)] ** 2
    return s


def range_bounds(a, n, step):
    s = 0.0
    for i in range(1, n, step):
        s = s + a[i] * i
    return s


def recurrence(u, alpha):
    y = np.zeros(len(u))
    y[0] = u[0]
    for i in range(1, len(u)):
        y[i] = alpha * y[i - 1] + u[i]
    return y


def heat(u0, c, steps):
    u = u0
    for _ in range(steps):
        u = u + c * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))
    return u


def newton_sqrt(a, x0):
    x = x0
    for it in range(50):
        fx = x * x - a
        if abs(fx) < 1e-14:
            break
        x = x - fx / (2.0 * x)
    return x


def fixed_point(a):
    x = 1.0
    while abs(x - np.cos(a * x)) > 1e-13:
        x = np.cos(a * x)
    return x


def while_counter(x, n):
    k = 0
    y = x
    while k < n:
        y = y * x + 1.0
        k += 1
    return y


def early_return(x):
    if x > 0:
        return x * 2.0
    y = x * x
    for i in range(3):
        if y > 10:
            return y
        y = y * 3.0
    return -y


def skip_negative(xs):
    s = 0.0
    for i, v in enumerate(xs):
        if v < 0:
            continue
        s += v ** 2
        if s > 20:
            break
    return s


def zipped(a, b):
    s = 0.0
    for p, q in zip(a, b):
        s = s + p * np.exp(q)
    return s


def fibonacci_like(a, b, n):
    for _ in range(n):
        a, b = b, a + b * 0.5
    return a * b


def slices_and_masks(x):
    y = x * 1.0
    y[1:3] = x[0:2] * 2.0
    y[y > 1.0] = 0.5 * y[y > 1.0]
    y[0] += np.sum(x)
    y *= x
    return y


def trajectory(x, n):
    ys = []
    y = x
    for i in range(n):
        y = np.sin(y) * 1.5
        ys.append(y)
    return np.sum(np.array(ys) ** 2)


def comprehension(xs):
    return sum([v * v for v in xs if v > 0]) + sum(np.exp(v) for v in xs)


def stacked_rows(a, b):
    rows = [a * k for k in range(3)]
    rows.append(b)
    return np.stack(rows, axis=1) * 2.0


def damped_accumulation(x, n):
    s = 0.0
    for i in range(n):
        s = s * 0.9 + np.sum(np.sin(x * s) * x)
    return s


def read_then_update(x, n):
    y = x * 1.0
    s = 0.0
    for i in range(n):
        s = s + np.sum(y * y)
        k = i % len(y)
        y[k] = y[k] * 0.5 + s
    return s + np.sum(y ** 3)


def overwrite_after_use(x):
    y = x * 2.0
    z = np.sum(np.sin(y))
    y[0] = z
    y[1:] = y[1:] * y[0]
    return y


def nested_loops(m):
    s = 0.0
    for i in range(m.shape[0]):
        row = 0.0
        for j in range(m.shape[1]):
            if m[i, j] > 0:
                row = row + m[i, j] ** 2
            else:
                row = row - m[i, j]
        s = s + np.sqrt(row + 1.0) * i
    return s
'''


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    from conftest import write_module

    return write_module(tmp_path_factory.mktemp("control_flow"), SOURCE, "s2s_control_flow_cases")


C4 = np.array([0.5, -1.0, 2.0, 0.3])
CASES = [
    ("branch", (0.7, 1.3), ("x", "y")),
    ("branch", (-0.5, 1.3), ("x", "y")),
    ("branch", (-2.0, 1.3), ("x", "y")),
    ("conditional_expression", (0.7, 0.2), ("x", "y")),
    ("conditional_expression", (0.1, 0.2), ("x", "y")),
    ("branch_on_array", (np.array([0.5, -0.2, 0.3]),), "a"),
    ("branch_on_array", (np.array([-0.5, -0.2, 0.3]),), "a"),
    ("one_sided", (0.7, 1.3), ("x", "y")),
    ("one_sided", (-0.7, 1.3), ("x", "y")),
    ("horner", (C4, 0.7), ("c", "x")),
    ("horner", (C4[:1], 0.7), ("c", "x")),
    ("horner", (C4[:0], 0.7), ("x",)),
    ("calls_control_flow", (1.5, 0.5, 3), ("x", "y")),
    ("calls_control_flow", (2.0, 2.5, 3), ("x", "y")),
    ("calls_control_flow", (2.0, 2.5, 0), ("x", "y")),
    ("index_reassigned", (np.linspace(0.1, 1.0, 5), 4), "x"),
    ("swap_first_two", (np.array([0.3, -0.5, 0.8]),), "v"),
    ("read_then_loop_overwrites", (np.linspace(0.1, 1.0, 5), 0.7), ("x", "c")),
    ("loop_overwrites_unread", (np.linspace(0.1, 1.0, 5), 0.7), ("x", "c")),
    ("loop_overwrites_unread", (np.linspace(0.1, 1.0, 5), np.linspace(1.0, 2.0, 5)), ("x", "c")),
    ("range_bounds", (np.linspace(0.1, 1.0, 7), 7, 2), "a"),
    ("range_bounds", (np.linspace(0.1, 1.0, 7), 1, 2), "a"),
    ("recurrence", (np.linspace(0.1, 1.0, 6), 0.8), ("u", "alpha")),
    ("recurrence", (np.array([0.3]), 0.8), ("u", "alpha")),
    ("heat", (np.sin(np.linspace(0.0, 3.0, 8)), 0.2, 5), ("u0", "c")),
    ("heat", (np.sin(np.linspace(0.0, 3.0, 8)), 0.2, 0), ("u0",)),
    ("newton_sqrt", (2.0, 1.0), "a"),
    ("fixed_point", (0.6,), "a"),
    ("while_counter", (0.9, 3), "x"),
    ("while_counter", (0.9, 0), "x"),
    ("early_return", (0.7,), "x"),
    ("early_return", (-0.7,), "x"),
    ("early_return", (-4.0,), "x"),
    ("skip_negative", (np.array([1.0, -2.0, 3.0, 0.5]),), "xs"),
    ("skip_negative", (np.array([3.0, 4.0, -1.0, 0.5]),), "xs"),
    ("zipped", (np.array([0.1, 0.2, 0.3]), np.array([1.0, -1.0])), ("a", "b")),
    ("fibonacci_like", (0.3, 0.7, 4), ("a", "b")),
    ("slices_and_masks", (np.array([0.2, 0.9, 1.4, -0.3]),), "x"),
    ("nested_loops", (np.array([[0.5, -0.2, 1.1], [-0.4, 0.3, 0.8]]),), "m"),
    ("read_then_update", (np.array([0.3, -0.5, 0.8]), 5), "x"),
    ("overwrite_after_use", (np.array([0.3, -0.5, 0.8]),), "x"),
    ("trajectory", (0.7, 4), "x"),
    ("trajectory", (0.7, 1), "x"),
    ("comprehension", (np.array([0.5, -1.0, 2.0]),), "xs"),
    ("stacked_rows", (np.array([0.3, -0.5]), np.array([1.0, 2.0])), ("a", "b")),
]


@pytest.mark.parametrize("name, args, wrt", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_control_flow(mod, name, args, wrt):
    check(getattr(mod, name), *args, wrt=wrt, modes=MODES)


def test_forward_loop_carries_tangents_in_the_same_loop(mod):
    source = differentiate(mod.horner, wrt="x", mode="forward").source()
    body = source.split("def horner_jvp")[1].split("\n\n")[0]
    code = [line.strip() for line in body.splitlines() if not line.strip().startswith("#")]
    assert sum(line.startswith("for ") for line in code) == 1
    assert "p_dot = x * p_dot + p * x_dot" in code


def test_numbers_carried_by_a_loop_stay_numbers(mod):
    """``s = s * 0.9 + np.sum(...)`` in a loop is a number in every
    iteration: its adjoint needs no reduction and no unbroadcast (each a
    call per iteration), and the function has a scalar output (so a fused
    gradient function)."""
    g = differentiate(mod.damped_accumulation, wrt="x", mode="reverse")
    backward = g.source().split("def damped_accumulation_backward")[1].split("\n\n\n")[0]
    code = [line for line in backward.splitlines() if not line.strip().startswith("#")]
    assert not any("np.sum(" in line or "unbroadcast(" in line for line in code)
    assert "def damped_accumulation_gradient(" in g.source()
    check(mod.damped_accumulation, np.array([0.3, -0.5, 0.8]), 4, wrt="x", modes=MODES)
