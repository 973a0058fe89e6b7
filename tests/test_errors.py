"""Each unsupported construct and misuse gives an s2s error naming the
user's file, line and construct, and saying what to do instead."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from s2s import S2SError, differentiate

# (body of f(x), line of the offending construct within the body, message, hint)
UNSUPPORTED = [
    ("for i in range(3):\n    x = x * 2\nelse:\n    x = -x\nreturn x", 1, "a `for ... else`", "set a flag before `break`"),
    ("while np.sum(x) < 1:\n    x = x * 2\nelse:\n    x = -x\nreturn x", 1, "a `while ... else`", "set a flag before `break`"),
    ("x += 1.0\nreturn x", 1, "an augmented assignment to `x`, which may share memory", "x = x.copy()"),
    ("y = x * 2\nrow = y[0]\nrow[1] = 3.0\nreturn y", 3, "an in-place update of `row`", "row = row.copy()"),
    ("y = x * 2\nv = y[0:2]\ny[0] = 3.0\nreturn np.sum(v)", 4, "`v` may be a view of an array that was updated in place (line 7)", "take a copy before the update"),
    ("y = x * 2\ny[0][1] = 3.0\nreturn y", 2, "an assignment into an element of an element", "y[i, j] = value"),
    ("if x > 0:\n    return x\ny = x * 2", 3, "not every path of f returns a value", "end every path"),
    ("if x > 0:\n    return x, x\nreturn x", 3, "returns tuples of different lengths", "the same number of values"),
    ("try:\n    y = x\nexcept ValueError:\n    y = 0.0\nreturn y", 1, "a `try` statement", "outside the differentiated function"),
    ("with open('f') as h:\n    pass\nreturn x", 1, "a `with` statement", "outside"),
    ("g = lambda v: v * 2\nreturn g(x)", 1, "a lambda", "`def`"),
    ("return sum({v * 2 for v in x})", 1, "a set comprehension", "use array operations"),
    ("global y\ny = x\nreturn y", 1, "a `global` declaration", "pass the value as an argument"),
    ("def g(v):\n    return v\nreturn g(x)", 1, "a nested function definition", "module level"),
    ("return np.sum(*[x])", 1, "a starred argument", "one by one"),
    ("y = x * 2", 1, "does not return a value", "the value a function returns"),
    ("import math\nreturn math.sin(x)", 1, "an import inside the function", "module level"),
    ("raise ValueError('no')", 1, "a `raise` statement", "outside"),
    ("del x\nreturn 1.0", 1, "a `del` statement", "lifetime"),
    ("return max(x[0], x[1], x[2]) * 2.0", 1, "builtins.max is differentiated with one array or exactly two arguments; nest it", ""),
]


@pytest.mark.parametrize("body, line, message, hint", UNSUPPORTED, ids=[u[2] for u in UNSUPPORTED])
def test_unsupported_construct(make_module, body, line, message, hint):
    source = "import numpy as np\n\n\ndef f(x):\n" + textwrap.indent(body, "    ") + "\n"
    m = make_module(source)
    with pytest.raises(S2SError) as info:  # at decoration (syntax) or when the derivative is generated
        differentiate(m.f, wrt="x").derivative(np.array([0.5, 1.5, 2.0]))
    err = info.value
    assert err.filename == m.__file__
    assert err.lineno == 4 + line
    assert message in err.message and hint in (err.hint or "")  # a rule that refuses a call says what to do in its message
    text = str(err)
    assert text.startswith(f"{m.__file__}:{4 + line}:")
    assert source.splitlines()[3 + line].strip() in text  # the offending line is quoted


def test_unknown_name_is_reported_at_its_use(make_module):
    m = make_module(
        """
        import numpy as np

        def f(x):
            return np.exp(x) * undefined_scale
        """
    )
    with pytest.raises(S2SError, match="name 'undefined_scale' is not defined") as info:
        differentiate(m.f, wrt="x").derivative(1.0)
    assert info.value.lineno == 5


def test_no_rule_for_an_active_value(make_module):
    m = make_module(
        """
        import numpy as np

        def f(x):
            y = np.unique(x)
            z = np.unique(np.array([3.0, 1.0]))   # inactive: fine
            return np.sum(y) + np.sum(z)
        """
    )
    with pytest.raises(S2SError, match=r"no derivative rule for numpy\.unique") as info:
        differentiate(m.f, wrt="x").derivative(np.array([1.0, 2.0]))
    assert info.value.lineno == 5 and "y = np.unique(x)" in str(info.value)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_no_rule_before_a_call_to_a_user_function_is_located(make_module, mode):
    # the callee's analysis, run in the middle of the caller's, once lost the caller's findings
    m = make_module(
        """
        import numpy as np

        def helper(v):
            return v * 2.0

        def f(x):
            y = np.unique(x)
            return helper(y)
        """
    )
    with pytest.raises(S2SError, match=r"no derivative rule for numpy\.unique") as info:
        differentiate(m.f, wrt="x", mode=mode).derivative(np.array([1.0, 2.0]))
    assert info.value.filename == m.__file__ and info.value.lineno == 8


def test_calls_to_code_without_source_are_refused_when_active(make_module):
    m = make_module(
        """
        import numpy as np
        from functools import reduce

        def f(x):
            n = reduce(max, [1, 2, 3])           # inactive: runs as it is
            return np.sum(reduce(np.add, [x, x])) * n
        """
    )
    with pytest.raises(S2SError, match=r"cannot differentiate `reduce\(np.add, \[x, x\]\)`") as info:
        differentiate(m.f, wrt="x").derivative(np.array([1.0, 2.0]))
    assert info.value.lineno == 7


def test_recursion_is_refused(make_module):
    m = make_module(
        """
        def f(x):
            return g(x)

        def g(x):
            return f(x) * 2.0
        """
    )
    with pytest.raises(S2SError, match="calls itself"):
        differentiate(m.f, wrt="x").derivative(1.0)


def test_lambdas_and_builtins_have_no_source():
    with pytest.raises(S2SError, match="lambda"):
        differentiate(lambda x: x * 2, wrt="x")
    with pytest.raises(S2SError, match="Python functions written with `def`"):
        differentiate(np.sin, wrt="x")


def test_errors_from_callees_point_into_the_callee(make_module):
    m = make_module(
        """
        import numpy as np

        def helper(v):
            w = v * 2
            try:
                w = w * v
            finally:
                pass
            return w

        def f(x):
            return helper(x) + 1.0
        """
    )
    with pytest.raises(S2SError, match="a `try` statement") as info:
        differentiate(m.f, wrt="x").derivative(1.0)
    assert info.value.lineno == 6 and "(in helper)" in info.value.message
