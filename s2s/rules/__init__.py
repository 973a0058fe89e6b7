"""The derivative rule table: one entry per operation, as data.

``RULES`` is an immutable mapping from an operation key to its ``Rule``.
Keys name operations as the normal form spells them: operators by name
(``"add"``, ``"matmul"``, ``"getitem"``), numpy functions with an ``np.``
prefix (``"np.exp"``, ``"np.linalg.norm"``), ``math.`` functions, Python
builtins (``"builtins.abs"``), methods without a numpy twin
(``"method.astype"``) and attributes (``"attr.shape"``). Runtime helpers used
by generated code (``"rt.unbroadcast"``) have entries too, so that generated
code can itself be differentiated.
"""

from __future__ import annotations

from types import MappingProxyType

from ..expr import Graph, Node, ShapeSet
from . import constructors, elementwise, linalg, nondiff, reductions, runtime_ops, structural
from .core import Bar, Rule, RuleError, Site

__all__ = ["RULES", "Bar", "Rule", "RuleError", "Site", "lookup", "shape_of"]


def _merge(*families) -> dict[str, Rule]:
    table: dict[str, Rule] = {}
    for family in families:
        for name, rule in family.rules.items():
            if name in table:
                raise ValueError(f"rule {name} defined twice")
            table[name] = rule
    return table


RULES: MappingProxyType[str, Rule] = MappingProxyType(
    _merge(
        elementwise.family,
        reductions.family,
        linalg.family,
        structural.family,
        constructors.family,
        nondiff.family,
        runtime_ops.family,
    )
)


def lookup(op: str) -> Rule | None:
    if op.startswith("custom."):
        from .user import rule_for

        return rule_for(op)
    return RULES.get(op)


def shape_of(graph: Graph, node: Node) -> ShapeSet:
    """The shape set of an operation node, from its rule; unknown when the
    operation has no rule or its arguments do not bind."""
    if node.op in ("list", "tuple", "ifexp"):
        from ..expr import union

        return union(a.shape for a in node.args[-2:]) if node.op == "ifexp" else None
    rule = RULES.get(node.op)
    if rule is None or rule.shape is None:
        return None
    try:
        return rule.shape(Site(graph, rule, node))
    except RuleError:
        return None
