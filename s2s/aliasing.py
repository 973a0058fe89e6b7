"""Which arrays a function owns, so that its in-place updates are safe.

Entry point: ``check_updates(tree, fn)``, run on the normal form.

numpy arrays share memory: after ``z = y`` or ``z = y[1:]``, writing into
``y`` changes ``z``. s2s differentiates an in-place update (``y[i] = v``,
``y += v``) when

- ``y`` is *owned*: made in this function by an operation that returns new
  memory (not a parameter, a global, a view or another name for an array);
- no view of ``y`` made before the update is read after it (such a view is
  *stale*: its value changed under it). Whether ``t = y[0]`` is a view
  depends on ``y``'s number of dimensions, known only when the code runs: a
  read of such a value after ``y[...] = ...`` is checked then
  (``check_not_stale``), so that swapping elements of a vector works and a
  stale row of a matrix is refused.

Then the update is the same as computing a new array, as the derivative
code assumes. The recurrence ``y[i] = a * y[i - 1] + u[i]`` passes: the
element read from ``y`` is used before the update and read anew in the next
iteration. Numbers are immutable, so ``s += x`` on a number is always fine.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .anno import get_anno, set_anno
from .frontend import FunctionSource, NumpyRef
from .rules import lookup
from .rules.structural import VIEWS

UNKNOWN = "<unknown>"
NOT_OWNED = "<not owned>"  # the base of a value that may share memory only with arrays never updated here
OWNED_HINT = "make it the function's own array first, e.g. {name} = {name}.copy() (or np.array({name}))"


@dataclass(frozen=True)
class State:
    owned: frozenset[str] = frozenset()
    views: tuple[tuple[str, frozenset[str]], ...] = ()  # (variable, the owned arrays whose memory it may share)
    stale: frozenset[tuple[str, int, bool]] = frozenset()  # (view, line of the update that changed it, in place there too)
    elements: frozenset[str] = frozenset()  # views that are numbers when their array is a vector: y[i]

    def base_of(self, name: str) -> frozenset[str] | None:
        return dict(self.views).get(name)

    def join(self, other: "State") -> "State":
        views = dict(self.views)
        for name, bases in other.views:
            views[name] = views.get(name, frozenset()) | bases
        return State(self.owned & other.owned, tuple(sorted(views.items())), self.stale | other.stale, self.elements & other.elements)


@dataclass
class Checker:
    fn: FunctionSource
    states: list[State] = field(default_factory=list)
    guards: dict[int, dict[str, str]] = field(default_factory=dict)  # statement -> {view read: its one base}

    def block(self, stmts: list[ast.stmt], state: State) -> State:
        for stmt in stmts:
            state = self.statement(stmt, state)
        return state

    def statement(self, stmt: ast.stmt, state: State) -> State:
        if isinstance(stmt, ast.If):
            self.reads(stmt.test, state, stmt)
            return self.block(stmt.body, state).join(self.block(stmt.orelse, state))
        if isinstance(stmt, (ast.For, ast.While)):
            return self.loop(stmt, state)
        items = get_anno(stmt, "append")
        if items is not None:  # the list now holds the appended array: it sees changes made to it later
            self.reads(stmt, state, stmt)
            state = self.updated(items, state, stmt, "appending to")
            value = stmt.value.args[0]  # type: ignore[attr-defined]
            if isinstance(value, ast.Name):
                views = dict(state.views)
                views[items] = views.get(items, frozenset()) | (state.base_of(value.id) or frozenset({value.id}))
                return State(state.owned, tuple(sorted(views.items())), state.stale, state.elements)
            return state
        if not isinstance(stmt, ast.Assign):
            self.reads(stmt, state, stmt)
            return state
        items = get_anno(stmt, "pop")
        if items is not None:  # the list gives up its last element: whatever was appended, or memory from elsewhere
            state = self.updated(items, state, stmt, "popping from")
            popped = stmt.targets[0].id  # type: ignore[attr-defined]
            views = dict(state.views)
            views[popped] = state.base_of(items) or frozenset({NOT_OWNED})
            stale = frozenset(s for s in state.stale if s[0] != popped)
            return State(state.owned - {popped}, tuple(sorted(views.items())), stale, state.elements - {popped})
        target, value = stmt.targets[0], stmt.value
        self.reads(value, state, stmt)
        if isinstance(target, ast.Subscript):
            self.reads(target.slice, state, stmt)
            return self.updated(target.value.id, state, stmt, "an in-place update of")  # type: ignore[attr-defined]
        if get_anno(stmt, "augmented"):
            state = self.updated(target.id, state, stmt, "an augmented assignment to")  # type: ignore[attr-defined]
        names = [target.id] if isinstance(target, ast.Name) else [e.id for e in target.elts]  # type: ignore[attr-defined]
        shared = _shared(value, state)
        views = {k: v for k, v in state.views if k not in names}
        owned = state.owned - set(names)
        if shared is None and len(names) == 1:
            owned |= set(names)
        elif shared is not None:
            bases = _root(shared, state)
            views.update({n: bases for n in names})
        stale = frozenset(s for s in state.stale if s[0] not in names)
        elements = (state.elements - set(names)) | (set(names) if _element_read(value) else set())
        return State(owned, tuple(sorted(views.items())), stale, elements)

    def loop(self, stmt: ast.For | ast.While, state: State) -> State:
        if isinstance(stmt, ast.For):
            self.reads(stmt.iter, state, stmt)
            state = State(state.owned | {stmt.target.id}, state.views, state.stale, state.elements)  # type: ignore[attr-defined]
        else:
            self.reads(stmt.test, state, stmt)
        head = state
        for _ in range(50):  # to the fixed point: the state at the top of every iteration
            new_head = state.join(self.block(stmt.body, head))
            if new_head == head:
                break
            head = new_head
        return head

    def updated(self, name: str, state: State, stmt: ast.stmt, what: str) -> State:
        if name not in state.owned or (state.base_of(name) is not None and what not in ("appending to", "popping from")):
            raise self.fn.error(
                get_anno(stmt, "origin", stmt),
                f"{what} `{name}`, which may share memory with other arrays (a parameter, a global, a view, or another name for it)",
                OWNED_HINT.format(name=name),
            )
        line = getattr(get_anno(stmt, "origin", stmt), "lineno", 0)
        # generated code updates elements in place as the primal does; `y += v` it computes anew
        in_place = what != "an augmented assignment to"
        changed = {(v, line, in_place) for v, bases in state.views if name in bases or UNKNOWN in bases}
        return State(state.owned, state.views, state.stale | changed, state.elements)

    def reads(self, node: ast.AST, state: State, stmt: ast.stmt) -> None:
        """A read of a possibly stale view: when its base is known, checked
        when the code runs (``t = y[0]`` is a view only if ``y`` has two
        dimensions or more); refused now otherwise."""
        stale = {view: line for view, line, _ in state.stale}
        checkable = {view for view, _, in_place in state.stale if in_place} - {view for view, _, in_place in state.stale if not in_place}
        checkable &= state.elements  # a slice or a transpose is a view whatever the array: refused now
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id in stale:
                bases = state.base_of(sub.id)
                if sub.id in checkable and bases is not None and len(bases) == 1 and UNKNOWN not in bases:
                    (self.guards.setdefault(id(stmt), {})[sub.id],) = bases
                    continue
                raise self.fn.error(
                    get_anno(stmt, "origin", stmt),
                    f"`{sub.id}` may be a view of an array that was updated in place (line {stale[sub.id]}) after `{sub.id}` was made",
                    f"take a copy before the update ({sub.id} = {sub.id}.copy()), or read it again after the update",
                )


def _shared(value: ast.expr, state: State) -> frozenset[str] | None:
    """The variables whose memory ``value`` may share, or ``None`` when it is
    new memory (or a number)."""
    if isinstance(value, ast.Name):
        return frozenset({value.id})
    if isinstance(value, ast.Constant):
        return None
    callee = get_anno(value, "callee")
    if callee is not None:
        return None if _returns_new_values(callee) else _call_shared(value, state)  # type: ignore[arg-type]
    if get_anno(value, "opaque"):
        return frozenset({UNKNOWN})
    op = "getitem" if isinstance(value, ast.Subscript) else get_anno(value, "op")
    if op in VIEWS:
        first = _first_argument(value)
        if isinstance(first, ast.Constant):  # np.broadcast_to(1.5, shape): memory no other value has
            return frozenset({NOT_OWNED})
        return frozenset({first.id}) if isinstance(first, ast.Name) else frozenset({UNKNOWN})
    return None


def _returns_new_values(callee: FunctionSource) -> bool:
    """Does every ``return`` of the user function give values computed there
    (numbers, arithmetic, comparisons: new arrays), never an argument or a
    view of one? Then its result shares memory with nothing."""
    returns = [n for n in _own_nodes(callee.tree) if isinstance(n, ast.Return)]
    values = [e for r in returns for e in (r.value.elts if isinstance(r.value, ast.Tuple) else [r.value])]
    return bool(values) and all(isinstance(v, (ast.Constant, ast.BinOp, ast.UnaryOp, ast.Compare)) or _is_ufunc_call(v, callee) for v in values)


def _is_ufunc_call(value: ast.expr, callee: FunctionSource) -> bool:
    """``np.exp(...)`` and the like: numpy's elementwise functions return
    new arrays (unless given ``out=``)."""
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and isinstance(value.func.value, ast.Name)):
        return False
    if any(k.arg == "out" for k in value.keywords):
        return False
    ref = callee.scope.resolve(value.func.value.id)
    if not isinstance(ref, NumpyRef) or ref.path:
        return False
    rule = lookup(f"np.{value.func.attr}")
    return rule is not None and rule.kind == "elementwise"


def _own_nodes(tree: ast.FunctionDef):
    """The nodes of a function, not those of functions defined inside it."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))


def _call_shared(call: ast.Call, state: State) -> frozenset[str]:
    """What a user function's result may share memory with: its array
    arguments only, since it cannot see this function's locals otherwise
    (functions defined inside a differentiated function are refused).
    Arguments this function does not own can never be updated in place
    here, so they do not matter; the owned arrays among them are the
    result's bases."""
    arguments = [*call.args, *(k.value for k in call.keywords)]
    if not all(isinstance(a, (ast.Name, ast.Constant)) for a in arguments):
        return frozenset({UNKNOWN})
    roots = _root(frozenset(a.id for a in arguments if isinstance(a, ast.Name)), state)
    owned = {r for r in roots if r in state.owned or r == UNKNOWN}
    return frozenset(owned or {NOT_OWNED})


def _element_read(value: ast.expr) -> bool:
    """``y[i]``, ``y[i, j + 1]``: integers only, a number for an array of
    as many dimensions, a view of a larger one."""
    if not isinstance(value, ast.Subscript):
        return False
    return not any(isinstance(n, ast.Slice) or (isinstance(n, ast.Constant) and n.value in (None, Ellipsis)) for n in ast.walk(value.slice))


def _root(shared: frozenset[str], state: State) -> frozenset[str]:
    """The arrays a new view shares memory with (through views of views)."""
    roots: set[str] = set()
    for name in shared:
        roots |= state.base_of(name) or {name}
    return frozenset(roots)


def _first_argument(value: ast.expr) -> ast.expr | None:
    if isinstance(value, ast.Subscript):
        return value.value
    if isinstance(value, ast.Call):
        if isinstance(value.func, ast.Attribute) and (get_anno(value, "op") or "").startswith("method."):
            return value.func.value
        return value.args[0] if value.args else None
    return None


def check_updates(tree: ast.FunctionDef, fn: FunctionSource) -> None:
    """Raise an S2SError at an in-place update s2s cannot differentiate
    safely, or at a read of a view such an update changed; put a run-time
    check before each read of a value that is stale only if it is a view."""
    checker = Checker(fn)
    checker.block(tree.body, State())
    if checker.guards:
        _insert_guards(tree, checker.guards)


def _insert_guards(node: ast.AST, guards: dict[int, dict[str, str]]) -> None:
    for field_name in ("body", "orelse"):
        block = getattr(node, field_name, None)
        if not isinstance(block, list):
            continue
        guarded: list[ast.stmt] = []
        for stmt in block:
            _insert_guards(stmt, guards)
            for view, base in sorted(guards.get(id(stmt), {}).items()):
                guarded.append(_guard(view, base, stmt))
            guarded.append(stmt)
        setattr(node, field_name, guarded)


def _guard(view: str, base: str, before: ast.stmt) -> ast.stmt:
    """``check_not_stale(t, y, "t", "y")``."""
    func = ast.Attribute(ast.Name("rt", ast.Load()), "check_not_stale", ast.Load())
    call = ast.Call(func, [ast.Name(view, ast.Load()), ast.Name(base, ast.Load()), ast.Constant(view), ast.Constant(base)], [])
    set_anno(call, "op", "rt.check_not_stale")
    guard = ast.Expr(call)
    set_anno(guard, "origin", get_anno(before, "origin", before))
    return ast.copy_location(guard, before)
