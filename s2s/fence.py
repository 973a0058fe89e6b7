"""The syntax fence: constructs s2s does not differentiate, rejected up front.

Entry point: ``fence(fn)``. Later stages may assume that what passed the
fence is in the supported subset; each rejection names the file, line and
construct and says what to write instead.
"""

from __future__ import annotations

import ast

from .frontend import FunctionSource

_UNSUPPORTED_STATEMENTS: dict[type, tuple[str, str]] = {
    ast.With: ("a `with` statement", "move it outside the differentiated function"),
    ast.Try: ("a `try` statement", "move error handling outside the differentiated function"),
    ast.Raise: ("a `raise` statement", "check inputs outside the differentiated function"),
    ast.Delete: ("a `del` statement", "remove it; s2s manages the lifetime of values"),
    ast.Import: ("an import inside the function", "import at module level"),
    ast.ImportFrom: ("an import inside the function", "import at module level"),
    ast.Global: ("a `global` declaration", "pass the value as an argument and return the result"),
    ast.Nonlocal: ("a `nonlocal` declaration", "pass the value as an argument and return the result"),
    ast.FunctionDef: ("a nested function definition", "define the helper at module level; s2s differentiates calls to it"),
    ast.AsyncFunctionDef: ("a nested function definition", "define the helper at module level"),
    ast.ClassDef: ("a class definition", "define classes at module level"),
    ast.Match: ("a `match` statement", "write it with if/elif/else"),
}
if hasattr(ast, "TryStar"):
    _UNSUPPORTED_STATEMENTS[ast.TryStar] = _UNSUPPORTED_STATEMENTS[ast.Try]
if hasattr(ast, "TypeAlias"):
    _UNSUPPORTED_STATEMENTS[ast.TypeAlias] = ("a `type` statement", "define type aliases at module level")

_UNSUPPORTED_EXPRESSIONS: dict[type, tuple[str, str]] = {
    ast.Lambda: ("a lambda", "define the function with `def` at module level"),
    ast.SetComp: ("a set comprehension", "use array operations"),
    ast.DictComp: ("a dict comprehension", "use array operations"),
    ast.NamedExpr: ("an assignment expression `:=`", "assign in a statement of its own"),
    ast.Await: ("`await`", "s2s differentiates plain functions"),
    ast.Yield: ("`yield`", "s2s differentiates functions that return their result"),
    ast.YieldFrom: ("`yield from`", "s2s differentiates functions that return their result"),
    ast.Starred: ("a starred argument", "pass the arguments one by one"),
    ast.Dict: ("a dict", "pass arrays and numbers; s2s differentiates numpy code"),
    ast.Set: ("a set", "use arrays"),
}


def fence(fn: FunctionSource) -> None:
    """Reject syntax s2s cannot differentiate, naming file, line and construct."""
    args = fn.tree.args
    if args.vararg or args.kwarg:
        star = args.vararg or args.kwarg
        raise fn.error(star, f"{fn.name} takes *args or **kwargs", "give each parameter a name")
    body = fn.tree.body
    for stmt in body:
        for node in ast.walk(stmt):
            entry = _UNSUPPORTED_STATEMENTS.get(type(node)) or _UNSUPPORTED_EXPRESSIONS.get(type(node))
            if entry is not None:
                construct, hint = entry
                raise fn.error(node, f"s2s cannot differentiate {construct} (in {fn.name})", hint)
            if isinstance(node, (ast.For, ast.While)) and node.orelse:
                loop = "for" if isinstance(node, ast.For) else "while"
                raise fn.error(node, f"s2s cannot differentiate a `{loop} ... else` (in {fn.name})", "set a flag before `break` and test it after the loop")
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    _check_target(fn, target)
            if isinstance(node, ast.AnnAssign):
                if node.value is None:
                    raise fn.error(node, "an annotation without a value", "assign a value")
                _check_target(fn, node.target)
    if not any(isinstance(n, ast.Return) and n.value is not None for s in body for n in ast.walk(s)):
        last = body[-1] if body else fn.tree
        raise fn.error(last, f"{fn.name} does not return a value", "s2s differentiates the value a function returns")


def _check_target(fn: FunctionSource, target: ast.expr) -> None:
    if isinstance(target, ast.Name):
        return
    if isinstance(target, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Name) for e in target.elts):
        return
    if isinstance(target, ast.Subscript):
        return
    if isinstance(target, ast.Attribute):
        raise fn.error(target, "an assignment to an attribute", "s2s differentiates functions without side effects")
    raise fn.error(target, "an assignment to this kind of target", "assign to plain names or unpack into names: a, b = ...")
