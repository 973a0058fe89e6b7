"""Activity analysis: which values get derivative code.

Entry point: ``analyze(program, fn, varied_params, useful_outputs) -> Activity``.

A value is *varied* when it depends on a differentiated input, *useful* when
the differentiated outputs depend on it; only values that are both get
derivatives (as in Tapenade and Enzyme). For the seed w.r.t. ``xs``::

    d0 = f(xs)                     active    (depends on xs, reaches the output)
    sum1 = np.sum(d * d0)          active
    sum2 = np.sum(d0 * d0)         active
    out = d - sum1 / sum2 * d0     active
                                   d: inactive, so no d_dot exists anywhere

and w.r.t. ``d``, ``d0 = f(xs)`` and ``sum2`` are inactive: ``f`` is called
as it is and nothing about ``xs`` is differentiated.

Calls to user functions are analysed with the callee's own activity: each
call site asks for the callee with its varied parameters and its useful
outputs, and gets a specialised derivative.

The analysis reads the tree and returns results; it never changes the tree.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .anno import get_anno
from .dag import NotDifferentiable, active_nodes, build
from .errors import S2SError
from .expr import Graph
from .frontend import FunctionSource
from .rules import shape_of

Key = tuple[object, frozenset[str], frozenset[int]]


@dataclass(frozen=True)
class CallActivity:
    """What a call site needs from a callee."""

    callee: FunctionSource
    active_params: frozenset[str]  # callee parameters that receive derivatives
    active_outputs: frozenset[int]  # callee outputs whose derivatives are used

    @property
    def key(self) -> Key:
        return (self.callee.identity, self.active_params, self.active_outputs)


@dataclass
class Activity:
    fn: FunctionSource
    tree: ast.FunctionDef
    varied_params: frozenset[str]
    useful_outputs: frozenset[int]
    varied_in: dict[int, frozenset[str]] = field(default_factory=dict)  # id(stmt) -> varied names before it
    needed_out: dict[int, frozenset[str]] = field(default_factory=dict)  # id(stmt) -> derivatives needed after it
    active_statements: set[int] = field(default_factory=set)
    active_vars: set[str] = field(default_factory=set)
    varied_outputs: frozenset[int] = frozenset()
    active_params: frozenset[str] = frozenset()
    calls: dict[int, CallActivity] = field(default_factory=dict)
    # statements with no derivative rule: an error at the user's line if their derivative is needed
    poisoned: dict[int, NotDifferentiable] = field(default_factory=dict)

    @property
    def active_outputs(self) -> frozenset[int]:
        return self.varied_outputs & self.useful_outputs

    def is_active(self, stmt: ast.stmt) -> bool:
        return id(stmt) in self.active_statements

    def varied_before(self, stmt: ast.stmt) -> frozenset[str]:
        return self.varied_in[id(stmt)]

    def needed_after(self, stmt: ast.stmt) -> frozenset[str]:
        """Variables whose derivative some later statement uses."""
        return self.needed_out.get(id(stmt), frozenset())

    def dump(self) -> str:
        """``"d: inactive | xs: active | d0: active | ..."`` in order of definition."""
        order: list[str] = [a.arg for a in self.tree.args.posonlyargs + self.tree.args.args + self.tree.args.kwonlyargs]
        for stmt in _statements(self.tree.body):
            for name in _targets(stmt):
                if name not in order:
                    order.append(name)
        return " | ".join(f"{n}: {'active' if n in self.active_vars else 'inactive'}" for n in order)


def _targets(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, ast.Assign):
        target = stmt.targets[0]
        if isinstance(target, ast.Name):
            return [target.id]
        if isinstance(target, ast.Subscript):
            return [target.value.id]  # type: ignore[attr-defined]
        return [e.id for e in target.elts]  # type: ignore[attr-defined]
    if isinstance(stmt, ast.For):
        return [stmt.target.id]  # type: ignore[attr-defined]
    return []


def _statements(stmts: list[ast.stmt]):
    """Every statement of a block, nested blocks included, in order."""
    for stmt in stmts:
        yield stmt
        for name in ("body", "orelse"):
            yield from _statements(getattr(stmt, name, []))


def returned(tree: ast.FunctionDef) -> list[ast.expr]:
    value = tree.body[-1].value  # type: ignore[attr-defined]
    return list(value.elts) if isinstance(value, ast.Tuple) else [value]


class Analyzer:
    """Activity of every function of a program, memoised per specialisation."""

    def __init__(self, program) -> None:  # program: s2s.program.Program
        self.program = program
        self.memo: dict[Key, Activity] = {}
        self.varied_memo: dict[tuple[object, frozenset[str]], frozenset[int]] = {}
        self.in_progress: list[object] = []

    def varied_outputs(self, fn: FunctionSource, varied: frozenset[str]) -> frozenset[int]:
        key = (fn.identity, varied)
        if key not in self.varied_memo:
            self.varied_memo[key] = self.analyze(fn, varied, frozenset()).varied_outputs
        return self.varied_memo[key]

    def analyze(self, fn: FunctionSource, varied: frozenset[str], useful: frozenset[int]) -> Activity:
        key = (fn.identity, varied, useful)
        if key in self.memo:
            return self.memo[key]
        if fn.identity in self.in_progress:
            raise fn.error(fn.tree, f"{fn.name} calls itself (directly or through other functions)", "s2s does not differentiate recursion; write it as a loop")
        self.in_progress.append(fn.identity)
        try:
            activity = self._analyze(fn, varied, useful)
        finally:
            self.in_progress.pop()
        self.memo[key] = activity
        return activity

    def _analyze(self, fn: FunctionSource, varied_params: frozenset[str], useful_outputs: frozenset[int]) -> Activity:
        tree = self.program.normal_form(fn)
        act = Activity(fn, tree, varied_params, useful_outputs)
        body, final = tree.body[:-1], tree.body[-1]
        varied = self._varied_block(act, body, frozenset(varied_params))
        act.varied_in[id(final)] = varied
        act.varied_outputs = frozenset(i for i, e in enumerate(returned(tree)) if _name(e) in varied)
        needed = frozenset(_name(e) for i, e in enumerate(returned(tree)) if i in useful_outputs) & varied
        needed = self._needed_block(act, body, needed)
        act.active_params = frozenset(needed & varied_params)
        act.active_vars.update(act.active_params)
        return act

    # forward: what varies ----------------------------------------------------

    def _varied_block(self, act: Activity, stmts: list[ast.stmt], varied: frozenset[str]) -> frozenset[str]:
        for stmt in stmts:
            act.varied_in[id(stmt)] = varied
            varied = self._varied_statement(act, stmt, varied)
        return varied

    def _varied_statement(self, act: Activity, stmt: ast.stmt, varied: frozenset[str]) -> frozenset[str]:
        if isinstance(stmt, ast.If):
            return self._varied_block(act, stmt.body, varied) | self._varied_block(act, stmt.orelse, varied)
        if isinstance(stmt, (ast.For, ast.While)):
            head = varied
            while True:  # to the fixed point: what may vary at the top of an iteration
                new_head = varied | self._varied_block(act, stmt.body, head)
                if new_head == head:
                    return head
                head = new_head
        items = get_anno(stmt, "append")
        if items is not None:  # items.append(v): like an update, keeps what varied and may add
            return varied | {items} if _name(stmt.value.args[0]) in varied else varied  # type: ignore[attr-defined]
        if isinstance(stmt, ast.Expr):
            self._effects(act, stmt, varied)
            return varied
        if not isinstance(stmt, ast.Assign):
            return varied
        items = get_anno(stmt, "pop")
        if items is not None:  # v = items.pop(): v varies with the list
            popped = stmt.targets[0].id  # type: ignore[attr-defined]
            return varied | {popped} if items in varied else varied - {popped}
        target = stmt.targets[0]
        if isinstance(target, ast.Subscript):  # an update keeps what varied, and may add
            name = target.value.id  # type: ignore[attr-defined]
            return varied | {name} if _name(stmt.value) in varied else varied
        targets = _targets(stmt)
        try:
            outs = self._varied_targets(stmt, get_anno(stmt.value, "callee"), varied, len(targets))
        except NotDifferentiable as exc:
            act.poisoned[id(stmt)] = exc
            outs = set(range(len(targets)))  # assume it varies; an error if it matters
        out = set(varied)
        for i, name in enumerate(targets):
            (out.add if i in outs else out.discard)(name)
        return frozenset(out)

    # backward: what is needed -------------------------------------------------

    def _needed_block(self, act: Activity, stmts: list[ast.stmt], needed: frozenset[str]) -> frozenset[str]:
        for stmt in reversed(stmts):
            act.needed_out[id(stmt)] = act.needed_out.get(id(stmt), frozenset()) | needed
            needed = self._needed_statement(act, stmt, needed)
        return needed

    def _needed_statement(self, act: Activity, stmt: ast.stmt, needed: frozenset[str]) -> frozenset[str]:
        if isinstance(stmt, ast.If):
            return self._needed_block(act, stmt.body, needed) | self._needed_block(act, stmt.orelse, needed)
        if isinstance(stmt, (ast.For, ast.While)):
            head = needed
            while True:  # to the fixed point: what is needed at the top of an iteration
                new_head = needed | self._needed_block(act, stmt.body, head)
                if new_head == head:
                    return head
                head = new_head
        items = get_anno(stmt, "append")
        if items is not None:
            value = _name(stmt.value.args[0])  # type: ignore[attr-defined]
            varied = act.varied_before(stmt)
            if items not in needed or (value not in varied and items not in varied):
                return needed
            self._mark(act, stmt, [items])  # type: ignore[arg-type]
            return needed | ({value} if value in varied else set())  # the other elements stay needed
        if not isinstance(stmt, ast.Assign):
            return needed
        target = stmt.targets[0]
        varied = act.varied_before(stmt)
        items = get_anno(stmt, "pop")
        if items is not None:
            popped = target.id  # type: ignore[attr-defined]
            if popped not in needed or items not in varied:
                return needed - {popped}
            self._mark(act, stmt, [popped])
            return (needed - {popped}) | {items}
        if isinstance(target, ast.Subscript):
            name = target.value.id  # type: ignore[attr-defined]
            value = _name(stmt.value)
            if name not in needed or (value not in varied and name not in varied):
                return needed
            self._mark(act, stmt, [name])
            return needed | ({value} if value in varied else set())  # the other elements stay needed
        targets = _targets(stmt)
        live = [i for i, n in enumerate(targets) if n in needed]
        rest = needed - set(targets)
        if not live:
            return rest
        call = self._call_activity(act, stmt, frozenset(live))
        if call is not None and not call.active_outputs:
            return rest  # needed later (a loop carries it) but constant here: its derivative starts at zero
        self._mark(act, stmt, [targets[i] for i in live])
        return rest | self._needed_inputs(act, stmt, call)

    def _effects(self, act: Activity, stmt: ast.Expr, varied: frozenset[str]) -> None:
        """A call kept for its effect must not change a varied value behind
        the derivative's back (``items.extend(ys)``, ``y.sort()``)."""
        call = stmt.value
        receiver = call.func.value if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) else None  # type: ignore[union-attr]
        if isinstance(receiver, ast.Name) and receiver.id in varied:
            raise act.fn.error(
                get_anno(stmt, "origin"),
                f"cannot differentiate `{ast.unparse(call)}`, which may change `{receiver.id}` in place",
                "build a new value instead; of list methods, s2s differentiates append",
            )

    def _mark(self, act: Activity, stmt: ast.Assign, names: list[str]) -> None:
        if id(stmt) in act.poisoned:
            exc = act.poisoned[id(stmt)]
            raise act.fn.error(get_anno(stmt, "origin"), exc.message, exc.hint)
        act.active_statements.add(id(stmt))
        act.active_vars.update(names)

    def _varied_targets(self, stmt: ast.Assign, callee: FunctionSource | None, varied: frozenset[str], n_targets: int) -> set[int]:
        value = stmt.value
        if callee is not None:
            params = _params(self.program.normal_form(callee))
            varied_params = frozenset(p for p, a in zip(params, value.args, strict=True) if _name(a) in varied)  # type: ignore[attr-defined]
            if not varied_params:
                return set()
            outs = self.varied_outputs(callee, varied_params)
            return set(outs) if n_targets > 1 else ({0} if 0 in outs else set())
        if n_targets > 1:  # unpacking a name
            return set(range(n_targets)) if _name(value) in varied else set()
        graph = Graph(shape_of)
        root = build(graph, value, lambda name: None)
        return {0} if root in active_nodes(graph, root, varied.__contains__) else set()

    def _call_activity(self, act: Activity, stmt: ast.Assign, live: frozenset[int]) -> CallActivity | None:
        """What a call to a user function needs and gives, given which of
        its outputs are needed (``None`` when the statement is no call)."""
        value = stmt.value
        callee = get_anno(value, "callee")
        if callee is None:
            return None
        varied = act.varied_before(stmt)
        params = _params(self.program.normal_form(callee))
        varied_params = frozenset(p for p, a in zip(params, value.args, strict=True) if _name(a) in varied)  # type: ignore[attr-defined]
        n_out = len(returned(self.program.normal_form(callee)))
        useful = live if n_out > 1 else frozenset({0})
        callee_act = self.analyze(callee, varied_params, frozenset(useful))
        return CallActivity(callee, callee_act.active_params, callee_act.active_outputs)

    def _needed_inputs(self, act: Activity, stmt: ast.Assign, call: CallActivity | None) -> frozenset[str]:
        varied = act.varied_before(stmt)
        value = stmt.value
        if call is not None:
            act.calls[id(stmt)] = call
            params = _params(self.program.normal_form(call.callee))
            return frozenset(_name(a) for p, a in zip(params, value.args, strict=True) if p in call.active_params)  # type: ignore[misc,attr-defined]
        if isinstance(stmt.targets[0], ast.Tuple):
            return frozenset({value.id}) if isinstance(value, ast.Name) and value.id in varied else frozenset()
        graph = Graph(shape_of)
        root = build(graph, value, lambda name: None)
        active = active_nodes(graph, root, varied.__contains__)
        return frozenset(n.name for n in active if n.op == "var")


def _name(e: ast.expr) -> str | None:
    return e.id if isinstance(e, ast.Name) else None


def _params(tree: ast.FunctionDef) -> list[str]:
    a = tree.args
    return [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]


def analyze(program, fn: FunctionSource, varied_params: frozenset[str], useful_outputs: frozenset[int]) -> Activity:
    """The activity of ``fn`` when ``varied_params`` vary and the outputs at
    ``useful_outputs`` are differentiated."""
    try:
        return program.analyzer.analyze(fn, varied_params, useful_outputs)
    except NotDifferentiable as exc:  # pragma: no cover - converted where located
        raise S2SError(exc.message, hint=exc.hint) from None
