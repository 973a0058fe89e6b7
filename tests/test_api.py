"""The decorator API: results' shapes, modes, tuples of wrt, misuse."""

from __future__ import annotations

import numpy as np
import pytest

from s2s import S2SError, check, differentiate

SOURCE = """
import numpy as np

def scalar_fn(a, b):
    return a * np.sin(b)

def vector_out(a, b):
    return np.exp(a * b) + b

def matrix_fn(W, v):
    return np.tanh(W * v) * 2.0

def loss(W, v):
    return np.sum(np.tanh(W * v) ** 2)

def with_kwonly(a, *, scale=2.0):
    return scale * a ** 2

def returns_int_pieces(a):
    n = len(a)
    return np.sum(a) / n
"""


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    from conftest import write_module

    return write_module(tmp_path_factory.mktemp("api"), SOURCE, "s2s_api_cases")


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_scalar_in_scalar_out_is_a_float(mod, mode):
    g = differentiate(mod.scalar_fn, wrt="b", mode=mode)
    value = g.derivative(2.0, 0.5)
    assert isinstance(value, float)
    assert value == pytest.approx(2.0 * np.cos(0.5), rel=1e-13)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_shapes_follow_output_then_input(mod, mode):
    W = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    v = np.array([0.5, -0.3, 0.2])
    assert differentiate(mod.matrix_fn, wrt="W", mode=mode).derivative(W, v).shape == (2, 3, 2, 3)
    assert differentiate(mod.matrix_fn, wrt="v", mode=mode).derivative(W, v).shape == (2, 3, 3)
    assert differentiate(mod.loss, wrt="W", mode=mode).derivative(W, v).shape == (2, 3)
    assert differentiate(mod.vector_out, wrt="b", mode=mode).derivative(v, 0.7).shape == (3,)
    check(mod.matrix_fn, W, v, wrt=("W", "v"))


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
@pytest.mark.parametrize("wrt", [("a", "b"), ("b", "a")])
def test_tuple_of_wrt_gives_a_tuple_in_wrt_order(mod, mode, wrt):
    v = np.array([0.5, -0.3, 0.2])
    found = dict(zip(wrt, differentiate(mod.vector_out, wrt=wrt, mode=mode).derivative(v, 0.7)))
    da, db = found["a"], found["b"]
    assert da.shape == (3, 3) and db.shape == (3,)
    np.testing.assert_allclose(da, np.diag(0.7 * np.exp(v * 0.7)), rtol=1e-13)
    np.testing.assert_allclose(db, v * np.exp(v * 0.7) + 1.0, rtol=1e-13)


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_wrt_out_of_parameter_order_matches_each_argument_alone(mod, mode):
    v = np.array([0.5, -0.3, 0.2])
    W = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
    dv, dW = differentiate(mod.loss, wrt=("v", "W"), mode=mode).derivative(W, v)
    assert dv.shape == (3,) and dW.shape == (2, 3)
    np.testing.assert_allclose(dW, differentiate(mod.loss, wrt="W", mode=mode).derivative(W, v), rtol=1e-13)
    np.testing.assert_allclose(dv, differentiate(mod.loss, wrt="v", mode=mode).derivative(W, v), rtol=1e-13)


def test_keyword_arguments_and_defaults(mod):
    g = differentiate(mod.with_kwonly, wrt="a")
    assert g.derivative(3.0) == pytest.approx(12.0)
    assert g.derivative(3.0, scale=1.0) == pytest.approx(6.0)
    assert g.derivative(a=3.0) == pytest.approx(12.0)


def test_integer_valued_intermediates_are_constants(mod):
    a = np.array([1.0, 2.0, 4.0])
    check(mod.returns_int_pieces, a, wrt="a")


def test_the_function_itself_is_unchanged(mod):
    g = differentiate(mod.scalar_fn, wrt="b")
    assert g(2.0, 0.5) == mod.scalar_fn(2.0, 0.5)
    assert g.__name__ == "scalar_fn" and g.__wrapped__ is mod.scalar_fn
    assert "wrt=(b)" in repr(g)


def test_decorator_form(make_module):
    m = make_module(
        """
        import numpy as np
        from s2s import differentiate

        @differentiate(wrt="x", mode="reverse")
        def g(x):
            return np.sum(x ** 3)
        """
    )
    np.testing.assert_allclose(m.g.derivative(np.array([1.0, 2.0])), [3.0, 12.0])
    assert "def g_backward" in m.g.source()


def test_source_shows_the_mode_used(mod):
    g = differentiate(mod.loss, wrt="W")
    assert "def loss_backward" in g.source()  # a scalar output: reverse by default
    assert "def loss_jvp" in g.source("forward")
    h = differentiate(mod.vector_out, wrt="b")
    h.derivative(np.ones(3), 0.5)
    assert "def vector_out_jvp" in h.source()


def test_wrt_must_name_a_parameter(mod):
    with pytest.raises(S2SError, match=r"wrt='c' is not a parameter of scalar_fn\(a, b\)") as info:
        differentiate(mod.scalar_fn, wrt="c")
    assert info.value.filename.endswith("s2s_api_cases.py") and info.value.lineno == 4


@pytest.mark.parametrize(
    "value, message",
    [
        (3, r"integer \(3\).*pass 3.0 instead"),
        (np.arange(3), r"array of int64; .*astype\(float\)"),
        ([1.0, 2.0], r"is a list.*np.asarray"),
        (np.ones(3, dtype=complex), r"complex"),
    ],
)
def test_wrt_values_must_be_floating(mod, value, message):
    with pytest.raises(S2SError, match=f"(?s){message}"):
        differentiate(mod.scalar_fn, wrt="a").derivative(value, 0.5)


def test_mode_is_checked(mod):
    with pytest.raises(S2SError, match="mode must be one of"):
        differentiate(mod.scalar_fn, wrt="a", mode="sideways")


def test_float32_stays_float32(mod):
    v = np.array([0.5, -0.3, 0.2], dtype=np.float32)
    for mode in ("forward", "reverse"):
        assert differentiate(mod.loss, wrt="W", mode=mode).derivative(v, v).dtype == np.float32
