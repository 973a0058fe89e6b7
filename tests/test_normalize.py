"""The normal form: one operation per statement, elementwise trees whole."""

from __future__ import annotations

import textwrap

import pytest

from s2s.frontend import load_function
from s2s.normalize import dump, normalize

CASES = [
    (
        "seed",
        """
        def rs(d, xs):
            d0 = f(xs)
            return d - np.sum(d * d0) / np.sum(d0 * d0) * d0
        """,
        """
        def rs(d, xs):
            d0 = f(xs, 2.0)
            sum1 = np.sum(d * d0)
            sum2 = np.sum(d0 * d0)
            out = d - sum1 / sum2 * d0
            return out
        """,
    ),
    (
        "methods become numpy functions, non-elementwise operands become atoms",
        """
        def g(a, b):
            c = a.sum(axis=0) * exp(b) + np.pi
            y = (a @ b.T)[0, 1:len(c) - 1] + a.T.mean()
            return y.reshape(2, -1)
        """,
        """
        def g(a, b):
            sum1 = np.sum(a, axis=0)
            c = sum1 * np.exp(b) + np.pi
            transpose1 = np.transpose(b)
            matmul1 = a @ transpose1
            len1 = len(c)
            item1 = matmul1[0, 1:len1 - 1]
            transpose2 = np.transpose(a)
            mean1 = np.mean(transpose2)
            y = item1 + mean1
            out = np.reshape(y, (2, -1))
            return out
        """,
    ),
    (
        "tuple assignment evaluates every value first",
        """
        def h(a, b):
            a, b = b, a * b
            n, m = a.shape
            return a + b, n
        """,
        """
        def h(a, b):
            b1 = b
            t1 = a * b
            a = b1
            b = t1
            shape1 = a.shape
            n, m = shape1
            out1 = a + b
            return (out1, n)
        """,
    ),
    (
        "a call to a user function takes atoms, with defaults filled in",
        """
        def k(a):
            return f(a * 2.0) + f(m=a)
        """,
        """
        def k(a):
            t1 = a * 2.0
            f1 = f(t1, 2.0)
            f2 = f(a, 2.0)
            out = f1 + f2
            return out
        """,
    ),
]


@pytest.mark.parametrize("title, source, expected", CASES, ids=[c[0] for c in CASES])
def test_normal_form(make_module, title, source, expected):
    header = "import numpy as np\nfrom numpy import exp\n\ndef f(m, scale=2.0):\n    return m * scale\n"
    m = make_module(header + textwrap.dedent(source))
    name = textwrap.dedent(source).split("def ")[1].split("(")[0]
    tree = normalize(load_function(getattr(m, name)))
    assert dump(tree) == textwrap.dedent(expected).strip()
