"""Structural operations: shapes, indexing, joining, copies and casts.

Every one is linear in its array arguments, so its tangent is the operation
applied to the tangents, and its adjoint sends each element of the cotangent
back to the element it was read from: the inverse permutation for
``transpose``, a reshape to the input's shape for ``reshape``/``ravel``/
``squeeze``, the slices of the cotangent for ``concatenate``, zeros with the
cotangent added at the index for indexing.

A cast to an integer or boolean dtype (``a.astype(int)``, ``np.array(x,
dtype=bool)``) makes the result locally constant: it carries no derivative.
When the dtype is not written in the code (``dtype=x.dtype``), the derivative
goes through ``cast_derivative``, which decides when the code runs.
"""

from __future__ import annotations

import ast

from collections.abc import Callable

from ..expr import SCALAR, Node, ShapeSet, is_list_shape
from ..runtime.structural import inverse_permutation
from .core import (
    Bar,
    Family,
    Rule,
    RuleError,
    Site,
    dtype_kind,
    linear_jvp,
    same_shape_as,
    signature,
    unknown_shape,
)

family = Family()

Jvp = Callable[[Site, dict], "Node | None"]
Vjp = Callable[[Site, Node], "list[Bar]"]


# --------------------------------------------------------------------------
# Shared pieces


def shape_named(node: Node | None) -> ShapeSet:
    """The shape set an argument giving a shape names: that of ``x`` for
    ``np.shape(x)`` or ``x.shape``, a scalar's for ``()``; else unknown."""
    if node is None:
        return None
    if node.op in ("np.shape", "attr.shape") and len(node.args) == 1:
        return node.args[0].shape
    if node.op == "tuple" and not node.args:
        return SCALAR
    return None


def given(site: Site, *names: str) -> dict[str, Node]:
    """The arguments passed for these parameters, by name: the optional
    arguments to pass on to a helper."""
    return {name: site.arg(name) for name in names if site.arg(name) is not None}  # type: ignore[misc]


def reshape_like(site: Site, g: Node, x: Node) -> Node:
    """``np.reshape(g, np.shape(x))``, which has exactly ``x``'s shape."""
    return site.call("np.reshape", g, site.call("np.shape", x))


def sequence(site: Site, name: str) -> Node:
    """The list or tuple written for ``name``; a sequence held in a variable
    has no elements the adjoint could be split between."""
    node = site.arg(name)
    if node is None or node.op not in ("list", "tuple"):
        raise RuleError(f"{site.rule.name} is differentiated when its arrays are listed in the call, as in {site.rule.name}([a, b])")
    return node


def _is_none(node: Node | None) -> bool:
    return node is None or (node.op == "const" and node.value is None)


# --------------------------------------------------------------------------
# Casts: rules with a dtype argument


def dtype_argument(site: Site) -> Node | None:
    """The dtype the result is cast to, ``None`` when it keeps the type of
    the differentiated values."""
    node = site.arg("dtype")
    return None if _is_none(node) else node


def _cast_effect(site: Site, dtype: Node | None) -> str:
    """What a cast to ``dtype`` does to the derivative: "keep" it (no cast,
    or a floating dtype), "drop" it (integer and boolean values are locally
    constant) or "check" when the code runs (the dtype is not written as a
    literal)."""
    if dtype is None:
        return "keep"
    kind = dtype_kind(dtype)
    if kind == "f":
        return "keep"
    if kind in ("b", "i", "u"):
        return "drop"
    if kind is None:
        return "check"
    raise RuleError(f"{site.rule.name} casts to a dtype of kind {kind!r}, which s2s does not differentiate: it differentiates real floating values")


def with_cast(jvp: Jvp, vjp: Vjp, dtype_of: Callable[[Site], Node | None]) -> tuple[Jvp, Vjp]:
    """``jvp`` and ``vjp`` of an operation whose result is cast to the dtype
    ``dtype_of(site)``, made to respect the cast."""

    def cast_jvp(site: Site, tangents: dict) -> Node | None:
        dtype = dtype_of(site)
        effect = _cast_effect(site, dtype)
        if effect == "drop":
            return None
        t = jvp(site, tangents)
        return t if effect == "keep" or t is None else site.call("rt.cast_derivative", t, dtype)

    def cast_vjp(site: Site, g: Node) -> list[Bar]:
        dtype = dtype_of(site)
        effect = _cast_effect(site, dtype)
        if effect == "drop":
            return []
        return vjp(site, g if effect == "keep" else site.call("rt.cast_derivative", g, dtype))

    return cast_jvp, cast_vjp


def linear_with_dtype(
    fam: Family,
    names: str | list[str],
    spec: str,
    vjp: Vjp,
    diff: str,
    *,
    dtype_of: Callable[[Site], Node | None] = dtype_argument,
    shape: Callable[[Site], ShapeSet] | None = None,
    forbid: str = "",
) -> None:
    """Register a linear operation whose result is cast to ``dtype_of(site)``:
    ``Family.linear`` with a derivative that respects the cast."""
    jvp, cast_vjp = with_cast(linear_jvp, vjp, dtype_of)
    sig = signature(spec)
    fam.add(
        names,
        lambda n: Rule(n, "linear", sig, frozenset(diff.split()), jvp=jvp, vjp=cast_vjp, shape=shape or unknown_shape, forbid=frozenset(forbid.split())),
    )


# --------------------------------------------------------------------------
# Adjoints common to several rules


def to_shape_of(param: str) -> Vjp:
    """The adjoint of an operation that only changes the shape of ``param``."""

    def vjp(site: Site, g: Node) -> list[Bar]:
        return [Bar(site.slot(param), reshape_like(site, g, site.arg(param)))]  # type: ignore[arg-type]

    return vjp


def self_adjoint(param: str) -> Vjp:
    """The adjoint of an operation that is its own transpose (``flip``,
    ``swapaxes``, a copy): the same operation applied to the cotangent."""

    def vjp(site: Site, g: Node) -> list[Bar]:
        return [Bar(site.slot(param), site.rebuild({site.slot(param): g}))]

    return vjp


def identity_adjoint(param: str) -> Vjp:
    """The adjoint of a copy or a conversion: the cotangent itself."""

    def vjp(site: Site, g: Node) -> list[Bar]:
        return [Bar(site.slot(param), g)]

    return vjp


def unbroadcast_adjoint(param: str) -> Vjp:
    """The adjoint of broadcasting ``param``: the cotangent summed back to its shape."""

    def vjp(site: Site, g: Node) -> list[Bar]:
        return [Bar(site.slot(param), site.call("rt.unbroadcast", g, site.arg(param)))]

    return vjp


def helper_adjoint(helper: str, param: str, extra: tuple[str, ...] = (), optional: tuple[str, ...] = ()) -> Vjp:
    """The adjoint written as one runtime helper, called with the cotangent,
    the input, the required parameters ``extra`` and the optional parameters
    that were given."""

    def vjp(site: Site, g: Node) -> list[Bar]:
        args = [site.arg(p) for p in extra]
        return [Bar(site.slot(param), site.call(f"rt.{helper}", g, site.arg(param), *args, **given(site, *optional)))]

    return vjp


def pieces_adjoint(helper: str, param: str, optional: tuple[str, ...] = ()) -> Vjp:
    """The adjoint of joining the arrays listed for ``param``: each receives
    its piece of the cotangent, cut by a runtime helper; a list variable
    receives the list of its pieces."""

    def vjp(site: Site, g: Node) -> list[Bar]:
        node = site.arg(param)
        extra = given(site, *optional)
        if node is not None and is_list_shape(node.shape) and helper in ("concatenate_piece", "stack_piece"):
            return [Bar(site.slot(param), site.call(f"rt.{helper}s", g, node, **extra))]
        arrays = sequence(site, param)
        return [Bar(slot, site.call(f"rt.{helper}", g, arrays, slot[1], **extra)) for slot, _ in site.slots([param])]

    return vjp


# --------------------------------------------------------------------------
# Permutations and reshapes


def _transpose_vjp(site: Site, g: Node) -> list[Bar]:
    """Transpose back by the inverse permutation, computed here when the
    axes are written in the code."""
    axes = site.arg("axes")
    if _is_none(axes):
        back = site.call("np.transpose", g)
    elif site.is_constant("axes"):
        back = site.call("np.transpose", g, inverse_permutation(site.value("axes")))
    else:
        back = site.call("np.transpose", g, site.call("rt.inverse_permutation", axes))
    return [Bar(site.slot("a"), back)]


def _moveaxis_vjp(site: Site, g: Node) -> list[Bar]:
    return [Bar(site.slot("a"), site.call("np.moveaxis", g, site.arg("destination"), site.arg("source")))]


def _reshape_shape(site: Site) -> ShapeSet:
    return shape_named(site.arg("shape") or site.arg("newshape"))


_RESHAPE = "a, shape=None, order='C', *, newshape=None, copy=None"
family.linear("np.transpose", "a, axes=None", _transpose_vjp, diff="a")
family.linear("np.reshape", _RESHAPE, to_shape_of("a"), diff="a", shape=_reshape_shape, forbid="order")
family.linear("np.ravel", "a, order='C'", to_shape_of("a"), diff="a", forbid="order")
family.linear("method.flatten", "a, order='C'", to_shape_of("a"), diff="a", forbid="order")
family.linear("np.squeeze", "a, axis=None", to_shape_of("a"), diff="a")
family.linear("np.expand_dims", "a, axis", to_shape_of("a"), diff="a")
family.linear("np.swapaxes", "a, axis1, axis2", self_adjoint("a"), diff="a")
family.linear("np.moveaxis", "a, source, destination", _moveaxis_vjp, diff="a")
family.linear(
    "np.broadcast_to", "array, shape, subok=False", unbroadcast_adjoint("array"), diff="array", shape=lambda site: shape_named(site.arg("shape"))
)


# --------------------------------------------------------------------------
# Reordering elements


def _roll_vjp(site: Site, g: Node) -> list[Bar]:
    """Roll back by the opposite shift."""
    if site.is_constant("shift"):
        shift = site.value("shift")
        back: object = tuple(-s for s in shift) if isinstance(shift, (tuple, list)) else -shift
    else:
        back = site.call("np.negative", site.arg("shift"))
    return [Bar(site.slot("a"), site.call("np.roll", g, back, **given(site, "axis")))]


family.linear("np.flip", "m, axis=None", self_adjoint("m"), diff="m", shape=same_shape_as("m"))
family.linear("np.fliplr", "m", self_adjoint("m"), diff="m", shape=same_shape_as("m"))
family.linear("np.flipud", "m", self_adjoint("m"), diff="m", shape=same_shape_as("m"))
family.linear("np.roll", "a, shift, axis=None", _roll_vjp, diff="a", shape=same_shape_as("a"))


# --------------------------------------------------------------------------
# Joining


_CONCATENATE = "arrays, axis=0, out=None, dtype=None, casting='same_kind'"
_STACK = "arrays, axis=0, out=None, *, dtype=None, casting='same_kind'"
_XSTACK = "tup, *, dtype=None, casting='same_kind'"
linear_with_dtype(family, "np.concatenate", _CONCATENATE, pieces_adjoint("concatenate_piece", "arrays", ("axis",)), diff="arrays", forbid="out")
linear_with_dtype(family, "np.stack", _STACK, pieces_adjoint("stack_piece", "arrays", ("axis",)), diff="arrays", forbid="out")
linear_with_dtype(family, "np.hstack", _XSTACK, pieces_adjoint("hstack_piece", "tup"), diff="tup")
linear_with_dtype(family, "np.vstack", _XSTACK, pieces_adjoint("vstack_piece", "tup"), diff="tup")
family.linear("np.column_stack", "tup", pieces_adjoint("column_stack_piece", "tup"), diff="tup")


# --------------------------------------------------------------------------
# Diagonals, tiles, repeats, take


_DIAGONAL = "a, offset=0, axis1=0, axis2=1"
_TAKE = "a, indices, axis=None, out=None, mode='raise'"
family.linear("np.diag", "v, k=0", helper_adjoint("diag_adjoint", "v", optional=("k",)), diff="v")
family.linear("np.diagonal", _DIAGONAL, helper_adjoint("diagonal_adjoint", "a", optional=("offset", "axis1", "axis2")), diff="a")
family.linear("np.tile", "A, reps", helper_adjoint("tile_adjoint", "A", ("reps",)), diff="A")
family.linear("np.repeat", "a, repeats, axis=None", helper_adjoint("repeat_adjoint", "a", ("repeats",), ("axis",)), diff="a")
family.linear("np.take", _TAKE, helper_adjoint("take_adjoint", "a", ("indices",), ("axis", "mode")), diff="a", forbid="out")


# --------------------------------------------------------------------------
# Indexing and single elements


def _getitem_vjp(site: Site, g: Node) -> list[Bar]:
    a = site.arg("a")
    return [Bar(site.slot("a"), site.call("rt.getitem_adjoint", g, a, site.index_value("index")))]


def _item_vjp(site: Site, g: Node) -> list[Bar]:
    args = [node for _, node in site.slots(["args"])]
    return [Bar(site.slot("a"), site.call("rt.item_adjoint", g, site.arg("a"), *args))]


def _getitem_shape(site: Site) -> ShapeSet:
    """Reads with the same constant slices of one array have one shape, and
    ``x[1:]`` and ``x[:-1]`` have the same (one element fewer): a symbol
    per array and per number of elements each axis drops, so that the
    adjoints of ``x[1:] - x[:-1] ** 2`` know their terms match."""
    base, index = site.arg("a"), site.arg("index")
    if base is None or index is None or index.op != "ast" or base.shape is None or len(base.shape) != 1 or is_list_shape(base.shape):
        return None
    expr = index.attr.expr  # type: ignore[union-attr]
    axes = [_axis_key(e) for e in (expr.elts if isinstance(expr, ast.Tuple) else [expr])]
    if None in axes:
        return None
    while axes and axes[-1] == "drop0":  # x[1:, :] reads what x[1:] reads
        axes.pop()
    if not axes:
        return base.shape
    (symbol,) = base.shape
    return frozenset({f"{symbol}[{','.join(axes)}]"})  # type: ignore[arg-type]


def _axis_key(e: ast.expr) -> str | None:
    """What an index does to one axis, when its length after does not
    depend on the index's value: ``drop<k>`` for a slice that leaves out k
    elements (``1:`` and ``:-1`` both drop 1), ``int`` for an integer;
    ``None`` otherwise."""
    if isinstance(e, ast.Slice):
        if e.step is not None and not (isinstance(e.step, ast.Constant) and e.step.value in (None, 1)):
            return None
        start, stop = _constant_int(e.lower, 0), _constant_int(e.upper, 0)
        if start is None or stop is None or start < 0 or stop > 0:
            return None
        return f"drop{start - stop}"
    return "int" if _constant_int(e, None) is not None else None


def _constant_int(e: ast.expr | None, missing: int | None) -> int | None:
    """A literal integer (``-1`` included), ``missing`` when absent."""
    if e is None:
        return missing
    if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.USub):
        inner = _constant_int(e.operand, None)
        return -inner if inner is not None else None
    if isinstance(e, ast.Constant) and type(e.value) is int:
        return e.value
    return None


family.linear("getitem", "a, index", _getitem_vjp, diff="a", shape=_getitem_shape)
family.linear("method.item", "a, *args", _item_vjp, diff="a", shape=lambda site: SCALAR)


# --------------------------------------------------------------------------
# Copies, conversions and casts


def _array_vjp(param: str, reshape: bool = False) -> Vjp:
    """The adjoint of ``np.array(x)``: the cotangent itself (reshaped to
    ``x``'s shape where the conversion adds axes); for a list or tuple of
    arrays, which the conversion stacks, each receives its slice."""

    def vjp(site: Site, g: Node) -> list[Bar]:
        node = site.arg(param)
        if node.op in ("list", "tuple"):  # type: ignore[union-attr]
            return [Bar(slot, site.call("rt.stack_piece", g, node, slot[1])) for slot, _ in site.slots([param])]
        if is_list_shape(node.shape):  # type: ignore[union-attr]  # a list variable: one piece per element
            return [Bar(site.slot(param), site.call("rt.stack_pieces", g, node))]
        return [Bar(site.slot(param), reshape_like(site, g, node) if reshape else g)]  # type: ignore[arg-type]

    return vjp


def _converted_shape(param: str) -> Callable[[Site], ShapeSet]:
    """A conversion keeps the shape of an array; a list is stacked."""

    def shape(site: Site) -> ShapeSet:
        node = site.arg(param)
        return None if node is None or node.op in ("list", "tuple") or is_list_shape(node.shape) else node.shape

    return shape


_ARRAY = "object, dtype=None, *, copy=True, order='K', subok=False, ndmin=0, like=None"
_ASARRAY = "a, dtype=None, order=None, *, device=None, copy=None, like=None"
linear_with_dtype(family, "np.array", _ARRAY, _array_vjp("object"), diff="object", shape=_converted_shape("object"), forbid="ndmin")
linear_with_dtype(family, ["np.asarray", "np.asanyarray"], _ASARRAY, _array_vjp("a"), diff="a", shape=_converted_shape("a"))
_ASTYPE = "a, dtype, order='K', casting='unsafe', subok=True, copy=True"
linear_with_dtype(family, "np.ascontiguousarray", "a, dtype=None, *, like=None", _array_vjp("a", reshape=True), diff="a")  # a scalar becomes a vector
linear_with_dtype(family, "method.astype", _ASTYPE, identity_adjoint("a"), diff="a", shape=same_shape_as("a"))
family.linear("np.copy", "a, order='K', subok=False", identity_adjoint("a"), diff="a", shape=same_shape_as("a"))


def _list_vjp(site: Site, g: Node) -> list[Bar]:
    items = site.arg("iterable")
    if items.op in ("list", "tuple"):
        return site.bars("iterable", g)
    return [Bar(site.slot("iterable"), site.call("rt.list_adjoint", g, items))]


family.linear("builtins.list", "iterable, /", _list_vjp, diff="iterable", shape=unknown_shape)  # a copy of a list, or an array's rows


# --------------------------------------------------------------------------
# Runtime helpers, as operations


def _piece_shape(site: Site) -> ShapeSet:
    """A joined array's piece of the cotangent has that array's shape."""
    arrays, k = site.arg("arrays"), site.arg("k")
    if arrays is None or arrays.op not in ("list", "tuple") or k is None or not k.is_number():
        return None
    return arrays.args[k.value].shape  # type: ignore[index]


family.helper("rt.cast_derivative", "d, dtype", shape=same_shape_as("d"))
family.helper("rt.inverse_permutation", "axes", shape=unknown_shape)
family.helper("rt.getitem_adjoint", "g, x, index", shape=same_shape_as("x"))
family.helper("rt.item_adjoint", "g, a, *args", shape=same_shape_as("a"))
family.helper("rt.concatenate_piece", "g, arrays, k, axis=0", shape=_piece_shape)
family.helper("rt.concatenate_pieces", "g, arrays, axis=0", shape=same_shape_as("arrays"))
family.helper("rt.stack_pieces", "g, arrays, axis=0", shape=same_shape_as("arrays"))
family.helper("rt.stack_piece", "g, arrays, k, axis=0", shape=_piece_shape)
for _name in ("hstack_piece", "vstack_piece", "column_stack_piece"):
    family.helper(f"rt.{_name}", "g, arrays, k", shape=_piece_shape)
family.helper("rt.diag_adjoint", "g, v, k=0", shape=same_shape_as("v"))
family.helper("rt.diagonal_adjoint", "g, a, offset=0, axis1=0, axis2=1", shape=same_shape_as("a"))
family.helper("rt.tile_adjoint", "g, A, reps", shape=same_shape_as("A"))
family.helper("rt.repeat_adjoint", "g, a, repeats, axis=None", shape=same_shape_as("a"))
family.helper("rt.take_adjoint", "g, a, indices, axis=None, mode='raise'", shape=same_shape_as("a"))
family.helper("rt.linspace_adjoint", "g, end, num=50, endpoint=True, axis=0, stop=False", shape=same_shape_as("end"))


# Operations whose result may share memory with their first argument: an
# in-place update of either would change the other (see ``s2s.aliasing``).
VIEWS = frozenset(
    {
        "getitem",
        "np.transpose",
        "np.reshape",
        "np.ravel",
        "np.squeeze",
        "np.expand_dims",
        "np.swapaxes",
        "np.moveaxis",
        "np.broadcast_to",
        "np.diagonal",
        "np.asarray",
        "np.asanyarray",
        "np.ascontiguousarray",
        "np.flip",
        "np.fliplr",
        "np.flipud",
        "method.view",
    }
)
