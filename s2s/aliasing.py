"""Which arrays a function owns, so that its in-place updates are safe.

Entry point: ``check_updates(tree, fn)``, run on the normal form.

numpy arrays share memory: after ``z = y`` or ``z = y[1:]``, writing into
``y`` changes ``z``. s2s differentiates an in-place update (``y[i] = v``,
``y += v``) when

- ``y`` is *owned*: made in this function by an operation that returns new
  memory (not a parameter, a global, a view or another name for an array);
- no view of ``y`` made before the update is read after it (such a view is
  *stale*: its value changed under it).

Then the update is the same as computing a new array, as the derivative
code assumes. The recurrence ``y[i] = a * y[i - 1] + u[i]`` passes: the
element read from ``y`` is used before the update and read anew in the next
iteration. Numbers are immutable, so ``s += x`` on a number is always fine.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .anno import get_anno
from .frontend import FunctionSource
from .rules.structural import VIEWS

UNKNOWN = "<unknown>"
OWNED_HINT = "make it the function's own array first, e.g. {name} = {name}.copy() (or np.array({name}))"


@dataclass(frozen=True)
class State:
    owned: frozenset[str] = frozenset()
    views: tuple[tuple[str, str], ...] = ()  # (variable, the owned array whose memory it may share)
    stale: frozenset[tuple[str, int]] = frozenset()  # (view, line of the update that changed it)

    def base_of(self, name: str) -> str | None:
        return dict(self.views).get(name)

    def join(self, other: "State") -> "State":
        views = dict(self.views)
        for name, base in other.views:
            views[name] = base if views.get(name, base) == base else UNKNOWN
        return State(self.owned & other.owned, tuple(sorted(views.items())), self.stale | other.stale)


@dataclass
class Checker:
    fn: FunctionSource
    states: list[State] = field(default_factory=list)

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
                base = state.base_of(value.id) or value.id
                views = dict(state.views)
                views[items] = base if views.get(items, base) == base else UNKNOWN
                return State(state.owned, tuple(sorted(views.items())), state.stale)
            return state
        if not isinstance(stmt, ast.Assign):
            self.reads(stmt, state, stmt)
            return state
        target, value = stmt.targets[0], stmt.value
        self.reads(value, state, stmt)
        if isinstance(target, ast.Subscript):
            self.reads(target.slice, state, stmt)
            return self.updated(target.value.id, state, stmt, "an in-place update of")  # type: ignore[attr-defined]
        if get_anno(stmt, "augmented"):
            state = self.updated(target.id, state, stmt, "an augmented assignment to")  # type: ignore[attr-defined]
        names = [target.id] if isinstance(target, ast.Name) else [e.id for e in target.elts]  # type: ignore[attr-defined]
        shared = _shared(value)
        views = {k: v for k, v in state.views if k not in names}
        owned = state.owned - set(names)
        if shared is None and len(names) == 1:
            owned |= set(names)
        elif shared is not None:
            base = _root(shared, state)
            views.update({n: base for n in names})
        stale = frozenset(s for s in state.stale if s[0] not in names)
        return State(owned, tuple(sorted(views.items())), stale)

    def loop(self, stmt: ast.For | ast.While, state: State) -> State:
        if isinstance(stmt, ast.For):
            self.reads(stmt.iter, state, stmt)
            state = State(state.owned | {stmt.target.id}, state.views, state.stale)  # type: ignore[attr-defined]
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
        if name not in state.owned or (state.base_of(name) is not None and what != "appending to"):
            raise self.fn.error(
                get_anno(stmt, "origin", stmt),
                f"{what} `{name}`, which may share memory with other arrays (a parameter, a global, a view, or another name for it)",
                OWNED_HINT.format(name=name),
            )
        line = getattr(get_anno(stmt, "origin", stmt), "lineno", 0)
        changed = {(v, line) for v, base in state.views if base in (name, UNKNOWN)}
        return State(state.owned, state.views, state.stale | changed)

    def reads(self, node: ast.AST, state: State, stmt: ast.stmt) -> None:
        stale = dict(state.stale)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id in stale:
                raise self.fn.error(
                    get_anno(stmt, "origin", stmt),
                    f"`{sub.id}` may be a view of an array that was updated in place (line {stale[sub.id]}) after `{sub.id}` was made",
                    f"take a copy before the update ({sub.id} = {sub.id}.copy()), or read it again after the update",
                )


def _shared(value: ast.expr) -> frozenset[str] | None:
    """The variables whose memory ``value`` may share, or ``None`` when it is
    new memory (or a number)."""
    if isinstance(value, ast.Name):
        return frozenset({value.id})
    if isinstance(value, ast.Constant):
        return None
    if get_anno(value, "callee") is not None or get_anno(value, "opaque"):
        return frozenset({UNKNOWN})
    op = "getitem" if isinstance(value, ast.Subscript) else get_anno(value, "op")
    if op in VIEWS:
        first = _first_argument(value)
        return frozenset({first.id}) if isinstance(first, ast.Name) else frozenset({UNKNOWN})
    return None


def _root(shared: frozenset[str], state: State) -> str:
    """The owned array a new view shares memory with (through views of views)."""
    if len(shared) != 1 or UNKNOWN in shared:
        return UNKNOWN
    (name,) = shared
    return state.base_of(name) or name


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
    safely, or at a read of a view such an update changed."""
    Checker(fn).block(tree.body, State())
