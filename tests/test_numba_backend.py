"""The numba backend: compiled derivatives equal the numpy backend's (to
rounding) and central finite differences; loops stay loops; what numba
cannot compile falls back with a warning; rebound globals are seen; a
second process loads the compiled code from numba's cache."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

numba = pytest.importorskip("numba")

from s2s import S2SError, differentiate  # noqa: E402
from s2s.check import finite_difference, relative_error  # noqa: E402
from s2s.errors import S2SWarning  # noqa: E402

from conftest import write_module  # noqa: E402

USER_CODE = """
import numpy as np

n = 21
x = np.linspace(-10.0, 10.0, n)
scale = 1.5


def f(m):
    return np.exp(-scale * (x - m) ** 2)


def rs(d, xs):
    d0 = f(xs)
    return d - np.sum(d * d0) / np.sum(d0 * d0) * d0


def rs_scalar(d, xs):
    return np.sum(rs(d, xs) ** 2)


def scalars(a, b):
    return np.exp(a) * b + a ** 2 / b


def broadcasting(A, v):
    return np.tanh(A * v + 0.5) * v


def energy(A, v):
    return np.sum(np.sin(A * v) ** 2) + np.sum(A * A)


def step(u, nu):
    return u + nu * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))


def simulate(u0, nu, steps):
    u = u0
    for k in range(steps):
        u = step(u, nu)
    return u


def misfit(u0, nu, steps, observed):
    r = simulate(u0, nu, steps) - observed
    return 0.5 * np.sum(r * r)


def cumulative(v):
    return np.sum(np.cumsum(v) ** 2)


def column_means(A):
    return np.mean(A, axis=0) * 2.0


def logistic(w, X, y):
    z = X @ w
    return np.mean(np.log1p(np.exp(-y * z)))


def layer(W, H):
    return np.sum(np.tanh(H @ W) ** 2)


def recurrence(alpha, u):
    y = np.zeros(len(u))
    y[0] = u[0]
    for i in range(1, len(u)):
        y[i] = alpha * y[i - 1] + u[i]
    return np.sum(y * y)
"""


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    return write_module(tmp_path_factory.mktemp("numba_user"), USER_CODE, "s2s_numba_user")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("numba_cache")


def both(user, cache_dir, name: str, wrt, mode: str = "auto"):
    """The numpy backend's and the numba backend's derivative of ``name``."""
    fn = getattr(user, name)
    return (
        differentiate(fn, wrt=wrt, mode=mode, cache_dir=cache_dir),
        differentiate(fn, wrt=wrt, mode=mode, cache_dir=cache_dir, backend="numba"),
    )


@pytest.fixture(scope="module")
def point(user):
    rng = np.random.default_rng(0)
    return {
        "d": 2.5 * user.f(0.7) + 0.01 * rng.standard_normal(user.n),
        "A": rng.standard_normal((3, 4)),
        "v": rng.standard_normal(4),
    }


def assert_same(numba_result, numpy_result, fd=None, fd_tolerance=1e-6):
    assert relative_error(numba_result, numpy_result) < 1e-12
    if fd is not None:
        assert relative_error(numba_result, fd) < fd_tolerance


# --------------------------------------------------------------------------
# The seed's tasks


def test_task_a_forward(user, cache_dir, point):
    numpy_g, numba_g = both(user, cache_dir, "rs", "xs", "forward")
    d = point["d"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", S2SWarning)  # compiled, no fallback
        result = numba_g.derivative(d, 0.3)
    assert_same(result, numpy_g.derivative(d, 0.3), finite_difference(user.rs, (d, 0.3), 1))
    value, derivative = numba_g.value_and_derivative(d, 0.3)
    assert np.array_equal(value, user.rs(d, 0.3)) or relative_error(value, user.rs(d, 0.3)) < 1e-14
    stats = numba_g.compile_stats()["forward"]
    assert stats["fallback"] is None and stats["seconds"] > 0
    assert numba_g.compile_time > 0 and "backend=numba" in repr(numba_g)


def test_task_b_scalar_output_wrt_a_scalar(user, cache_dir, point):
    numpy_g, numba_g = both(user, cache_dir, "rs_scalar", "xs")
    d = point["d"]
    assert_same(numba_g.derivative(d, 0.3), numpy_g.derivative(d, 0.3), finite_difference(user.rs_scalar, (d, 0.3), 1))
    assert numba_g.compile_stats()["forward"]["fallback"] is None


def test_task_c_fused_gradient(user, cache_dir, point):
    numpy_g, numba_g = both(user, cache_dir, "rs_scalar", "d", "reverse")
    d = point["d"]
    expected = numpy_g.derivative(d, 0.3)
    for _ in range(2):  # the first call runs both sweeps, later ones the fused gradient
        assert_same(numba_g.derivative(d, 0.3), expected, finite_difference(user.rs_scalar, (d, 0.3), 0))
    stats = numba_g.compile_stats()["reverse"]
    assert stats["fallback"] is None and stats["numpy_roles"] == []
    assert "_s2s_sum" in open(stats["path"]).read()  # the reductions became loop kernels


@pytest.mark.parametrize("name, wrt", [("logistic", "w"), ("layer", "W"), ("layer", "H")])
def test_products_of_matrices_and_vectors_compile(user, cache_dir, point, name, wrt):
    """The adjoints of ``@`` (vector and matrix operands) and of a mean have
    compiled forms: no fallback, the numpy backend's gradient."""
    rng = np.random.default_rng(3)
    args = {"logistic": (rng.standard_normal(4), point["A"], np.sign(rng.standard_normal(3))), "layer": (rng.standard_normal((4, 2)), point["A"])}[name]
    numpy_g, numba_g = both(user, cache_dir, name, wrt, "reverse")
    index = numpy_g.params.index(wrt)
    with warnings.catch_warnings():
        warnings.simplefilter("error", S2SWarning)
        for _ in range(2):
            assert_same(numba_g.grad(*args), numpy_g.grad(*args), finite_difference(getattr(user, name), args, index))
    assert numba_g.compile_stats()["reverse"]["fallback"] is None


def test_a_loop_of_element_updates_compiles(user, cache_dir):
    """The recurrence's gradient keeps tapes of different kinds (a number and
    a shape, a shape): each place that pushes has its own, so the fused
    gradient compiles, loops and all."""
    u = np.sin(np.linspace(0.0, 3.0, 30))
    numpy_g, numba_g = both(user, cache_dir, "recurrence", ("alpha", "u"), "reverse")
    with warnings.catch_warnings():
        warnings.simplefilter("error", S2SWarning)
        for _ in range(2):
            found, expected = numba_g.grad(0.9, u), numpy_g.grad(0.9, u)
            for k, (a, b) in enumerate(zip(found, expected)):
                assert_same(a, b, finite_difference(user.recurrence, (0.9, u), k))
    assert numba_g.compile_stats()["reverse"]["fallback"] is None


# --------------------------------------------------------------------------
# Shapes and modes


@pytest.mark.parametrize("wrt", ["a", "b", ("a", "b")])
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_scalars(user, cache_dir, wrt, mode):
    numpy_g, numba_g = both(user, cache_dir, "scalars", wrt, mode)
    args = (0.4, 1.7)
    found, expected = numba_g.derivative(*args), numpy_g.derivative(*args)
    for f, e, index in zip(found if isinstance(wrt, tuple) else (found,), expected if isinstance(wrt, tuple) else (expected,), (0, 1) if isinstance(wrt, tuple) else ("ab".index(wrt),)):
        assert_same(f, e, finite_difference(user.scalars, args, index))


@pytest.mark.parametrize("wrt", ["A", "v"])
@pytest.mark.parametrize("name", ["broadcasting", "energy"])
def test_matrices_and_broadcasting(user, cache_dir, point, name, wrt):
    """Reverse mode (a vector output takes the vector code, which may fall
    back to numpy, with a warning); the one-direction tangent code through jvp."""
    numpy_g, numba_g = both(user, cache_dir, name, wrt, "reverse")
    args = (point["A"], point["v"])
    index = "Av".index(wrt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", S2SWarning)
        found = numba_g.derivative(*args)
    assert_same(found, numpy_g.derivative(*args), finite_difference(getattr(user, name), args, index))
    tangent = np.random.default_rng(3).standard_normal(np.shape(args[index]))
    out, product = numba_g.jvp(args, [tangent])
    expected_out, expected_product = numpy_g.jvp(args, [tangent])
    assert_same(out, expected_out)
    assert_same(product, expected_product)
    cotangent = np.ones_like(out)
    assert_same(numba_g.vjp(args, cotangent)[1], numpy_g.vjp(args, cotangent)[1])


def test_vector_forward_mode_gives_the_same_jacobian(user, cache_dir, point):
    numpy_g, numba_g = both(user, cache_dir, "broadcasting", "v", "forward")
    args = (point["A"], point["v"])
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        found = numba_g.derivative(*args)
    assert_same(found, numpy_g.derivative(*args), finite_difference(user.broadcasting, args, 1))
    stats = numba_g.compile_stats()["forward-vector"]
    assert stats["fallback"] is None or "forward-vector" in numba_g.compile_stats()


# --------------------------------------------------------------------------
# Loops


def test_loops_compile_as_loops(user, cache_dir):
    u0 = np.exp(-(((np.linspace(0.0, 1.0, 50, endpoint=False) - 0.5) / 0.1) ** 2))
    observed = user.simulate(u0, 0.21, 30)
    numpy_f, numba_f = both(user, cache_dir, "simulate", "nu")
    with warnings.catch_warnings():
        warnings.simplefilter("error", S2SWarning)
        found = numba_f.derivative(u0, 0.2, 30)
    assert_same(found, numpy_f.derivative(u0, 0.2, 30), finite_difference(user.simulate, (u0, 0.2, 30), 1))
    numpy_r, numba_r = both(user, cache_dir, "misfit", "u0", "reverse")
    expected = numpy_r.derivative(u0, 0.2, 30, observed)
    with warnings.catch_warnings():
        warnings.simplefilter("error", S2SWarning)
        for _ in range(2):  # the fused gradient: the tape stays inside compiled code
            assert_same(numba_r.derivative(u0, 0.2, 30, observed), expected)
    stats = numba_r.compile_stats()["reverse"]
    assert stats["fallback"] is None and stats["numpy_roles"] == ["forward", "backward"]
    assert "for k in " in open(stats["path"]).read()


# --------------------------------------------------------------------------
# Fallback, globals, options, errors


def test_a_helper_numba_lacks_falls_back_with_a_warning(user, cache_dir):
    numpy_g, numba_g = both(user, cache_dir, "cumulative", "v", "reverse")
    v = np.linspace(0.1, 1.0, 5)
    with pytest.warns(S2SWarning, match=r"numba backend cannot compile .*cumulative.*cumsum_adjoint"):
        found = numba_g.derivative(v)
    assert_same(found, numpy_g.derivative(v), finite_difference(user.cumulative, (v,), 0))
    assert "cumsum_adjoint" in numba_g.compile_stats()["reverse"]["fallback"]


def test_a_typing_error_falls_back_with_a_warning(user, cache_dir, point):
    """numba's np.mean takes no axis: refused when first called, named in the
    warning, and the numpy code runs then and after."""
    numpy_g, numba_g = both(user, cache_dir, "column_means", "A", "forward")
    A = point["A"]
    tangent = np.ones_like(A)
    with pytest.warns(S2SWarning, match=r"numba backend cannot compile the derivative of column_means: .*mean"):
        out, product = numba_g.jvp((A,), [tangent])
    assert_same(product, numpy_g.jvp((A,), [tangent])[1])
    with warnings.catch_warnings():
        warnings.simplefilter("error", S2SWarning)  # warned once
        assert_same(numba_g.jvp((A,), [2 * tangent])[1], numpy_g.jvp((A,), [2 * tangent])[1])


def test_rebound_globals_are_seen(user, cache_dir, point):
    numpy_g, numba_g = both(user, cache_dir, "rs", "xs", "forward")
    d = point["d"]
    before = numba_g.derivative(d, 0.3)
    grid, scale = user.x, user.scale
    try:
        user.x = np.linspace(-5.0, 5.0, user.n)
        user.scale = 0.5
        after = numba_g.derivative(d, 0.3)
        assert relative_error(after, before) > 1e-3
        assert_same(after, numpy_g.derivative(d, 0.3), finite_difference(user.rs, (d, 0.3), 1))
        user.x = np.linspace(-5.0, 5.0, user.n).astype(np.float32)  # another type: compiled again
        assert relative_error(numba_g.derivative(d, 0.3), numpy_g.derivative(d, 0.3)) < 1e-5
    finally:
        user.x, user.scale = grid, scale
    assert_same(numba_g.derivative(d, 0.3), before)


def test_parallel_and_fastmath(user, cache_dir, point):
    numpy_g = differentiate(user.energy, wrt="v", mode="reverse", cache_dir=cache_dir)
    numba_g = differentiate(user.energy, wrt="v", mode="reverse", cache_dir=cache_dir, backend="numba", parallel=True, fastmath=True)
    args = (point["A"], point["v"])
    assert relative_error(numba_g.derivative(*args), numpy_g.derivative(*args)) < 1e-10
    assert "parallel=True, fastmath=True" in open(numba_g.compile_stats()["reverse"]["path"]).read()


def test_without_the_disk_cache(user, point):
    g = differentiate(user.rs, wrt="xs", backend="numba", cache=False)
    assert relative_error(g.derivative(point["d"], 0.3), finite_difference(user.rs, (point["d"], 0.3), 1)) < 1e-6
    assert g.compile_stats()["forward"]["path"].startswith("<")


def test_unknown_backend_and_missing_numba(user, monkeypatch):
    with pytest.raises(S2SError, match="backend must be one of"):
        differentiate(user.rs, wrt="xs", backend="jax")
    with pytest.raises(S2SError, match="backend='numba'"):
        differentiate(user.rs, wrt="xs", fastmath=True)
    monkeypatch.setitem(sys.modules, "numba", None)
    with pytest.raises(S2SError, match=r"pip install s2s\[numba\]"):
        differentiate(user.rs, wrt="xs", backend="numba")


def test_a_second_process_loads_from_numbas_cache(user, cache_dir, point):
    script = textwrap.dedent(
        f"""
        import json, sys
        import numpy as np
        sys.path.insert(0, {str(__import__('pathlib').Path(user.__file__).parent)!r})
        import s2s_numba_user as user
        from s2s import differentiate
        g = differentiate(user.rs, wrt="xs", mode="forward", cache_dir={str(cache_dir)!r}, backend="numba")
        value = g.derivative(np.asarray({point['d'].tolist()!r}), 0.3)
        print(json.dumps({{"stats": g.compile_stats()["forward"], "value": value.tolist()}}))
        """
    )
    # this process compiled (and stored) the module in test_task_a_forward; make sure it did
    differentiate(user.rs, wrt="xs", mode="forward", cache_dir=cache_dir, backend="numba").derivative(point["d"], 0.3)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["stats"]["cache_hits"] > 0 and report["stats"]["cache_misses"] == 0
    assert relative_error(np.array(report["value"]), differentiate(user.rs, wrt="xs").derivative(point["d"], 0.3)) < 1e-12


def test_the_vectorizable_exp_is_numpys_to_one_unit_in_the_last_place():
    from s2s.backends.numba_runtime import exp_ufunc

    exp = exp_ufunc()
    x = np.concatenate([np.linspace(-750.0, 720.0, 200_001), [np.inf, -np.inf, np.nan, 0.0, -0.0, 709.78, 709.79, -708.4, -745.13, -745.14]])
    with np.errstate(all="ignore"):
        found, expected = exp(x), np.exp(x)
    normal = np.isfinite(expected) & (expected > 0)
    assert np.max(np.abs(found[normal] - expected[normal]) / np.spacing(expected[normal])) <= 1.0
    assert np.array_equal(found[~normal], expected[~normal], equal_nan=True)  # inf, 0 and NaN at the edges
    single = np.linspace(-80.0, 80.0, 1001, dtype=np.float32)
    assert exp(single).dtype == np.float32
    np.testing.assert_allclose(exp(single), np.exp(single), rtol=4e-7)
    z = np.array([1.0 + 2.0j, -0.5 + 0.1j])
    np.testing.assert_allclose(exp(z), np.exp(z), rtol=1e-15)




def test_a_callee_inlined_with_a_borrowed_closure_variable_compiles(tmp_path, cache_dir):
    from test_inline import CLOSURES  # the seed as closures over the grid x

    rs, _, move = write_module(tmp_path, CLOSURES, "s2s_numba_closures").make(9)
    d = np.linspace(0.1, 1.0, 9)
    numpy_g = differentiate(rs, wrt="xs", mode="forward", cache_dir=cache_dir)
    numba_g = differentiate(rs, wrt="xs", mode="forward", cache_dir=cache_dir, backend="numba")
    with warnings.catch_warnings():
        warnings.simplefilter("error", S2SWarning)  # compiled, no fallback
        assert_same(numba_g.derivative(d, 0.3), numpy_g.derivative(d, 0.3), finite_difference(rs, (d, 0.3), 1))
        move(np.linspace(-1.0, 3.0, 9))  # the closure's cell, read on each call
        assert_same(numba_g.derivative(d, 0.3), numpy_g.derivative(d, 0.3), finite_difference(rs, (d, 0.3), 1))
    text = open(numba_g.compile_stats()["forward"]["path"]).read()
    tangent = text[text.index("def rs_tangent(") :].split("\n\n\n")[0]
    assert "f_jvp(" not in tangent and "_s2s_run" in tangent  # the callee's body, fused with the caller's sums


def test_another_version_of_s2s_or_numba_compiles_from_another_file(user, cache_dir, point, monkeypatch):
    """numba's cache checks only the module's file: machine code cached
    against other versions of the backend's kernels must not be loaded."""
    from s2s.backends import numba_compile

    d = point["d"]
    first = differentiate(user.rs, wrt="xs", mode="forward", cache_dir=cache_dir, backend="numba")
    expected = first.derivative(d, 0.3)
    monkeypatch.setattr(numba_compile, "backend_fingerprint", lambda: "another version")
    second = differentiate(user.rs, wrt="xs", mode="forward", cache_dir=cache_dir, backend="numba")
    assert_same(second.derivative(d, 0.3), expected)
    paths = [g.compile_stats()["forward"]["path"] for g in (first, second)]
    assert paths[0] != paths[1] and "# s2s and numba: another version" in open(paths[1]).read()


REDUCE_CODE = """
import numpy as np


def rows(A, w):
    return np.sum(np.add.reduce(A * w) ** 2) + np.add.reduce(w * w, axis=None)
"""


def test_the_ufunc_reduction_keeps_its_axis_in_compiled_code(tmp_path, cache_dir, point):
    """np.add.reduce(a) sums along axis 0, np.sum(a) along all: the
    translation to numba's np.sum keeps the difference."""
    rows = write_module(tmp_path, REDUCE_CODE, "s2s_numba_reduce").rows
    A, v = point["A"], point["v"]
    numpy_g = differentiate(rows, wrt="w", mode="reverse", cache_dir=cache_dir)
    numba_g = differentiate(rows, wrt="w", mode="reverse", cache_dir=cache_dir, backend="numba")
    with warnings.catch_warnings():
        warnings.simplefilter("error", S2SWarning)
        found = numba_g.derivative(A, v)
    assert_same(found, numpy_g.derivative(A, v), finite_difference(rows, (A, v), 1))


POWER_CODE = """
import numpy as np


def powers(x, p):
    return np.sum(x ** p) + np.sum((x + 1.0) ** (2.0 * p))
"""


@pytest.mark.parametrize("wrt", ["x", "p", ("x", "p")])
@pytest.mark.parametrize("p", [1.7, np.array([0.0, 1.5, 2.5, 3.0]), np.float32(1.5)], ids=["number", "vector with a zero", "float32"])
def test_powers_with_a_varied_exponent_compile(tmp_path, cache_dir, wrt, p):
    """x ** p with p varied: the partials power_base_partial and xlogy run
    compiled (forward mode: a jvp along a direction; reverse mode: the
    gradient), broadcast as numpy broadcasts, 0 where numpy's helpers give 0."""
    powers = write_module(tmp_path, POWER_CODE, "s2s_numba_powers").powers
    x = np.array([0.5, 1.25, 2.0, 0.75]) if np.ndim(p) == 0 else np.array([0.5, 1.25, 2.0, 0.0])
    names = (wrt,) if isinstance(wrt, str) else wrt
    values = {"x": x, "p": p}
    rng = np.random.default_rng(3)
    tangents = [rng.standard_normal(np.shape(values[n])) if np.ndim(values[n]) else 0.7 for n in names]
    single = isinstance(p, np.float32)
    tolerance = 1e-6 if single else 1e-12
    for mode in ("forward", "reverse"):
        numpy_g = differentiate(powers, wrt=wrt, mode=mode, cache_dir=cache_dir)
        numba_g = differentiate(powers, wrt=wrt, mode=mode, cache_dir=cache_dir, backend="numba")
        with warnings.catch_warnings():
            warnings.simplefilter("error", S2SWarning)  # compiled, no fallback
            found = numba_g.jvp((x, p), tangents)[1] if mode == "forward" else numba_g.derivative(x, p)
        expected = numpy_g.jvp((x, p), tangents)[1] if mode == "forward" else numpy_g.derivative(x, p)
        for a, b in zip(*(r if isinstance(r, tuple) else (r,) for r in (found, expected)), strict=True):
            assert relative_error(a, b) < tolerance
        if mode == "forward" and not single and np.all(x > 0):
            h = 1e-6
            shifted = [{**values, **{n: values[n] + sign * h * t for n, t in zip(names, tangents)}} for sign in (1, -1)]
            difference = (powers(shifted[0]["x"], shifted[0]["p"]) - powers(shifted[1]["x"], shifted[1]["p"])) / (2 * h)
            assert relative_error(found, difference) < 1e-6
        text = open(numba_g.compile_stats()[mode]["path"]).read()
        assert ("power_base_partial" in text) == ("x" in names) and ("xlogy" in text) == ("p" in names)


FAILURES_CODE = """
import numpy as np


def broadcasts(a, b, c, d):  # found by tests/test_numba_random_programs.py
    s1 = (d[0] + ((d[0] + d[0]) + (a[1, 0] + d[0])))
    for i in range(0):
        s1 = np.sum(s1)
        c = np.broadcast_to((s1 + s1), (2, 1))
    s2 = np.broadcast_to(np.where(s1 > (s1 + 0.25), s1, s1), (2, 1))
    for i in range(0):
        s2 = (-s2)
    v3 = np.where(s1 > (s1 + 0.25), 0.5, s1)
    y4 = s2.copy()
    y4[0:2] = a[1, 0]
    return (np.broadcast_to((-1.5), (3,)) @ np.broadcast_to(v3, (3,)))


def product(x, y):
    return np.sum(np.sin(x) * y)
"""


def test_numba_failing_inside_its_compiler_falls_back_and_the_users_errors_do_not(tmp_path, cache_dir):
    """numba raises an IndexError while lowering these broadcasts: that is a
    refusal, and the numpy code runs. An error of the user's code at run
    time is raised as it is, and the backend stays compiled."""
    module = write_module(tmp_path, FAILURES_CODE, "s2s_numba_failures")
    args = (np.array([[0.71], [0.41]]), np.array([1e-3, 0.69]), np.array([[-1.1], [-0.06]]), np.array([-1.3, 0.2, 0.1]))
    numba_g = differentiate(module.broadcasts, wrt="d", mode="forward", cache_dir=cache_dir, backend="numba")
    with pytest.warns(S2SWarning, match="numba failed while compiling it"):
        found = numba_g.jvp(args, (np.ones(3),))[1]
    expected = differentiate(module.broadcasts, wrt="d", mode="forward", cache_dir=cache_dir).jvp(args, (np.ones(3),))[1]
    assert found == expected == -1.5 * 3 * 4.0  # v3 = s1 = 4 d[0] + a[1, 0]: its tangent along ones is 4
    numba_p = differentiate(module.product, wrt="x", mode="reverse", cache_dir=cache_dir, backend="numba")
    x = np.linspace(0.1, 1.0, 4)
    assert_same(numba_p.grad(x, x), np.cos(x) * x)
    with warnings.catch_warnings():
        warnings.simplefilter("error", S2SWarning)
        with pytest.raises(ValueError):
            numba_p.grad(x, np.ones(3))  # shapes (4,) and (3,) do not broadcast
    assert numba_p.compile_stats()["reverse"]["fallback"] is None
