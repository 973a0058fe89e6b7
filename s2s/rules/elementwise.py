"""Elementwise operations: operators, numpy ufuncs, ``math`` functions.

Each entry is its partial derivatives, written once; tangents and adjoints
are derived from them. ``out`` is the operation's own value, reused where the
derivative is a function of it (``exp``, ``sqrt``, ``tanh``).

Conventions at non-differentiable points (each pinned by a test):

- ``abs(x)`` has derivative ``sign(x)``: 0 at 0.
- ``maximum``/``minimum``/``fmax``/``fmin`` split the derivative equally at
  ties: 1/2 to each argument.
- ``clip(a, lo, hi)`` passes the derivative to ``a`` where ``lo <= a <= hi``
  (boundaries included) and to a bound where ``a`` lies strictly beyond it.
- ``where(c, x, y)`` passes the derivative to the branch it selects.
- ``sqrt`` and ``cbrt`` at 0 have an infinite derivative, the true limit.
- ``x ** 0`` has derivative 0, and ``a ** b`` w.r.t. ``b`` is 0 where ``a == 0``.
"""

from __future__ import annotations

import math
from typing import Callable

from ..expr import Graph, Node
from .core import Bar, Family, Site, elementwise_shape

family = Family()

LN2 = math.log(2.0)
LN10 = math.log(10.0)


def _lib(prefix: str) -> Callable[..., Callable[..., Node]]:
    """``call(G)("cos", x)`` builds ``<prefix>.cos(x)``; math lacks some
    numpy functions (``sign``), which then come from numpy."""

    def bind(G: Graph) -> Callable[..., Node]:
        def call(name: str, *args: Node) -> Node:
            lib = prefix if prefix != "math" or hasattr(math, name) else "np"
            return G.call(f"{lib}.{name}", *args)

        return call

    return bind


# -------------------------------------------------------------------------
# Operators and their numpy function spellings


def _add(G: Graph, a: Node, b: Node, out: Node):
    return (G.const(1), G.const(1))


def _sub(G: Graph, a: Node, b: Node, out: Node):
    return (G.const(1), G.const(-1))


def _mul(G: Graph, a: Node, b: Node, out: Node):
    return (b, a)


def _truediv(G: Graph, a: Node, b: Node, out: Node):
    return (G.recip(b), G.neg(G.div(out, b)))


def _mod(G: Graph, a: Node, b: Node, out: Node):
    # a % b == a - floor(a / b) * b
    return (G.const(1), G.neg(G.op("floordiv", (a, b))))


def _power(G: Graph, a: Node, b: Node, out: Node):
    if b.is_number():
        k = b.value
        if k == 0:
            return (None, None)
        if k - 1 < 0:  # numpy's power: x ** -0.5 at x == 0.0 is inf, not Python's ZeroDivisionError
            return (G.mul(b, G.call("np.power", a, G.const(k - 1))), None)  # type: ignore[operator]
        return (G.mul(b, G.pow(a, k - 1)), None)  # type: ignore[operator]
    d_base = G.call("rt.power_base_partial", a, b)
    d_exponent = G.call("rt.xlogy", out, a)
    return (d_base, d_exponent)


def _neg(G: Graph, a: Node, out: Node):
    return (G.const(-1),)


def _pos(G: Graph, a: Node, out: Node):
    return (G.const(1),)


family.elementwise(["add", "np.add"], "x1, x2", _add)
family.elementwise(["sub", "np.subtract"], "x1, x2", _sub)
family.elementwise(["mul", "np.multiply"], "x1, x2", _mul)
family.elementwise(["truediv", "np.divide", "np.true_divide"], "x1, x2", _truediv)
family.elementwise(["mod", "np.mod", "np.remainder"], "x1, x2", _mod)
family.elementwise(["pow", "np.power", "np.float_power", "builtins.pow", "math.pow"], "x1, x2", _power)
family.elementwise(["neg", "np.negative"], "x", _neg)
family.elementwise(["pos", "np.positive"], "x", _pos)

_ZERO_ELEMENTWISE = [
    "floordiv", "np.floor_divide",
    "lt", "le", "gt", "ge", "eq", "ne",
    "np.less", "np.less_equal", "np.greater", "np.greater_equal", "np.equal", "np.not_equal",
    "and_", "or_", "xor", "invert", "not_",
    "np.logical_and", "np.logical_or", "np.logical_xor", "np.logical_not",
    "np.bitwise_and", "np.bitwise_or", "np.bitwise_xor", "np.invert",
    "np.sign", "np.floor", "np.ceil", "np.trunc", "np.rint", "np.fix", "np.round", "np.around",
    "np.isnan", "np.isinf", "np.isfinite", "np.signbit", "np.heaviside",
    "math.floor", "math.ceil", "math.trunc", "math.isnan", "math.isinf", "math.isfinite",
]  # fmt: skip
family.zero(_ZERO_ELEMENTWISE, shape=elementwise_shape)


# -------------------------------------------------------------------------
# One-argument functions, in numpy and math spellings


def _unary(names: dict[str, str], partial: Callable[[Callable, Graph, Node, Node], Node | None]) -> None:
    """Register ``np.<name>`` and ``math.<name>`` spellings of one function."""
    for prefix, name in names.items():
        lib = _lib(prefix)

        def partials(G: Graph, x: Node, out: Node, _lib=lib) -> tuple[Node | None]:
            return (partial(_lib(G), G, x, out),)

        family.elementwise(f"{prefix}.{name}", "x", partials)


def _one(np_name: str, math_name: str | None = None) -> dict[str, str]:
    names = {"np": np_name}
    if math_name:
        names["math"] = math_name
    return names


_unary(_one("exp", "exp"), lambda f, G, x, out: out)
_unary(_one("exp2", "exp2"), lambda f, G, x, out: G.mul(out, G.const(LN2)))
_unary(_one("expm1", "expm1"), lambda f, G, x, out: G.add(out, G.const(1)))
_unary(_one("log"), lambda f, G, x, out: G.recip(x))
_unary(_one("log2", "log2"), lambda f, G, x, out: G.recip(G.mul(G.const(LN2), x)))  # type: ignore[arg-type]
_unary(_one("log10", "log10"), lambda f, G, x, out: G.recip(G.mul(G.const(LN10), x)))  # type: ignore[arg-type]
_unary(_one("log1p", "log1p"), lambda f, G, x, out: G.recip(G.add(G.const(1), x)))  # type: ignore[arg-type]
_unary(_one("sqrt", "sqrt"), lambda f, G, x, out: G.div(G.const(0.5), out))
_unary(_one("cbrt", "cbrt"), lambda f, G, x, out: G.recip(G.mul(G.const(3), G.square(out))))  # type: ignore[arg-type]
_unary(_one("square"), lambda f, G, x, out: G.mul(G.const(2), x))
_unary(_one("reciprocal"), lambda f, G, x, out: G.neg(G.square(out)))
_unary(_one("sin", "sin"), lambda f, G, x, out: f("cos", x))
_unary(_one("cos", "cos"), lambda f, G, x, out: G.neg(f("sin", x)))
_unary(_one("tan", "tan"), lambda f, G, x, out: G.add(G.const(1), G.square(out)))
_unary(_one("arcsin", "asin"), lambda f, G, x, out: G.recip(f("sqrt", G.sub(G.const(1), G.square(x)))))
_unary(_one("arccos", "acos"), lambda f, G, x, out: G.neg(G.recip(f("sqrt", G.sub(G.const(1), G.square(x))))))
_unary(_one("arctan", "atan"), lambda f, G, x, out: G.recip(G.add(G.const(1), G.square(x))))  # type: ignore[arg-type]
_unary(_one("sinh", "sinh"), lambda f, G, x, out: f("cosh", x))
_unary(_one("cosh", "cosh"), lambda f, G, x, out: f("sinh", x))
_unary(_one("tanh", "tanh"), lambda f, G, x, out: G.sub(G.const(1), G.square(out)))
_unary(_one("arcsinh", "asinh"), lambda f, G, x, out: G.recip(f("sqrt", G.add(G.square(x), G.const(1)))))
_unary(_one("arccosh", "acosh"), lambda f, G, x, out: G.recip(f("sqrt", G.sub(G.square(x), G.const(1)))))
_unary(_one("arctanh", "atanh"), lambda f, G, x, out: G.recip(G.sub(G.const(1), G.square(x))))  # type: ignore[arg-type]
_unary({"np": "absolute", "math": "fabs"}, lambda f, G, x, out: G.call("np.sign", x))
_unary(_one("deg2rad", "radians"), lambda f, G, x, out: G.const(math.pi / 180))
_unary(_one("rad2deg", "degrees"), lambda f, G, x, out: G.const(180 / math.pi))
_unary({"math": "erf"}, lambda f, G, x, out: G.mul(G.const(2 / math.sqrt(math.pi)), G.call("math.exp", G.neg(G.square(x)))))
_unary({"math": "erfc"}, lambda f, G, x, out: G.neg(G.mul(G.const(2 / math.sqrt(math.pi)), G.call("math.exp", G.neg(G.square(x))))))
family.elementwise(["np.abs", "builtins.abs"], "x", lambda G, x, out: (G.call("np.sign", x),))
family.elementwise(["np.radians"], "x", lambda G, x, out: (G.const(math.pi / 180),))
family.elementwise(["np.degrees"], "x", lambda G, x, out: (G.const(180 / math.pi),))


def _math_log(G: Graph, x: Node, base: Node | None, out: Node):
    if base is None:
        return (G.recip(x), None)
    log_base = G.call("math.log", base)
    d_base = G.neg(G.div(out, G.mul(base, log_base)))  # type: ignore[arg-type]
    return (G.recip(G.mul(x, log_base)), d_base)  # type: ignore[arg-type]


family.elementwise("math.log", "x, base=None", _math_log)


# -------------------------------------------------------------------------
# Two-argument functions


def _arctan2(G: Graph, y: Node, x: Node, out: Node):
    h = G.add(G.square(x), G.square(y))
    return (G.div(x, h), G.neg(G.div(y, h)))  # type: ignore[arg-type]


def _hypot(G: Graph, a: Node, b: Node, out: Node):
    return (G.call("rt.safe_divide", a, out), G.call("rt.safe_divide", b, out))


def _chooser(first: str, nan_aware: bool):
    """``maximum``-like partials: 1 to the chosen argument, 1/2 each at ties."""

    def partials(G: Graph, a: Node, b: Node, out: Node):
        tie = G.mul(G.const(0.5), G.op("eq", (a, b)))
        da = G.add(G.op(first, (a, b)), tie)
        db = G.add(G.op(first, (b, a)), tie)
        if nan_aware:  # fmax(a, nan) == a
            da = G.add(da, G.call("np.isnan", b))
            db = G.add(db, G.call("np.isnan", a))
        return (da, db)

    return partials


def _logaddexp(G: Graph, a: Node, b: Node, out: Node):
    return (G.call("np.exp", G.sub(a, out)), G.call("np.exp", G.sub(b, out)))


def _logaddexp2(G: Graph, a: Node, b: Node, out: Node):
    return (G.call("np.exp2", G.sub(a, out)), G.call("np.exp2", G.sub(b, out)))


family.elementwise(["np.arctan2", "math.atan2"], "x1, x2", _arctan2)
family.elementwise(["np.hypot", "math.hypot"], "x1, x2", _hypot)
family.elementwise("np.maximum", "x1, x2", _chooser("gt", nan_aware=False))
family.elementwise("np.minimum", "x1, x2", _chooser("lt", nan_aware=False))
family.elementwise("np.fmax", "x1, x2", _chooser("gt", nan_aware=True))
family.elementwise("np.fmin", "x1, x2", _chooser("lt", nan_aware=True))
family.elementwise("np.logaddexp", "x1, x2", _logaddexp)
family.elementwise("np.logaddexp2", "x1, x2", _logaddexp2)


# -------------------------------------------------------------------------
# Selection: where and clip


def _where_partials(G: Graph, condition: Node, x: Node, y: Node, out: Node):
    return (None, condition, G.call("np.logical_not", condition))


def _where_jvp(site: Site, tangents: dict) -> Node | None:
    """``np.where(c, x_dot, y_dot)`` rather than ``c * x_dot + ~c * y_dot``:
    one operation, and an infinite tangent in the branch not taken stays out."""
    c = site.arg("condition")
    tx = tangents.get(site.slot("x"))
    ty = tangents.get(site.slot("y"))
    if tx is None and ty is None:
        return None
    zero = site.G.const(0.0)
    return site.call("np.where", c, tx if tx is not None else zero, ty if ty is not None else zero)


def _where_vjp(site: Site, g: Node) -> list[Bar]:
    c = site.arg("condition")
    zero = site.G.const(0.0)
    return [
        Bar(site.slot("x"), site.call("np.where", c, g, zero)),
        Bar(site.slot("y"), site.call("np.where", c, zero, g)),
    ]


def _clip_partials(G: Graph, a: Node, lo: Node, hi: Node, out: Node):
    inside = [G.op("le", (lo, a))] if not _is_none(lo) else []
    inside += [G.op("le", (a, hi))] if not _is_none(hi) else []
    da = inside[0] if len(inside) == 1 else G.op("and_", inside) if inside else G.const(1)
    dlo = None if _is_none(lo) else G.op("lt", (a, lo))
    dhi = None if _is_none(hi) else G.op("gt", (a, hi))
    return (da, dlo, dhi)


def _is_none(node: Node | None) -> bool:
    return node is None or (node.op == "const" and node.value is None)


from .core import Rule, signature  # noqa: E402

family.add(
    "np.where",
    lambda n: Rule(
        n,
        "elementwise",
        signature("condition, x, y"),
        frozenset({"x", "y"}),
        partials=_where_partials,
        jvp=_where_jvp,
        vjp=_where_vjp,
        shape=elementwise_shape,
    ),
)
family.elementwise(["np.clip"], "a, a_min=None, a_max=None", _clip_partials)
