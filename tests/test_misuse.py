"""Misuse gets an s2s error that names the user's file and line, says what
is wrong and what to do instead; errors raised at run time inside generated
code point back to the user's line."""

from __future__ import annotations

import os

import numpy as np
import pytest

from s2s import S2SError, differentiate

SOURCE = '''
import numpy as np


def f(x, n):
    return np.sin(x) * n


def returns_text(x):
    return "done"


def returns_index(x):
    return np.argmax(x)


def returns_complex(x):
    return x * 1j


def returns_dict(x):
    return {"value": x}


def helper(a, b):
    c = a * b
    return np.sum(c @ b)


def swap_first_two(v):
    y = v.copy()
    t = y[0]
    y[0] = y[1]
    y[1] = t
    return y


def calls_helper(x, y):
    z = np.sin(x)
    return helper(z, y)


def variadic(w, /, z=True, *rest, scale=2.0, **options):
    return w * scale
'''


@pytest.fixture(scope="module")
def mod(tmp_path_factory):
    from conftest import write_module

    return write_module(tmp_path_factory.mktemp("misuse"), SOURCE, "s2s_misuse_cases")


def located_at_definition(err: S2SError, mod, name: str) -> bool:
    return err.filename == mod.__file__ and err.lineno == getattr(mod, name).__code__.co_firstlineno


def test_wrt_must_be_names(mod):
    with pytest.raises(S2SError, match=r"wrt must be a parameter name or a tuple of names; got int 3") as info:
        differentiate(mod.f, wrt=3)
    assert "wrt='x'" in info.value.hint


@pytest.mark.parametrize(
    "function, message, hint",
    [
        ("returns_text", "returns_text returns a str ('done'); s2s differentiates functions whose output is a float", "return a number or a numpy array"),
        ("returns_index", "returns_index returns an int64 (np.int64(1)): its derivative is zero wherever it is defined", "return a floating-point value"),
        ("returns_complex", "returns_complex returns an array of complex128; s2s differentiates real-valued functions", "real and imaginary parts"),
    ],
)
@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_an_output_without_a_derivative_is_refused(mod, function, message, hint, mode):
    with pytest.raises(S2SError) as info:
        differentiate(getattr(mod, function), wrt="x", mode=mode).derivative(np.array([0.1, 0.9, 0.3]))
    assert message in info.value.message and hint in info.value.hint
    assert located_at_definition(info.value, mod, function)


def test_functions_with_star_parameters_are_refused_with_their_location(mod):
    with pytest.raises(S2SError, match=r"wrt='rest' is a \*args/\*\*kwargs parameter of variadic") as info:
        differentiate(mod.variadic, wrt="rest")
    assert located_at_definition(info.value, mod, "variadic")
    with pytest.raises(S2SError, match=r"variadic takes \*args or \*\*kwargs") as info:
        differentiate(mod.variadic, wrt="w").derivative(0.5, scale=1.0)  # the arguments bind as in a call
    assert info.value.filename == mod.__file__ and "give each parameter a name" in info.value.hint


def test_a_dict_output_is_refused_where_it_is_built(mod):
    with pytest.raises(S2SError, match="cannot differentiate a dict") as info:
        differentiate(mod.returns_dict, wrt="x").derivative(0.5)
    assert info.value.lineno == mod.returns_dict.__code__.co_firstlineno + 1


@pytest.mark.parametrize(
    "value, message",
    [
        ("abc", "argument 'x' of f is a str; s2s differentiates floats and numpy arrays of floats"),
        (True, "argument 'x' of f is an integer (True); s2s differentiates floating-point values"),
        (2, "argument 'x' of f is an integer (2)"),
        (np.arange(3), "argument 'x' of f is an array of int64"),
        (1j, "argument 'x' of f is complex"),
    ],
)
def test_differentiated_arguments_must_be_real_floats(mod, value, message):
    with pytest.raises(S2SError) as info:
        differentiate(mod.f, wrt="x").derivative(value, 2.0)
    assert message in info.value.message
    assert located_at_definition(info.value, mod, "f")


def test_arguments_bind_as_in_a_call_of_the_function(mod):
    with pytest.raises(TypeError, match=r"^f\(\) missing 1 required positional argument: 'n'$"):
        differentiate(mod.f, wrt="x").derivative(1.0)
    assert differentiate(mod.f, wrt="x").derivative(1.0, n=2.0) == pytest.approx(2.0 * np.cos(1.0))


def test_a_function_without_source_is_refused():
    namespace: dict = {}
    exec("def g(x):\n    return x * 2\n", namespace)
    with pytest.raises(S2SError, match="cannot read the source of g") as info:
        differentiate(namespace["g"], wrt="x").derivative(1.0)
    assert info.value.filename == "<string>" and "define the function in a file" in info.value.hint


def test_a_file_edited_after_the_function_was_defined_is_refused(make_module):
    m = make_module("import numpy as np\n\n\ndef f(x):\n    return np.sin(x)\n")
    path = m.__file__
    stat = os.stat(path)
    with open(path, "w") as out:
        out.write("import numpy as np\n\n\ndef f(x):\n    return np.cos(x) * 3.0\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    with pytest.raises(S2SError, match="the source of f in .* is not the code it runs: the file has changed") as info:
        differentiate(m.f, wrt="x").derivative(0.5)
    assert info.value.lineno == 4 and "import the module again" in info.value.hint


def test_a_run_time_error_in_generated_code_names_the_users_line(mod):
    for mode in ("forward", "reverse"):
        g = differentiate(mod.calls_helper, wrt="x", mode=mode)
        with pytest.raises(ValueError, match="could not be broadcast") as info:
            g.derivative(np.ones(3), np.ones((3, 2)))
        (note,) = info.value.__notes__
        line = mod.helper.__code__.co_firstlineno + 1
        assert note.startswith(f"raised by the derivative code of helper for its line {mod.__file__}:{line}: c = a * b")


def test_a_cached_module_shows_its_lines_in_tracebacks(mod, tmp_path):
    import traceback

    g = differentiate(mod.calls_helper, wrt="x", mode="reverse", cache_dir=tmp_path)
    with pytest.raises(ValueError) as info:
        g.derivative(np.ones(3), np.ones((3, 2)))
    frames = traceback.extract_tb(info.value.__traceback__)
    generated = [f for f in frames if f.filename.startswith(str(tmp_path))]
    assert generated and generated[-1].line == "c = a * b"  # read from the cache file itself


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_a_row_read_before_its_matrix_is_updated_is_refused_when_it_runs(mod, mode):
    """``t = y[0]`` is a number for a vector (swapping works) but a view of a
    matrix, which ``y[0] = y[1]`` changes under it: refused then."""
    g = differentiate(mod.swap_first_two, wrt="v", mode=mode)
    assert g.derivative(np.array([1.0, 2.0, 3.0])).shape == (3, 3)
    with pytest.raises(S2SError, match="`t` is a view of `y`, which was updated in place after `t` was made") as info:
        g.derivative(np.ones((2, 2)))
    assert info.value.filename == mod.__file__ and info.value.lineno == mod.swap_first_two.__code__.co_firstlineno + 4
    assert "t = t.copy()" in info.value.hint
