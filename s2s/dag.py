"""Statement DAGs and the chain rule over them.

``build(graph, expr, shape_of)`` turns a normal-form right-hand side into a
DAG; ``tangent`` and ``adjoints`` apply the rule table to it.

Forward mode pushes tangents from the leaves to the root::

    d0 = np.exp(-1.5 * (x - m) ** 2)      tangent: 3.0 * m_dot * (x - m) * d0

Reverse mode pulls the root's cotangent back to each active leaf::

    s = np.sum(d * d0)                     d: s_bar * d0      d0: s_bar * d

An elementwise node is differentiated from its rule's partials; any other
node by its rule's ``jvp``/``vjp``, which receive tangents and cotangents of
exactly their argument's shape (``broadcast_like`` is inserted when shapes
cannot be proved equal). A reduction's cotangent reaches its elementwise
argument *loose* (still of the reduced shape); ``adjoints`` proves for each
leaf that the loose cotangent still sums correctly, and materialises it where
it cannot.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable

from .anno import get_anno
from .expr import Graph, Node, ShapeSet
from .rules import Bar, RuleError, Site, lookup

# --------------------------------------------------------------------------
# Building


class NotDifferentiable(Exception):
    """An active value flows through something s2s cannot differentiate."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def build(graph: Graph, expr: ast.expr, shape_of: Callable[[str], ShapeSet]) -> Node:
    """The DAG of a normal-form expression; ``shape_of(name)`` gives the
    shape set of each variable it reads."""

    def visit(e: ast.expr) -> Node:
        if get_anno(e, "opaque"):
            return graph.leaf(e)
        if isinstance(e, ast.Name):
            return graph.var(e.id, shape_of(e.id))
        if isinstance(e, ast.Constant):
            return graph.const(e.value)
        if isinstance(e, ast.BinOp):
            return graph.op(_OPS[type(e.op)], (visit(e.left), visit(e.right)))
        if isinstance(e, ast.UnaryOp):
            if isinstance(e.op, ast.USub) and isinstance(e.operand, ast.Constant):
                return graph.const(-e.operand.value)
            return graph.op(_OPS[type(e.op)], (visit(e.operand),))
        if isinstance(e, ast.Compare) and len(e.ops) == 1:
            return graph.op(_OPS[type(e.ops[0])], (visit(e.left), visit(e.comparators[0])))
        if isinstance(e, ast.Subscript):
            return graph.op("getitem", (visit(e.value), graph.leaf(e.slice)))
        if isinstance(e, (ast.Tuple, ast.List)):
            return graph.op("tuple" if isinstance(e, ast.Tuple) else "list", [visit(x) for x in e.elts])
        op = get_anno(e, "op")
        if isinstance(e, ast.Attribute) and op is not None:
            if op.startswith("attr."):
                return graph.op(op, (visit(e.value),))
            return graph.leaf(e, shape=frozenset())  # np.pi and friends
        if isinstance(e, ast.Call) and op is not None:
            args = [visit(a) for a in e.args]
            if op.startswith("method."):
                args.insert(0, visit(e.func.value))  # type: ignore[attr-defined]
            kwargs = [visit(k.value) for k in e.keywords]
            return graph.op(op, args + kwargs, tuple(k.arg for k in e.keywords))  # type: ignore[misc]
        return graph.leaf(e)

    return visit(expr)


def _op_names() -> dict[type, str]:
    from .expr import OP_OF_AST

    return OP_OF_AST


_OPS = _op_names()


# --------------------------------------------------------------------------
# Which nodes carry derivatives


def site_of(graph: Graph, node: Node) -> Site | None:
    """The rule applied at an operation node, or ``None`` for leaves and
    containers; ``NotDifferentiable`` for a call that fits no rule."""
    if node.is_leaf or node.op in ("tuple", "list"):
        return None
    rule = lookup(node.op)
    if rule is None:
        return None
    try:
        return Site(graph, rule, node)
    except RuleError as exc:
        raise NotDifferentiable(str(exc)) from None


def differentiable_slots(graph: Graph, node: Node) -> list[tuple[tuple[int, int | None], Node]]:
    if node.op == "ifexp":
        return [((1, None), node.args[1]), ((2, None), node.args[2])]
    site = site_of(graph, node)
    return site.differentiable_slots() if site is not None else []


def active_nodes(graph: Graph, root: Node, is_active_name: Callable[[str], bool]) -> set[Node]:
    """Nodes a derivative flows through: those above an active variable along
    differentiable arguments. Raises ``NotDifferentiable`` where an active
    value reaches an operation without a rule, or an opaque expression."""
    memo: dict[int, bool] = {}

    def visit(node: Node, value_matters: bool = True) -> bool:
        if node.uid in memo:
            return memo[node.uid]
        if node.op == "var":
            result = is_active_name(node.name)
        elif node.op == "ast":
            names = node.attr.names  # type: ignore[union-attr]
            if not value_matters:
                return False  # an index or a shape: integers, whose derivative is zero
            if any(is_active_name(n) for n in names):
                raise NotDifferentiable(
                    f"cannot differentiate `{ast.unparse(node.attr.expr)}`",  # type: ignore[union-attr]
                    "s2s differentiates numpy functions, operators and user functions; this expression is kept as it is",
                )
            result = False
        elif node.is_leaf:
            result = False
        elif node.op in ("tuple", "list"):
            result = any([visit(a) for a in node.args])
        else:
            rule = lookup(node.op) if node.op != "ifexp" else None
            if (rule is None or rule.kind == "helper") and node.op != "ifexp":
                if any([visit(a) for a in node.args]):
                    raise NotDifferentiable(
                        f"no derivative rule for {_describe(node.op)}",
                        "s2s differentiates the numpy functions listed in its documentation; compute this from inactive values or rewrite it",
                    )
                result = False
            else:
                slots = differentiable_slots(graph, node)
                result = any([visit(child) for _, child in slots])
                for child in node.args:  # look inside for errors and nested active values
                    if child not in [c for _, c in slots]:
                        visit(child, value_matters=False)
                if rule is not None and rule.kind == "zero":
                    result = False
        memo[node.uid] = result
        return result

    visit(root)
    return _through_differentiable(graph, root, memo)


def _through_differentiable(graph: Graph, root: Node, memo: dict[int, bool]) -> set[Node]:
    """The active nodes reached from ``root`` through differentiable
    arguments only: a varied value passed where the result does not depend
    on its value (``np.full_like(h, w)``'s ``h``) needs no derivative."""
    found: set[Node] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if node in found or not memo.get(node.uid):
            continue
        found.add(node)
        if node.op in ("tuple", "list"):
            stack.extend(node.args)
        elif not node.is_leaf:
            stack.extend(child for _, child in differentiable_slots(graph, node))
    return found


def _describe(op: str) -> str:
    if op.startswith("np."):
        return f"numpy.{op[3:]}"
    if op.startswith("method."):
        return f"the array method .{op[7:]}()"
    if op.startswith("attr."):
        return f"the attribute .{op[5:]}"
    if op.startswith("builtins."):
        return f"the builtin {op[9:]}()"
    return op


# --------------------------------------------------------------------------
# Forward: tangents


def exact(graph: Graph, tangent: Node | None, like: Node) -> Node | None:
    """``tangent`` with exactly ``like``'s shape."""
    if tangent is None or (tangent.shape is not None and tangent.shape == like.shape):
        return tangent
    return graph.call("rt.broadcast_like", tangent, like)


def tangent(graph: Graph, root: Node, leaf_tangent: Callable[[Node], Node | None], active: set[Node]) -> Node | None:
    """The tangent of ``root``, given the tangents of active variables."""
    memo: dict[int, Node | None] = {}

    def visit(node: Node) -> Node | None:
        if node not in active:
            return None
        if node.uid in memo:
            return memo[node.uid]
        if node.op == "var":
            result = leaf_tangent(node)
        elif node.op in ("tuple", "list"):  # the container of its elements' tangents
            elements = [visit(a) for a in node.args]
            result = graph.op(node.op, [t if t is not None else graph.call("rt.zeros_like", a) for t, a in zip(elements, node.args)])
        elif node.op == "ifexp":
            t1, t2 = visit(node.args[1]), visit(node.args[2])
            zero = graph.const(0.0)
            result = graph.op("ifexp", (node.args[0], t1 or zero, t2 or zero))
        else:
            site = site_of(graph, node)
            assert site is not None, node
            rule = site.rule
            slots = site.differentiable_slots()
            tangents = {slot: visit(child) for slot, child in slots}
            if rule.kind == "elementwise" and rule.jvp is None:
                partials = _partials(site)
                result = graph.add(*(graph.mul(partials[p], t) for p, t in _by_param(site, tangents).items() if t is not None))
            else:
                if rule.kind != "elementwise":
                    tangents = {s: exact(graph, t, site.node_at(s)) for s, t in tangents.items()}
                result = _applied(rule.jvp, site, tangents)
        memo[node.uid] = result
        return result

    return visit(root)


def _applied(method, site: Site, argument):
    """A rule's ``jvp`` or ``vjp``; a call it cannot handle is reported at
    the user's line, never differentiated wrongly."""
    try:
        return method(site, argument)
    except RuleError as exc:
        raise NotDifferentiable(str(exc)) from None


def _partials(site: Site) -> dict[str, Node | None]:
    params = site.rule.params
    values = site.rule.partials(site.G, *[site.arg(p) for p in params], out=site.node)  # type: ignore[misc]
    return dict(zip(params, values, strict=True))


def _by_param(site: Site, by_slot: dict) -> dict[str, Node | None]:
    return {p: by_slot.get(site.slot(p)) for p in site.rule.params if site.given(p)}


# --------------------------------------------------------------------------
# Reverse: adjoints


@dataclass
class Adjoints:
    """Contributions to the adjoints of the active variables of one statement."""

    contributions: dict[Node, Node]  # variable leaf -> contribution (to be unbroadcast)


def adjoints(graph: Graph, root: Node, seed: Node, active: set[Node], list_seed: bool = False) -> Adjoints:
    """Pull ``seed``, the cotangent of ``root``, back to every active variable.
    ``list_seed``: ``root`` is a list literal bound to a list variable, whose
    cotangent is a list of its elements' cotangents (not an array)."""
    exact_nodes: set[Node] = set()
    while True:
        contributions, failed = _pull_back(graph, root, seed, active, exact_nodes, list_seed)
        if not failed:
            return Adjoints(contributions)
        exact_nodes |= failed


def _pull_back(graph: Graph, root: Node, seed: Node, active: set[Node], exact_nodes: set[Node], list_seed: bool = False):
    order = _topological(root, active)
    bars: dict[Node, Node] = {root: seed}
    origins: dict[Node, set[Node]] = {}  # nodes whose cotangent is loose, and where the looseness began

    def accumulate(child: Node, value: Node, loose_from: set[Node]) -> None:
        bars[child] = graph.add(bars.get(child), value)  # type: ignore[assignment]
        if loose_from:
            origins.setdefault(child, set()).update(loose_from)

    for node in order:
        g = bars.get(node)
        if g is None or node.op == "var":
            continue
        loose = origins.get(node, set())
        if node.op in ("tuple", "list"):  # as numpy reads it: an array stacked along a new first axis
            stacked = g if node is root and list_seed else graph.call("rt.unbroadcast", g, node)
            for j, child in enumerate(node.args):
                part = graph.op("getitem", (stacked, graph.leaf(ast.Constant(j))))
                accumulate_if_active(child, part, set(), active, accumulate)
            continue
        if node.op == "ifexp":
            zero = graph.const(0.0)
            accumulate_if_active(node.args[1], graph.op("ifexp", (node.args[0], g, zero)), loose, active, accumulate)
            accumulate_if_active(node.args[2], graph.op("ifexp", (node.args[0], zero, g)), loose, active, accumulate)
            continue
        site = site_of(graph, node)
        assert site is not None
        rule = site.rule
        if rule.kind == "elementwise" and rule.vjp is None:
            partials = _partials(site)
            for param, child in ((p, site.arg(p)) for p in rule.params if site.given(p)):
                if child in active and partials[param] is not None:
                    accumulate(child, graph.mul(g, partials[param]), loose)  # type: ignore[arg-type]
            continue
        if loose and rule.kind != "elementwise":
            g = graph.call("rt.broadcast_like", g, node)
        bar_list: list[Bar] = _applied(rule.vjp, site, g)
        for bar in bar_list:
            child = site.node_at(bar.slot)
            # a list argument takes its adjoint element by element (Site.bars), never as a whole
            assert bar.slot[1] is not None or child.op not in ("list", "tuple"), f"the adjoint of {rule.name} goes to a list as a whole"
            if child not in active:
                continue
            if bar.loose and child not in exact_nodes and not child.is_leaf:
                accumulate(child, bar.value, {child})
            elif bar.loose and not child.is_leaf:
                accumulate(child, graph.call("rt.broadcast_like", bar.value, child), set())
            else:
                accumulate(child, bar.value, loose if rule.kind == "elementwise" else set())

    contributions = {n: bars[n] for n in order if n.op == "var" and n in bars}
    failed: set[Node] = set()
    for leaf, value in contributions.items():
        for origin in origins.get(leaf, ()):
            if not _covers(value, leaf, origin):
                failed.add(origin)
    return contributions, failed


def accumulate_if_active(child, value, loose, active, accumulate) -> None:
    if child in active:
        accumulate(child, value, loose)


def _covers(value: Node, leaf: Node, origin: Node) -> bool:
    """Does broadcasting ``value`` against ``leaf`` recover ``origin``'s full
    shape? Then summing it down to the leaf's shape is exact."""
    if value.shape is None or leaf.shape is None or origin.shape is None:
        return False
    return origin.shape <= (value.shape | leaf.shape)


def _topological(root: Node, active: set[Node]) -> list[Node]:
    """Active nodes, each before its arguments (root first)."""
    order: list[Node] = []
    seen: set[int] = set()

    def visit(node: Node) -> None:
        if node.uid in seen:
            return
        seen.add(node.uid)
        for arg in node.args:  # through list arguments too, which are not themselves active
            visit(arg)
        if node in active:
            order.append(node)

    visit(root)
    return order[::-1]
