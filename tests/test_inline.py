"""Callees inlined into the derivative-only entries (``f_tangent``,
``f_gradient``): the code they become, the user names they borrow from a
callee's scope, when they stay calls, and that every derivative through
them matches central finite differences."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from s2s import check, differentiate
from s2s.inline import _propagate_copies

CLOSURES = """
import numpy as np


def make(n):
    x = np.linspace(-2.0, 2.0, n)

    def f(m):
        return np.exp(-1.5 * (x - m) ** 2)

    def rs(d, xs):
        d0 = f(xs)
        return d - np.sum(d * d0) / np.sum(d0 * d0) * d0

    def rs_scalar(d, xs):
        return np.sum(rs(d, xs) ** 2)

    def move(to):
        nonlocal x
        x = to

    return rs, rs_scalar, move
"""

GLOBALS = """
import numpy as np
from other import shifted

c = 0.5


def g(m):
    return np.sin(c * m)


def local_c(m):
    c = 2.0 * m
    return c * g(m)


def twice(m):
    return g(m) * g(2.0 * m)


def across(m):
    return np.sum(shifted(m) ** 2)


def chain(m):
    return twice(g(m))
"""

OTHER = """
import numpy as np

c = 3.0


def shifted(m):
    return np.cos(m + c)
"""


@pytest.fixture
def closures(make_module):
    return make_module(CLOSURES)


@pytest.fixture
def globals_module(make_module):
    make_module(OTHER, "other")
    yield make_module(GLOBALS)
    sys.modules.pop("other", None)


def _entry(g, role: str) -> ast.FunctionDef:
    """The derivative-only entry function ``role`` of ``g``'s module."""
    loaded = g._load(g.mode)
    name = loaded.info.entry[role]
    return next(f for f in ast.parse(loaded.source).body if isinstance(f, ast.FunctionDef) and f.name == name)


def _called(tree: ast.FunctionDef) -> set[str]:
    return {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}


SHAPES = {
    "scalar": lambda n: 0.7,
    "vector": lambda n: np.linspace(0.1, 1.2, n),
    "matrix": lambda n: np.linspace(0.1, 1.2, 3 * n).reshape(3, n),  # broadcasts against the grid
}


@pytest.mark.parametrize("shape", SHAPES)
def test_closures_inline_and_match_differences(closures, shape):
    rs, rs_scalar, _ = closures.make(7)
    d = SHAPES[shape](7)
    check(rs, d, 0.3, wrt="xs")
    check(rs, d, 0.3, wrt="d")
    check(rs_scalar, d, 0.3, wrt=("d", "xs"))


def test_the_tangent_entry_reads_the_callee_inline(closures):
    rs, _, _ = closures.make(5)
    g = differentiate(rs, wrt="xs", mode="forward")
    g.derivative(np.ones(5), 0.3)
    tangent = _entry(g, "tangent")
    assert not _called(tangent) & {"f_jvp"}
    text = ast.unparse(tangent)
    assert "d0 = np.exp(" in text and "x - xs" in text  # the callee's body, its parameter replaced by the argument
    assert g._load("forward").info.borrowed == {tangent.name: {"x": ("f_jvp", "closure")}}


def test_the_gradient_entry_reads_both_sweeps_of_the_callee_inline(closures):
    _, rs_scalar, _ = closures.make(5)
    g = differentiate(rs_scalar, wrt="d", mode="reverse")
    g.grad(np.ones(5), 0.3)
    gradient = _entry(g, "gradient")
    assert not _called(gradient) & {"rs_forward", "rs_backward"}
    text = ast.unparse(gradient)
    assert "saved" not in text  # the saved tuple and its unpacking are gone
    assert "d0 = f(xs)" in text  # the user's own names
    assert g._load("reverse").info.borrowed == {gradient.name: {"f": ("rs_forward", "closure")}}


def test_a_rebound_closure_variable_is_seen_through_the_borrowed_cell(closures):
    rs, rs_scalar, move = closures.make(5)
    d = np.linspace(0.1, 1.0, 5)
    forward = differentiate(rs, wrt="xs", mode="forward")
    reverse = differentiate(rs_scalar, wrt="d", mode="reverse")
    forward.derivative(d, 0.3)
    reverse.grad(d, 0.3)
    move(np.linspace(-1.0, 3.0, 5))
    check(rs, d, 0.3, wrt="xs")
    np.testing.assert_allclose(forward.derivative(d, 0.3), differentiate(rs, wrt="xs", mode="reverse").derivative(d, 0.3), rtol=1e-12)
    np.testing.assert_allclose(reverse.grad(d, 0.3), differentiate(rs_scalar, wrt="d", mode="forward").derivative(d, 0.3), rtol=1e-10)


def test_a_hessian_differentiates_the_inlined_gradient(closures):
    _, rs_scalar, _ = closures.make(6)
    d = np.linspace(0.1, 1.0, 6)
    g = differentiate(rs_scalar, wrt="d")
    hessian = g.hessian(d, 0.3)
    h = 1e-5
    columns = [(g.grad(d + h * e, 0.3) - g.grad(d - h * e, 0.3)) / (2 * h) for e in np.eye(6)]
    np.testing.assert_allclose(hessian, np.array(columns).T, rtol=1e-6, atol=1e-8)


def test_a_module_global_is_borrowed_from_the_same_module(globals_module):
    g = differentiate(globals_module.twice, wrt="m", mode="forward")
    m = np.linspace(0.1, 1.0, 4)
    check(globals_module.twice, m, wrt="m")
    assert not _called(_entry(g, "tangent")) & {"g_jvp"}
    globals_module.c = 0.25  # read on each call, as the primal reads it
    check(globals_module.twice, m, wrt="m")
    np.testing.assert_allclose(g.derivative(m), differentiate(globals_module.twice, wrt="m", mode="reverse").derivative(m), rtol=1e-12)


def test_a_callee_whose_global_the_entry_binds_stays_a_call(globals_module):
    g = differentiate(globals_module.local_c, wrt="m", mode="forward")
    g.derivative(0.4)
    assert "g_jvp" in _called(_entry(g, "tangent"))  # c is a local of local_c, a global of g
    check(globals_module.local_c, 0.4, wrt="m")
    check(globals_module.local_c, np.linspace(0.1, 1.0, 3), wrt="m")


def test_a_callee_of_another_module_that_reads_its_globals_stays_a_call(globals_module):
    g = differentiate(globals_module.across, wrt="m", mode="reverse")
    m = np.linspace(0.1, 1.0, 4)
    g.grad(m)
    assert "shifted_forward" in _called(_entry(g, "gradient"))
    check(globals_module.across, m, wrt="m")
    sys.modules["other"].c = -1.0
    check(globals_module.across, m, wrt="m")


def test_callees_of_callees_inline_in_turn(globals_module):
    g = differentiate(globals_module.chain, wrt="m", mode="forward")
    g.derivative(0.3)
    assert not _called(_entry(g, "tangent")) & {"g_jvp", "twice_jvp"}
    check(globals_module.chain, 0.3, wrt="m")
    check(globals_module.chain, np.linspace(0.1, 1.0, 3), wrt="m")


RUN = """
import json, sys
import numpy as np
from s2s import differentiate
import user
rs, rs_scalar, move = user.make(5)
d = np.linspace(0.1, 1.0, 5)
gradient = differentiate(rs_scalar, wrt="d", mode="reverse").grad(d, 0.3)
tangent = differentiate(rs, wrt="xs", mode="forward").derivative(d, 0.3)
print(json.dumps({"generated": "s2s.generate" in sys.modules, "gradient": gradient.tolist(), "tangent": tangent.tolist()}))
"""


def test_a_second_process_binds_the_borrowed_cells_from_the_cache(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "user.py").write_text(CLOSURES)
    env = dict(os.environ, S2S_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(code))
    runs = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", RUN], env=env, cwd=code, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        runs.append(json.loads(done.stdout))
    assert runs[0]["generated"] and not runs[1]["generated"]
    assert runs[0]["gradient"] == runs[1]["gradient"] and runs[0]["tangent"] == runs[1]["tangent"]


# --------------------------------------------------------------------------
# the copies inlining leaves


def _propagated(source: str, params: list[str], fresh: dict[str, int]) -> str:
    body = ast.parse(source).body
    return ast.unparse(ast.fix_missing_locations(ast.Module(_propagate_copies(body, params, fresh), [])))


def test_a_bound_parameter_becomes_its_argument():
    assert _propagated("m = xs\nt = x - m\nreturn t", ["xs"], {"m": 1, "t": 1}) == "t = x - xs\nreturn t"


def test_a_returned_value_takes_the_name_of_its_target():
    assert _propagated("out = np.exp(a)\nd0 = out\nreturn d0 + out", ["a"], {"out": 1}) == "d0 = np.exp(a)\nreturn d0 + d0"


def test_saved_values_are_unpacked_into_the_names_that_made_them():
    source = "d0 = f(a)\nsaved = (d0, 2.0)\nsaved1 = saved\nd1, s = saved1\nreturn d1 * s"
    assert _propagated(source, ["a"], {"d0": 1, "saved1": 1, "d1": 1, "s": 1}) == "d0 = f(a)\nsaved = (d0, 2.0)\ns = 2.0\nreturn d0 * s"


def test_a_copy_of_a_name_bound_again_is_kept():
    source = "b = a\nc = b\nb = b + 1.0\nreturn c + b"
    assert _propagated(source, ["a"], {"b": 1, "c": 1}) == "b = a\nc = b\nb = b + 1.0\nreturn c + b"


def test_a_copy_inside_a_loop_is_kept():
    source = "t = a\nfor i in range(3):\n    u = t\n    t = u * a\nreturn t"
    assert _propagated(source, ["a"], {"u": 1}) == source
