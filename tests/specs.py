"""The spec table: how to test each derivative rule.

Every key of ``s2s.rules.RULES`` (except runtime helpers) needs an entry
here; ``test_every_rule_has_a_spec`` fails otherwise. A spec gives one or
more expressions exercising the rule, the input domain of each argument and
the shapes to sweep, including broadcasting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SCALAR = ()
UNARY_SHAPES = [((),), ((4,),), ((2, 3),)]
BINARY_SHAPES = [((), ()), ((4,), ()), ((), (4,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((2, 3), (2, 3))]
REDUCE_SHAPES = [((5,),), ((2, 3),)]


@dataclass
class Spec:
    exprs: list[str]  # expressions of the arguments a, b, c
    domain: list[tuple[float, float]]  # per argument
    shapes: list[tuple[tuple[int, ...], ...]]
    wrt: str = ""  # differentiated arguments, default: all
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.domain)


ANY = (-2.0, 2.0)
POS = (0.5, 3.0)
UNIT = (-0.9, 0.9)
ABOVE1 = (1.2, 3.0)


def unary(expr: str, domain=ANY) -> Spec:
    return Spec([expr], [domain], UNARY_SHAPES)


def binary(expr: str, da=ANY, db=ANY) -> Spec:
    return Spec([expr], [da, db], BINARY_SHAPES)


def zero(expr: str, n: int = 1) -> Spec:
    """A non-differentiable operation, used so that its result multiplies a
    differentiable one: the derivative must treat it as a constant."""
    return Spec([expr], [ANY] * n, UNARY_SHAPES if n == 1 else BINARY_SHAPES)


SPECS: dict[str, Spec] = {}


def _add(names: str | list[str], spec: Spec) -> None:
    for name in [names] if isinstance(names, str) else names:
        SPECS[name] = spec


# --- operators and their numpy spellings -----------------------------------
_add("add", binary("a + b"))
_add("np.add", binary("np.add(a, b)"))
_add("sub", binary("a - b"))
_add("np.subtract", binary("np.subtract(a, b)"))
_add("mul", binary("a * b"))
_add("np.multiply", binary("np.multiply(a, b)"))
_add("truediv", binary("a / b", ANY, POS))
_add("np.divide", binary("np.divide(a, b)", ANY, POS))
_add("np.true_divide", binary("np.true_divide(a, b)", ANY, POS))
_add("mod", binary("a % b", ANY, POS))
_add(["np.mod", "np.remainder"], binary("np.mod(a, b)", ANY, POS))
_add("pow", Spec(["a ** b", "a ** 2", "a ** 3.5", "a ** -1", "a ** 0"], [POS, ANY], BINARY_SHAPES))
_add(["np.power", "np.float_power"], binary("np.power(a, b)", POS, ANY))
_add("builtins.pow", Spec(["pow(a, b)"], [POS, ANY], [((), ())]))
_add("math.pow", Spec(["math.pow(a, b)"], [POS, ANY], [((), ())]))
_add("neg", unary("-a"))
_add("np.negative", unary("np.negative(a)"))
_add("pos", unary("+a"))
_add("np.positive", unary("np.positive(a)"))

# --- non-differentiable elementwise operations -----------------------------
for _name, _expr, _n in [
    ("floordiv", "(a // 0.7) * a", 1),
    ("np.floor_divide", "np.floor_divide(a, 0.7) * a", 1),
    ("lt", "(a < b) * a + b", 2),
    ("le", "(a <= b) * a + b", 2),
    ("gt", "(a > b) * a + b", 2),
    ("ge", "(a >= b) * a + b", 2),
    ("eq", "(a == b) * a + b", 2),
    ("ne", "(a != b) * a + b", 2),
    ("np.less", "np.less(a, b) * a", 2),
    ("np.less_equal", "np.less_equal(a, b) * a", 2),
    ("np.greater", "np.greater(a, b) * a", 2),
    ("np.greater_equal", "np.greater_equal(a, b) * a", 2),
    ("np.equal", "np.equal(a, b) * a", 2),
    ("np.not_equal", "np.not_equal(a, b) * a", 2),
    ("and_", "((a > 0) & (b > 0)) * a * b", 2),
    ("or_", "((a > 0) | (b > 0)) * a * b", 2),
    ("xor", "((a > 0) ^ (b > 0)) * a * b", 2),
    ("invert", "(~(a > 0)) * a", 1),
    ("not_", "(not 0.5) * a", 1),
    ("np.logical_and", "np.logical_and(a > 0, b > 0) * a", 2),
    ("np.logical_or", "np.logical_or(a > 0, b > 0) * a", 2),
    ("np.logical_xor", "np.logical_xor(a > 0, b > 0) * a", 2),
    ("np.logical_not", "np.logical_not(a > 0) * a", 1),
    ("np.bitwise_and", "np.bitwise_and(a > 0, b > 0) * a", 2),
    ("np.bitwise_or", "np.bitwise_or(a > 0, b > 0) * a", 2),
    ("np.bitwise_xor", "np.bitwise_xor(a > 0, b > 0) * a", 2),
    ("np.invert", "np.invert(a > 0) * a", 1),
    ("np.sign", "np.sign(a) * a", 1),
    ("np.floor", "np.floor(a) * a", 1),
    ("np.ceil", "np.ceil(a) * a", 1),
    ("np.trunc", "np.trunc(a) * a", 1),
    ("np.rint", "np.rint(a) * a", 1),
    ("np.fix", "np.fix(a) * a", 1),
    ("np.round", "np.round(a, 1) * a", 1),
    ("np.around", "np.around(a) * a", 1),
    ("np.isnan", "np.isnan(a) + a", 1),
    ("np.isinf", "np.isinf(a) + a", 1),
    ("np.isfinite", "np.isfinite(a) * a", 1),
    ("np.signbit", "np.signbit(a) * a", 1),
    ("np.heaviside", "np.heaviside(a, 0.5) * a", 1),
]:
    _add(_name, zero(_expr, _n))
for _name, _expr in [
    ("math.floor", "math.floor(a) * a"),
    ("math.ceil", "math.ceil(a) * a"),
    ("math.trunc", "math.trunc(a) * a"),
    ("math.isnan", "math.isnan(a) + a"),
    ("math.isinf", "math.isinf(a) + a"),
    ("math.isfinite", "math.isfinite(a) * a"),
]:
    _add(_name, Spec([_expr], [ANY], [((),)]))

# --- one-argument functions --------------------------------------------------
for _np, _math, _domain in [
    ("exp", "exp", ANY),
    ("exp2", "exp2", ANY),
    ("expm1", "expm1", ANY),
    ("log", "log", POS),
    ("log2", "log2", POS),
    ("log10", "log10", POS),
    ("log1p", "log1p", POS),
    ("sqrt", "sqrt", POS),
    ("cbrt", "cbrt", POS),
    ("square", None, ANY),
    ("reciprocal", None, POS),
    ("sin", "sin", ANY),
    ("cos", "cos", ANY),
    ("tan", "tan", UNIT),
    ("arcsin", "asin", UNIT),
    ("arccos", "acos", UNIT),
    ("arctan", "atan", ANY),
    ("sinh", "sinh", ANY),
    ("cosh", "cosh", ANY),
    ("tanh", "tanh", ANY),
    ("arcsinh", "asinh", ANY),
    ("arccosh", "acosh", ABOVE1),
    ("arctanh", "atanh", UNIT),
    ("absolute", "fabs", POS),
    ("deg2rad", "radians", ANY),
    ("rad2deg", "degrees", ANY),
]:
    _add(f"np.{_np}", unary(f"np.{_np}(a)", _domain))
    if _math:
        _add(f"math.{_math}", Spec([f"math.{_math}(a)"], [_domain], [((),)]))
_add("np.abs", Spec(["np.abs(a)", "np.abs(a - 0.1)"], [(-2.0, -0.5)], UNARY_SHAPES))
_add("builtins.abs", Spec(["abs(a)"], [(0.5, 2.0)], UNARY_SHAPES))
_add("np.radians", unary("np.radians(a)"))
_add("np.degrees", unary("np.degrees(a)"))
_add("math.erf", Spec(["math.erf(a)"], [ANY], [((),)]))
_add("math.erfc", Spec(["math.erfc(a)"], [ANY], [((),)]))
_add("math.log", Spec(["math.log(a)", "math.log(a, b)"], [POS, ABOVE1], [((), ())]))

# --- two-argument functions --------------------------------------------------
_add(["np.arctan2"], binary("np.arctan2(a, b)"))
_add(["math.atan2"], Spec(["math.atan2(a, b)"], [ANY, ANY], [((), ())]))
_add(["np.hypot"], binary("np.hypot(a, b)"))
_add(["math.hypot"], Spec(["math.hypot(a, b)"], [ANY, ANY], [((), ())]))
_add("np.maximum", binary("np.maximum(a, b)"))
_add("np.minimum", binary("np.minimum(a, b)"))
_add("np.fmax", binary("np.fmax(a, b)"))
_add("np.fmin", binary("np.fmin(a, b)"))
_add("np.logaddexp", binary("np.logaddexp(a, b)"))
_add("np.logaddexp2", binary("np.logaddexp2(a, b)"))
_add("np.where", Spec(["np.where(a > 0, a * b, b)", "np.where(a > b, np.exp(a), 2.0)"], [ANY, ANY], BINARY_SHAPES))
_add("np.clip", Spec(["np.clip(a, -1.0, 1.0)", "np.clip(a, b, 1.5)", "np.clip(a, None, b)"], [ANY, (-1.5, 0.0)], BINARY_SHAPES))

# --- reductions -----------------------------------------------------------
REDUCE_2D = [((2, 3),), ((3, 4),)]
_add("np.sum", Spec(["np.sum(a)", "np.sum(a * a)", "np.sum(a, axis=0)", "np.sum(a ** 2, axis=-1, keepdims=True)", "np.sum(np.exp(a), axis=(0, 1))"], [ANY], REDUCE_2D))
_add("np.add.reduce", Spec(["np.add.reduce(a, axis=None)", "np.add.reduce(a * a)", "np.add.reduce(a ** 2, axis=-1, keepdims=True)", "np.add.reduce(np.exp(a), axis=(0, 1))"], [ANY], REDUCE_2D))
_add("np.mean", Spec(["np.mean(a)", "np.mean(a * a, axis=0)", "np.mean(np.sin(a), axis=1, keepdims=True)"], [ANY], REDUCE_2D))
_add(["np.max", "np.amax"], Spec(["np.max(a)", "np.max(a * 2.0, axis=0)", "np.max(a, axis=-1, keepdims=True)"], [ANY], REDUCE_2D))
_add(["np.min", "np.amin"], Spec(["np.min(a)", "np.min(np.cos(a), axis=1)", "np.amin(a, axis=0, keepdims=True)"], [ANY], REDUCE_2D))
_add("np.prod", Spec(["np.prod(a)", "np.prod(a, axis=0)", "np.prod(a + 1.0, axis=-1, keepdims=True)"], [ANY], REDUCE_2D))
_add("np.var", Spec(["np.var(a)", "np.var(a, axis=0)", "np.var(a, axis=1, ddof=1, keepdims=True)"], [ANY], REDUCE_2D))
_add("np.std", Spec(["np.std(a)", "np.std(a, axis=0)", "np.std(a * 2.0, axis=1, ddof=1)"], [ANY], REDUCE_2D))
_add("np.cumsum", Spec(["np.cumsum(a)", "np.cumsum(a, axis=0)", "np.cumsum(a, axis=-1)"], [ANY], REDUCE_2D))
_add("np.cumprod", Spec(["np.cumprod(a)", "np.cumprod(a, axis=0)", "np.cumprod(a, axis=1)"], [ANY], REDUCE_2D))
_add("np.linalg.norm", Spec(["np.linalg.norm(a)", "np.linalg.norm(a - 1.0, axis=0)", "np.linalg.norm(a, axis=1, keepdims=True)"], [ANY], REDUCE_2D))
_add("builtins.sum", Spec(["sum(a)", "sum([a, 2.0 * a, a * a])", "sum([a, a * b], b) * b"], [ANY, ANY], [((4,), ()), ((2, 3), (3,))]))
_add("builtins.float", Spec(["float(a) * a", "float(a * a) + a"], [ANY], [((),)]))
_add("np.float64", Spec(["np.float64(a) * 2.0"], [ANY], [((),)]))
_add("builtins.max", Spec(["max(a, b)", "max(a * a, 0.5)"], [ANY, ANY], [((), ())]))
_add("builtins.min", Spec(["min(a, b)", "min(0.5, a + b)"], [ANY, ANY], [((), ())]))

# --- operations without a derivative ---------------------------------------
VEC = [((4,),)]
for _name, _expr in [
    ("builtins.len", "np.sum(a) / len(a)"),
    ("builtins.int", "a * int(3.7)"),
    ("builtins.bool", "a * bool(1)"),
    ("builtins.round", "a * round(2.6)"),
    ("builtins.isinstance", "a * isinstance(a, float)"),
    ("np.ndim", "a * np.ndim(a)"),
    ("np.size", "np.sum(a) / np.size(a)"),
    ("np.count_nonzero", "a * np.count_nonzero(a > 0)"),
    ("np.any", "a * np.any(a > 0)"),
    ("np.all", "a * np.all(a > -5.0)"),
    ("np.allclose", "a * np.allclose(a, a)"),
    ("np.array_equal", "a * np.array_equal(a, a)"),
    ("np.array_equiv", "a * np.array_equiv(a, a)"),
    ("np.isscalar", "a * np.isscalar(2.0)"),
    ("np.iscomplexobj", "a * np.iscomplexobj(a)"),
    ("np.isrealobj", "a * np.isrealobj(a)"),
    ("attr.ndim", "a * a.ndim"),
    ("attr.size", "np.sum(a) / a.size"),
    ("attr.dtype", "a * (a.dtype == float)"),
    ("builtins.range", "np.sum(a) * len(range(3))"),
    ("builtins.print", "a * (print(end='') is None)"),
    ("np.shape", "a * len(np.shape(a))"),
    ("attr.shape", "a * len(a.shape)"),
    ("np.argmax", "a * np.argmax(a)"),
    ("np.argmin", "a * np.argmin(a)"),
    ("np.argsort", "a * np.sum(np.argsort(a))"),
    ("np.argwhere", "a * len(np.argwhere(a > 0))"),
    ("np.nonzero", "a * len(np.nonzero(a > 0))"),
    ("np.flatnonzero", "a * len(np.flatnonzero(a > 0))"),
    ("np.searchsorted", "a * np.searchsorted([0.0, 1.0], 0.5)"),
    ("np.digitize", "a * np.digitize(0.5, [0.0, 1.0])"),
    ("np.isclose", "a * np.isclose(a, 0.3)"),
    ("np.unravel_index", "a * len(np.unravel_index(3, (2, 3)))"),
    ("np.ravel_multi_index", "a * np.ravel_multi_index((1, 2), (2, 3))"),
    ("np.indices", "a * np.sum(np.indices((2,)))"),
    ("np.random.rand", "a + 0.0 * np.random.rand()"),
    ("np.random.randn", "a + 0.0 * np.random.randn()"),
    ("np.random.random", "a + 0.0 * np.random.random()"),
    ("np.random.uniform", "a + 0.0 * np.random.uniform()"),
    ("np.random.normal", "a + 0.0 * np.random.normal()"),
    ("np.random.standard_normal", "a + 0.0 * np.random.standard_normal()"),
    ("np.random.randint", "a + 0.0 * np.random.randint(3)"),
    ("np.random.default_rng", "a * np.random.default_rng(0).standard_normal()"),
    ("method.standard_normal", "a * np.random.default_rng(1).standard_normal()"),
    ("method.normal", "a * np.random.default_rng(1).normal()"),
    ("method.uniform", "a * np.random.default_rng(1).uniform()"),
    ("method.random", "a * np.random.default_rng(1).random()"),
    ("method.integers", "a * np.random.default_rng(1).integers(5)"),
]:
    _add(_name, Spec([_expr], [ANY], VEC))

# --- families kept in their own files ----------------------------------------
import importlib as _importlib  # noqa: E402

for _module in ("specs_linalg", "specs_structural"):
    SPECS.update(_importlib.import_module(_module).SPECS)
