"""Names resolved as Python would: import forms, closures, globals read at
run time, functions in other modules, and files read without running them."""

from __future__ import annotations

import numpy as np
import pytest

from s2s import S2SError, check, differentiate
from s2s.frontend import (
    BuiltinRef,
    DataRef,
    FunctionRef,
    MathRef,
    ModuleRef,
    NumpyRef,
    load_from_file,
    load_function,
)


def test_import_forms(make_module):
    m = make_module(
        """
        import math
        import numpy
        import numpy as np
        import numpy.linalg as la
        from math import sin as msin
        from numpy import exp, tanh as th

        def f(a, b):
            return numpy.sum(exp(a) * th(b)) + la.norm(a) + np.cos(b[0]) * msin(0.3) + math.cos(0.1) * a[1]
        """
    )
    a, b = np.array([0.1, 0.2, 0.3]), np.array([0.4, -0.5, 0.6])
    check(m.f, a, b, wrt=("a", "b"))
    scope = load_function(m.f).scope
    assert scope.resolve("numpy") == NumpyRef("") and scope.resolve("np") == NumpyRef("")
    assert scope.resolve("la") == NumpyRef("linalg") and scope.resolve("exp") == NumpyRef("exp")
    assert scope.resolve("th") == NumpyRef("tanh") and scope.resolve("msin") == MathRef("sin")
    assert scope.resolve("math") == MathRef("") and scope.resolve("len") == BuiltinRef("len")


def test_closures_and_nested_functions(make_module):
    m = make_module(
        """
        import numpy as np

        def make(scale):
            offset = np.array([1.0, 2.0])

            def helper(v):
                return v * scale + offset

            def model(v):
                return np.sum(np.sin(helper(v)) ** 2)

            return model
        """
    )
    model = m.make(1.5)
    v = np.array([0.3, -0.2])
    check(model, v, wrt="v")
    helper = load_function(model).scope.resolve("helper")
    assert isinstance(helper, FunctionRef)
    assert helper.load().scope.resolve("offset") == DataRef("offset", "closure")


def test_globals_are_read_when_the_derivative_runs(make_module):
    m = make_module(
        """
        import numpy as np

        x = np.array([1.0, 2.0, 3.0])

        def f(a):
            return np.sum(x * a ** 2)
        """
    )
    g = differentiate(m.f, wrt="a", mode="reverse")
    a = np.array([1.0, 1.0, 1.0])
    np.testing.assert_allclose(g.derivative(a), [2.0, 4.0, 6.0])
    m.x = np.array([10.0, 20.0, 30.0])  # as the primal would, the derivative sees the new value
    np.testing.assert_allclose(g.derivative(a), [20.0, 40.0, 60.0])


def test_functions_in_other_modules(make_module):
    make_module(
        """
        import numpy as np

        def softplus(z):
            return np.log1p(np.exp(z))
        """,
        name="s2s_helpers_mod",
    )
    m = make_module(
        """
        import numpy as np
        import s2s_helpers_mod as helpers
        from s2s_helpers_mod import softplus

        def f(w):
            return np.sum(helpers.softplus(w) + softplus(2.0 * w))
        """
    )
    check(m.f, np.array([0.5, -1.0, 2.0]), wrt="w")
    assert "softplus_backward" in differentiate(m.f, wrt="w", mode="reverse").source()


def test_each_call_site_gets_its_own_activity(make_module):
    m = make_module(
        """
        import numpy as np

        def g(a, b):
            return a * np.exp(b)

        def f(x, y):
            return g(x, y) + g(y, 2.0) + g(3.0, x)
        """
    )
    check(m.f, 0.3, 0.7, wrt="x")
    source = differentiate(m.f, wrt="x", mode="forward").source()
    assert source.count("def g_jvp") == 2  # g w.r.t. a, and g w.r.t. b; g(y, 2.0) is called as it is
    assert "g(y, 2.0)" in source


def test_file_read_as_text_never_runs(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(
        "import numpy as np\n"
        "import a_module_that_does_not_exist as missing\n"
        "from numpy import exp\n"
        "raise SystemExit('this file must not run')\n"
        "data = np.ones(3)\n"
        "def f(m):\n"
        "    return exp(-(data - m) ** 2)\n"
    )
    fn = load_from_file(path, "f")
    assert fn.scope.resolve("exp") == NumpyRef("exp")
    assert fn.scope.resolve("missing") == ModuleRef("a_module_that_does_not_exist")
    assert fn.scope.resolve("data") == DataRef("data", "global")
    with pytest.raises(S2SError, match="(?s)no top-level function named 'g'.*functions defined there: f"):
        load_from_file(path, "g")


def test_redefined_name_is_the_last_definition(make_module):
    m = make_module(
        """
        import numpy as np

        def f(a):
            return a

        def f(a):
            return a ** 3
        """
    )
    assert differentiate(m.f, wrt="a").derivative(2.0) == pytest.approx(12.0)


def test_long_function_whose_jumps_need_wide_offsets_is_not_stale(make_module):
    # jumps over more than 255 instructions take an EXTENDED_ARG whose value
    # depends on where the code sits: the same function compiled from its
    # file and on its own may differ there, and that is no edit
    body = "\n".join(f"        s = 0.5 * np.sin(s + {k}.0 * a[{k % 3}])" for k in range(40))
    m = make_module(
        "import numpy as np\n\n\n"
        "def other(a):\n    return a\n\n\n"
        "def long_loop(a, n):\n"
        "    s = 0.0\n"
        "    for i in range(n):\n"
        f"{body}\n"
        "        if s > 1e6:\n"
        "            break\n"
        "    return s\n"
    )
    import dis

    assert any(ins.opname == "EXTENDED_ARG" for ins in dis.get_instructions(m.long_loop))
    check(m.long_loop, np.array([0.01, -0.02, 0.03]), 2, wrt="a")
