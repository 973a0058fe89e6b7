"""Expression DAGs: the unit in which s2s differentiates and emits code.

A normal-form statement's right-hand side becomes a DAG of ``Node``s built by
a ``Graph``. Nodes are hash-consed, so equal subexpressions are one node and
common-subexpression elimination falls out of emission.

Two families of nodes live in one graph:

- *primal* nodes mirror the user's expression exactly (``add``, ``np.exp``,
  ``getitem`` ...). They are never rewritten, so emitted primal code computes
  bitwise the values the user's code computes.
- *algebra* nodes (``$sum``, ``$prod``, ``$div``, ``$neg``, ``$pow``) are what
  derivative code is made of. Their constructors simplify as they build:
  ``None`` is a structural zero (no dependence, no code); numeric constant
  factors are folded; signs are pulled out so that ``-P`` and ``P`` share
  ``P``; ``g * (1 / b)`` becomes ``g / b``.

Every node carries a *shape set*: the set of base shapes whose broadcast is
its shape (``frozenset()`` is a scalar, ``None`` unknown). Equal sets prove
equal shapes, which lets emission skip ``unbroadcast`` calls.

``schedule`` turns root nodes back into assignments, naming every node that
is used twice (or that later code needs) exactly once::

    roots  d0 = exp(-1.5 * (x - m) ** 2),  d0_dot = 3.0 * m_dot * (x - m) * d0
    emits  t1 = x - m
           d0 = np.exp(-1.5 * t1 ** 2)
           d0_dot = 3.0 * m_dot * t1 * d0
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

ShapeSet = frozenset | None
SCALAR: frozenset = frozenset()

BINARY_OPS: dict[str, type[ast.operator]] = {
    "add": ast.Add,
    "sub": ast.Sub,
    "mul": ast.Mult,
    "truediv": ast.Div,
    "floordiv": ast.FloorDiv,
    "mod": ast.Mod,
    "pow": ast.Pow,
    "matmul": ast.MatMult,
    "and_": ast.BitAnd,
    "or_": ast.BitOr,
    "xor": ast.BitXor,
    "lshift": ast.LShift,
    "rshift": ast.RShift,
}
UNARY_OPS: dict[str, type[ast.unaryop]] = {"neg": ast.USub, "pos": ast.UAdd, "invert": ast.Invert, "not_": ast.Not}
COMPARE_OPS: dict[str, type[ast.cmpop]] = {
    "lt": ast.Lt,
    "le": ast.LtE,
    "gt": ast.Gt,
    "ge": ast.GtE,
    "eq": ast.Eq,
    "ne": ast.NotEq,
    "is_": ast.Is,
    "is_not": ast.IsNot,
    "in_": ast.In,
    "not_in": ast.NotIn,
}
OP_OF_AST = {v: k for k, v in {**BINARY_OPS, **UNARY_OPS, **COMPARE_OPS}.items()}


def union(shapes: Iterable[ShapeSet]) -> ShapeSet:
    """The shape set of a broadcast of operands with these shape sets."""
    out: set = set()
    for s in shapes:
        if s is None or is_list_shape(s):  # numpy reads a list as an array of some shape
            return None
        out |= s
    return frozenset(out)


def list_shape(name: str) -> frozenset:
    """The shape set of a list variable (and of its derivatives): its own
    marker, never a broadcast of array shapes."""
    return frozenset({f"[{name}]"})


def is_list_shape(shape: ShapeSet) -> bool:
    return shape is not None and len(shape) == 1 and next(iter(shape)).startswith("[")


def rank(shape: ShapeSet) -> int:
    """A sort key: scalars first, unknown shapes last."""
    return 10_000 if shape is None else len(shape)


@dataclass(frozen=True)
class Const:
    """A Python constant; compared by type and repr so that 0.0 != -0.0 != 0."""

    value: object

    def _key(self) -> tuple:
        return (type(self.value).__name__, repr(self.value))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Const) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


class AstLeaf:
    """An expression kept verbatim (an index, ``np.pi``, ``x.shape``); it is
    never differentiated."""

    __slots__ = ("expr", "dump", "names")

    def __init__(self, expr: ast.expr) -> None:
        self.expr = expr
        self.dump = ast.dump(expr)
        self.names = frozenset(n.id for n in ast.walk(expr) if isinstance(n, ast.Name))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AstLeaf) and self.dump == other.dump

    def __hash__(self) -> int:
        return hash(self.dump)

    def __repr__(self) -> str:
        return ast.unparse(self.expr)


class Node:
    """One hash-consed expression node; build them with a ``Graph``."""

    __slots__ = ("op", "args", "attr", "shape", "uid")

    def __init__(self, op: str, args: tuple["Node", ...], attr: object, shape: ShapeSet, uid: int) -> None:
        self.op = op
        self.args = args
        self.attr = attr
        self.shape = shape
        self.uid = uid

    @property
    def is_leaf(self) -> bool:
        return self.op in ("var", "const", "ast")

    @property
    def name(self) -> str:
        assert self.op == "var"
        return self.attr  # type: ignore[return-value]

    @property
    def value(self) -> object:
        assert self.op == "const"
        return self.attr.value  # type: ignore[union-attr]

    def is_number(self, value: object | None = None) -> bool:
        if self.op != "const" or isinstance(self.attr.value, bool):  # type: ignore[union-attr]
            return False
        v = self.attr.value  # type: ignore[union-attr]
        if not isinstance(v, (int, float)):
            return False
        return value is None or v == value

    def __repr__(self) -> str:
        if self.op == "var":
            return str(self.attr)
        if self.op == "const":
            return repr(self.attr.value)  # type: ignore[union-attr]
        if self.op == "ast":
            return repr(self.attr)
        return f"{self.op}({', '.join(map(repr, self.args))})"

    def walk(self, stop: Callable[["Node"], bool] | None = None) -> Iterator["Node"]:
        """Every node below and including this one, each once; the arguments
        of a node for which ``stop`` is true are not visited."""
        seen: set[int] = set()
        stack = [self]
        while stack:
            node = stack.pop()
            if node.uid in seen:
                continue
            seen.add(node.uid)
            yield node
            if stop is None or not stop(node):
                stack.extend(node.args)

    def reached(self, stop: set["Node"]) -> set["Node"]:
        """The nodes of ``stop`` this expression reads directly: reached
        without passing through another node of ``stop``."""
        return {n for n in self.walk(stop.__contains__) if n in stop}

    def leaves(self) -> Iterator["Node"]:
        return (n for n in self.walk() if n.is_leaf)


ShapeRule = Callable[["Graph", Node], ShapeSet]


class Graph:
    """Builds hash-consed nodes; algebra constructors simplify as they build.

    ``shape_rule(graph, node)`` gives the shape set of a new operation node;
    the rules table provides it.
    """

    def __init__(self, shape_rule: ShapeRule) -> None:
        self._table: dict[tuple, Node] = {}
        self._shape_rule = shape_rule

    def _node(self, op: str, args: tuple[Node, ...], attr: object, shape: ShapeSet | Callable[[Node], ShapeSet]) -> Node:
        key = (op, tuple(a.uid for a in args), attr)
        node = self._table.get(key)
        if node is None:
            node = Node(op, args, attr, None, len(self._table))
            node.shape = shape(node) if callable(shape) else shape
            self._table[key] = node
        return node

    # leaves -------------------------------------------------------------

    def var(self, name: str, shape: ShapeSet) -> Node:
        node = self._node("var", (), name, shape)
        assert node.shape == shape, f"{name} seen with shapes {node.shape} and {shape}"
        return node

    def const(self, value: object) -> Node:
        shape = SCALAR if isinstance(value, (int, float, complex, bool)) else None
        return self._node("const", (), Const(value), shape)

    def leaf(self, expr: ast.expr, shape: ShapeSet = None) -> Node:
        return self._node("ast", (), AstLeaf(expr), shape)

    # primal operations ----------------------------------------------------

    def op(self, op: str, args: Iterable[Node], kwnames: tuple[str, ...] = ()) -> Node:
        """An operation exactly as written: ``op(*args[:-k], **kwargs)``."""
        return self._node(op, tuple(args), kwnames, lambda node: self._shape_rule(self, node))

    def call(self, op: str, *args: Node | object, **kwargs: Node | object) -> Node:
        """An operation built by a derivative rule; plain values become constants."""
        nodes = [a if isinstance(a, Node) else self.const(a) for a in args]
        nodes += [v if isinstance(v, Node) else self.const(v) for v in kwargs.values()]
        return self.op(op, nodes, tuple(kwargs))

    # algebra ---------------------------------------------------------------

    def _algebra(self, op: str, args: tuple[Node, ...], attr: object = None) -> Node:
        return self._node(op, args, attr, union(a.shape for a in args))

    def neg(self, a: Node | None) -> Node | None:
        if a is None:
            return None
        if a.op == "$neg":
            return a.args[0]
        if a.is_number():
            return self.const(-a.value)  # type: ignore[operator]
        return self._algebra("$neg", (a,))

    def add(self, *terms: Node | None) -> Node | None:
        """Sum of terms; ``None`` terms are structural zeros."""
        flat: list[Node] = []
        for t in terms:
            if t is None:
                continue
            if t.op == "$sum":
                flat.extend(t.args)
            else:
                flat.append(t)
        if not flat:
            return None
        # combine like terms: c1 * P + c2 * P = (c1 + c2) * P
        coefs: dict[int, float] = {}
        bases: dict[int, Node] = {}
        order: list[int] = []
        for t in flat:
            c, base = self._split_coefficient(t)
            if base.uid not in coefs:
                order.append(base.uid)
                coefs[base.uid] = 0
                bases[base.uid] = base
            coefs[base.uid] += c
        combined = [self.mul(self.const(coefs[u]), bases[u]) if coefs[u] != 1 else bases[u] for u in order]
        if len(combined) == 1:
            return combined[0]
        return self._algebra("$sum", tuple(combined))

    def _split_coefficient(self, t: Node) -> tuple[float, Node]:
        sign = 1
        if t.op == "$neg":
            sign, t = -1, t.args[0]
        if t.op == "$prod" and t.args[0].is_number():
            rest = t.args[1:]
            base = rest[0] if len(rest) == 1 else self._algebra("$prod", rest)
            return sign * t.args[0].value, base  # type: ignore[operator]
        return sign, t

    def mul(self, *factors: Node | None) -> Node | None:
        """Product of factors; any ``None`` factor makes the product zero."""
        if any(f is None for f in factors):
            return None
        coef: float = 1
        sign = 1
        items: list[Node] = []
        dens: list[Node] = []
        stack = list(reversed(factors))
        while stack:
            f = stack.pop()
            if f.op == "$neg":
                sign = -sign
                stack.append(f.args[0])
            elif f.op == "$prod":
                stack.extend(reversed(f.args))
            elif f.is_number():
                coef = coef * f.value  # type: ignore[operator]
            elif f.op == "$div":
                stack.append(f.args[0])
                dens.append(f.args[1])
            else:
                items.append(f)
        if coef < 0:
            sign, coef = -sign, -coef
        items.sort(key=lambda n: (rank(n.shape), n.uid))
        if coef != 1 or not items:
            items.insert(0, self.const(coef))
        node = items[0] if len(items) == 1 else self._algebra("$prod", tuple(items))
        if dens:
            den = dens[0] if len(dens) == 1 else self.mul(*dens)
            node = self._algebra("$div", (node, den))  # type: ignore[arg-type]
        return self.neg(node) if sign < 0 else node

    def div(self, a: Node | None, b: Node) -> Node | None:
        """``a / b`` for derivative code."""
        if a is None:
            return None
        if b.is_number(1):
            return a
        if b.op == "$neg":
            return self.neg(self.div(a, b.args[0]))
        if b.op == "$div":  # a / (p / q) = a * q / p
            return self.div(self.mul(a, b.args[1]), b.args[0])
        return self.mul(a, self._algebra("$div", (self.const(1), b)))

    def recip(self, b: Node) -> Node:
        """``1 / b`` as a factor: ``g * recip(b)`` prints as ``g / b``."""
        return self.div(self.const(1), b)  # type: ignore[return-value]

    def pow(self, a: Node, k: float) -> Node:
        """``a ** k`` for a constant exponent."""
        if k == 1:
            return a
        if k == 0:
            return self.const(1)
        return self._algebra("$pow", (a, self.const(k)))

    def square(self, a: Node) -> Node:
        return self.pow(a, 2)

    def sub(self, a: Node | None, b: Node | None) -> Node | None:
        return self.add(a, self.neg(b))

    def total(self, c: Node) -> Node:
        """The sum of all elements of ``c``, with scalar factors and signs
        taken outside the reduction: ``np.sum(-(s * a))`` is ``-(s * np.sum(a))``,
        so that reductions of the same array expression are shared; the sum
        of a product of arrays is ``sum_product`` (a dot product)."""
        if c.shape == SCALAR:
            return c
        if c.op == "$neg":
            return self.neg(self.total(c.args[0]))  # type: ignore[return-value]
        if c.op == "$div" and c.args[1].shape == SCALAR:
            return self.div(self.total(c.args[0]), c.args[1])  # type: ignore[return-value]
        if c.op == "$prod":
            scalars = [f for f in c.args if f.shape == SCALAR]
            if scalars:
                rest = [f for f in c.args if f.shape != SCALAR]
                return self.mul(*scalars, self.total(self.mul(*rest)))  # type: ignore[arg-type,return-value]
            # a sum of products: a dot product, without the product's temporary array
            return self.call("rt.sum_product", self.mul(*c.args[:-1]), c.args[-1])
        return self.call("np.sum", c)


# --------------------------------------------------------------------------
# Printing


class Printer:
    """Turns nodes into ``ast`` expressions.

    ``module_names`` maps the prefixes of op keys to the names the generated
    module binds: ``{"np": "np", "math": "math", "rt": ""}``; runtime helpers
    are imported by name, so ``rt.unbroadcast`` prints as ``unbroadcast``.
    """

    def __init__(self, module_names: dict[str, str], helper_names: dict[str, str] | None = None) -> None:
        self.module_names = module_names
        self.helper_names = helper_names if helper_names is not None else {}

    def function_ref(self, op: str) -> ast.expr:
        prefix, _, path = op.partition(".")
        if prefix == "custom":  # a function with a user's rule, as the user spells it
            from .rules.user import spelling_of

            return spelling_of(op)
        if prefix == "rt":
            return ast.Name(self.helper_names.get(path, path), ast.Load())
        if prefix == "builtins":
            return ast.Name(path, ast.Load())
        expr: ast.expr = ast.Name(self.module_names[prefix], ast.Load())
        for part in path.split("."):
            expr = ast.Attribute(expr, part, ast.Load())
        return expr

    def expr(self, node: Node, names: dict[Node, str]) -> ast.expr:
        name = names.get(node)
        if name is not None:
            return ast.Name(name, ast.Load())
        op = node.op
        if op == "var":
            return ast.Name(node.attr, ast.Load())
        if op == "const":
            return ast.Constant(node.attr.value)  # type: ignore[union-attr]
        if op == "ast":
            return copy.deepcopy(node.attr.expr)  # type: ignore[union-attr]
        sub = [self.expr(a, names) for a in node.args]
        if op in BINARY_OPS:
            return ast.BinOp(sub[0], BINARY_OPS[op](), sub[1])
        if op in UNARY_OPS:
            return ast.UnaryOp(UNARY_OPS[op](), sub[0])
        if op in COMPARE_OPS:
            return ast.Compare(sub[0], [COMPARE_OPS[op]()], [sub[1]])
        if op.startswith("$"):
            return self._algebra(node, sub, names)
        if op == "getitem":
            return ast.Subscript(sub[0], sub[1], ast.Load())
        if op == "index":  # an index as a value: np.s_[1:3, i]
            return ast.Subscript(self.function_ref("np.s_"), sub[0], ast.Load())
        if op in ("list", "tuple"):
            return (ast.List if op == "list" else ast.Tuple)(sub, ast.Load())
        if op == "ifexp":
            return ast.IfExp(sub[0], sub[1], sub[2])
        kwnames: tuple[str, ...] = node.attr  # type: ignore[assignment]
        npos = len(sub) - len(kwnames)
        keywords = [ast.keyword(k, v) for k, v in zip(kwnames, sub[npos:], strict=True)]
        if op.startswith("attr."):
            return ast.Attribute(sub[0], op[len("attr.") :], ast.Load())
        if op.startswith("method."):
            func = ast.Attribute(sub[0], op[len("method.") :], ast.Load())
            return ast.Call(func, sub[1:npos], keywords)
        return ast.Call(self.function_ref(op), sub[:npos], keywords)

    def _algebra(self, node: Node, sub: list[ast.expr], names: dict[Node, str]) -> ast.expr:
        op = node.op
        if op == "$neg":
            inner = node.args[0]
            if inner.op == "$sum" and inner.shape != SCALAR and inner not in names:
                return self._negated_sum(inner, names)
            return _negate(sub[0], inner)
        if op == "$div":
            return ast.BinOp(sub[0], ast.Div(), sub[1])
        if op == "$pow":
            return ast.BinOp(sub[0], ast.Pow(), sub[1])
        if op == "$prod":
            out = sub[0]
            for s in sub[1:]:
                out = ast.BinOp(out, ast.Mult(), s)
            return out
        if op == "$sum":
            out = sub[0]
            for arg, s in zip(node.args[1:], sub[1:], strict=True):
                if arg.op == "$neg" and arg not in names:
                    out = ast.BinOp(out, ast.Sub(), self.expr(arg.args[0], names))
                else:
                    out = ast.BinOp(out, ast.Add(), s)
            return out
        raise AssertionError(op)


    def _negated_sum(self, node: Node, names: dict[Node, str]) -> ast.expr:
        """``-(p + q - r)`` of arrays as ``-p - q + r``: the first sign goes on a
        scalar factor of ``p`` where it has one, so that no array is negated."""
        first, *rest = node.args
        out = _negate(self.expr(first, names), first) if first.op != "$neg" or first in names else self.expr(first.args[0], names)
        for term in rest:
            if term.op == "$neg" and term not in names:
                out = ast.BinOp(out, ast.Add(), self.expr(term.args[0], names))
            else:
                out = ast.BinOp(out, ast.Sub(), self.expr(term, names))
        return out


def _negate(expr: ast.expr, node: Node) -> ast.expr:
    """``-expr``, with the sign put on a scalar leading factor when there is
    one: ``-t1 * g`` negates one number where ``-(t1 * g)`` negates an array
    (the same value, exactly, in IEEE arithmetic)."""
    if node.op in ("$prod", "$div") and isinstance(expr, ast.BinOp) and node.args[0].shape == SCALAR:
        return ast.BinOp(_negate(expr.left, node.args[0]), expr.op, expr.right)
    if isinstance(expr, ast.Constant) and isinstance(expr.value, (int, float)) and not isinstance(expr.value, bool):
        return ast.Constant(-expr.value)
    return ast.UnaryOp(ast.USub(), expr)


# --------------------------------------------------------------------------
# Scheduling: roots back to statements, each shared node named once


@dataclass
class Emitted:
    statements: list[ast.stmt]
    names: dict[Node, str]  # every node given a name, roots included


def schedule(
    roots: list[tuple[str, Node]],
    printer: Printer,
    fresh: Callable[[], str],
    names: dict[Node, str] | None = None,
    force: Iterable[Node] = (),
) -> Emitted:
    """Assignments computing ``roots`` in order.

    ``names`` are nodes already bound to variables (reused, not recomputed).
    A non-leaf node used more than once, or listed in ``force``, is bound to a
    fresh temporary before its first use.
    """
    names = dict(names or {})
    root_nodes = {root for _, root in roots if not root.is_leaf and root not in names}
    uses: dict[Node, int] = {r: 1 for r in root_nodes}
    forced = set(force)

    def count(node: Node) -> None:
        for arg in node.args:
            if arg.is_leaf or arg in names:
                continue
            uses[arg] = uses.get(arg, 0) + 1
            if uses[arg] == 1:
                count(arg)

    for root in root_nodes:
        count(root)
    for extra in forced:
        if extra not in uses and extra not in names and not extra.is_leaf:
            uses[extra] = 1
            count(extra)
    needs_name = {n for n, k in uses.items() if (k > 1 or n in forced) and n not in root_nodes}
    out: list[ast.stmt] = []

    def materialize(node: Node) -> None:
        """Bind the named nodes below ``node`` (post-order), then ``node`` if needed."""
        for arg in node.args:
            if arg not in names and not arg.is_leaf:
                materialize(arg)
        if (node in needs_name or node in root_nodes) and node not in names:
            temp = fresh()
            out.append(assign(temp, printer.expr(node, names)))
            names[node] = temp

    for target, root in roots:
        if root in names or root.is_leaf:
            out.append(assign(target, printer.expr(root, names)))
            continue
        for arg in root.args:
            if arg not in names and not arg.is_leaf:
                materialize(arg)
        out.append(assign(target, printer.expr(root, names)))
        names[root] = target
    for node in forced:  # forced nodes not reached from any root
        if node not in names and not node.is_leaf:
            materialize(node)
    return Emitted(out, names)


def assign(target: str, value: ast.expr) -> ast.Assign:
    return ast.Assign([ast.Name(target, ast.Store())], value, lineno=0)
