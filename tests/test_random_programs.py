"""Random numpy programs from a small grammar (hypothesis), differentiated by
s2s in both modes.

Each example is a module with a function ``f`` of one to four float
parameters (scalars, vectors and matrices whose shapes broadcast against each
other), a few statements (elementwise expression trees, reductions, ``@``,
indexing, in-place updates of a copy or of a new array, branches on data,
``for`` loops carrying a value, calls to a generated helper) and a return; ``wrt`` is a random
non-empty subset of the parameters. Two properties:

- ``check`` passes: both modes return the primal's value, agree with
  central finite differences and with each other (a disagreement with
  finite differences must hold at a finer step too: steep programs defeat
  the default step);
- the dot-product test: for random ``v`` (shaped like the ``wrt`` arguments)
  and ``w`` (shaped like the output), <J v, w> from the forward-mode Jacobian
  equals <v, J^T w> from the reverse-mode Jacobian to rounding.

Inputs near kinks are rejected (``assume``): a branch condition, a
comparison in ``np.where`` or the arguments of ``np.maximum`` within 1e-3 of
each other, a reduction ``np.max`` whose two largest candidates are that
close, and values that are not finite or grow beyond 1e3. On failure the
program's source is printed (``hypothesis.note``); shrinking yields programs
with fewer statements, shallower expressions and smaller shapes.

Normal run (a few dozen programs per property)::

    .venv/bin/python -m pytest -q tests/test_random_programs.py

Long run (thousands of programs; ``S2S_PROPERTY_EXAMPLES`` overrides the
number of examples per property; the number of programs tried is printed at
the end of the module)::

    S2S_PROPERTY_LONG=1 .venv/bin/python -m pytest -q tests/test_random_programs.py
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from s2s import check, differentiate

# --------------------------------------------------------------------------
# Settings: a short profile for every run, a long one for bug hunting

LONG = os.environ.get("S2S_PROPERTY_LONG", "") not in ("", "0")
_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])
settings.register_profile("s2s-random-programs", max_examples=20, **_COMMON)
settings.register_profile(
    "s2s-random-programs-long",
    max_examples=int(os.environ.get("S2S_PROPERTY_EXAMPLES", "1500")),
    **_COMMON,
)
PROFILE = settings.get_profile("s2s-random-programs-long" if LONG else "s2s-random-programs")

TOLERANCE = 1e-5  # check(): against finite differences (values up to 1e3 strain them); the two modes must agree to 1e-8
DOT_TOLERANCE = 1e-9  # relative to the sum of the magnitudes of the products
# a derivative that is exactly zero one way can be rounding noise of cancelling terms the other
DOT_FLOOR = 1e-11
FINER_STEP = 1e-8  # relative step of the second finite difference, for steep programs
KINK_GAP = 1e-3  # how far from a kink or a branch switch the inputs must be
MAX_MAGNITUDE = 1e3  # larger values make finite differences unreliable

# --------------------------------------------------------------------------
# The grammar's building blocks

Shape = tuple[int, ...]

# Shapes of parameters and targets: simplest first (shrinking goes there).
SHAPES: list[Shape] = [(), (3,), (2,), (2, 1), (1, 3), (2, 3)]

# Pairs of shapes `@` accepts (the result shape is computed).
MATMUL_PAIRS: list[tuple[Shape, Shape]] = [
    ((3,), (3,)),
    ((2,), (2,)),
    ((2, 3), (3,)),
    ((2,), (2, 3)),
    ((1, 3), (3,)),
    ((2, 1), (1, 3)),
    ((2, 3), (3, 2)),
]

# Reading an array: index, slice, integer-array and transpose patterns; `i` is
# the index of the enclosing loop.
READ_PATTERNS = ["[0]", "[-1]", "[1:]", "[:2]", "[::2]", "[::-1]", "[[0, 1, 0]]", "[:, 0]", "[:, -1]",
                 "[1, 0]", "[:, 1:]", "[-1, :2]", "[:, [0, 0]]", ".T"]
LOOP_READ_PATTERNS = ["[i]", "[:, i]"]
# Writing into a copy: the same without the patterns that make copies.
WRITE_PATTERNS = ["[0]", "[-1]", "[1:]", "[0:2]", "[:, 0]", "[1, 0]", "[:, 1:]", "[0:1, 1:]"]
LOOP_WRITE_PATTERNS = ["[i]", "[:, i]"]
UPDATE_OPERATORS = ["=", "+=", "-=", "*="]
# Arrays made to be updated in place, besides copies: functions whose
# derivative reads their result.
MADE_ARRAYS = ["np.tanh({})", "np.exp(np.tanh({}))"]

UNARY = [
    "(-{})",
    "np.sin({})",
    "np.cos({})",
    "np.tanh({})",
    "np.exp(np.tanh({}))",  # exp of bounded arguments
    "np.exp(-({} ** 2))",
    "np.log(1.0 + {} ** 2)",  # log and sqrt of positive arguments
    "np.sqrt(1.0 + {} ** 2)",
    "np.sqrt(np.exp(np.sin({})))",
]
BINARY = [
    "({} + {})",
    "({} - {})",
    "({} * {})",
    "({} / (1.0 + {} ** 2))",  # positive denominators
    "({} / (2.0 + np.cos({})))",
    "({} ** 2 + {})",
    "({} ** 3 - {})",
    "((1.0 + {} ** 2) ** np.sin({}))",  # a positive base to an active power
    "((1.0 + {} ** 2) ** 0.5 * {})",
]
CONSTANTS = ["0.5", "2.0", "(-1.5)", "0.25"]
THRESHOLDS = ["0.3", "0.0", "(-0.5)", "1.0"]
REDUCTIONS = ["sum", "mean", "max", "prod"]


def fits(shape: Shape, target: Shape) -> bool:
    """Whether a value of ``shape`` broadcasts to ``target`` unchanged."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def pattern_shape(shape: Shape, pattern: str, loop_trips: int = 1) -> Shape | None:
    """The shape ``x<pattern>`` has for ``x`` of ``shape`` (``i`` up to the
    last iteration of a loop), or None when the pattern does not apply."""
    if not shape or (pattern == ".T" and len(shape) != 2):
        return None
    try:
        result = np.shape(eval(f"x{pattern}", {"x": np.zeros(shape), "i": max(loop_trips - 1, 0)}))
    except IndexError:
        return None
    return result if all(result) else None  # no empty selections


# --------------------------------------------------------------------------
# Expressions and scopes


@dataclass(frozen=True)
class Expr:
    """An expression as differentiated (``plain``) and as evaluated to look
    for kinks (``probe``: the same with recording calls), with its shape."""

    plain: str
    probe: str
    shape: Shape


def node(shape: Shape, template: str, *children: Expr, probe_template: str | None = None) -> Expr:
    """An expression made of ``children`` by a ``{}`` template."""
    plain = template.format(*(c.plain for c in children))
    probe = (probe_template or template).format(*(c.probe for c in children))
    return Expr(plain, probe, shape)


def atom(text: str, shape: Shape) -> Expr:
    return Expr(text, text, shape)


@dataclass
class Var:
    name: str
    shape: Shape
    owned: bool = False  # made here (a copy, a new array): may be updated in place


@dataclass
class Helper:
    name: str
    params: list[Var]
    result: Shape


@dataclass
class Scope:
    """The names a statement can read, most recently defined first."""

    variables: list[Var]
    helper: Helper | None = None
    loop: tuple[str, int] | None = None  # the loop index and the trip count

    def define(self, name: str, shape: Shape, owned: bool = False) -> None:
        self.variables = [Var(name, shape, owned)] + [v for v in self.variables if v.name != name]

    def child(self, loop: tuple[str, int] | None = None) -> "Scope":
        return Scope([Var(v.name, v.shape, v.owned) for v in self.variables], self.helper, loop or self.loop)

    def owned(self) -> list[Var]:
        return [v for v in self.variables if v.owned]


Line = tuple[str, str]  # (plain, probe), indentation included


def indented(lines: list[Line]) -> list[Line]:
    return [("    " + plain, "    " + probe) for plain, probe in lines]


# --------------------------------------------------------------------------
# The generator: one method per grammar rule


MAX_DEPTH = 3
MAX_STATEMENTS = 5


class ProgramBuilder:
    """Draws a program rule by rule. Every choice is drawn so that its
    simplest value (what hypothesis shrinks to) is the simplest program."""

    def __init__(self, draw: Callable) -> None:
        self.draw = draw
        self.counter = itertools.count(1)
        self.sites = itertools.count(1)  # kinks and branch conditions, numbered for the probe

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def choose(self, options: list[tuple[str, int]]) -> str:
        """One of ``options`` (name, weight); shrinks to the first."""
        total = sum(w for _, w in options)
        k = self.draw(st.integers(0, total - 1))
        for name, weight in options:
            if k < weight:
                return name
            k -= weight
        raise AssertionError("unreachable")

    def pick(self, items: list):
        return self.draw(st.sampled_from(items))

    # expressions ------------------------------------------------------------

    def expr(self, scope: Scope, target: Shape, depth: int, top: bool = False) -> Expr:
        """An expression whose shape broadcasts to ``target``. At the top of a
        statement it is never a bare name or index (no views get a name)."""
        if depth <= 0 and not top:
            return self.leaf(scope, target)
        options = [("leaf", 4), ("unary", 2), ("binary", 3), ("maximum", 1), ("where", 1), ("reduction", 1),
                   ("matmul", 1)]
        if scope.helper is not None and fits(scope.helper.result, target):
            options.append(("call", 1))
        if top:
            options = options[1:]
        kind = self.choose(options)
        depth = max(depth, 1)
        return getattr(self, f"expr_{kind}")(scope, target, depth - 1)

    def exact(self, scope: Scope, shape: Shape, depth: int, top: bool = False) -> Expr:
        """An expression of exactly ``shape`` (broadcast when smaller)."""
        e = self.expr(scope, shape, depth, top)
        if e.shape == shape:
            return e
        return node(shape, f"np.broadcast_to({{}}, {shape!r})", e)

    def expr_leaf(self, scope: Scope, target: Shape, depth: int) -> Expr:
        return self.leaf(scope, target)

    def leaf(self, scope: Scope, target: Shape) -> Expr:
        """A name, an index of one, or a constant."""
        names = [v for v in scope.variables if fits(v.shape, target)]
        indexed = self.indexed_names(scope, target)
        options = ([("name", 6)] if names else []) + ([("index", 3)] if indexed else []) + [("constant", 1)]
        kind = self.choose(options)
        if kind == "name":
            v = self.pick(names)
            return atom(v.name, v.shape)
        if kind == "index":
            return self.pick(indexed)
        constants = CONSTANTS + ([f"(0.1 * {scope.loop[0]})"] if scope.loop else [])
        return atom(self.pick(constants), ())

    def indexed_names(self, scope: Scope, target: Shape) -> list[Expr]:
        patterns = READ_PATTERNS + (LOOP_READ_PATTERNS if scope.loop else [])
        found = []
        for v in scope.variables:
            for p in patterns:
                s = pattern_shape(v.shape, p, scope.loop[1] if scope.loop else 1)
                if s is not None and fits(s, target):
                    found.append(atom(f"{v.name}{p}", s))
        return found

    def expr_unary(self, scope: Scope, target: Shape, depth: int) -> Expr:
        a = self.expr(scope, target, depth)
        return node(a.shape, self.pick(UNARY), a)

    def expr_binary(self, scope: Scope, target: Shape, depth: int) -> Expr:
        a, b = self.expr(scope, target, depth), self.expr(scope, target, depth)
        return node(np.broadcast_shapes(a.shape, b.shape), self.pick(BINARY), a, b)

    def distinct(self, a: Expr, b: Expr) -> Expr:
        """``b``, shifted when it is ``a`` itself (which would tie everywhere)."""
        return b if b.plain != a.plain else node(b.shape, "({} + 0.25)", b)

    def expr_maximum(self, scope: Scope, target: Shape, depth: int) -> Expr:
        a = self.expr(scope, target, depth)
        b = self.distinct(a, self.expr(scope, target, depth))
        return node(np.broadcast_shapes(a.shape, b.shape), "np.maximum({}, {})", a, b,
                    probe_template=f"_maximum({next(self.sites)}, {{}}, {{}})")

    def expr_where(self, scope: Scope, target: Shape, depth: int) -> Expr:
        parts = [self.expr(scope, target, depth) for _ in range(4)]
        parts[1] = self.distinct(parts[0], parts[1])
        return node(np.broadcast_shapes(*(p.shape for p in parts)), "np.where({} > {}, {}, {})", *parts,
                    probe_template=f"np.where(_gap({next(self.sites)}, {{}}, {{}}), {{}}, {{}})")

    def expr_reduction(self, scope: Scope, target: Shape, depth: int) -> Expr:
        """np.sum/mean/max/prod over a random axis, with or without keepdims."""
        function = self.pick(REDUCTIONS)
        a = self.expr(scope, self.pick(SHAPES[1:]), depth)
        if function == "prod":  # of small values
            a = node(a.shape, self.pick(["np.tanh({})", "np.cos({})"]), a)
        candidates = []
        for axis in [None, *range(len(a.shape))] + ([-1] if a.shape else []):
            for keepdims in (False, True):
                result = np.shape(np.sum(np.zeros(a.shape), axis=axis, keepdims=keepdims))
                if fits(result, target):
                    candidates.append((axis, keepdims, result))
        axis, keepdims, result = self.pick(candidates)
        options = ("" if axis is None else f", axis={axis}") + (", keepdims=True" if keepdims else "")
        probe = f"_max({next(self.sites)}, {{}}{options})" if function == "max" else None
        return node(result, f"np.{function}({{}}{options})", a, probe_template=probe)

    def expr_matmul(self, scope: Scope, target: Shape, depth: int) -> Expr:
        pairs = [(p, q) for p, q in MATMUL_PAIRS if fits(np.shape(np.zeros(p) @ np.zeros(q)), target)]
        p, q = self.pick(pairs)
        a, b = self.exact(scope, p, depth), self.exact(scope, q, depth)
        template = self.pick(["({} @ {})", "np.dot({}, {})"])
        return node(np.shape(np.zeros(p) @ np.zeros(q)), template, a, b)

    def expr_call(self, scope: Scope, target: Shape, depth: int) -> Expr:
        return self.call(scope, depth)

    def call(self, scope: Scope, depth: int) -> Expr:
        helper = scope.helper
        args = [self.exact(scope, p.shape, depth) for p in helper.params]
        return node(helper.result, f"{helper.name}({', '.join('{}' for _ in args)})", *args)

    # statements ---------------------------------------------------------------

    def depth(self) -> int:
        return self.draw(st.integers(1, MAX_DEPTH))

    def block(self, scope: Scope, count: int) -> list[Line]:
        lines: list[Line] = []
        for _ in range(count):
            lines += self.statement(scope)
        return lines

    def statement(self, scope: Scope) -> list[Line]:
        options = [("assign", 4), ("update", 2), ("branch", 2), ("loop", 2)]
        return getattr(self, f"statement_{self.choose(options)}")(scope)

    def assignment(self, scope: Scope, name: str, expr: Expr) -> Line:
        return f"{name} = {expr.plain}", f"{name} = _value({expr.probe}, {expr.shape!r})"

    def statement_assign(self, scope: Scope) -> list[Line]:
        """``v = <expression>``."""
        e = self.expr(scope, self.pick(SHAPES), self.depth(), top=True)
        name = self.fresh("v")
        line = self.assignment(scope, name, e)
        scope.define(name, e.shape)
        return [line]

    def statement_call(self, scope: Scope) -> list[Line]:
        """``v = helper(...)``."""
        e = self.call(scope, self.depth() - 1)
        name = self.fresh("h")
        line = self.assignment(scope, name, e)
        scope.define(name, e.shape)
        return [line]

    def statement_update(self, scope: Scope) -> list[Line]:
        """``y = x.copy()``, or ``y = np.tanh(<expression>)`` (whose
        derivative reads ``y``: the values the updates overwrite must come
        back in reverse mode), then in-place updates of ``y``."""
        name = self.fresh("y")
        arrays = [v for v in scope.variables if len(v.shape)]
        if arrays and not self.draw(st.booleans()):
            source = self.pick(arrays)
            lines = [(f"{name} = {source.name}.copy()",) * 2]
            shape = source.shape
        else:
            shape = self.pick([s for s in SHAPES if s])
            e = self.exact(scope, shape, self.depth() - 1)
            made = self.pick(MADE_ARRAYS)
            lines = [(f"{name} = {made.format(e.plain)}", f"{name} = _value({made.format(e.probe)}, {shape!r})")]
        scope.define(name, shape, owned=True)
        for _ in range(self.draw(st.integers(1, 3))):
            lines += self.update(scope, scope.variables[0])
        return lines

    def update(self, scope: Scope, target: Var) -> list[Line]:
        """``y[<pattern>] <op> <expression>`` on an array made by `.copy()`."""
        trips = scope.loop[1] if scope.loop else 1
        patterns = WRITE_PATTERNS + (LOOP_WRITE_PATTERNS if scope.loop else [])
        regions = [(p, s) for p in patterns if (s := pattern_shape(target.shape, p, trips)) is not None]
        pattern, region = self.pick(regions)
        operator = self.pick(UPDATE_OPERATORS)
        e = self.expr(scope, region, self.depth() - 1)
        return [(f"{target.name}{pattern} {operator} {e.plain}", f"{target.name}{pattern} {operator} _value({e.probe})")]

    def condition(self, scope: Scope) -> Line:
        """``if np.sum(<expression>) > <threshold>:``"""
        e = self.expr(scope, self.pick(SHAPES), self.depth() - 1)
        reduce = self.pick(["np.sum", "np.mean"])
        threshold = self.pick(THRESHOLDS)
        site = next(self.sites)
        return f"if {reduce}({e.plain}) > {threshold}:", f"if _gap({site}, {reduce}({e.probe}), {threshold}):"

    def statement_branch(self, scope: Scope, fresh_names: bool = True) -> list[Line]:
        """An ``if``/``else`` on a data value whose arms assign the same names."""
        reassignable = [v for v in scope.variables if not v.owned]
        targets: list[Var] = []
        for _ in range(self.draw(st.integers(1, 2))):
            if fresh_names and (not reassignable or self.draw(st.booleans())):
                targets.append(Var(self.fresh("b"), self.pick(SHAPES)))
            else:
                targets.append(self.pick(reassignable))
        lines = [self.condition(scope)]
        for arm in range(2):
            arm_scope = scope.child()
            body = []
            for t in targets:
                body.append(self.assignment(arm_scope, t.name, self.exact(arm_scope, t.shape, self.depth(), top=True)))
                arm_scope.define(t.name, t.shape)
            lines += ([] if arm == 0 else [("else:",) * 2]) + indented(body)
        for t in targets:
            scope.define(t.name, t.shape)
        return lines

    def statement_loop(self, scope: Scope) -> list[Line]:
        """``s = <init>; for i in range(k): s = <expression of s>; ...``"""
        shape = self.pick(SHAPES)
        carried = self.fresh("s")
        lines = [self.assignment(scope, carried, self.exact(scope, shape, self.depth(), top=True))]
        scope.define(carried, shape)
        trips = self.draw(st.integers(0, 3))
        body_scope = scope.child(loop=("i", trips))
        body = [self.assignment(body_scope, carried, self.exact(body_scope, shape, self.depth(), top=True))]
        for _ in range(self.draw(st.integers(0, 2))):
            body += self.loop_statement(body_scope)
        return lines + [(f"for i in range({trips}):",) * 2] + indented(body)

    def loop_statement(self, scope: Scope) -> list[Line]:
        """In a loop body: reassign a name (same shape), update an owned array in
        place, or branch; no new names."""
        options = [("reassign", 3), ("branch", 1)] + ([("update", 2)] if scope.owned() else [])
        kind = self.choose(options)
        if kind == "update":
            return self.update(scope, self.pick(scope.owned()))
        if kind == "branch":
            return self.statement_branch(scope, fresh_names=False)
        target = self.pick([v for v in scope.variables if not v.owned])
        line = self.assignment(scope, target.name, self.exact(scope, target.shape, self.depth(), top=True))
        scope.define(target.name, target.shape)
        return [line]

    # functions --------------------------------------------------------------------

    def function(self, name: str, params: list[Var], helper: Helper | None, statements: int) -> tuple[list[Line], Shape]:
        """``def name(params): <statements>; return <expression>``."""
        scope = Scope(list(reversed(params)), helper)
        lines = self.statement_call(scope) if helper else []
        lines += self.block(scope, statements)
        e = self.expr(scope, self.pick(SHAPES), self.depth(), top=True)
        lines.append((f"return {e.plain}", f"return _value({e.probe}, {e.shape!r})"))
        signature = f"def {name}({', '.join(p.name for p in params)}):"
        return [(signature, signature)] + indented(lines), e.shape

    def helper(self) -> tuple[list[Line], Helper]:
        params = [Var(n, self.pick(SHAPES)) for n in ["p", "q"][: self.draw(st.integers(1, 2))]]
        lines, result = self.function("helper", params, None, self.draw(st.integers(0, 2)))
        return lines, Helper("helper", params, result)


# --------------------------------------------------------------------------
# Programs, inputs and cases


@dataclass
class Case:
    """A generated program, the arguments to differentiate it at and ``wrt``."""

    source: str
    probe_source: str
    names: list[str]
    args: list
    wrt: tuple[str, ...]

    def __repr__(self) -> str:
        return f"Case(wrt={self.wrt!r}, args={describe(self.names, self.args)})\n{self.source}"


def describe(names: list[str], args: list) -> str:
    with np.printoptions(precision=17, floatmode="unique"):
        return ", ".join(f"{n}={np.shape(a)}:{a!r}" for n, a in zip(names, args))


def render(lines: list[Line], which: int) -> str:
    return "\n".join(line[which] for line in lines)


@st.composite
def programs(draw) -> tuple[str, str, list[Var]]:
    """A module with ``f`` (and maybe ``helper``): plain and probe sources."""
    builder = ProgramBuilder(draw)
    params = [Var(n, builder.pick(SHAPES)) for n in "abcd"[: draw(st.integers(1, 4))]]
    lines: list[Line] = []
    helper = None
    if draw(st.booleans()):
        helper_lines, helper = builder.helper()
        lines += helper_lines + [("", ""), ("", "")]
    main, _ = builder.function("f", params, helper, draw(st.integers(0, MAX_STATEMENTS)))
    lines += main
    header = "import numpy as np\n\n\n"
    return header + render(lines, 0) + "\n", header + render(lines, 1) + "\n", params


ELEMENTS = st.floats(-1.5, 1.5, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def argument(shape: Shape):
    """A Python float for a scalar, else a float64 array (elements drawn one by one)."""
    if not shape:
        return ELEMENTS
    return arrays(np.float64, shape, elements=ELEMENTS, fill=st.nothing())


@st.composite
def cases(draw) -> Case:
    source, probe_source, params = draw(programs())
    names = [p.name for p in params]
    wrt = tuple(draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True)))
    args = [draw(argument(p.shape)) for p in params]
    return Case(source, probe_source, names, args, wrt)


# --------------------------------------------------------------------------
# Running a case: the probe rejects inputs near kinks, then the module is imported


class Probe:
    """What one evaluation of the probe source saw: at each kink or branch
    condition reached, in order, the distances to the switch point; and the
    largest magnitude of any value."""

    def __init__(self) -> None:
        self.events: list[tuple[int, np.ndarray]] = []
        self.magnitude = 0.0
        self.finite = True

    def namespace(self) -> dict:
        return {"np": np, "_gap": self.compare, "_maximum": self.maximum, "_max": self.reduce_max, "_value": self.value}

    def distance(self, site: int, a, b) -> None:
        self.events.append((site, np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))))

    def compare(self, site: int, a, b):
        self.distance(site, a, b)
        return a > b

    def maximum(self, site: int, a, b):
        self.distance(site, a, b)
        return np.maximum(a, b)

    def reduce_max(self, site: int, x, axis=None, keepdims=False):
        a = np.asarray(x, dtype=float)
        flat, ax = (a.reshape(-1), 0) if axis is None else (a, axis)
        if flat.ndim and flat.shape[ax] > 1:
            top = np.sort(flat, axis=ax)
            self.distance(site, np.take(top, -1, axis=ax), np.take(top, -2, axis=ax))
        return np.max(x, axis=axis, keepdims=keepdims)

    def value(self, x, shape: Shape | None = None):
        if shape is not None:
            assert np.shape(x) == shape, f"the grammar expected shape {shape}, the value has {np.shape(x)}"
        a = np.asarray(x, dtype=float)
        if a.size:
            self.finite = self.finite and bool(np.all(np.isfinite(a)))
            self.magnitude = max(self.magnitude, float(np.max(np.abs(a))))
        return x


def probe(case: Case, args: list) -> Probe:
    """Run the probe source at ``args``."""
    seen = Probe()
    namespace = seen.namespace()
    exec(compile(case.probe_source, "<probe>", "exec"), namespace)
    with np.errstate(all="ignore"):
        seen.value(namespace["f"](*[np.copy(a) if isinstance(a, np.ndarray) else a for a in args]))
    return seen


def nudged(args: list, seed: int = 0) -> list:
    """The arguments moved a little in a random direction."""
    rng = np.random.default_rng(seed)
    return [a + 1e-4 * (rng.standard_normal(np.shape(a)) if np.ndim(a) else float(rng.standard_normal())) for a in args]


def stepped(case: Case) -> list[list]:
    """The arguments as the finite differences of ``check`` move them: each
    element of each ``wrt`` argument, one at a time, up and down by its step."""
    eps = np.finfo(float).eps ** (1 / 3)
    points = []
    for name in case.wrt:
        k = case.names.index(name)
        x = np.asarray(case.args[k], dtype=float)
        for j in range(x.size):
            for sign in (1.0, -1.0):
                moved = x.copy()
                moved.flat[j] += sign * eps * max(1.0, abs(float(x.flat[j])))
                args = list(case.args)
                args[k] = moved if np.ndim(case.args[k]) else float(moved)
                points.append(args)
    return points


def away_from_kinks(case: Case) -> bool:
    """Whether the inputs are safely inside a smooth piece of the program:
    values finite and moderate, and every kink or branch condition more than
    KINK_GAP from its switch point. A tie that holds identically (the two
    sides equal at the inputs, at nudged inputs and at every point the
    finite differences evaluate, like ``np.maximum(x[0], x)`` at ``x[0]``)
    is no kink: the two sides have the same derivative. One that rounding
    breaks at some of those points is."""
    here = probe(case, case.args)
    if not (here.finite and here.magnitude < MAX_MAGNITUDE):
        return False
    close = [d < KINK_GAP for _, d in here.events]
    if not any(np.any(c) for c in close):
        return True
    for args in [nudged(case.args)] + stepped(case):
        near = probe(case, args)
        if [site for site, _ in here.events] != [site for site, _ in near.events]:
            return False  # the move changed the control flow
        for (_, d), (_, d_near), c in zip(here.events, near.events, close):
            if np.any(c & ((d != 0) | (d_near != 0))):
                return False
    return True


MODULES = Path(tempfile.mkdtemp(prefix="s2s-random-programs-"))
TRIED: Counter = Counter()
_module_numbers = itertools.count()
TIME_LIMIT = 120.0  # seconds for one program: beyond that, a failure (a hang)


class TookTooLong(AssertionError):
    """Differentiating and checking one program took longer than TIME_LIMIT."""


@contextlib.contextmanager
def loaded(case: Case):
    """Note the program, reject inputs near kinks, import ``f`` and give it
    (within the time limit)."""
    from conftest import time_limit, write_module

    TRIED["programs"] += 1
    note(f"program:\n{case.source}")
    note(f"wrt={case.wrt!r}; arguments: {describe(case.names, case.args)}")
    assume(away_from_kinks(case))
    TRIED["checked"] += 1
    name = f"s2s_random_program_{os.getpid()}_{next(_module_numbers)}"
    module = write_module(MODULES, case.source, name)
    try:
        with time_limit(TIME_LIMIT, TookTooLong):
            yield module.f
    finally:
        sys.modules.pop(name, None)


def summary() -> str:
    """How many programs the properties tried (printed at the end of the run)."""
    return (f"random programs: {TRIED['programs']} generated, {TRIED['checked']} checked "
            f"({TRIED['programs'] - TRIED['checked']} rejected near kinks or out of range)")


# --------------------------------------------------------------------------
# The properties


@PROFILE
@given(case=cases())
def test_modes_agree_with_finite_differences(case):
    with loaded(case) as f:
        report = check(f, *case.args, wrt=case.wrt, modes=("forward", "reverse"), tolerance=TOLERANCE, raises=False)
        if not report.ok:
            # steep programs (derivatives in the thousands) defeat the default
            # step's truncation error: a wrong derivative disagrees at a finer step too
            finer = check(f, *case.args, wrt=case.wrt, modes=("forward", "reverse"), tolerance=TOLERANCE, eps=FINER_STEP, raises=False)
            assert finer.ok, f"{report}\nwith a finer step:\n{finer}"


def jacobians(f: Callable, case: Case) -> tuple[tuple, tuple, Shape]:
    """The Jacobians w.r.t. each ``wrt`` argument in forward and in reverse
    mode, and the output's shape."""
    out_shape = np.shape(f(*case.args))
    found = []
    for mode in ("forward", "reverse"):
        derivative = differentiate(f, wrt=case.wrt, mode=mode).derivative(*case.args)
        found.append((derivative,) if len(case.wrt) == 1 else tuple(derivative))
    return found[0], found[1], out_shape


def dot_products(forward: tuple, reverse: tuple, vs: list, w: np.ndarray) -> tuple[float, float, float]:
    """<J v, w> from the forward Jacobians, <v, J^T w> from the reverse ones,
    and the sum of the magnitudes of the products (the scale of rounding)."""
    jv = sum(np.tensordot(jf, v, axes=v.ndim) for jf, v in zip(forward, vs))
    left = float(np.sum(jv * w))
    right = float(sum(np.sum(v * np.tensordot(w, jr, axes=w.ndim)) for jr, v in zip(reverse, vs)))
    scale = sum(float(np.sum(np.tensordot(np.abs(jf), np.abs(v), axes=v.ndim) * np.abs(w))) for jf, v in zip(forward, vs))
    return left, right, scale


@PROFILE
@given(case=cases(), data=st.data())
def test_dot_product(case, data):
    """<J v, w> (forward mode) equals <v, J^T w> (reverse mode) to rounding."""
    with loaded(case) as f:
        forward, reverse, out_shape = jacobians(f, case)
    shapes = [np.shape(case.args[case.names.index(n)]) for n in case.wrt]
    for name, shape, jf, jr in zip(case.wrt, shapes, forward, reverse):
        assert np.shape(jf) == out_shape + shape, f"forward: the Jacobian w.r.t. {name} has shape {np.shape(jf)}"
        assert np.shape(jr) == out_shape + shape, f"reverse: the Jacobian w.r.t. {name} has shape {np.shape(jr)}"
    directions = st.floats(-1.0, 1.0, allow_subnormal=False)
    vs = [data.draw(arrays(np.float64, s, elements=directions), label=f"v ({n})") for n, s in zip(case.wrt, shapes)]
    w = data.draw(arrays(np.float64, out_shape, elements=directions), label="w")
    left, right, scale = dot_products(forward, reverse, vs, w)
    assert abs(left - right) <= DOT_TOLERANCE * scale + DOT_FLOOR, f"<J v, w> = {left!r} (forward) but <v, J^T w> = {right!r} (reverse)"
