"""Generated callees inlined into the derivative-only entry functions.

Entry point: ``inline_callees(entry, callees, owner, module_names, cell_names)
-> Inlined``.

The derivative-only entries (``f_tangent``, ``f_gradient``) exist to cost
what a hand-written derivative costs. A call of a generated callee costs
more than its body at small sizes: the call, a tuple of saved values, its
unpacking, each 0.1-0.3 us where the whole derivative takes 10 us. So each
call statement at the top level of an entry is replaced by the callee's
body, with its locals renamed apart, and the copies that binding creates
(parameters to arguments, returned values to targets, saved values to the
names that unpack them) are propagated away. What is left reads as the
primal does: ``d0 = np.exp(-1.5 * t2 ** 2)`` where the call was.

A callee reads user names (the grid ``x``) from the scope of its own user
function, which the entry's user function may not share. Such a name is
*borrowed*: the module records which generated function's owner it comes
from, and the loader binds the entry's closure cell to that owner's cell.
A callee is left a call when a name it reads could mean something else in
the entry (a global of another module, a name the entry binds itself).
"""

from __future__ import annotations

import ast
import builtins
import copy
import re
from dataclasses import dataclass, field

from .anno import get_anno, set_anno
from .frontend import FunctionSource
from .prune import without_dead_values

MAX_DEPTH = 4  # callees of callees, inlined in turn
MAX_STATEMENTS = 400  # an entry grows no longer than this by inlining


@dataclass(frozen=True)
class Callee:
    """A generated function and the user function whose scope it runs in."""

    tree: ast.FunctionDef
    owner: FunctionSource


@dataclass
class Inlined:
    """The entry with its callees inlined, and the user names it now reads
    from a callee's scope: name -> (the callee's generated function, "closure"
    or "global")."""

    tree: ast.FunctionDef
    borrowed: dict[str, tuple[str, str]] = field(default_factory=dict)


def inline_callees(entry: ast.FunctionDef, callees: dict[str, Callee], owner: FunctionSource, module_names: set[str], cell_names: set[str]) -> Inlined:
    """``entry`` with the calls of ``callees`` at its top level replaced by
    their bodies. ``module_names`` are the generated module's own names
    (imports, functions), the same in every function; ``cell_names`` the
    closure variables of every user function the module runs with."""
    inliner = _Inliner(copy.deepcopy(entry), callees, owner, module_names, cell_names)
    for _ in range(MAX_DEPTH):
        if not inliner.inline_once():
            break
    tree = inliner.tree
    body = _propagate_copies(tree.body, _params(tree), inliner.fresh)
    tree.body = without_dead_values(body[:-1], _read_names(body[-1:])) + body[-1:]
    return Inlined(ast.fix_missing_locations(tree), inliner.borrowed)


class _Inliner:
    def __init__(self, tree: ast.FunctionDef, callees: dict[str, Callee], owner: FunctionSource, module_names: set[str], cell_names: set[str]) -> None:
        self.tree = tree
        self.callees = callees
        self.owner = owner
        self.module_names = module_names
        self.cell_names = cell_names
        self.borrowed: dict[str, tuple[str, str]] = {}
        self.fresh: dict[str, int] = {}  # a callee's local renamed into the entry -> inlining depth (1: a callee of the entry)
        self.depth = 0
        self.size = len(tree.body)  # top-level statements, as inlining grows them

    def inline_once(self) -> bool:
        """Inline every inlinable call at the top level; whether any was."""
        body: list[ast.stmt] = []
        changed = False
        self.depth += 1
        for stmt in self.tree.body:
            inlined = self._inlined(stmt)
            changed |= inlined is not None
            body += inlined if inlined is not None else [stmt]
        self.tree.body = body
        return changed

    def _inlined(self, stmt: ast.stmt) -> list[ast.stmt] | None:
        call = _call_statement(stmt)
        if call is None or call.func.id not in self.callees:  # type: ignore[union-attr]
            return None
        callee = self.callees[call.func.id]  # type: ignore[union-attr]
        if not _inlinable(callee.tree, call) or self.size + len(callee.tree.body) > MAX_STATEMENTS:
            return None
        borrowed = self._borrowings(callee, call.func.id)  # type: ignore[union-attr]
        if borrowed is None:
            return None
        self.borrowed.update(borrowed)
        taken = _names(self.tree) | self.module_names | _free_names(callee.tree) | set(self.fresh)
        inlined, fresh = _substituted(stmt, call, callee.tree, taken)  # type: ignore[arg-type]
        self.fresh.update(dict.fromkeys(fresh, self.depth))
        self.size += len(inlined) - 1
        return inlined

    def _borrowings(self, callee: Callee, callee_name: str) -> dict[str, tuple[str, str]] | None:
        """The user names ``callee`` reads that the entry must borrow, each
        with where from; ``None`` when one of them could mean something
        else in the entry."""
        entry_fn, callee_fn = self.owner.function, callee.owner.function
        entry_reads = _free_names(self.tree) - self.module_names
        entry_bound = _stored_names(self.tree) | set(_params(self.tree))
        borrowed: dict[str, tuple[str, str]] = {}
        for name in sorted(_free_names(callee.tree) - self.module_names):
            if name in entry_bound:
                return None
            if callee_fn is None or entry_fn is None:  # read from a file: module-level names only
                if callee.owner.filename != self.owner.filename:
                    return None
                if name not in self.borrowed and not hasattr(builtins, name):
                    borrowed[name] = (callee_name, "global")
                continue
            meaning = self._meaning(callee_fn, name)
            if meaning is None:
                return None
            if name in self.borrowed:  # as an earlier callee lends it
                current = self._meaning(self.callees[self.borrowed[name][0]].owner.function, name)
            elif name in entry_reads or name in entry_fn.__code__.co_freevars:  # as the entry's own scope has it
                current = self._meaning(entry_fn, name)
            elif meaning[0] == "closure" or meaning[0] == "global" and entry_fn.__globals__ is callee_fn.__globals__:
                borrowed[name] = (callee_name, meaning[0])  # new to the entry: read where the callee reads it
                continue
            else:
                current = meaning if meaning[0] == "builtin" else None
            if current is None or current[0] != meaning[0] or current[1] is not meaning[1]:
                return None
        return borrowed

    def _meaning(self, fn: object, name: str) -> tuple[str, object] | None:
        """What ``name`` is when the module runs a function owned by ``fn``:
        a closure cell, a module's globals, or a builtin; ``None`` when the
        module would not read it that way (a global the module makes a cell)."""
        code, closure, scope = fn.__code__, fn.__closure__ or (), fn.__globals__  # type: ignore[attr-defined]
        if name in code.co_freevars:
            return ("closure", closure[code.co_freevars.index(name)])
        if name in self.cell_names:
            return None
        if name in scope:
            return ("global", scope)
        return ("builtin", _BUILTINS) if hasattr(builtins, name) else None


_BUILTINS = object()


def _call_statement(stmt: ast.stmt) -> ast.Call | None:
    """The call in ``targets = name(args)``, with plain arguments."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.value, ast.Call)):
        return None
    call = stmt.value
    if not isinstance(call.func, ast.Name) or call.keywords or not all(isinstance(a, (ast.Name, ast.Constant)) for a in call.args):
        return None
    return call


def _inlinable(tree: ast.FunctionDef, call: ast.Call) -> bool:
    """One return, at the end; positional parameters only; no scopes of
    its own that renaming could confuse."""
    args = tree.args
    if args.posonlyargs or args.vararg or args.kwonlyargs or args.kwarg or args.defaults or len(args.args) != len(call.args):
        return False
    returns = [n for n in ast.walk(tree) if isinstance(n, ast.Return)]
    if len(returns) != 1 or tree.body[-1] is not returns[0] or returns[0].value is None:
        return False
    nested = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef, ast.Global, ast.Nonlocal, ast.Yield, ast.YieldFrom)
    return not any(isinstance(n, nested) for n in ast.walk(tree) if n is not tree)


def _substituted(stmt: ast.Assign, call: ast.Call, callee: ast.FunctionDef, taken: set[str]) -> tuple[list[ast.stmt], set[str]]:
    """The callee's body for ``stmt`` (parameters bound to the arguments,
    locals renamed apart from ``taken``, the returned value assigned to
    ``stmt``'s targets), and the locals' new names."""
    renames: dict[str, str] = {}
    for local in [*_params(callee), *sorted(_stored_names(callee) - set(_params(callee)))]:
        renames[local] = _fresh(local, taken)
        taken.add(renames[local])
    body = [_renamed(s, renames) for s in copy.deepcopy(callee.body)]
    returned = body.pop().value  # type: ignore[attr-defined]
    bind = [ast.Assign([ast.Name(renames[p], ast.Store())], copy.deepcopy(a)) for p, a in zip(_params(callee), call.args, strict=True)]
    result = ast.Assign([copy.deepcopy(stmt.targets[0])], returned)
    out = bind + body + [result]
    comment = get_anno(stmt, "comment")
    if comment:
        first = body[0] if body else result
        inner = get_anno(first, "comment")
        set_anno(first, "comment", f"{comment}\n{inner}" if inner else comment)
    return out, set(renames.values())


def _fresh(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    base = re.sub(r"\d+$", "", name) or name
    k = 1
    while f"{base}{k}" in taken:
        k += 1
    return f"{base}{k}"


class _Rename(ast.NodeTransformer):
    def __init__(self, renames: dict[str, str]) -> None:
        self.renames = renames

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.copy_location(ast.Name(self.renames.get(node.id, node.id), node.ctx), node)


def _renamed(stmt: ast.stmt, renames: dict[str, str]) -> ast.stmt:
    comment = get_anno(stmt, "comment")
    out = _Rename(renames).visit(stmt)
    set_anno(out, "comment", comment)
    return out


# --------------------------------------------------------------------------
# copies


def _propagate_copies(body: list[ast.stmt], params: list[str], fresh: dict[str, int]) -> list[ast.stmt]:
    """The top-level block without the copies inlining made: tuples
    assigned to tuples split, unpacking of a tuple built in the function
    replaced by its elements, and ``a = b`` between names each bound once
    removed, one name standing for both: the name nearer the entry's own
    code (``fresh``: a callee's local renamed into the entry -> how deep
    the callee was)."""
    body = _split_tuples(body)
    while True:
        counts = _binding_counts(body, params)
        changed = _unpack_known(body, counts)
        if changed:
            body = _split_tuples(body)
            continue
        found = _one_copy(body, counts, params, fresh)
        if found is None:
            return body
        body = found


def _split_tuples(body: list[ast.stmt]) -> list[ast.stmt]:
    """``a, (b, c) = (x, (y, z))`` -> ``a = x``, ``b = y``, ``c = z``
    (when no target is read on the right)."""
    out: list[ast.stmt] = []
    for stmt in body:
        pairs = _tuple_pairs(stmt)
        split = [ast.Assign([t], v) for t, v in pairs] if pairs else [stmt]
        set_anno(split[0], "comment", get_anno(stmt, "comment"))
        out += split
    return out


def _tuple_pairs(stmt: ast.stmt) -> list[tuple[ast.expr, ast.expr]] | None:
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Tuple) and isinstance(stmt.value, ast.Tuple)):
        return None
    target, value = stmt.targets[0], stmt.value
    if len(target.elts) != len(value.elts) or any(isinstance(e, ast.Starred) for e in target.elts + value.elts):
        return None
    if _stored_names(target) & _read_names([value]):
        return None
    pairs: list[tuple[ast.expr, ast.expr]] = []
    for t, v in zip(target.elts, value.elts, strict=True):
        inner = _tuple_pairs(ast.Assign([t], v)) if isinstance(t, ast.Tuple) else None
        if isinstance(t, ast.Tuple) and inner is None:
            return None
        pairs += inner if inner is not None else [(t, v)]
    return pairs


def _unpack_known(body: list[ast.stmt], counts: dict[str, int]) -> bool:
    """``p, q = t`` where ``t = (x, y)`` is ``t``'s one binding, earlier at
    the top level, and ``x``, ``y`` are each bound once: ``p, q = (x, y)``."""
    tuples: dict[str, ast.Tuple] = {}
    for stmt in body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
            if isinstance(target, ast.Name) and isinstance(value, ast.Tuple) and counts.get(target.id) == 1 and _names_bound_once(value, counts):
                tuples[target.id] = value
            elif isinstance(target, ast.Tuple) and isinstance(value, ast.Name) and value.id in tuples:
                stmt.value = copy.deepcopy(tuples[value.id])
                return True
    return False


def _names_bound_once(value: ast.Tuple, counts: dict[str, int]) -> bool:
    return all(isinstance(e, ast.Name) and counts.get(e.id, 0) <= 1 or isinstance(e, ast.Constant) or isinstance(e, ast.Tuple) and _names_bound_once(e, counts) for e in value.elts)


def _one_copy(body: list[ast.stmt], counts: dict[str, int], params: list[str], fresh: dict[str, int]) -> list[ast.stmt] | None:
    """The block with one copy ``a = b`` removed, or ``None`` when there is
    none to remove. The name kept is the one the user's code knows: the
    argument for a bound parameter (``m = xs``), the target for a returned
    value (``d0 = out``). ``a`` is bound only by the copy. A callee's
    ``b`` can become ``a`` when nothing after the copy binds it; ``a`` can
    become ``b`` when ``b`` is bound once, before the copy: either way both
    names hold one value from the copy on."""
    defined = set(params)
    for index, stmt in enumerate(body):
        copied = _copy_of(stmt)
        if copied is not None and counts.get(copied[0]) == 1:
            a, b = copied
            target_kept = b in fresh and b not in params and not any(b in _stored_names(s) for s in body[index + 1 :])
            source_kept = counts.get(b) == 1 and b in defined
            if target_kept and (fresh.get(a, 0) < fresh[b] or not source_kept):
                return _without_copy(body, index, {b: a})
            if source_kept:
                return _without_copy(body, index, {a: b})
        defined |= _assigned_here(stmt)
    return None


def _without_copy(body: list[ast.stmt], index: int, renames: dict[str, str]) -> list[ast.stmt]:
    kept = body[:index] + body[index + 1 :]
    _move_comment(body, index, kept)
    return [_renamed(s, renames) for s in kept]


def _move_comment(body: list[ast.stmt], index: int, kept: list[ast.stmt]) -> None:
    """A removed statement's quoted line goes to the statement after it."""
    comment = get_anno(body[index], "comment")
    if comment and index < len(kept):
        inner = get_anno(kept[index], "comment")
        set_anno(kept[index], "comment", f"{comment}\n{inner}" if inner else comment)


def _copy_of(stmt: ast.stmt) -> tuple[str, str] | None:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) and isinstance(stmt.value, ast.Name):
        return stmt.targets[0].id, stmt.value.id
    return None


def _assigned_here(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement binds directly (not in a nested block)."""
    if isinstance(stmt, ast.Assign):
        return _stored_names(ast.Module(stmt.targets, []))
    return set()


def _binding_counts(body: list[ast.stmt], params: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {p: 1 for p in params}
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                counts[node.id] = counts.get(node.id, 0) + 1
    return counts


# --------------------------------------------------------------------------
# names


def _params(tree: ast.FunctionDef) -> list[str]:
    return [a.arg for a in tree.args.args]


def _stored_names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}


def _read_names(stmts: list[ast.stmt]) -> set[str]:
    return {n.id for s in stmts for n in ast.walk(s) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}


def _free_names(tree: ast.FunctionDef) -> set[str]:
    """Names the function reads and never binds."""
    return _read_names(tree.body) - _stored_names(tree) - set(_params(tree))
