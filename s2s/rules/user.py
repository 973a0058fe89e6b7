"""Rules for functions with a user-registered derivative (``s2s.custom``).

An operation key ``custom.<spelling>@<rule name>`` keeps how the user's code
spells the function (generated code calls it the same way, through the
user's names) and which registered rule differentiates it. The rule's
tangent and adjoint run when the derivative runs, through the runtime
helpers ``custom_tangent`` and ``custom_adjoint``.
"""

from __future__ import annotations

import ast
import functools
import inspect

from ..expr import Node
from .core import Bar, Rule, RuleError, Site, unknown_shape


def custom_op(spelling: str, rule_name: str) -> str:
    return f"custom.{spelling}@{rule_name}"


def spelling_of(op: str) -> ast.expr:
    """The function as the user's code spells it (``special.erf``)."""
    return ast.parse(op[len("custom.") :].rsplit("@", 1)[0], mode="eval").body


@functools.cache
def rule_for(op: str) -> Rule | None:
    from ..custom import named

    registered = named(op.rsplit("@", 1)[1])
    params = registered.parameters
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    sig = inspect.Signature([inspect.Parameter(p, kind, default=d) for p, d in zip(params, registered.defaults)])

    def arguments(site: Site) -> Node:
        values = []
        for p in params:
            if site.given(p):
                values.append(site.arg(p))
                continue
            default = site.value(p)
            if not _literal(default):
                raise RuleError(f"pass `{p}=` to {registered.name} explicitly: its default {default!r} is not a literal")
            values.append(site.G.const(default))
        return site.G.op("tuple", values)

    def jvp(site: Site, tangents: dict) -> Node | None:
        given = [tangents.get(site.slot(p)) if site.given(p) and p in registered.differentiable else None for p in params]
        if all(t is None for t in given):
            return None
        zero = site.G.const(0.0)
        return site.call("rt.custom_tangent", registered.name, arguments(site), site.G.op("tuple", [t or zero for t in given]))

    def vjp(site: Site, g: Node) -> list[Bar]:
        pulled = site.call("rt.custom_adjoint", registered.name, arguments(site), site.out, g)
        return [
            Bar(site.slot(p), site.G.op("getitem", (pulled, site.G.leaf(ast.Constant(i)))))
            for i, p in enumerate(params)
            if p in registered.differentiable and site.given(p)
        ]

    diff = frozenset(registered.differentiable)
    return Rule(registered.name, "custom", sig, diff, jvp=jvp, vjp=vjp, shape=unknown_shape)


def _literal(value: object) -> bool:
    try:
        return ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError):
        return False
