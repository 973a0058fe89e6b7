"""Runs of elementwise statements and reductions fused into one loop (the
numba backend): which statements make a run, what it reads and gives back;
the loop its kernel compiles to for each kind of argument, and its results
against numba's own code for the statements; derivatives through fused
code against the numpy backend and central finite differences."""

from __future__ import annotations

import ast
import re
import textwrap
import warnings

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from numba import types  # noqa: E402

from s2s import differentiate  # noqa: E402
from s2s.backends.numba_fuse import find_runs, fuse_runs, verify_fused  # noqa: E402
from s2s.backends.numba_runs import fused_run, parse_run, run_source  # noqa: E402
from s2s.backends.numba_runtime import exp_ufunc  # noqa: E402
from s2s.check import finite_difference, relative_error  # noqa: E402
from s2s.errors import S2SWarning  # noqa: E402

from conftest import write_module  # noqa: E402

# --------------------------------------------------------------------------
# Which statements make a run


def dumps(source: str) -> list[str]:
    """Each run's dump; and fusing them leaves no run (``verify_fused``)."""
    fused_text(source)
    return [run.dump() for run in find_runs(ast.parse(textwrap.dedent(source)).body[0], {"np"})]


def fused_text(source: str) -> str:
    """The function with each run replaced by a call of ``run<k>``."""
    tree = ast.parse(textwrap.dedent(source)).body[0]
    count = iter(range(1, 100))
    fused = fuse_runs(tree, {"np"}, lambda run: f"run{next(count)}")
    verify_fused(fused, {"np"})
    return ast.unparse(fused)


SEED_TANGENT = """
def rs_tangent(d, x, m, m_dot):
    t1 = x - m
    out = np.exp(-1.5 * t1 ** 2)
    out_dot = 3.0 * m_dot * t1 * out
    sum1 = np.sum(d * out)
    sum1_dot = sum_product(d, out_dot)
    sum2 = np.sum(out * out)
    sum2_dot = 2 * sum_product(out, out_dot)
    t2 = sum1 / sum2
    out_dot2 = -(sum1_dot / sum2 - t2 * sum2_dot / sum2) * out - t2 * out_dot
    return broadcast_to_operands(out_dot2, d, t2, out)
"""


def test_a_statement_reading_a_reduction_of_the_run_starts_the_next_one():
    assert dumps(SEED_TANGENT) == [
        "t1, out, out_dot, sum1, sum1_dot, sum2, sum2_dot | in: x, m, m_dot, d | out: out, out_dot, sum1, sum1_dot, sum2, sum2_dot",
        "t2, out_dot2 | in: sum1, sum2, sum1_dot, sum2_dot, out, out_dot | out: t2, out_dot2",
    ]
    assert fused_text(SEED_TANGENT).splitlines()[1:] == [
        "    out, out_dot, sum1, sum1_dot, sum2, sum2_dot = run1(x, m, m_dot, d)",
        "    t2, out_dot2 = run2(sum1, sum2, sum1_dot, sum2_dot, out, out_dot)",
        "    return broadcast_to_operands(out_dot2, d, t2, out)",
    ]


def test_an_independent_statement_without_effects_moves_ahead_of_the_run():
    source = """
    def f(d, d0):
        sum1 = np.sum(d * d0)
        d_shape = shape_of(d)
        sum2 = np.sum(d0 * d0)
        out = d - sum1 / sum2 * d0
        return out, d_shape
    """
    assert dumps(source) == ["sum1, sum2 | in: d, d0 | out: sum1, sum2 | moved: d_shape"]
    assert fused_text(source).splitlines()[1:3] == ["    d_shape = shape_of(d)", "    sum1, sum2 = run1(d, d0)"]


@pytest.mark.parametrize(
    "between, expected",
    [
        ("g(a)", ["a, b | in: x | out: a, b", "c, e | in: x, b | out: e"]),  # a call that may do anything ends the run
        ("n = shape_of(a)", ["a, b | in: x | out: a, b", "c, e | in: x, b | out: e"]),  # reads what the run sets
        ("x = shape_of(y)", ["a, b | in: x | out: b", "c, e | in: x, b | out: e"]),  # sets what the run reads
        ("n = len(y)", ["a, b, c, e | in: x | out: e | moved: n"]),
    ],
)
def test_what_ends_a_run(between, expected):
    source = f"""
    def f(x, y):
        a = x * 2.0
        b = np.sin(a) + a
        {between}
        c = x - 1.0
        e = b * c
        return e, n
    """
    assert dumps(source) == expected


def test_a_statement_left_after_a_run_keeps_its_place():
    source = """
    def f(x):
        a = x * 2.0
        b = a + 1.0
        n = shape_of(x)
        c = g(b)
        return c, n
    """
    assert dumps(source) == ["a, b | in: x | out: b"]
    assert fused_text(source).splitlines()[1:3] == ["    b = run1(x)", "    n = shape_of(x)"]


def test_runs_in_a_loop_give_back_what_the_next_iteration_reads():
    source = """
    def f(u, nu, n):
        total = 0.0
        for k in range(n):
            v = np.tanh(u) * nu
            w = u - v * v
            s = np.sum(w * w)
            total = total + s
            u = w + nu
        return total * u
    """
    # v is read inside its run only; total is read by its own run on the next iteration
    assert dumps(source) == ["v, w, s | in: u, nu | out: w, s", "total, u | in: total, s, w, nu | out: total, u"]


def test_a_run_in_a_loop_whose_output_is_read_after_the_loop():
    source = """
    def f(u0, c, n):
        q = u0
        for k in range(n):
            p = u0 * c + k
            q = np.sin(p) * c
        return np.sum(q * u0)
    """
    assert dumps(source) == ["p, q | in: u0, c, k | out: q"]


def test_runs_in_branches():
    source = """
    def f(x, flag):
        if flag:
            a = x * 2.0
            b = a + 1.0
        else:
            a = x * 3.0
            b = a - 1.0
            c = b * b
        return b
    """
    assert dumps(source) == ["a, b | in: x | out: b", "a, b, c | in: x | out: b"]


@pytest.mark.parametrize(
    "body, expected",
    [
        ("r = np.sum(a * b) / np.sum(b * b)", ["r | in: a, b | out: r"]),  # two reductions: one loop
        ("r = np.sum(a * b)", []),  # one statement: left to the one-reduction kernel
        ("r = a * np.exp(b)", []),  # one statement: left to numba
        ("t = a * b\n    r = t", []),  # an alias is no computation
        ("t = a * b\n    r = np.sum(t, axis=0)", []),  # a reduction of an axis is no sum of all elements
        ("np = a\n    t = np.exp(a) * b\n    r = np.exp(t)", []),  # a local np is not numpy
        # s is not summed yet in its own run; t is recomputed in the next, which then is worth a loop
        ("t = a ** 2\n    s = np.sum(t)\n    r = np.sum(s * t)", ["t, s | in: a | out: s", "t, r | in: a, s | out: r"]),
        ("t = np.exp(a)\n    s = np.sum(t)\n    r = np.sum(s * t)", ["t, s | in: a | out: t, s"]),  # exp is stored, not recomputed
    ],
)
def test_which_statements_make_a_run(body, expected):
    assert dumps(f"def f(a, b):\n    {body}\n    return r") == expected


SEED_GRADIENT = """
def rs_scalar_gradient(d, d0, out_bar):
    sum1 = np.sum(d * d0)
    d_shape = shape_of(d)
    sum2 = np.sum(d0 * d0)
    rs1 = d - sum1 / sum2 * d0
    rs1_bar = 2 * out_bar * rs1
    sum1_bar = -sum_product(d0, rs1_bar) / sum2
    d_bar = sum_to_shape(rs1_bar, d_shape)
    d_bar = d_bar + sum_to_shape(sum1_bar * d0, d_shape)
    return d_bar
"""


def test_identities_join_runs_and_cheap_arrays_are_recomputed_not_stored():
    """The seed's gradient: sum_to_shape is an elementwise identity; the
    second run's d_bar, read by the third run only, is recomputed there."""
    assert dumps(SEED_GRADIENT) == [
        "sum1, sum2 | in: d, d0 | out: sum1, sum2 | moved: d_shape",
        "rs1, rs1_bar, sum1_bar, d_bar | in: d, sum1, sum2, d0, out_bar, d_shape | out: sum1_bar",
        "rs1, rs1_bar, d_bar, d_bar | in: d, sum1, sum2, d0, out_bar, d_shape, sum1_bar | out: d_bar",
    ]


@pytest.mark.parametrize(
    "call, joins",
    [
        ("sum_to_shape(a * b, s)", True),
        ("unbroadcast(a * b, a)", True),
        ("broadcast_like(a * b, a)", True),
        ("broadcast_like(a * b, like=a)", False),
        ("broadcast_to_operands(a * b, a, b)", True),
        ("sum_to_shape(a * b, shape_of(a))", False),  # a shape computed in the run
        ("sum_to_shape(a * b, s, 1)", False),
        ("unbroadcast(a * b, like=a)", False),
    ],
)
def test_which_identities_join_a_run(call, joins):
    source = f"def f(a, b, s):\n    t = a + b\n    r = {call} + t\n    return r"
    assert dumps(source) == (["t, r | in: a, b" + (", s" if "s)" in call and "shape_of" not in call else "") + " | out: r"] if joins else [])


@pytest.mark.parametrize(
    "first, recomputed",
    [
        ("u = 2.0 * x - x * x / c", True),  # cost 1 + 1 + 1 + 4 = 7
        ("u = np.exp(x) * c", False),  # exp is never recomputed
        ("u = x ** 3 - c", False),
        ("u = (x - c) / c / c + x * c", False),  # cost 11
    ],
)
def test_what_is_cheap_enough_to_recompute(first, recomputed):
    source = f"""
    def f(x, c):
        {first}
        s = np.sum(u * x) + np.sum(u)
        v = u * s
        w = v + x
        return w, s
    """
    runs = dumps(source)
    assert runs[0].endswith("out: s" if recomputed else "out: u, s")
    assert runs[1].startswith("u, v, w | " if recomputed else "v, w | ")


@pytest.mark.parametrize(
    "rest, stored",
    [
        ("v = u * s; w = v + x; return w, s", False),
        ("v = u * s; w = v + x; return w, s, u", True),  # returned
        ("v = u * s; w = v + x; z = g(u); return w, s, z", True),  # read by a statement that is no run
        ("x = g(c); v = u * s; w = v + x; return w, s", True),  # an input of the recomputation rebound in between
        ("v = u * s; w = v + x; u = w * w; return u, s", False),  # the later run sets it again
    ],
)
def test_what_stays_stored(rest, stored):
    body = "\n    ".join(["u = x * c + 1.0", "s = np.sum(u * x) + np.sum(u)", *rest.split("; ")])
    first = dumps(f"def f(x, c):\n    {body}")[0]
    assert first.startswith("u, s | ") and ("u" in first.split("out: ")[1].split(", ")) == stored


# --------------------------------------------------------------------------
# The kernel's implementation, for each kind of argument

F64 = types.Array(types.float64, 1, "C")
F32 = types.Array(types.float32, 1, "C")
SEED_RUN = (
    ("t1 = x - m", "out = np.exp(-1.5 * t1 ** 2)", "out_dot = 3.0 * m_dot * t1 * out", "sum1 = np.sum(d * out)", "sum1_dot = sum_product(d, out_dot)",
     "sum2 = np.sum(out * out)", "sum2_dot = 2 * sum_product(out, out_dot)"),
    ("x", "m", "m_dot", "d"),
)


def allocations(source: str) -> list[str]:
    """The arrays the fused loop stores (the rest are elements in registers)."""
    return re.findall(r"(\w+) = np\.empty\(", source)


def test_the_loop_allocates_only_the_arrays_read_after_the_run():
    statements, inputs = SEED_RUN
    source = run_source(statements, inputs, ("out_dot", "sum1", "sum1_dot", "sum2", "sum2_dot"), F64, types.float64, types.float64, F64)
    assert allocations(source) == ["v2_out_dot"]
    assert "e_v0_t1 = in_x[i] - in_m" in source and "_s2s_exp(" in source
    assert source.count("lanes") > 0 and "np.sum(in_d * v1_out)" in source  # the partial sums; the statements as written when shapes differ
    source = run_source(statements, inputs, ("out", "out_dot", "sum1"), F64, types.float64, types.int64, F64)
    assert allocations(source) == ["v1_out", "v2_out_dot"]


def test_scalars_are_computed_once_before_the_loop():
    source = run_source(("c = 2.0 * s + 1", "y = c * x", "z = y * y"), ("s", "x"), ("z",), types.float64, F64)
    assert source.index("v0_c = 2.0 * in_s + 1") < source.index("if ") < source.index("e_v1_y = v0_c * in_x[i]")
    assert allocations(source) == ["v2_z"]


@pytest.mark.parametrize(
    "args",
    [
        (types.float64, types.float64, types.float64, types.float64),  # no array
        (types.Array(types.int64, 1, "C"), types.float64, types.float64, types.Array(types.int64, 1, "C")),
        (types.Array(types.complex128, 1, "C"), types.float64, types.float64, F64),
        (F64, types.complex128, types.float64, F64),
        (F64, types.float64, types.float64, F32),  # mixed dtypes
        (F64, types.float64, types.float64, types.Array(types.float64, 2, "C")),  # mixed ranks
        (types.Array(types.float64, 0, "C"), types.float64, types.float64, types.Array(types.float64, 0, "C")),
        (types.Array(types.float64, 2, "A"), types.float64, types.float64, types.Array(types.float64, 2, "C")),  # not contiguous
    ],
)
def test_other_types_run_the_statements_as_written(args):
    statements, inputs = SEED_RUN
    source = run_source(statements, inputs, ("out_dot", "sum2"), *args)
    assert " for " not in source and "if " not in source
    assert "v1_out = _s2s_exp(-1.5 * v0_t1 ** 2)" in source


def test_arrays_of_more_dimensions_are_read_through_flat_views():
    statements, inputs = SEED_RUN
    matrix = types.Array(types.float64, 2, "C")
    source = run_source(statements, inputs, ("out_dot", "sum2"), matrix, types.float64, types.float64, matrix)
    assert "flat_in_x = in_x.ravel()" in source and "flat_v2_out_dot[i] = e_v2_out_dot" in source
    assert "v2_out_dot = np.empty(in_x.shape, np.float64)" in source
    # 1-d arrays need no contiguity
    source = run_source(statements, inputs, ("out_dot",), types.Array(types.float64, 1, "A"), types.float64, types.float64, F64)
    assert "in_x[i]" in source


def test_float32_elements_are_rounded_as_numba_stores_them():
    source = run_source(("t = x * y", "u = t / 3", "s = np.sum(u)"), ("x", "y"), ("u", "s"), F32, F32)
    # numba computes x[i] * y[i] / 3 in float64 (an int divisor) and stores float32
    assert "e_v1_u = np.float32(e_v0_t / 3)" in source and "v1_u = np.empty(in_x.shape, np.float32)" in source
    assert "v2_s = np.float32(acc0)" in source


def test_parallel_and_fastmath_loops():
    statements, inputs = SEED_RUN
    parallel = run_source(statements, inputs, ("out_dot", "sum2"), F64, types.float64, types.float64, F64, parallel=True)
    assert "for i in prange(n):" in parallel and "acc3 += " in parallel and "lanes" not in parallel
    fast = run_source(statements, inputs, ("out_dot", "sum2"), F64, types.float64, types.float64, F64, fastmath=True)
    assert "for i in range(n):" in fast and "lanes" not in fast


def test_a_run_reading_its_own_reduction_is_refused():
    with pytest.raises(ValueError, match="reads a reduction of its run"):
        parse_run(("s = np.sum(x)", "y = x * s"), ("x",), ("y",))


# --------------------------------------------------------------------------
# The kernel's results against numba's code for the statements

RUN = ("t = x * y - m", "u = t / 3", "v = np.exp(-u * u) + np.sqrt(np.abs(u)) * m", "s = np.sum(v * x)", "p = 2 * sum_product(u, v)")
_s2s_exp = exp_ufunc()


def _as_written(x, y, m):
    t = x * y - m
    u = t / 3
    v = _s2s_exp(-u * u) + np.sqrt(np.abs(u)) * m
    return u, v, np.sum(v * x), 2 * np.sum(u * v)


as_written = numba.njit(_as_written)


@pytest.fixture(scope="module")
def kernels():
    """The run compiled as is, with ``parallel``, and with ``fastmath``."""
    run = fused_run("_s2s_test_run", RUN, ("x", "y", "m"), ("u", "v", "s", "p"))
    parallel = fused_run("_s2s_test_run_parallel", RUN, ("x", "y", "m"), ("u", "v", "s", "p"), parallel=True)
    fast = fused_run("_s2s_test_run_fast", RUN, ("x", "y", "m"), ("u", "v", "s", "p"), fastmath=True)
    return (
        numba.njit(lambda x, y, m: run(x, y, m)),
        numba.njit(parallel=True)(lambda x, y, m: parallel(x, y, m)),
        numba.njit(fastmath=True)(lambda x, y, m: fast(x, y, m)),
    )


def check_run(found, expected, exact: bool = True, tolerance: float = 1e-13):
    """Arrays equal to numba's bit for bit (``exact``), of the same dtype;
    sums equal but for the order of summation."""
    for f, e in zip(found[:2], expected[:2], strict=True):
        assert f.dtype == e.dtype and f.shape == e.shape
        assert np.array_equal(f, e) if exact else np.allclose(f, e, rtol=1e-15, atol=0)
    for f, e in zip(found[2:], expected[2:], strict=True):
        assert abs(f - e) <= tolerance * np.sum(np.abs(expected[1] * expected[0])) + 1e-300


@pytest.mark.parametrize("dtype, m", [(np.float64, 0.3), (np.float64, 2), (np.float32, 0.3), (np.float32, np.float32(0.7))])
@pytest.mark.parametrize("n", [1, 63, 64, 1000])  # the last block of 64 partial, full, or the only one
def test_the_loop_computes_what_numba_computes(kernels, dtype, m, n):
    x = np.linspace(-3.0, 3.0, n).astype(dtype)
    y = np.cos(x)
    fused, parallel, fast = kernels
    expected = as_written(x, y, m)
    tolerance = 1e-13 if dtype == np.float64 else 1e-6
    check_run(fused(x, y, m), expected, tolerance=tolerance)
    check_run(parallel(x, y, m), expected, exact=False, tolerance=tolerance)
    found = fast(x, y, m)  # contracted and reordered arithmetic: close, not equal
    assert all(np.allclose(f, e, rtol=1e-12 if dtype == np.float64 else 1e-5, atol=1e-12) for f, e in zip(found, expected, strict=True))


def test_a_sum_of_scalars_in_a_run_is_the_scalar():
    run = fused_run("_s2s_test_scalar_sum", ("y = x * c", "s = np.sum(c * 2.0) + np.sum(y)"), ("x", "c"), ("y", "s"))
    x = np.linspace(0.0, 1.0, 101)
    y, s = numba.njit(lambda x, c: run(x, c))(x, 1.5)
    assert np.array_equal(y, x * 1.5) and s == pytest.approx(3.0 + np.sum(x * 1.5), rel=1e-14)


@pytest.mark.parametrize(
    "x, y",
    [
        (np.linspace(-1.0, 1.0, 7), np.array([0.5])),  # broadcasting a length-1 array
        (np.linspace(-1.0, 1.0, 12).reshape(3, 4), np.linspace(0.0, 2.0, 12).reshape(3, 4)),
        (np.linspace(-1.0, 1.0, 12).reshape(3, 4), np.linspace(0.0, 2.0, 4)),  # mixed ranks
        (np.linspace(-1.0, 1.0, 12).reshape(4, 3).T, np.linspace(0.0, 2.0, 12).reshape(3, 4)),  # not contiguous
        (np.arange(6), np.arange(6) + 1),  # integers
        (np.linspace(-1.0, 1.0, 5) + 0.5j, np.linspace(0.0, 2.0, 5)),  # complex
    ],
)
def test_other_shapes_and_types_give_what_numba_gives(kernels, x, y):
    found, expected = kernels[0](x, y, 0.25), as_written(x, y, 0.25)
    check_run(found, expected, exact=x.ndim == 1 and x.dtype.kind == "f")


# --------------------------------------------------------------------------
# Derivatives through fused code

USER_CODE = """
import numpy as np

x = np.linspace(-10.0, 10.0, 21)


def rs(d, xs):
    d0 = np.exp(-1.5 * (x - xs) ** 2)
    return d - np.sum(d * d0) / np.sum(d0 * d0) * d0


def rs_scalar(d, xs):
    d0 = np.exp(-1.5 * (x - xs) ** 2)
    r = d - np.sum(d * d0) / np.sum(d0 * d0) * d0
    return np.sum(r ** 2)


def rs_scalar_of_rs(d, xs):
    return np.sum(rs(d, xs) ** 2)


def chain(a, b):
    t = np.sin(a) * b + 0.5
    u = np.exp(-t * t) / (1.0 + b * b)
    return np.sum(u * a) * u + np.sum(t * t) * a


def chain_scalar(a, b):
    return np.sum(chain(a, b) ** 2)


def in_loop(u0, nu, steps):
    u = u0
    total = 0.0
    for k in range(steps):
        v = np.tanh(u) * nu
        w = u - v * v
        total = total + np.sum(w * w)
        u = w + nu
    return total * np.sum(u * u)


def last_value(u0, c, steps):
    q = u0
    for k in range(steps):
        p = u0 * c + k
        q = np.sin(p) * c
    return np.sum(q * u0)
"""


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    return write_module(tmp_path_factory.mktemp("fuse_user"), USER_CODE, "s2s_numba_fuse_user")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuse_cache")


def both(user, cache_dir, name: str, wrt, mode: str):
    fn = getattr(user, name)
    return differentiate(fn, wrt=wrt, mode=mode, cache_dir=cache_dir), differentiate(fn, wrt=wrt, mode=mode, cache_dir=cache_dir, backend="numba")


def compiled_text(g, mode: str) -> str:
    """The numba module ``g`` compiled (it has been called), with no fallback."""
    stats = g.compile_stats()[mode]
    assert stats["fallback"] is None
    with open(stats["path"]) as file:
        return file.read()


def runs_of(text: str) -> list[tuple]:
    """The arguments (name, statements, inputs, outputs) of each run kernel."""
    calls = [node for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_s2s_fused_run"]
    return [tuple(ast.literal_eval(a) for a in call.args) for call in calls]


def assert_derivative(found, numpy_result, fd, fd_tolerance=1e-6, tolerance=1e-12):
    assert relative_error(found, numpy_result) < tolerance
    assert relative_error(found, fd) < fd_tolerance


@pytest.fixture(scope="module")
def d(user):
    return 2.5 * np.exp(-1.5 * (user.x - 0.7) ** 2) + 0.01 * np.random.default_rng(0).standard_normal(user.x.size)


def test_the_seed_forward_is_two_runs(user, cache_dir, d):
    """d rs / d xs with f written inline: the seven statements before
    ``t2 = sum1 / sum2`` are one loop, which stores ``d0`` and ``d0_dot`` only."""
    numpy_g, numba_g = both(user, cache_dir, "rs", "xs", "forward")
    with warnings.catch_warnings():
        warnings.simplefilter("error", S2SWarning)
        found = numba_g.derivative(d, 0.3)
    assert_derivative(found, numpy_g.derivative(d, 0.3), finite_difference(user.rs, (d, 0.3), 1))
    text = compiled_text(numba_g, "forward")
    tangent = text[text.index("def rs_tangent(") :]
    calls = re.findall(r"= (_s2s_run\d+)\(", tangent)
    assert len(calls) == 2 and "np.sum" not in tangent and "_s2s_sum" not in tangent
    name, statements, inputs, outputs = next(r for r in runs_of(text) if r[0] == calls[0])
    assert len(statements) == 7 and statements[-1] == "sum2_dot = 2 * sum_product(d0, d0_dot)"
    scalars = {"xs", "xs_dot"}  # the rest are arrays: d, and the grid x (passed in as a parameter)
    source = run_source(statements, inputs, outputs, *(types.float64 if i in scalars else F64 for i in inputs))
    assert sorted(allocations(source)) == ["v1_d0", "v2_d0_dot"]  # not t1 = x - xs


@pytest.mark.parametrize("name, wrt, mode", [("rs_scalar", "xs", "forward"), ("rs_scalar", "d", "reverse"), ("rs", "d", "reverse")])
def test_the_seeds_other_tasks(user, cache_dir, d, name, wrt, mode):
    numpy_g, numba_g = both(user, cache_dir, name, wrt, mode)
    index = ("d", "xs").index(wrt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if name == "rs" else "error", S2SWarning)  # a Jacobian takes the vector code
        for _ in range(2):
            found = numba_g.derivative(d, 0.3)
    assert_derivative(found, numpy_g.derivative(d, 0.3), finite_difference(getattr(user, name), (d, 0.3), index))
    assert runs_of(compiled_text(numba_g, mode))


ARGUMENTS = {
    "scalars": (0.4, 1.7),
    "vectors": (np.linspace(-1.0, 1.5, 9), np.linspace(0.5, 2.0, 9)),
    "matrices": (np.linspace(-1.0, 1.5, 12).reshape(3, 4), np.linspace(0.5, 2.0, 12).reshape(3, 4)),
    "length-1 against length-n": (np.linspace(-1.0, 1.5, 9), np.array([0.8])),
    "scalar against array": (0.4, np.linspace(0.5, 2.0, 9)),
    "float32": (np.linspace(-1.0, 1.5, 9, dtype=np.float32), np.linspace(0.5, 2.0, 9, dtype=np.float32)),
}


def as_floats(args: tuple) -> tuple:
    """Float64 copies, for finite differences of float32 code."""
    return tuple(np.asarray(a, dtype=float) if np.ndim(a) else a for a in args)


@pytest.mark.parametrize("case", list(ARGUMENTS))
def test_forward_mode_through_runs(user, cache_dir, case):
    """One tangent (jvp) through ``chain``, whose runs mix scalars and arrays."""
    args = ARGUMENTS[case]
    numpy_g, numba_g = both(user, cache_dir, "chain", ("a", "b"), "forward")
    tangents = [np.cos(np.arange(np.size(a)) + k).reshape(np.shape(a)) for k, a in enumerate(args)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", S2SWarning)
        out, product = numba_g.jvp(args, tangents)
    expected_out, expected = numpy_g.jvp(args, tangents)
    by_fd = sum(np.tensordot(finite_difference(user.chain, as_floats(args), k), t, axes=np.ndim(t)) for k, t in enumerate(tangents))
    tolerance = 1e-5 if case == "float32" else 1e-12
    assert relative_error(out, expected_out) < tolerance
    assert_derivative(product, expected, by_fd, fd_tolerance=1e-5 if case == "float32" else 1e-6, tolerance=tolerance)
    assert runs_of(compiled_text(numba_g, "forward"))


@pytest.mark.parametrize("case", list(ARGUMENTS))
def test_reverse_mode_through_runs(user, cache_dir, case):
    args = ARGUMENTS[case]
    numpy_g, numba_g = both(user, cache_dir, "chain_scalar", ("a", "b"), "reverse")
    with warnings.catch_warnings():
        warnings.simplefilter("error", S2SWarning)
        found = [numba_g.derivative(*args) for _ in range(2)]  # the two sweeps, then the fused gradient
    expected = numpy_g.derivative(*args)
    tolerance = 1e-5 if case == "float32" else 1e-12
    for result in found:
        for k in range(2):
            fd = finite_difference(user.chain_scalar, as_floats(args), k)
            assert_derivative(result[k], expected[k], fd, fd_tolerance=1e-5 if case == "float32" else 1e-6, tolerance=tolerance)
    assert len(runs_of(compiled_text(numba_g, "reverse"))) >= 2


@pytest.mark.parametrize("name, wrt, mode", [("in_loop", "nu", "forward"), ("in_loop", "u0", "reverse"), ("last_value", "c", "forward"), ("last_value", "c", "reverse")])
def test_runs_in_loop_bodies(user, cache_dir, name, wrt, mode):
    u0 = np.linspace(0.1, 0.9, 11)
    args = (u0, 0.3, 4)
    index = ("u0", wrt).index(wrt) if wrt == "u0" else 1
    numpy_g, numba_g = both(user, cache_dir, name, wrt, mode)
    with warnings.catch_warnings():
        warnings.simplefilter("error", S2SWarning)
        found = [numba_g.derivative(*args) for _ in range(2)]
    for result in found:
        assert_derivative(result, numpy_g.derivative(*args), finite_difference(getattr(user, name), args, index))
    text = compiled_text(numba_g, mode)
    loop = text[text.index("    for k in ") :]
    assert re.search(r"^        [\w, ]+ = _s2s_run\d+\(", loop, re.MULTILINE), "a run inside the loop"


def test_the_identity_guard_and_what_the_gradient_stores():
    """The seed's gradient, fused: the sum_to_shape identities run the loop
    only when the target is the arrays' shape; d_bar alone is stored."""
    tree = ast.parse(SEED_GRADIENT).body[0]
    runs = find_runs(tree, {"np"})
    scalar, shape = types.float64, types.UniTuple(types.intp, 1)
    kinds = {"d": F64, "d0": F64, "sum1": scalar, "sum2": scalar, "out_bar": scalar, "d_shape": shape, "sum1_bar": scalar}
    second, third = (run_source(r.texts, r.inputs, r.outputs, *(kinds[i] for i in r.inputs)) for r in runs[1:])
    assert "if in_d0.shape == in_d.shape and in_d_shape == in_d.shape:" in second
    assert allocations(second) == [] and allocations(third) == ["v3_d_bar"]
    assert "e_v1_rs1_bar = 2 * in_out_bar * e_v0_rs1" in third and "e_v3_d_bar = e_v2_d_bar + in_sum1_bar * in_d0[i]" in third
    assert "v3_d_bar = v2_d_bar + sum_to_shape(in_sum1_bar * in_d0, in_d_shape)" in third  # as written, when the guard fails
    # a target of another rank: no identity, the statements as written
    other = run_source(runs[2].texts, runs[2].inputs, runs[2].outputs, *(types.UniTuple(types.intp, 2) if i == "d_shape" else kinds[i] for i in runs[2].inputs))
    assert " for " not in other


D_CASES = {
    "vector": lambda x: 2.5 * np.exp(-1.5 * (x - 0.7) ** 2) + 0.01 * np.cos(np.arange(x.size)),
    "length-1 against the grid": lambda x: np.array([0.8]),
    "scalar": lambda x: 0.8,
    "float32": lambda x: (2.5 * np.exp(-1.5 * (x - 0.7) ** 2)).astype(np.float32),
}


@pytest.mark.parametrize("case", list(D_CASES))
@pytest.mark.parametrize("name, wrt, mode", [("rs_scalar", "d", "reverse"), ("rs_scalar", "xs", "reverse"), ("rs_scalar", "xs", "forward")])
def test_identities_where_shapes_differ(user, cache_dir, case, name, wrt, mode):
    """Through runs with sum_to_shape identities: where d broadcasts against
    the grid, the guard fails and the statements run as written."""
    d = D_CASES[case](user.x)
    numpy_g, numba_g = both(user, cache_dir, name, wrt, mode)
    index = ("d", "xs").index(wrt)
    with warnings.catch_warnings():
        warnings.simplefilter("error", S2SWarning)
        found = [numba_g.derivative(d, 0.3) for _ in range(2)]
    single = case == "float32"
    for result in found:
        assert np.shape(result) == np.shape(numpy_g.derivative(d, 0.3))
        assert_derivative(result, numpy_g.derivative(d, 0.3), finite_difference(getattr(user, name), as_floats((d, 0.3)), index),
                          fd_tolerance=1e-4 if single else 1e-6, tolerance=1e-5 if single else 1e-12)
    runs = runs_of(compiled_text(numba_g, mode))
    assert runs and (wrt != "d" or any(re.search(r"\b(sum_to_shape|unbroadcast)\(", text) for run in runs for text in run[1]))


@pytest.mark.parametrize("case", list(D_CASES))
def test_the_tangent_of_an_inlined_callee_is_summed_in_the_run(user, cache_dir, case):
    """The inlined jvp of rs returns broadcast_like(out_dot, out), an
    identity when d has the grid's shape: the tangent of the output is
    summed in the loop, never stored."""
    d = D_CASES[case](user.x)
    numpy_g, numba_g = both(user, cache_dir, "rs_scalar_of_rs", "xs", "forward")
    with warnings.catch_warnings():
        warnings.simplefilter("error", S2SWarning)
        found = numba_g.derivative(d, 0.3)
    single = case == "float32"
    assert_derivative(found, numpy_g.derivative(d, 0.3), finite_difference(user.rs_scalar_of_rs, as_floats((d, 0.3)), 1),
                      fd_tolerance=1e-4 if single else 1e-6, tolerance=1e-5 if single else 1e-12)
    runs = runs_of(compiled_text(numba_g, "forward"))
    assert any(text.startswith("rs1_dot = broadcast_like(") for run in runs for text in run[1])
    assert not any("rs1_dot" in run[3] for run in runs)  # never stored
