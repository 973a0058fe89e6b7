"""Straight-line constructs beyond single operations: unpacking, tuples and
lists of active values, 0-d arrays, values passed where they do not matter."""

from __future__ import annotations

import numpy as np
import pytest

from s2s import check, differentiate

SOURCE = """
import numpy as np
import s2s.runtime

def unpack_array(a):
    p, q = a
    return np.sin(p) * q

def tuple_variable(a):
    t = (a, 2.0 * a)
    p, q = t
    return p * q

def swap(a, b):
    a, b = b, a * b
    return a - b

def nested_list(x, y):
    return np.linalg.det([[x, y], [y, 2.0]])

def list_in_ufunc(x, y):
    return np.sum(np.maximum(x, [y, 1.0]))

def shape_only(a, w):
    h = a * 2.0
    return np.full_like(h, w) * w

def zero_d(a):
    return a.astype(float) * a[()]

def sum_with_start(a, t):
    return sum([a, a * t], t) * t

def chained_callees(x):
    return outer(x) + 1.0

def outer(v):
    return inner(v * 2.0) * v

def inner(u):
    return np.sum(np.tanh(u))

def methods(a, b):
    c = a.T.reshape(2, 3).ravel().copy()
    return a.sum() * a.mean(axis=0).max() + a.prod() * a.min() + c.dot(b) + (a.dot(a.T)).sum()

def numpy_scalars(a, s):
    return np.float64(2.0) * a * s + np.float32(0.5) * s ** 2

def through_a_helper(a):
    return s2s.runtime.unbroadcast(a * 2.0, 1.0)
"""


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    from conftest import write_module

    return write_module(tmp_path_factory.mktemp("constructs"), SOURCE, "s2s_construct_cases")


CASES = [
    ("unpack_array", (np.array([0.3, 0.7]),), "a"),
    ("tuple_variable", (0.5,), "a"),
    ("swap", (0.5, 1.5), ("a", "b")),
    ("nested_list", (1.5, 0.7), ("x", "y")),
    ("list_in_ufunc", (1.5, 0.7), ("x", "y")),
    ("shape_only", (np.ones(3), 0.7), ("a", "w")),
    ("zero_d", (np.array(1.5),), "a"),
    ("sum_with_start", (np.array([0.3, 0.5]), 0.7), ("a", "t")),
    ("chained_callees", (np.array([0.1, -0.4, 0.8]),), "x"),
    ("methods", (np.linspace(0.5, 1.5, 6).reshape(3, 2), np.linspace(-1.0, 1.0, 6)), ("a", "b")),
    ("numpy_scalars", (np.array([0.5, 1.5]), np.float64(0.7)), ("a", "s")),
]


@pytest.mark.parametrize("name, args, wrt", CASES, ids=[c[0] for c in CASES])
def test_construct(mod, name, args, wrt):
    check(getattr(mod, name), *args, wrt=wrt)


def test_zero_d_arrays_keep_their_kind(mod):
    value = differentiate(mod.zero_d, wrt="a", mode="forward").derivative(np.array(1.5))
    assert float(value) == pytest.approx(3.0)


def test_runtime_helpers_are_not_differentiated_through():
    """Generated code calls runtime helpers; a derivative must never flow
    through one as if it were constant."""
    from s2s.dag import NotDifferentiable, active_nodes
    from s2s.expr import Graph
    from s2s.rules import shape_of

    graph = Graph(shape_of)
    a = graph.var("a", frozenset({"a"}))
    root = graph.call("rt.xlogy", graph.op("mul", (graph.const(2.0), a)), 1.0)
    with pytest.raises(NotDifferentiable, match="no derivative rule for rt.xlogy"):
        active_nodes(graph, root, {"a"}.__contains__)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_helpers_with_rules_are_differentiated_by_them(mod, mode):
    # generated code is differentiated again for Hessians: summing to a shape is linear
    assert differentiate(mod.through_a_helper, wrt="a", mode=mode).derivative(0.5) == pytest.approx(2.0)
    check(mod.through_a_helper, np.array([0.5, -1.0]), wrt="a")
