"""Vector forward mode: one tangent pass for many directions at once.

Entry point: ``vectorize(graph, tangent, directions, is_tangent, ref) -> Node``.

Forward mode writes each tangent as an expression over primal values and
the tangents of variables, for one direction. In vector mode a tangent of a
value of shape ``S`` has shape ``S + (k,)``: ``k`` directions side by side,
so that the Jacobian w.r.t. ``k`` input elements takes one pass, not ``k``.
This pass rewrites a finished single-direction tangent expression for that
layout:

- elementwise operations stay as they are; numpy broadcasts from the right,
  so a primal array operand only needs a trailing axis (``lift(x)``);
- reductions, ``@`` and indexing with ``...`` use helpers that leave the
  last axis alone; zero tangents and broadcasts get the ``k`` axis;
- any other operation on a tangent runs once per direction
  (``each_direction``): correct for every operation, since a tangent is
  linear in the tangents it reads, and only the operation itself loops.

Shapes of the rewritten nodes are not tracked: the rewrite is the last step
before printing.
"""

from __future__ import annotations

import ast
from typing import Callable

from .expr import BINARY_OPS, COMPARE_OPS, UNARY_OPS, Graph, Node
from .rules import RULES

# operations that broadcast their operands elementwise
_ALGEBRA = {"$sum", "$prod", "$neg", "$div", "$pow"}
_OPERATORS = (set(BINARY_OPS) | set(UNARY_OPS) | set(COMPARE_OPS)) - {"matmul"}

# Operations with a batched form, by the helper that computes it. Each table
# maps an operation to a helper taking the same arguments, its first
# argument (an array, or a list of arrays) carrying the directions and no
# other argument carrying them, unless ``_CARRIERS`` names others.
_REDUCTIONS = {"np.sum": "rt.sum_directions", "np.mean": "rt.mean_directions"}
# operations on the primal's axes
_AXES = {
    "np.reshape": "rt.reshape_directions",
    "np.ravel": "rt.ravel_directions",
    "np.transpose": "rt.transpose_directions",
    "np.swapaxes": "rt.swapaxes_directions",
    "np.moveaxis": "rt.moveaxis_directions",
    "np.expand_dims": "rt.expand_dims_directions",
    "np.squeeze": "rt.squeeze_directions",
    "np.broadcast_to": "rt.broadcast_to_directions",
    "np.concatenate": "rt.concatenate_directions",
    "np.stack": "rt.stack_directions",
    "np.flip": "rt.flip_directions",
    "np.fliplr": "rt.fliplr_directions",
    "np.flipud": "rt.flipud_directions",
    "method.flatten": "rt.ravel_directions",
    "np.cumsum": "rt.cumsum_directions",
    "np.roll": "rt.roll_directions",
    "np.tile": "rt.tile_directions",
    "np.repeat": "rt.repeat_directions",
    "np.take": "rt.take_directions",
    "np.diag": "rt.diag_directions",
    "np.diagonal": "rt.diagonal_directions",
    "np.trace": "rt.trace_directions",
    "np.hstack": "rt.hstack_directions",
    "np.vstack": "rt.vstack_directions",
    "np.column_stack": "rt.column_stack_directions",
    # a list's elements stacked (any other tangent converted as it is)
    "np.array": "rt.array_directions",
    "np.asarray": "rt.asarray_directions",
    "np.asanyarray": "rt.asanyarray_directions",
    "np.linspace": "rt.linspace_directions",
    "method.item": "rt.item_directions",
}
# adjoints summed to a primal shape
_SUMMED = {"rt.unbroadcast": "rt.unbroadcast_directions", "rt.sum_to_shape": "rt.sum_to_shape_directions"}
# the derivative helpers of the rules: a tangent or cotangent first, then values
_HELPERS = {
    "rt.choice_tangent": "rt.choice_tangent_directions",
    "rt.choice_adjoint": "rt.choice_adjoint_directions",
    "rt.prod_tangent": "rt.prod_tangent_directions",
    "rt.prod_adjoint": "rt.prod_adjoint_directions",
    "rt.var_tangent": "rt.var_tangent_directions",
    "rt.var_adjoint": "rt.var_adjoint_directions",
    "rt.std_tangent": "rt.std_tangent_directions",
    "rt.std_adjoint": "rt.std_adjoint_directions",
    "rt.norm_tangent": "rt.norm_tangent_directions",
    "rt.norm_adjoint": "rt.norm_adjoint_directions",
    "rt.cumprod_tangent": "rt.cumprod_tangent_directions",
    "rt.cumprod_adjoint": "rt.cumprod_adjoint_directions",
    "rt.solve_tangent": "rt.solve_tangent_directions",
    "rt.solve_adjoint": "rt.solve_adjoint_directions",
    "rt.solve_adjoint_a": "rt.solve_adjoint_a_directions",
    "rt.det_tangent": "rt.det_tangent_directions",
    "rt.det_adjoint": "rt.det_adjoint_directions",
    "rt.trace_adjoint": "rt.trace_adjoint_directions",
    "rt.diag_adjoint": "rt.diag_adjoint_directions",
    "rt.diagonal_adjoint": "rt.diagonal_adjoint_directions",
    "rt.tile_adjoint": "rt.tile_adjoint_directions",
    "rt.repeat_adjoint": "rt.repeat_adjoint_directions",
    "rt.take_adjoint": "rt.take_adjoint_directions",
    "rt.tensordot_adjoint_a": "rt.tensordot_adjoint_a_directions",
    "rt.tensordot_adjoint_b": "rt.tensordot_adjoint_b_directions",
    "rt.kron_adjoint_a": "rt.kron_adjoint_a_directions",
    "rt.kron_adjoint_b": "rt.kron_adjoint_b_directions",
    "rt.matmul_adjoint_a": "rt.matmul_adjoint_a_directions",
    "rt.matmul_adjoint_b": "rt.matmul_adjoint_b_directions",
    "rt.dot_adjoint_a": "rt.dot_adjoint_a_directions",
    "rt.dot_adjoint_b": "rt.dot_adjoint_b_directions",
    "rt.inner_adjoint_a": "rt.inner_adjoint_a_directions",
    "rt.inner_adjoint_b": "rt.inner_adjoint_b_directions",
    "rt.outer_adjoint_a": "rt.outer_adjoint_a_directions",
    "rt.outer_adjoint_b": "rt.outer_adjoint_b_directions",
    "rt.vdot_adjoint": "rt.vdot_adjoint_directions",
    "rt.einsum_adjoint": "rt.einsum_adjoint_directions",
    "rt.cumsum_adjoint": "rt.cumsum_adjoint_directions",
    "rt.linspace_adjoint": "rt.linspace_adjoint_directions",
    "rt.item_adjoint": "rt.item_adjoint_directions",
    "rt.list_adjoint": "rt.list_adjoint_directions",
    # the pieces of a joined array's cotangent
    "rt.concatenate_piece": "rt.concatenate_piece_directions",
    "rt.stack_piece": "rt.stack_piece_directions",
    "rt.hstack_piece": "rt.hstack_piece_directions",
    "rt.vstack_piece": "rt.vstack_piece_directions",
    "rt.column_stack_piece": "rt.column_stack_piece_directions",
    "rt.concatenate_pieces": "rt.concatenate_pieces_directions",
    "rt.stack_pieces": "rt.stack_pieces_directions",
    # arrays filled with a value, and the adjoint of unpacking an array into parts
    "np.full": "rt.full_directions",
    "np.full_like": "rt.full_like_directions",
    "rt.unpack_adjoint": "rt.unpack_adjoint_directions",
    # a cast to a number of the one element of an array
    "builtins.float": "rt.float_directions",
    "np.float64": "rt.float_directions",
}
_SAME_ARGUMENTS = {**_REDUCTIONS, **_AXES, **_SUMMED, **_HELPERS}
# the arguments (positions, or keyword names) that may carry the directions
# where that is not the first argument alone: solve's tangent takes a
# tangent of each operand, given by name
_CARRIERS: dict[str, frozenset] = {
    "rt.solve_tangent": frozenset({"a_dot", "b_dot", 3, 4}),
    "np.linspace": frozenset({0, 1, "start", "stop"}),
    "np.full": frozenset({1, "fill_value"}),
    "np.full_like": frozenset({1, "fill_value"}),
    "rt.unpack_adjoint": frozenset({1, "bars"}),
}
# products of two operands, one of which carries the directions: op ->
# (helper taking the operands, the position of the one carrying them, then
# these parameters of the operation)
_PRODUCTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "matmul": ("rt.matmul_directions", ()),
    "np.matmul": ("rt.matmul_directions", ()),
    "np.dot": ("rt.dot_directions", ()),
    "np.outer": ("rt.outer_directions", ()),
    "np.tensordot": ("rt.tensordot_directions", ("axes",)),
    "np.kron": ("rt.kron_directions", ()),
    "np.inner": ("rt.inner_directions", ()),
    "np.vdot": ("rt.vdot_directions", ()),
}
# operations that act on the whole array whatever its axes mean (copies)
# (builtins.sum adds a list's elements, or an array's rows along its first axis,
# then its start: any of them may carry directions)
# (lists of adjoints are added element by element; a cast of a derivative
# passes it through or makes zeros of its shape, the directions included)
# (np.ascontiguousarray is not: it makes a number a vector of one element,
# an axis the number's tangent lacks; it runs once per direction)
_LAYOUT_FREE = {
    "np.copy",
    "builtins.list",
    "method.astype",
    "builtins.sum",
    "rt.frozen",
    "rt.add_lists",
    "rt.cast_derivative",
}
# options of np.einsum that do not depend on the operands' axes: passed through
_EINSUM_OPTIONS = frozenset({"optimize", "dtype", "order", "casting"})
# helpers that make a tangent of a value: op -> helper taking ``directions`` last
_MADE = {
    "rt.zeros_like": "rt.zeros_directions_like",
    "rt.broadcast_like": "rt.broadcast_directions_like",
    "rt.owned_like": "rt.owned_directions_like",
}


def keeping_directions(index: ast.expr) -> ast.expr:
    """A literal index for the primal's axes, for a tangent: with ``...``
    it gets a trailing ``:``, which keeps the directions (without, it already
    leaves the last axis alone)."""
    if not any(isinstance(n, ast.Constant) and n.value is Ellipsis for n in ast.walk(index)):
        return index
    elts = list(index.elts) if isinstance(index, ast.Tuple) else [index]
    return ast.Tuple([*elts, ast.Slice()], ast.Load())


def _selects_elements(index: ast.expr) -> bool:
    """An index of integers only (``y[i]``, ``y[i - 1, 0]``): for an array of
    as many axes it reads a number, which is a copy."""
    return not any(isinstance(n, ast.Slice) or (isinstance(n, ast.Constant) and n.value in (None, Ellipsis)) for n in ast.walk(index))


def _argument_names(node: Node) -> list:
    """Each argument's position, or its keyword name where it is passed by name."""
    kwnames: tuple[str, ...] = node.attr if isinstance(node.attr, tuple) else ()  # type: ignore[assignment]
    npos = len(node.args) - len(kwnames)
    return [i if i < npos else kwnames[i - npos] for i in range(len(node.args))]


def _is_product_of_one_carrier(node: Node, carrying: frozenset) -> bool:
    """A product whose two operands, passed by position, are one with
    directions and one without, and whose other arguments (none carrying
    directions) are parameters its helper takes."""
    names = _argument_names(node)
    _, parameters = _PRODUCTS[node.op]
    rest = names[2:]
    return (
        names[:2] == [0, 1]
        and carrying in (frozenset({0}), frozenset({1}))
        and len(rest) <= len(parameters)
        and all(isinstance(n, int) or n in parameters for n in rest)
    )


def _passes_options_through(node: Node, carrying: frozenset) -> bool:
    """An einsum whose arguments by name are options it passes on as they
    are, none carrying directions."""
    options = {n for n in _argument_names(node) if not isinstance(n, int)}
    return options <= _EINSUM_OPTIONS and not options & carrying


def _elementwise(op: str) -> bool:
    if op in _ALGEBRA or op in _OPERATORS:
        return True
    rule = RULES.get(op)
    return rule is not None and rule.kind == "elementwise" and op.startswith("np.")


def vectorize(
    graph: Graph,
    tangent: Node,
    directions: Node,
    is_tangent: Callable[[str], bool],
    ref: Callable[[str], ast.expr],
    primal: frozenset[Node] = frozenset(),
) -> Node:
    """``tangent`` (an expression for one direction) for ``k`` directions.

    ``is_tangent(name)`` tells the variables that hold tangents;
    ``directions`` is the node of ``k``; ``ref(op)`` spells a function for
    ``each_direction``; nodes of ``primal`` are values of the primal code
    (which may itself be generated code making zeros with ``zeros_like``).
    """
    carries: dict[int, bool] = {node.uid: False for node in primal}
    memo: dict[int, Node] = {}

    def carries_directions(node: Node) -> bool:
        if node.uid not in carries:
            if node.op == "var":
                carries[node.uid] = is_tangent(node.name)
            elif node.op in _MADE or node.op == "rt.zeros_like_list":
                carries[node.uid] = True
            else:
                carries[node.uid] = any(carries_directions(a) for a in node.args)
        return carries[node.uid]

    def carried(node: Node) -> tuple:
        """The arguments of ``node`` that carry directions: positions, or
        keyword names for those passed by name."""
        return tuple(name for name, a in zip(_argument_names(node), node.args) if carries_directions(a))

    def lift(node: Node) -> Node:
        if node.op == "const" or node.shape == frozenset():
            return node  # a number broadcasts as it is
        return graph.call("rt.lift", node)

    def visit(node: Node) -> Node:
        if not carries_directions(node) or node.op == "var":
            return node
        if node.uid in memo:
            return memo[node.uid]
        memo[node.uid] = result = rewrite(node)
        return result

    def rebuilt(node: Node, op: str, args: list[Node]) -> Node:
        return graph._node(op, tuple(args), node.attr, None)  # noqa: SLF001 - no shape: printed next

    def rewrite(node: Node) -> Node:
        op, args = node.op, list(node.args)
        if op in _MADE:  # the first argument of broadcast_like and owned_like is a tangent, the rest are values
            tangent_args = [visit(args[0])] if op != "rt.zeros_like" else [args[0]]
            return rebuilt(node, _MADE[op], tangent_args + args[len(tangent_args) :] + [directions])
        if op == "rt.zeros_like_list":
            return each(node)
        if op == "ifexp":  # the condition is a number
            return rebuilt(node, op, [args[0], visit(args[1]), visit(args[2])])
        if op in ("tuple", "list"):
            return rebuilt(node, op, [visit(a) for a in args])
        if _elementwise(op):
            return rebuilt(node, op, [visit(a) if carries_directions(a) else lift(a) for a in args])
        carrying = frozenset(carried(node))
        if op == "rt.sum_product" and len(carrying) == 1:  # np.sum(a * b)
            product = rebuilt(node, "$prod", [visit(a) if carries_directions(a) else lift(a) for a in args])
            return rebuilt(node, "rt.sum_directions", [product])
        if op in _SAME_ARGUMENTS and carrying and carrying <= _CARRIERS.get(op, frozenset({0})):
            return rebuilt(node, _SAME_ARGUMENTS[op], [visit(a) for a in args])
        if op == "getitem" and carries_directions(args[0]) and not carries_directions(args[1]):
            index = args[1]
            if index.op != "ast":  # an index computed when the code runs
                return rebuilt(node, "rt.getitem_directions", [visit(args[0]), index])
            read = rebuilt(node, op, [visit(args[0]), graph.leaf(keeping_directions(index.attr.expr))])  # type: ignore[union-attr]
            # y[i] of a vector is a number, a copy: its tangent y_dot[i] is a view, which a
            # later y_dot[i] = ... would change (views the primal reads are checked already)
            return graph.call("rt.frozen", read) if _selects_elements(index.attr.expr) else read  # type: ignore[union-attr]
        if op in _LAYOUT_FREE and carrying:
            return rebuilt(node, op, [visit(a) for a in args])
        if op in _PRODUCTS and _is_product_of_one_carrier(node, carrying):
            helper, _ = _PRODUCTS[op]
            tangent = graph.const(0 if 0 in carrying else 1)
            return rebuilt(node, helper, [visit(args[0]), visit(args[1]), tangent, *args[2:]])
        if op == "np.einsum" and args[0].op == "const" and isinstance(args[0].value, str) and _passes_options_through(node, carrying):
            operands = [i - 1 for i in carrying if isinstance(i, int)]  # after the subscripts
            if len(operands) == 1:
                return rebuilt(node, "rt.einsum_directions", [graph.const(operands[0]), args[0]] + [visit(a) for a in args[1:]])
        return each(node)

    def each(node: Node) -> Node:
        """``each_direction(f, tangent_at, k, *args, **kwargs)``."""
        op = node.op
        kwnames: tuple[str, ...] = node.attr if isinstance(node.attr, tuple) else ()  # type: ignore[assignment]
        if op.startswith("method."):
            function = graph.call("rt.method", op[len("method.") :])
        elif op.startswith("attr."):
            function = graph.call("rt.attribute", op[len("attr.") :])
        elif op in ("matmul", "np.matmul"):
            function = graph.leaf(ref("np.matmul"))
        elif op in BINARY_OPS or op in UNARY_OPS or op in COMPARE_OPS or op.startswith("$") or node.is_leaf:
            raise AssertionError(f"no per-direction form for {op}")  # elementwise: handled above
        else:
            function = graph.leaf(ref(op))
        marked = graph.leaf(ast.Tuple([ast.Constant(a) for a in carried(node)], ast.Load()))
        args = [visit(a) for a in node.args]
        return graph._node("rt.each_direction", (function, marked, directions, *args), kwnames, None)  # noqa: SLF001

    return visit(tangent)
