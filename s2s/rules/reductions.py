"""Reductions: sum, mean, prod, max/min, var/std, cumsum/cumprod, norm.

A reduction may take an elementwise expression as its argument (the normal
form keeps ``np.sum(d * d0)`` whole), so its cotangent flows straight into
that expression: the adjoint of ``d`` in ``np.sum(d * d0)`` is ``s_bar * d0``,
never a materialised ``broadcast_to(s_bar, ...)``. Such a cotangent is
*loose*: smaller than the reduced array until it meets the elementwise
partials, which the engine checks.
"""

from __future__ import annotations

import ast

from ..expr import SCALAR, Node
from .core import Bar, Family, RuleError, Site, linear_jvp, unknown_shape

family = Family()


def _reduced_shape(site: Site):
    """Scalar for a full reduction without ``keepdims``; unknown otherwise."""
    try:
        axis, keepdims = site.value("axis"), site.value("keepdims")
    except RuleError:
        return None
    return SCALAR if axis is None and not keepdims else None


def expand_reduced(site: Site, g: Node) -> Node:
    """The cotangent of a reduction, with the reduced axes put back as
    length-1 axes so that it broadcasts against the reduced array."""
    if not site.is_constant("axis") or not site.is_constant("keepdims"):
        return site.call("rt.expand_reduced", g, site.arg("axis") or None, site.arg("keepdims") or False)
    axis, keepdims = site.value("axis"), site.value("keepdims")
    if keepdims or axis is None:
        return g
    if isinstance(axis, int):
        return site.G.op("getitem", (g, site.G.leaf(_new_axis_index(axis))))
    return site.call("np.expand_dims", g, tuple(axis))


def _new_axis_index(axis: int) -> ast.expr:
    """The index that inserts a length-1 axis at ``axis``: ``[:, None]`` for 1,
    ``[..., None]`` for -1 (cheaper than ``np.expand_dims``)."""
    full = ast.Slice()
    if axis >= 0:
        elts: list[ast.expr] = [full] * axis + [ast.Constant(None)]
    else:
        elts = [ast.Constant(Ellipsis), ast.Constant(None)] + [full] * (-axis - 1)
    return elts[0] if len(elts) == 1 else ast.Tuple(elts, ast.Load())


def _sum_vjp(site: Site, g: Node) -> list[Bar]:
    return [Bar(site.slot("a"), expand_reduced(site, g), loose=True)]


def _mean_vjp(site: Site, g: Node) -> list[Bar]:
    a = site.arg("a")
    count = site.call("rt.reduced_size", site.shape_source(a), site.arg("axis") or None)
    return [Bar(site.slot("a"), site.G.div(expand_reduced(site, g), count), loose=True)]  # type: ignore[arg-type]


def _sum_jvp(site: Site, tangents: dict) -> Node | None:
    """The sum of the tangent; of all its elements through ``Graph.total``
    (scalar factors outside, a product of arrays as a dot product)."""
    t = tangents.get(site.slot("a"))
    if t is not None and _sums_everything(site):
        return site.G.total(t)
    return linear_jvp(site, tangents)


def _sums_everything(site: Site) -> bool:
    """``np.sum(a)`` to a number, in ``a``'s dtype."""
    return all(site.is_constant(p) for p in ("axis", "dtype", "keepdims")) and site.value("axis") is None and site.value("dtype") is None and not site.value("keepdims")


_SUM = "a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None"
family.custom("np.sum", _SUM, _sum_jvp, _sum_vjp, diff="a", shape=_reduced_shape, fusable=True, forbid="out initial where")
# what np.sum calls, and what generated code calls for np.sum (see emit.lower_sums); its axis defaults to 0
family.custom("np.add.reduce", _SUM.replace("axis=None", "axis=0"), _sum_jvp, _sum_vjp, diff="a", shape=_reduced_shape, fusable=True, forbid="out initial where")
family.linear("np.mean", "a, axis=None, dtype=None, out=None, keepdims=False, where=None", _mean_vjp, diff="a", shape=_reduced_shape, fusable=True, forbid="out where")


def _helper_rule(jvp_helper: str, vjp_helper: str, extra: tuple[str, ...], with_out: bool):
    """jvp/vjp written as one runtime helper each, called with the reduced
    array, (its value,) and the reduction's constant parameters."""

    def params(site: Site) -> list[Node]:
        return [site.arg(p) or site.G.const(site.value(p)) for p in extra]

    def jvp(site: Site, tangents: dict) -> Node | None:
        t = tangents.get(site.slot("a"))
        if t is None:
            return None
        args = [t, site.arg("a")] + ([site.out] if with_out else []) + params(site)
        return site.call(f"rt.{jvp_helper}", *args)

    def vjp(site: Site, g: Node) -> list[Bar]:
        args = [g, site.arg("a")] + ([site.out] if with_out else []) + params(site)
        return [Bar(site.slot("a"), site.call(f"rt.{vjp_helper}", *args))]

    return jvp, vjp


_max_jvp, _max_vjp = _helper_rule("choice_tangent", "choice_adjoint", ("axis", "keepdims"), with_out=True)
_CHOOSE = "a, axis=None, out=None, keepdims=False, initial=None, where=None"
family.custom(["np.max", "np.amax", "np.min", "np.amin"], _CHOOSE, _max_jvp, _max_vjp, diff="a", shape=_reduced_shape, fusable=True, forbid="out initial where")

_prod_jvp, _prod_vjp = _helper_rule("prod_tangent", "prod_adjoint", ("axis", "keepdims"), with_out=False)
_PROD = "a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None"
family.custom("np.prod", _PROD, _prod_jvp, _prod_vjp, diff="a", shape=_reduced_shape, fusable=True, forbid="out initial where")

_var_jvp, _var_vjp = _helper_rule("var_tangent", "var_adjoint", ("axis", "ddof", "keepdims"), with_out=False)
_std_jvp, _std_vjp = _helper_rule("std_tangent", "std_adjoint", ("axis", "ddof", "keepdims"), with_out=True)
_VAR = "a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, where=None, mean=None, correction=None"
family.custom("np.var", _VAR, _var_jvp, _var_vjp, diff="a", shape=_reduced_shape, fusable=True, forbid="out where mean correction")
family.custom("np.std", _VAR, _std_jvp, _std_vjp, diff="a", shape=_reduced_shape, fusable=True, forbid="out where mean correction")


def _cumsum_vjp(site: Site, g: Node) -> list[Bar]:
    return [Bar(site.slot("a"), site.call("rt.cumsum_adjoint", g, site.arg("a"), site.arg("axis") or None))]


def _cumulative_shape(site: Site):
    return site.arg("a").shape if site.is_constant("axis") and site.value("axis") is not None else None  # type: ignore[union-attr]


family.linear("np.cumsum", "a, axis=None, dtype=None, out=None", _cumsum_vjp, diff="a", shape=_cumulative_shape, forbid="out")
_cumprod_jvp, _cumprod_vjp = _helper_rule("cumprod_tangent", "cumprod_adjoint", ("axis",), with_out=True)
family.custom("np.cumprod", "a, axis=None, dtype=None, out=None", _cumprod_jvp, _cumprod_vjp, diff="a", shape=_cumulative_shape, forbid="out")


def _norm_jvp(site: Site, tangents: dict) -> Node | None:
    t = tangents.get(site.slot("x"))
    if t is None:
        return None
    x = site.arg("x")
    return site.call("rt.norm_tangent", t, x, site.out, site.arg("axis") or None, site.arg("keepdims") or False)


def _norm_vjp(site: Site, g: Node) -> list[Bar]:
    x = site.arg("x")
    return [Bar(site.slot("x"), site.call("rt.norm_adjoint", g, x, site.out, site.arg("axis") or None, site.arg("keepdims") or False))]


family.custom("np.linalg.norm", "x, ord=None, axis=None, keepdims=False", _norm_jvp, _norm_vjp, diff="x", shape=_reduced_shape, fusable=True, forbid="ord")


# -------------------------------------------------------------------------
# Python's builtins on scalars and sequences


def _builtin_sum_vjp(site: Site, g: Node) -> list[Bar]:
    return [Bar(slot, g) for slot, _ in site.slots(["iterable", "start"])]


family.linear("builtins.sum", "iterable, /, start=0", _builtin_sum_vjp, diff="iterable start", shape=unknown_shape)


def _to_scalar_vjp(site: Site, g: Node) -> list[Bar]:
    return [Bar(site.slot("x"), g)]  # broadcast back to a size-1 array's shape by unbroadcast


family.linear(["builtins.float", "np.float64"], "x=0.0, /", _to_scalar_vjp, diff="x", shape=lambda site: SCALAR)


def _builtin_choice(compare: str):
    """``max(a, b)`` returns ``a`` on ties, so its derivative is ``a``'s;
    ``max(v)`` of one array is its largest element along the first axis."""

    def condition(site: Site) -> Node:
        a, b = _two(site)
        return site.G.op(compare, (a, b))

    def jvp(site: Site, tangents: dict) -> Node | None:
        slots = site.slots(["args"])
        if len(slots) == 1:  # max(v) of an array: its largest element, as np.max(v, axis=0)
            (sv, v), = slots
            t = tangents.get(sv)
            return None if t is None else site.call("rt.choice_tangent", t, v, site.node, site.G.const(0))
        (sa, a), (sb, b) = _pair(site)
        ta, tb = tangents.get(sa), tangents.get(sb)
        if ta is None and tb is None:
            return None
        zero = site.G.const(0.0)
        return site.G.op("ifexp", (condition(site), ta if ta is not None else zero, tb if tb is not None else zero))

    def vjp(site: Site, g: Node) -> list[Bar]:
        slots = site.slots(["args"])
        if len(slots) == 1:
            (sv, v), = slots
            return [Bar(sv, site.call("rt.choice_adjoint", g, v, site.node, site.G.const(0)))]
        (sa, _), (sb, _) = _pair(site)
        zero = site.G.const(0.0)
        cond = condition(site)
        return [Bar(sa, site.G.op("ifexp", (cond, g, zero))), Bar(sb, site.G.op("ifexp", (cond, zero, g)))]

    return jvp, vjp


def _pair(site: Site) -> list:
    """The two (slot, node) arguments of ``max(a, b)``; a ``RuleError`` for
    any other number (``max(a, b, c)``)."""
    slots = site.slots(["args"])
    if len(slots) != 2:
        raise RuleError(f"{site.rule.name} is differentiated with one array or exactly two arguments; nest it, max(a, max(b, c)), or use np.max/np.min for arrays")
    return slots


def _two(site: Site) -> tuple[Node, Node]:
    (_, a), (_, b) = _pair(site)
    return a, b


def _scalar_union(site: Site):
    from ..expr import union

    slots = site.slots(["args"])
    if len(slots) == 1:  # an element of an array: its shape is not the array's
        return None
    return union(n.shape for _, n in slots)


_bmax_jvp, _bmax_vjp = _builtin_choice("ge")
_bmin_jvp, _bmin_vjp = _builtin_choice("le")
family.custom("builtins.max", "*args", _bmax_jvp, _bmax_vjp, diff="args", shape=_scalar_union)
family.custom("builtins.min", "*args", _bmin_jvp, _bmin_vjp, diff="args", shape=_scalar_union)
