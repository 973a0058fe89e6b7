"""What a derivative rule is, and the call site a rule is applied to.

A rule is data: its parameters (as numpy spells them), which of them are
differentiable, and how to differentiate. A handful of kinds covers nearly
every entry:

``elementwise``
    ``partials(G, *args, out)`` returns one partial derivative per
    parameter (``None`` for zero). Forward and reverse mode both derive their
    code from the same partials, so they cannot drift apart.
``zero``
    Not differentiable: the result carries no derivative (``sign``,
    comparisons, ``argmax``, ``len``).
``linear``
    The tangent is the operation applied to the tangents; ``vjp`` gives the
    transpose (``sum``, ``reshape``, ``transpose``, indexing).
``bilinear``
    The tangent is ``op(a_dot, b) + op(a, b_dot)``; ``vjp`` gives both
    transposes (``dot``, ``matmul``, ``outer``, ``einsum``).
``custom``
    Explicit ``jvp`` and ``vjp`` (``prod``, ``max``, ``var``, ``cumprod``).
``helper``
    A runtime helper of generated code (``rt.unbroadcast``): known for its
    shape, refused when a derivative would have to flow through it.

A ``jvp`` receives tangents of exactly the primal's shape. A ``vjp`` receives
the cotangent ``g`` of the result and returns ``Bar``s: contributions to the
adjoints of its arguments. A contribution must broadcast to its target's
shape; one marked ``loose`` may be smaller than the target, as a reduction's
cotangent is before it is broadcast back (the engine checks that what reaches
each leaf still sums correctly).
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal

from ..expr import SCALAR, Graph, Node, ShapeSet, union

Kind = Literal["elementwise", "zero", "linear", "bilinear", "custom", "helper"]


class RuleError(Exception):
    """A call that does not fit its rule (an unsupported keyword, a
    non-constant axis where a constant is needed); turned into an S2SError
    with the user's location by the caller."""


@dataclass(frozen=True)
class Bar:
    """A contribution ``value`` to the adjoint of the argument in ``slot``."""

    slot: tuple[int, int | None]
    value: Node
    loose: bool = False


NOT_GIVEN: Any = inspect.Parameter.empty


@dataclass(frozen=True)
class Rule:
    name: str
    kind: Kind
    signature: inspect.Signature
    diff: frozenset[str]
    partials: Callable[..., tuple[Node | None, ...]] | None = None
    jvp: Callable[["Site", dict], Node | None] | None = None
    vjp: Callable[["Site", Node], list[Bar]] | None = None
    shape: Callable[["Site"], ShapeSet] | None = None
    fusable: bool = False  # a reduction that may take an elementwise expression
    forbid: frozenset[str] = frozenset()  # parameters that must keep their default
    doc: str = ""

    @property
    def params(self) -> list[str]:
        return list(self.signature.parameters)


def signature(spec: str) -> inspect.Signature:
    """``signature("a, axis=None, keepdims=False")``."""
    return inspect.signature(eval(f"lambda {spec}: None"))  # noqa: S307 - literal specs in this package


# --------------------------------------------------------------------------
# Call sites

Slot = tuple[int, int | None]  # (argument index, element index inside a list argument)


class Site:
    """A rule applied to one operation node in a graph.

    Arguments are addressed by *slot*, their position in the call, so that
    ``np.dot(x, x)`` has two differentiable slots holding the same node.
    """

    def __init__(self, graph: Graph, rule: Rule, node: Node) -> None:
        self.G = graph
        self.rule = rule
        self.node = node
        kwnames: tuple[str, ...] = node.attr  # type: ignore[assignment]
        npos = len(node.args) - len(kwnames)
        try:
            bound = rule.signature.bind(*range(npos), **{k: npos + i for i, k in enumerate(kwnames)})
        except TypeError as exc:
            raise RuleError(f"arguments do not match {rule.name}{rule.signature}: {exc}") from None
        self.index: dict[str, Any] = dict(bound.arguments)  # parameter -> arg index (a tuple for *args)
        for name in rule.forbid:
            if name in self.index and not _is_default(self.node.args[self.index[name]], rule.signature.parameters[name].default):
                raise RuleError(f"the `{name}=` argument of {rule.name} is not supported")

    @property
    def out(self) -> Node:
        return self.node

    def given(self, name: str) -> bool:
        return name in self.index

    def arg(self, name: str) -> Node | None:
        """The node passed for ``name``, or ``None`` when it was not given."""
        i = self.index.get(name)
        return None if i is None or isinstance(i, tuple) else self.node.args[i]

    def slot(self, name: str) -> Slot:
        return (self.index[name], None)

    def value(self, name: str) -> Any:
        """The constant passed for ``name`` (or its default); ``RuleError`` if
        it is not a constant."""
        if name not in self.index:
            default = self.rule.signature.parameters[name].default
            if default is NOT_GIVEN:
                raise RuleError(f"{self.rule.name} needs `{name}`")
            return default
        return constant_value(self.node.args[self.index[name]], f"`{name}` of {self.rule.name}")

    def is_constant(self, name: str) -> bool:
        try:
            self.value(name)
            return True
        except RuleError:
            return False

    def slots(self, names: Iterable[str]) -> list[tuple[Slot, Node]]:
        """(slot, node) of the arguments bound to these parameters; the
        elements of a list or tuple argument each have their own slot."""
        out: list[tuple[Slot, Node]] = []
        for name in names:
            i = self.index.get(name)
            if i is None:
                continue
            for k in i if isinstance(i, tuple) else (i,):
                node = self.node.args[k]
                if node.op in ("list", "tuple"):
                    out.extend(((k, j), e) for j, e in enumerate(node.args))
                else:
                    out.append(((k, None), node))
        return out

    def bars_at(self, index: int, value: Node) -> list["Bar"]:
        """``value``, the adjoint of the argument at position ``index``, as
        contributions: one, or ``value[j]`` for element ``j`` of a list
        argument (a container itself takes no contribution)."""
        node = self.node.args[index]
        if node.op not in ("list", "tuple"):
            return [Bar((index, None), value)]
        return [Bar((index, j), self.G.op("getitem", (value, self.G.leaf(ast.Constant(j))))) for j in range(len(node.args))]

    def bars(self, param: str, value: Node) -> list["Bar"]:
        """``bars_at`` for the argument bound to ``param``."""
        return self.bars_at(self.index[param], value)

    def shape_source(self, node: Node) -> Node:
        """A node of ``node``'s shape that ``node`` is computed from, for a
        helper that reads only the shape: through elementwise operations
        whose other operands are numbers (``log1p(t)`` has ``t``'s shape),
        so that a value computed only to be measured need not be computed."""
        from . import lookup  # the table of rules, built from this module's families

        while node.op.startswith("$") or ((rule := lookup(node.op)) is not None and rule.kind == "elementwise"):
            arrays = [a for a in node.args if a.shape != SCALAR]
            if len(arrays) != 1 or arrays[0].shape is None or arrays[0].shape != node.shape or arrays[0].op == "const":
                return node
            node = arrays[0]
        return node

    def differentiable_slots(self) -> list[tuple[Slot, Node]]:
        return self.slots(p for p in self.rule.params if p in self.rule.diff)

    def node_at(self, slot: Slot) -> Node:
        i, j = slot
        node = self.node.args[i]
        return node if j is None else node.args[j]

    def rebuild(self, replace: dict[Slot, Node]) -> Node:
        """This operation with the arguments in some slots replaced."""
        args = list(self.node.args)
        for i, arg in enumerate(args):
            if (i, None) in replace:
                args[i] = replace[(i, None)]
            elif arg.op in ("list", "tuple") and any((i, j) in replace for j in range(len(arg.args))):
                elts = [replace.get((i, j), e) for j, e in enumerate(arg.args)]
                args[i] = self.G.op(arg.op, elts)
        return self.G.op(self.node.op, args, self.node.attr)  # type: ignore[arg-type]

    def call(self, op: str, *args: Any, **kwargs: Any) -> Node:
        return self.G.call(op, *args, **kwargs)

    def index_value(self, name: str) -> Node:
        """The index passed for ``name`` (written ``x[1:3, i]``) as a value
        that can be passed to a helper: ``np.s_[1:3, i]``."""
        node = self.arg(name)
        assert node is not None and node.op == "ast", "indices reach rules as expression leaves"
        return self.G.op("index", (node,))

    def dtype_kind(self, name: str) -> str | None:
        """The kind of the dtype passed for ``name`` ("f", "i", "b", "c"),
        or ``None`` when it cannot be told from the code."""
        return dtype_kind(self.arg(name))


def dtype_kind(node: Node | None) -> str | None:
    """The numpy dtype kind a dtype argument names, if it is written as a
    string, a builtin type or a numpy type (``"float32"``, ``float``,
    ``np.int64``)."""
    import numpy as np

    from ..anno import get_anno

    if node is None:
        return None
    if node.op == "const" and isinstance(node.value, str):
        try:
            return np.dtype(node.value).kind
        except TypeError:
            return None
    if node.op == "var" and node.name in ("float", "int", "bool", "complex"):
        return np.dtype(node.name).kind
    if node.op == "ast":
        op = get_anno(node.attr.expr, "op")  # type: ignore[union-attr]
        if op and op.startswith("np."):
            try:
                return np.dtype(getattr(np, op[3:])).kind
            except (TypeError, AttributeError):
                return None
    return None


def _is_default(node: Any, default: Any) -> bool:
    try:
        return constant_value(node, "") is default or constant_value(node, "") == default
    except RuleError:
        return False


def constant_value(node: Node, what: str) -> Any:
    """The Python value of a constant node (tuples and negatives included)."""
    if node.op == "const":
        return node.value
    if node.op == "neg" and node.args[0].op == "const":
        return -node.args[0].value  # type: ignore[operator]
    if node.op in ("tuple", "list"):
        values = [constant_value(a, what) for a in node.args]
        return tuple(values) if node.op == "tuple" else values
    raise RuleError(f"{what} must be a constant written in the code")


# --------------------------------------------------------------------------
# Shapes


def elementwise_shape(site: Site) -> ShapeSet:
    return union(a.shape for a in site.node.args)


def scalar_shape(site: Site) -> ShapeSet:
    return SCALAR


def unknown_shape(site: Site) -> ShapeSet:
    return None


def same_shape_as(param: str) -> Callable[[Site], ShapeSet]:
    def shape(site: Site) -> ShapeSet:
        node = site.arg(param)
        return None if node is None else node.shape

    return shape


# --------------------------------------------------------------------------
# Constructors for table entries


@dataclass
class Family:
    """The rules of one family of operations, collected by one module."""

    rules: dict[str, Rule] = field(default_factory=dict)

    def add(self, names: str | Iterable[str], rule_factory: Callable[[str], Rule]) -> None:
        for name in [names] if isinstance(names, str) else names:
            if name in self.rules:
                raise ValueError(f"duplicate rule {name}")
            self.rules[name] = rule_factory(name)

    def elementwise(self, names: str | Iterable[str], spec: str, partials: Callable, diff: str | None = None) -> None:
        sig = signature(spec)
        d = frozenset(diff.split()) if diff is not None else frozenset(sig.parameters)
        self.add(names, lambda n: Rule(n, "elementwise", sig, d, partials=partials, shape=elementwise_shape))

    def rule(self, names: str | Iterable[str], kind: Kind, spec: str, diff: str = "", forbid: str = "", **fields: Any) -> None:
        """Register a rule of any kind; ``diff`` and ``forbid`` name parameters."""
        sig = signature(spec)
        fields.setdefault("shape", unknown_shape)
        if fields["shape"] is None:
            fields["shape"] = unknown_shape
        self.add(names, lambda n: Rule(n, kind, sig, frozenset(diff.split()), forbid=frozenset(forbid.split()), **fields))

    def zero(self, names: str | Iterable[str], spec: str = "*args, **kwargs", shape: Callable | None = None) -> None:
        self.rule(names, "zero", spec, shape=shape)

    def helper(self, names: str | Iterable[str], spec: str = "*args, **kwargs", shape: Callable | None = None) -> None:
        self.rule(names, "helper", spec, shape=shape)

    def linear(self, names, spec: str, vjp: Callable, diff: str, shape=None, fusable: bool = False, forbid: str = "") -> None:
        self.rule(names, "linear", spec, diff, forbid, jvp=linear_jvp, vjp=vjp, shape=shape, fusable=fusable)

    def bilinear(self, names, spec: str, vjp: Callable, diff: str, shape=None, forbid: str = "", jvp: Callable | None = None) -> None:
        self.rule(names, "bilinear", spec, diff, forbid, jvp=jvp or bilinear_jvp, vjp=vjp, shape=shape)

    def custom(self, names, spec: str, jvp: Callable, vjp: Callable, diff: str, shape=None, fusable: bool = False, forbid: str = "") -> None:
        self.rule(names, "custom", spec, diff, forbid, jvp=jvp, vjp=vjp, shape=shape, fusable=fusable)


def zeros_like(site: Site, node: Node) -> Node:
    return site.call("rt.zeros_like", node)


def linear_jvp(site: Site, tangents: dict[Slot, Node | None]) -> Node | None:
    """A linear operation's tangent: the operation applied to the tangents,
    with zeros in place of arguments that carry none."""
    if not any(t is not None for t in tangents.values()):
        return None
    replace = {s: (t if t is not None else zeros_like(site, site.node_at(s))) for s, t in tangents.items()}
    return site.rebuild(replace)


def bilinear_jvp(site: Site, tangents: dict[Slot, Node | None]) -> Node | None:
    """``op(a_dot, b, ...) + op(a, b_dot, ...) + ...``: one term per argument
    with a tangent, the other arguments as they are. A list argument is
    replaced whole, with zeros for its elements without a tangent:
    ``np.dot([x, y], w)`` has the term ``np.dot([x_dot, zeros_like(y)], w)``."""
    by_argument: dict[int, list[Slot]] = {}
    for slot in tangents:
        by_argument.setdefault(slot[0], []).append(slot)
    terms = []
    for slots in by_argument.values():
        if all(tangents[s] is None for s in slots):
            continue
        replace = {s: t if (t := tangents[s]) is not None else zeros_like(site, site.node_at(s)) for s in slots}
        terms.append(site.rebuild(replace))
    return site.G.add(*terms)
