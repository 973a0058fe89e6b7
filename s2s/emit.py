"""Emission: generated functions as one readable module of plain Python.

Entry point: ``emit_module(functions, module, header, info) -> str``.

The module starts with a header saying what it is the derivative of, imports
numpy and the few runtime helpers it uses, and ends with what s2s needs to
call it (``S2S_MODULE``): its entry functions, its outputs, and which user
function each generated function belongs to (whose globals and closure
cells it reads when it runs). Each block of derivative code is preceded by a
comment quoting the user's line it comes from.
"""

from __future__ import annotations

import ast
import copy
import math

from .anno import get_anno
from .codegen import ModuleContext
from .loader import ModuleInfo


def emit_module(
    functions: list[ast.FunctionDef],
    module: ModuleContext,
    header: list[str],
    info: ModuleInfo,
) -> str:
    lines = [f"# {line}" if line else "#" for line in header]
    lines.append("")
    lines.append("import numpy" if module.np_name == "numpy" else f"import numpy as {module.np_name}")
    if module.uses_math:
        lines.append("import math" if module.math_name == "math" else f"import math as {module.math_name}")
    helpers = sorted(module.used_helpers)
    if helpers:
        spelled = [h if module.helper_names[h] == h else f"{h} as {module.helper_names[h]}" for h in helpers]
        lines.append(f"from s2s.runtime import {', '.join(spelled)}")
    for function in functions:
        lines += ["", ""] + print_function(lower_sums(function, module.np_name))
    lines += ["", "", "# How s2s calls this module: its entry functions and outputs, and for each"]
    lines.append("# function the user function whose globals and closure it runs with, as the")
    lines.append("# chain of names that calls it from the differentiated function.")
    lines.append(info.statement())
    return "\n".join(lines) + "\n"


def lower_sums(function: ast.FunctionDef, np_name: str) -> ast.FunctionDef:
    """``np.sum(a)`` as ``np.add.reduce(a, axis=None)``, the reduction it
    computes (bit for bit, for arrays, numbers and lists), in place.

    np.sum spends about 1 us before it reduces (dispatch, keyword
    handling), where a sum of 21 numbers takes 0.3 us: at the seed's size a
    derivative's two sums cost it a fifth of its time."""
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and _is_full_sum(node, np_name):
            node.func = ast.Attribute(ast.Attribute(ast.Name(np_name, ast.Load()), "add", ast.Load()), "reduce", ast.Load())
            if len(node.args) == 1 and not any(k.arg == "axis" for k in node.keywords):
                node.keywords.insert(0, ast.keyword("axis", ast.Constant(None)))  # np.add.reduce sums along axis 0 by default
    return function


def _is_full_sum(node: ast.Call, np_name: str) -> bool:
    """``np.sum`` with the arguments ``np.add.reduce`` takes alike (the
    array, axis, dtype, keepdims), of something other than a generator."""
    func = node.func
    if not (isinstance(func, ast.Attribute) and func.attr == "sum" and isinstance(func.value, ast.Name) and func.value.id == np_name):
        return False
    plain = all(not isinstance(a, (ast.Starred, ast.GeneratorExp)) for a in node.args)
    return plain and 1 <= len(node.args) <= 3 and all(k.arg in ("axis", "dtype", "keepdims") for k in node.keywords)


def unparse(node: ast.AST) -> str:
    """``ast.unparse`` for trees holding negative number constants.

    The transformations fold ``-1.5`` into ``Constant(-1.5)``, which
    ``ast.unparse`` prints bare, so ``(-1.5) ** 2`` would come out as
    ``-1.5 ** 2`` (that is, -2.25). Written as a negation, ``ast.unparse``
    parenthesizes it where precedence needs it.
    """
    return ast.unparse(_SignedConstants().visit(copy.deepcopy(node)))


class _SignedConstants(ast.NodeTransformer):
    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        value = node.value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.copysign(1, value) < 0:
            return ast.UnaryOp(ast.USub(), ast.Constant(-value))
        return node


def print_function(f: ast.FunctionDef) -> list[str]:
    return [f"def {f.name}({unparse(f.args)}):"] + print_block(f.body, 1)


def print_block(stmts: list[ast.stmt], depth: int) -> list[str]:
    pad = "    " * depth
    out: list[str] = []
    for stmt in stmts:
        comment = get_anno(stmt, "comment")
        if comment:  # a line per quoted line: a call's and then its inlined callee's
            out += [f"{pad}# {line}" for line in comment.split("\n")]
        out += _print_statement(stmt, depth)
    return out or [f"{pad}pass"]


def _print_statement(stmt: ast.stmt, depth: int) -> list[str]:
    pad = "    " * depth
    if isinstance(stmt, ast.If):
        out = [f"{pad}if {unparse(stmt.test)}:"] + print_block(stmt.body, depth + 1)
        orelse = stmt.orelse
        while len(orelse) == 1 and isinstance(orelse[0], ast.If) and not get_anno(orelse[0], "comment"):
            out += [f"{pad}elif {unparse(orelse[0].test)}:"] + print_block(orelse[0].body, depth + 1)
            orelse = orelse[0].orelse
        if orelse:
            out += [f"{pad}else:"] + print_block(orelse, depth + 1)
        return out
    if isinstance(stmt, ast.For):
        out = [f"{pad}for {unparse(stmt.target)} in {unparse(stmt.iter)}:"] + print_block(stmt.body, depth + 1)
        return out + ([f"{pad}else:"] + print_block(stmt.orelse, depth + 1) if stmt.orelse else [])
    if isinstance(stmt, ast.While):
        out = [f"{pad}while {unparse(stmt.test)}:"] + print_block(stmt.body, depth + 1)
        return out + ([f"{pad}else:"] + print_block(stmt.orelse, depth + 1) if stmt.orelse else [])
    return [pad + line for line in unparse(stmt).splitlines()]
