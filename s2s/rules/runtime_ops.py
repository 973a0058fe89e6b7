"""Runtime helpers that generated code calls (``s2s.runtime``), as operations.

They need shapes so that emission can reason about broadcasting. They are
of kind ``helper``: a derivative flowing through one is refused, never
taken as zero.
"""

from __future__ import annotations

from ..expr import SCALAR, Node
from ..runtime import core as runtime_core
from .core import Bar, Family, Site, elementwise_shape, same_shape_as, unknown_shape

family = Family()


def _shape_of_second(site: Site):
    return site.node.args[1].shape


# Linear in their first argument: generated code differentiated again (a
# Hessian is forward mode over reverse-mode code) goes through them.


def _broadcast_back(param: str):
    """The transpose of summing ``param`` to a shape: broadcasting back."""
    return lambda site, g: [Bar(site.slot(param), site.call("rt.broadcast_like", g, site.arg(param)))]


def _sum_back(param: str):
    """The transpose of broadcasting ``param``: summing back to its shape."""
    return lambda site, g: [Bar(site.slot(param), site.call("rt.unbroadcast", g, site.arg(param)))]


family.linear("rt.unbroadcast", "g, like", vjp=_broadcast_back("g"), diff="g", shape=_shape_of_second)
family.linear("rt.sum_to_shape", "g, shape", vjp=_broadcast_back("g"), diff="g")
family.linear("rt.broadcast_like", "t, like", vjp=_sum_back("t"), diff="t", shape=_shape_of_second)
family.linear("rt.owned_like", "t, like", vjp=_sum_back("t"), diff="t", shape=_shape_of_second)
family.linear("rt.frozen", "x", vjp=lambda site, g: [Bar(site.slot("x"), g)], diff="x", shape=same_shape_as("x"))
family.zero("rt.zeros_like", "x", shape=same_shape_as("x"))


def _sum_product_vjp(site: Site, g: Node) -> list[Bar]:
    a, b = site.arg("a"), site.arg("b")
    return [Bar(site.slot("a"), site.call("rt.unbroadcast", site.G.mul(g, b), a)), Bar(site.slot("b"), site.call("rt.unbroadcast", site.G.mul(g, a), b))]


family.bilinear("rt.sum_product", "a, b", _sum_product_vjp, diff="a b", shape=lambda site: SCALAR)
family.zero("rt.shape_of", "x")
family.zero("rt.unit_cotangent", "out", shape=lambda site: SCALAR)
family.zero("rt.unit_seed", "*values", shape=lambda site: SCALAR)
family.helper("rt.reduced_size", "x, axis=None", shape=lambda site: SCALAR)
family.helper("rt.xlogy", "x, y", shape=elementwise_shape)
family.helper("rt.power_base_partial", "x, p", shape=elementwise_shape)
family.helper("rt.safe_divide", "a, b", shape=elementwise_shape)
family.helper("rt.unpack_adjoint", "x, bars", shape=same_shape_as("x"))
family.helper("rt.add_at", "bar, index, g", shape=unknown_shape)
family.helper("rt.zeros_like_list", "items", shape=same_shape_as("items"))
family.helper("rt.check_not_stale", "view, base, view_name, base_name")
family.helper("rt.check_distinct_index", "index")
family.helper("rt.add_lists", "a, b", shape=same_shape_as("a"))
family.helper("rt.as_list_adjoint", "g, items", shape=same_shape_as("items"))
for name in runtime_core.__all__:  # the rest: shapes unknown
    if f"rt.{name}" not in family.rules:
        family.helper(f"rt.{name}")
