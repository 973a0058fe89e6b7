"""Derivative-only entry functions: the entry's code without the work that
only the primal output needs.

Entry point: ``tangent_only(jvp, name, outputs, printer) -> FunctionDef | None``,
and ``without_dead_values(stmts, read_after)`` for the reverse emitter's
fused gradient.

``derivative()`` returns the derivative alone, so the output the jvp
function computes beside it (``out = d - t1 * d0``) is wasted work: one
pass or two over the output array. The derivative-only function drops it
and computes the rest exactly as the jvp function does, so that
``derivative()`` and ``value_and_derivative()`` agree bit for bit.
"""

from __future__ import annotations

import ast
import copy

from .anno import get_anno, set_anno
from .expr import Printer

# methods that change their object: a statement calling one is never dead
_MUTATING = {"pop", "append", "extend", "insert", "remove", "clear", "sort", "fill", "resize", "update", "setdefault", "popitem"}


def tangent_only(jvp: ast.FunctionDef, name: str, outputs: int, printer: Printer) -> ast.FunctionDef | None:
    """``name(*params, *tangents)`` returning the tangents of ``jvp``'s
    ``outputs`` values only; ``None`` when ``jvp`` does not end in one
    ``return (values..., tangents...)``. ``printer`` spells the functions
    it calls (and records the helpers used)."""
    body = copy.deepcopy(jvp.body)
    last = body[-1] if body else None
    if not (isinstance(last, ast.Return) and isinstance(last.value, ast.Tuple) and len(last.value.elts) == 2 * outputs):
        return None
    tangents = [_shape_from_operands(t, body, printer) for t in last.value.elts[outputs:]]
    result = ast.Return(tangents[0] if outputs == 1 else ast.Tuple(tangents, ast.Load()))
    kept = without_dead_values(body[:-1], _read_names([result]))
    function = ast.FunctionDef(name=name, args=copy.deepcopy(jvp.args), body=kept + [result], decorator_list=[], returns=None, type_params=[])
    return ast.fix_missing_locations(function)


def without_dead_values(stmts: list[ast.stmt], read_after: set[str]) -> list[ast.stmt]:
    """The block without the assignments whose values nothing reads later
    (at the top level only: in a loop, the next iteration may read them)."""
    live = set(read_after)
    kept: list[ast.stmt] = []
    for stmt in reversed(stmts):
        targets = _assigned_names(stmt)
        if targets and not targets & live and _is_pure(stmt.value):  # type: ignore[attr-defined]
            if get_anno(stmt, "comment") and kept and not get_anno(kept[-1], "comment"):
                set_anno(kept[-1], "comment", get_anno(stmt, "comment"))
            continue
        kept.append(stmt)
        live |= _read_names([stmt])
    return kept[::-1]


def _shape_from_operands(tangent: ast.expr, body: list[ast.stmt], printer: Printer) -> ast.expr:
    """``broadcast_like(t, out)`` reads ``out`` for its shape only: when
    ``out`` is an elementwise expression of names, the shape numpy gives
    it comes from the names (``broadcast_to_operands(t, d, t1, d0)``), and
    ``out`` itself need not be computed."""
    helper = _spelled(printer, "rt.broadcast_like")
    if not (isinstance(tangent, ast.Call) and ast.dump(tangent.func) == helper and len(tangent.args) == 2 and isinstance(tangent.args[1], ast.Name)):
        return tangent
    operands = _operands_of(body, tangent.args[1].id)
    if operands is None:
        return tangent
    return ast.Call(printer.function_ref("rt.broadcast_to_operands"), [tangent.args[0], *[ast.Name(o, ast.Load()) for o in operands]], [])


def _operands_of(body: list[ast.stmt], target: str) -> list[str] | None:
    """The names in ``target = <arithmetic on names>``, its one binding (at
    the top level), when none of them is bound again after it."""
    bindings = [i for i, stmt in enumerate(body) if target in _stored_names(stmt)]
    if len(bindings) != 1 or _assigned_names(body[bindings[0]]) != {target} or not isinstance(body[bindings[0]].targets[0], ast.Name):  # type: ignore[attr-defined]
        return None
    value = body[bindings[0]].value  # type: ignore[attr-defined]
    if not _is_arithmetic(value):
        return None
    operands = list(dict.fromkeys(n.id for n in ast.walk(value) if isinstance(n, ast.Name)))
    later = set().union(*(_stored_names(stmt) for stmt in body[bindings[0] + 1 :]))
    return None if later & set(operands) else operands


def _stored_names(stmt: ast.stmt) -> set[str]:
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _is_arithmetic(value: ast.expr) -> bool:
    """Operators on names and numbers only: numpy broadcasts the operands."""
    return all(isinstance(n, (ast.BinOp, ast.UnaryOp, ast.Name, ast.Constant, ast.operator, ast.unaryop, ast.expr_context)) for n in ast.walk(value))


def _spelled(printer: Printer, op: str) -> str:
    """How the module spells ``op``, to compare with (recording no use of it)."""
    return ast.dump(Printer.function_ref(printer, op))


def _assigned_names(stmt: ast.stmt) -> set[str]:
    """The names an assignment to names binds (none for anything else)."""
    if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
        return set()
    target = stmt.targets[0]
    elts = target.elts if isinstance(target, ast.Tuple) else [target]
    return {e.id for e in elts} if all(isinstance(e, ast.Name) for e in elts) else set()


def _is_pure(value: ast.expr) -> bool:
    """Computes a value and changes nothing (no ``.pop()``)."""
    return not any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _MUTATING for n in ast.walk(value))


def _read_names(stmts: list[ast.stmt]) -> set[str]:
    return {n.id for s in stmts for n in ast.walk(s) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
