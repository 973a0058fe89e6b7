"""Linear algebra: products (``@``, ``dot``, ``inner``, ``vdot``, ``outer``,
``tensordot``, ``einsum``, ``kron``), ``trace``, and ``inv``, ``solve``,
``det`` from ``np.linalg``.

A product is linear in each operand, so its tangent is the product with one
operand replaced by its tangent, summed over the operands::

    c = a @ b          c_dot = a_dot @ b + a @ b_dot

and the adjoint of each operand is a product of the cotangent with the
others. Which product depends on the operands' ranks (``@`` of a vector, a
matrix, a stack of matrices), unknown when code is generated, so adjoints
are runtime helpers that look at the arrays: ``a_bar = matmul_adjoint_a(c_bar,
a, b)``.

The matrix functions use the standard identities: ``d inv(A) = -inv(A) dA
inv(A)``; for ``x = solve(A, b)``, ``x_dot = A^-1 (b_dot - A_dot x)``,
``b_bar = A^-T x_bar`` and ``A_bar = -b_bar x^T``; ``d det(A) = det(A)
tr(A^-1 dA)``.

An argument written as a list (``np.dot([x, y], w)``) has one slot per
element; its tangent is built from its elements' tangents (zeros for the
others), and its adjoint is split into one contribution per element.
"""

from __future__ import annotations

from typing import Callable

from ..expr import SCALAR, Node
from .core import Bar, Family, Rule, RuleError, Site, Slot, bilinear_jvp, same_shape_as, signature, unknown_shape, zeros_like

family = Family()


# --------------------------------------------------------------------------
# Arguments, whole or written as lists


def _is_container(node: Node) -> bool:
    return node.op in ("list", "tuple")


def _tangent_of(site: Site, param: str, tangents: dict[Slot, Node | None]) -> Node | None:
    """The tangent of the argument passed for ``param``: a list argument's
    is the list of its elements' tangents, with zeros for elements that
    carry none."""
    node = site.arg(param)
    if node is None:
        return None
    slots = site.slots([param])
    if all(tangents.get(s) is None for s, _ in slots):
        return None
    if not _is_container(node):
        return tangents.get(site.slot(param))
    elements = [t if (t := tangents.get(s)) is not None else zeros_like(site, e) for s, e in slots]
    return site.G.op(node.op, elements)


# --------------------------------------------------------------------------
# Products of two operands


def _pair_vjp(helper: str, extra: tuple[str, ...] = ()) -> Callable[[Site, Node], list[Bar]]:
    """The adjoints of a product of two operands, computed by the helpers
    ``rt.<helper>_a`` and ``rt.<helper>_b`` from the cotangent, both operands
    and the constant parameters in ``extra`` that were given."""

    def vjp(site: Site, g: Node) -> list[Bar]:
        first, second = site.rule.params[:2]
        args = (g, site.arg(first), site.arg(second))
        options = {p: site.arg(p) for p in extra if site.given(p)}
        return [
            *site.bars(first, site.call(f"rt.{helper}_a", *args, **options)),
            *site.bars(second, site.call(f"rt.{helper}_b", *args, **options)),
        ]

    return vjp


def _vdot_vjp(site: Site, g: Node) -> list[Bar]:
    a, b = site.arg("a"), site.arg("b")
    return [
        *site.bars("a", site.call("rt.vdot_adjoint", g, b, a)),
        *site.bars("b", site.call("rt.vdot_adjoint", g, a, b)),
    ]


_MATMUL_UFUNC = "x1, x2, /, out=None, *, casting='same_kind', order='K', dtype=None, subok=True, signature=None, axes=None, axis=None"
family.bilinear("matmul", "x1, x2", _pair_vjp("matmul_adjoint"), diff="x1 x2")
family.bilinear("np.matmul", _MATMUL_UFUNC, _pair_vjp("matmul_adjoint"), diff="x1 x2", forbid="out signature axes axis")
family.bilinear("np.dot", "a, b, out=None", _pair_vjp("dot_adjoint"), diff="a b", forbid="out")
family.bilinear("np.inner", "a, b, /", _pair_vjp("inner_adjoint"), diff="a b")
family.bilinear("np.vdot", "a, b, /", _vdot_vjp, diff="a b", shape=lambda site: SCALAR)
family.bilinear("np.outer", "a, b, out=None", _pair_vjp("outer_adjoint"), diff="a b", forbid="out")
family.bilinear("np.tensordot", "a, b, axes=2", _pair_vjp("tensordot_adjoint", ("axes",)), diff="a b")
family.bilinear("np.kron", "a, b", _pair_vjp("kron_adjoint"), diff="a b")


# --------------------------------------------------------------------------
# np.einsum: any number of operands


def _check_subscripts(site: Site) -> None:
    """Operands are told from subscripts only in the string form: in
    ``np.einsum(a, [0, 1], b, [1, 2])`` the first array would pass for the
    subscripts and get no derivative."""
    node = site.arg("subscripts")
    if node is None or node.op != "const" or not isinstance(node.value, str):
        raise RuleError("np.einsum is differentiated with a subscripts string written in the code, such as np.einsum('ij,jk->ik', a, b)")


def _einsum_jvp(site: Site, tangents: dict[Slot, Node | None]) -> Node | None:
    _check_subscripts(site)
    return bilinear_jvp(site, tangents)


def _einsum_vjp(site: Site, g: Node) -> list[Bar]:
    _check_subscripts(site)
    positions: tuple[int, ...] = site.index.get("operands", ())
    operands = [site.node.args[i] for i in positions]
    subscripts = site.arg("subscripts")
    bars: list[Bar] = []
    for k, i in enumerate(positions):
        bars += site.bars_at(i, site.call("rt.einsum_adjoint", g, k, subscripts, *operands))
    return bars


_EINSUM = "subscripts, *operands, out=None, optimize=False, dtype=None, order='K', casting='safe'"
family.add(
    "np.einsum",
    lambda n: Rule(
        n,
        "bilinear",
        signature(_EINSUM),
        frozenset({"subscripts", "operands"}),  # an array passed as subscripts must be seen, to be refused
        jvp=_einsum_jvp,
        vjp=_einsum_vjp,
        shape=unknown_shape,
        forbid=frozenset({"out"}),
    ),
)


# --------------------------------------------------------------------------
# np.trace: linear


def _trace_vjp(site: Site, g: Node) -> list[Bar]:
    options = {p: site.arg(p) for p in ("offset", "axis1", "axis2") if site.given(p)}
    return site.bars("a", site.call("rt.trace_adjoint", g, site.arg("a"), **options))


family.linear("np.trace", "a, offset=0, axis1=0, axis2=1, dtype=None, out=None", _trace_vjp, diff="a", forbid="out")


# --------------------------------------------------------------------------
# np.linalg: inv, solve, det


def _matmul(site: Site, a: Node, b: Node) -> Node:
    return site.G.op("matmul", (a, b))


def _inv_jvp(site: Site, tangents: dict[Slot, Node | None]) -> Node | None:
    t = _tangent_of(site, "a", tangents)
    if t is None:
        return None
    return site.G.neg(_matmul(site, _matmul(site, site.out, t), site.out))


def _inv_vjp(site: Site, g: Node) -> list[Bar]:
    out_t = site.call("np.swapaxes", site.out, -1, -2)
    return site.bars("a", site.G.neg(_matmul(site, _matmul(site, out_t, g), out_t)))  # type: ignore[arg-type]


def _solve_jvp(site: Site, tangents: dict[Slot, Node | None]) -> Node | None:
    given = {f"{p}_dot": t for p in ("a", "b") if (t := _tangent_of(site, p, tangents)) is not None}
    if not given:
        return None
    return site.call("rt.solve_tangent", site.arg("a"), site.arg("b"), site.out, **given)


def _solve_vjp(site: Site, g: Node) -> list[Bar]:
    a, b = site.arg("a"), site.arg("b")
    w = site.call("rt.solve_adjoint", g, a, b)
    return [
        *site.bars("a", site.call("rt.solve_adjoint_a", w, a, b, site.out)),
        *site.bars("b", site.call("rt.unbroadcast", w, b)),
    ]


def _det_jvp(site: Site, tangents: dict[Slot, Node | None]) -> Node | None:
    t = _tangent_of(site, "a", tangents)
    return None if t is None else site.call("rt.det_tangent", t, site.arg("a"), site.out)


def _det_vjp(site: Site, g: Node) -> list[Bar]:
    return site.bars("a", site.call("rt.det_adjoint", g, site.arg("a"), site.out))


family.custom("np.linalg.inv", "a", _inv_jvp, _inv_vjp, diff="a", shape=same_shape_as("a"))
family.custom("np.linalg.solve", "a, b", _solve_jvp, _solve_vjp, diff="a b")
family.custom("np.linalg.det", "a", _det_jvp, _det_vjp, diff="a")


# --------------------------------------------------------------------------
# The runtime helpers, as operations


def _einsum_adjoint_shape(site: Site):
    """The shape of the operand whose adjoint this is."""
    index = site.node.args[1]
    positions = site.index["operands"]
    if index.op != "const" or not isinstance(index.value, int) or index.value >= len(positions):
        return None
    return site.node.args[positions[index.value]].shape


for _name in ("matmul", "dot", "inner", "outer", "kron"):
    family.helper(f"rt.{_name}_adjoint_a", "g, a, b", shape=same_shape_as("a"))
    family.helper(f"rt.{_name}_adjoint_b", "g, a, b", shape=same_shape_as("b"))
family.helper("rt.tensordot_adjoint_a", "g, a, b, axes=2", shape=same_shape_as("a"))
family.helper("rt.tensordot_adjoint_b", "g, a, b, axes=2", shape=same_shape_as("b"))
family.helper("rt.vdot_adjoint", "g, other, like", shape=same_shape_as("like"))
family.helper("rt.einsum_adjoint", "g, index, subscripts, *operands", shape=_einsum_adjoint_shape)
family.helper("rt.trace_adjoint", "g, a, offset=0, axis1=0, axis2=1", shape=same_shape_as("a"))
family.helper("rt.solve_tangent", "a, b, x, a_dot=None, b_dot=None", shape=same_shape_as("x"))
family.helper("rt.solve_adjoint", "g, a, b", shape=same_shape_as("g"))
family.helper("rt.solve_adjoint_a", "w, a, b, x", shape=same_shape_as("a"))
family.helper("rt.det_tangent", "t, a, out", shape=same_shape_as("out"))
family.helper("rt.det_adjoint", "g, a, out", shape=same_shape_as("a"))
