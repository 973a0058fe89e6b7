"""Forward (tangent) mode: each primal statement followed by its tangent.

Entry point: ``emit_forward(ctx, name, tangent_params, entry) -> ast.FunctionDef``.

The generated function takes the primal's parameters and a tangent for each
differentiated one, and returns the outputs followed by their tangents::

    def f_jvp(m, m_dot):
        # line 8: return np.exp(-1.5 * (x - m) ** 2)
        t1 = x - m
        out = np.exp(-1.5 * t1 ** 2)
        out_dot = 3.0 * m_dot * t1 * out
        return out, out_dot

An elementwise expression's tangent is one expression that reuses the
primal's subexpressions (``t1``, ``out``); inactive statements are kept as
they are and get no tangent; a call to a user function calls that
function's own tangent function. Branches and loops keep their structure:
a loop's tangent is the same loop, carrying tangents beside the values.
Where one path gives a variable a tangent and another does not, the other
gets an explicit zero before the paths join.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field

from .activity import returned
from .anno import get_anno
from .codegen import FunctionContext, ShapeEnv, function_def, name, params_of, store, tuple_target
from .dag import NotDifferentiable, active_nodes, build, exact, site_of, tangent
from .directions import vectorize
from .expr import SCALAR, Graph, Node, ShapeSet, schedule
from .rules.structural import VIEWS


@dataclass
class Tangents:
    """What holds on one path: the variables with a tangent (and its shape
    set), those whose tangent array this function made (so it may be
    updated in place), and the variables defined."""

    shapes: dict[str, ShapeSet] = field(default_factory=dict)
    owned: set[str] = field(default_factory=set)
    defined: set[str] = field(default_factory=set)

    def copy(self) -> "Tangents":
        return Tangents(dict(self.shapes), set(self.owned), set(self.defined))

    def join(self, other: "Tangents") -> "Tangents":
        """After two paths meet. A variable keeps a tangent when both paths
        give it one (the emitter adds zeros to make that so), or when the
        other path does not define the variable at all."""
        shapes: dict[str, ShapeSet] = {}
        for v in self.shapes.keys() | other.shapes.keys():
            if v in self.shapes and v in other.shapes:
                shapes[v] = self.shapes[v] if self.shapes[v] == other.shapes[v] else None
            elif v in self.shapes and v not in other.defined:
                shapes[v] = self.shapes[v]
            elif v in other.shapes and v not in self.defined:
                shapes[v] = other.shapes[v]
        return Tangents(shapes, self.owned & other.owned, self.defined | other.defined)


class ForwardEmitter:
    def __init__(self, ctx: FunctionContext, fname: str, tangent_params: list[str], entry: bool) -> None:
        self.ctx = ctx
        self.act = ctx.activity
        self.fname = fname
        self.tangent_params = tangent_params
        self.entry = entry
        self.dots: dict[str, str] = {}
        self.state = Tangents(defined=set(params_of(ctx.tree)))
        self.vector = ctx.module.vector
        self.directions = ctx.names.fresh("directions") if self.vector else ""

    def dot(self, var: str) -> str:
        return self.ctx.derived_name(var, "dot", self.dots)

    def run(self) -> ast.FunctionDef:
        params = params_of(self.ctx.tree)
        for p in self.tangent_params:
            self.dot(p)
            self.state.shapes[p] = self.ctx.shapes(p)
        body = self.block(self.ctx.tree.body)
        extra = [self.directions] if self.vector else []
        return function_def(self.fname, params + [self.dots[p] for p in self.tangent_params] + extra, body)

    def finish(self, graph: Graph, tangent: Node, primal: Node | None = None) -> Node:
        """A tangent expression as this mode writes it: for one direction,
        or in vector mode for each of ``directions`` at once (``primal``: the
        value it is the tangent of)."""
        if not self.vector:
            return tangent
        tangent_names = set(self.dots.values())
        values = frozenset(primal.walk()) if primal is not None else frozenset()
        return vectorize(graph, tangent, graph.var(self.directions, frozenset()), tangent_names.__contains__, self.ctx.printer.function_ref, values)

    # blocks and paths ---------------------------------------------------------

    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            origin = get_anno(stmt, "origin")
            try:
                emitted = self.statement(stmt)
            except NotDifferentiable as exc:
                raise self.ctx.fn.error(origin, exc.message, exc.hint) from None
            out += self.ctx.comment(emitted, origin)
        return out

    def snapshot(self) -> tuple[Tangents, ShapeEnv]:
        return self.state.copy(), self.ctx.shapes.copy()

    def restore(self, saved: tuple[Tangents, ShapeEnv]) -> None:
        self.state, self.ctx.shapes = saved[0].copy(), saved[1].copy()

    def zeros(self, var: str) -> ast.stmt:
        """``var_dot = zeros_like(var)``: a tangent where a path had none."""
        graph = self.ctx.graph()
        value = self.ctx.printer.expr(self.finish(graph, self.zero_value(graph, var, graph.var(var, self.ctx.shapes(var)))), {})
        self.state.shapes[var] = self.ctx.shapes(var)
        self.state.owned.add(var)
        return ast.Assign([store(self.dot(var))], value)

    def give_tangents(self, stmts: list[ast.stmt], wanted: set[str]) -> None:
        """Append zero tangents for the ``wanted`` variables this path lacks."""
        for var in sorted(wanted - set(self.state.shapes)):
            if var in self.state.defined:
                stmts.append(self.zeros(var))

    # statements ---------------------------------------------------------------

    def statement(self, stmt: ast.stmt) -> list[ast.stmt]:
        if isinstance(stmt, ast.Return):
            return [self.return_(stmt)]
        if isinstance(stmt, ast.If):
            return self.if_(stmt)
        if isinstance(stmt, (ast.For, ast.While)):
            return self.loop(stmt)
        if get_anno(stmt, "append") is not None:
            return self.append(stmt)  # type: ignore[arg-type]
        if not isinstance(stmt, ast.Assign):
            return [self.ctx.respell(stmt)]  # type: ignore[list-item]
        if get_anno(stmt, "pop") is not None:
            return self.pop(stmt)
        if isinstance(stmt.targets[0], ast.Subscript):
            return self.update(stmt) if self.act.is_active(stmt) else [self.ctx.respell(stmt)]  # type: ignore[list-item]
        if not self.act.is_active(stmt):
            self.track_inactive(stmt)
            return [self.ctx.respell(stmt)]  # type: ignore[list-item]
        if get_anno(stmt.value, "callee") is not None:
            return self.call(stmt)
        if isinstance(stmt.targets[0], ast.Tuple):
            return self.unpack(stmt)
        return self.assignment(stmt)

    def if_(self, stmt: ast.If) -> list[ast.stmt]:
        before = self.snapshot()
        body = self.block(stmt.body)
        after_body = self.snapshot()
        self.restore(before)
        orelse = self.block(stmt.orelse)
        wanted = set(self.act.needed_after(stmt)) & (set(self.state.shapes) | set(after_body[0].shapes))
        self.give_tangents(orelse, wanted)
        after_else = self.snapshot()
        self.restore(after_body)
        self.give_tangents(body, wanted)
        joined = self.state.join(after_else[0])
        self.state = joined
        self.ctx.shapes = self.ctx.shapes.join(after_else[1])
        return [ast.If(self.ctx.respell(stmt.test), body or [ast.Pass()], orelse)]  # type: ignore[arg-type]

    def loop(self, stmt: ast.For | ast.While) -> list[ast.stmt]:
        """The loop, carrying tangents: every variable that may vary at the
        top of an iteration has a tangent there, on entry and on each
        iteration's way back."""
        first = stmt.body[0]
        wanted = set(self.act.varied_before(first)) & self.act.active_vars
        before: list[ast.stmt] = []
        self.give_tangents(before, wanted)
        rebound = _rebound(stmt.body)
        if isinstance(stmt, ast.For):
            self.state.defined.add(stmt.target.id)  # type: ignore[attr-defined]
            self.ctx.shapes.assign(stmt.target.id, None)  # type: ignore[attr-defined]
        known = self.ctx.shapes.shapes
        numbers = self.ctx.numbers_carried(stmt.body, set(rebound), lambda v: self.ctx.shapes(v) if v in known else None)
        for var in rebound:  # values that change from one iteration to the next: no static shape facts but numbers
            shape = SCALAR if var in numbers else None
            self.ctx.shapes.assign(var, shape)
            if var in self.state.shapes:
                self.state.shapes[var] = shape  # the tangent of a number is a number
            self.state.owned.discard(var)
        head = self.snapshot()
        body = self.block(stmt.body)
        end = len(body) - 1 if body and _is_loop_exit(stmt.body[-1]) else len(body)
        missing: list[ast.stmt] = []
        self.give_tangents(missing, set(head[0].shapes))
        body[end:end] = missing
        after = self.state
        self.restore(head)
        for var in wanted & set(after.shapes):  # defined in the loop, alive after it
            self.state.shapes.setdefault(var, None)
        self.state.defined |= after.defined
        new = copy.copy(stmt)
        new.body = body or [ast.Pass()]
        if isinstance(stmt, ast.For):
            new.iter = self.ctx.respell(stmt.iter)  # type: ignore[assignment]
        else:
            new.test = self.ctx.respell(stmt.test)  # type: ignore[assignment]
        return before + [new]

    def track_inactive(self, stmt: ast.Assign) -> None:
        target = stmt.targets[0]
        if isinstance(target, ast.Name) and get_anno(stmt.value, "callee") is None:
            graph = self.ctx.graph()
            self.ctx.shapes.assign(target.id, build(graph, stmt.value, self.ctx.shapes).shape)
        else:
            for n in ast.walk(target):
                if isinstance(n, ast.Name):
                    self.ctx.shapes.assign(n.id, None)
        for n in ast.walk(target):  # a name redefined without a tangent loses it
            if isinstance(n, ast.Name):
                self.state.shapes.pop(n.id, None)
                self.state.owned.discard(n.id)
                self.state.defined.add(n.id)

    def has_tangent(self, var: str, stmt: ast.stmt) -> bool:
        return var in self.act.varied_before(stmt) and var in self.state.shapes

    def tangent_leaf(self, graph: Graph, var: str) -> Node:
        return graph.var(self.dots[var], self.state.shapes[var])

    def assignment(self, stmt: ast.Assign) -> list[ast.stmt]:
        target = stmt.targets[0].id  # type: ignore[attr-defined]
        graph = self.ctx.graph()
        root = build(graph, stmt.value, self.ctx.shapes)
        active = active_nodes(graph, root, lambda name: self.has_tangent(name, stmt))
        tan = tangent(graph, root, lambda v: self.tangent_leaf(graph, v.name), active)
        self.ctx.shapes.assign(target, root.shape)
        self.state.defined.add(target)
        if tan is None:  # varied, yet structurally constant here
            out = self.ordered(graph, target, root, self.finish(graph, self.zero_value(graph, target, root), root))
            self.state.shapes[target] = self.ctx.shapes(target)
            self.state.owned.add(target)
            return out
        site = site_of(graph, root) if not root.is_leaf else None
        exact_tangent = (site is not None and site.rule.kind != "elementwise") or (tan.shape is not None and tan.shape == root.shape)
        out = self.ordered(graph, target, root, self.finish(graph, tan, root))
        self.state.shapes[target] = self.ctx.shapes(target) if exact_tangent else tan.shape
        (self.state.owned.add if _fresh(tan) else self.state.owned.discard)(target)
        return out

    def ordered(self, graph: Graph, target: str, root: Node, tan: Node) -> list[ast.stmt]:
        """Primal then tangent; the tangent first when it reads the value the
        primal overwrites; through a temporary when it reads both."""
        dot = self.dot(target)
        reads_old = any(n.op == "var" and n.name == target for n in tan.walk())
        reads_new = any(n is root for n in tan.walk())
        fresh = self.ctx.temp
        if reads_old and reads_new:
            temp = fresh()
            out = schedule([(temp, root), (dot, tan)], self.ctx.printer, fresh).statements
            return out + [ast.Assign([store(target)], name(temp))]
        if reads_old:
            return schedule([(dot, tan), (target, root)], self.ctx.printer, fresh).statements
        return schedule([(target, root), (dot, tan)], self.ctx.printer, fresh).statements

    def zero_value(self, graph: Graph, var: str, value: Node) -> Node:
        """A zero tangent for ``var``, which holds ``value``."""
        if self.ctx.shapes.is_list(var):
            if value.op == "list" and not value.args:
                return graph.call("builtins.list")  # a new list: `[]` would be the primal's own node
            return graph.call("rt.zeros_like_list", value)
        return zero_like(graph, value)

    def append(self, stmt: ast.Expr) -> list[ast.stmt]:
        """``items.append(v)``, then ``items_dot.append(v_dot)``."""
        items = get_anno(stmt, "append")
        value = stmt.value.args[0]  # type: ignore[attr-defined]
        out: list[ast.stmt] = []
        if items in self.state.shapes or self.act.is_active(stmt):
            if items not in self.state.shapes:  # before the new element: its tangent is appended below
                out.append(self.zeros(items))
            graph = self.ctx.graph()
            if isinstance(value, ast.Name) and self.has_tangent(value.id, stmt):
                tangent_value = name(self.dots[value.id])
            else:
                tangent_value = self.ctx.printer.expr(self.finish(graph, zero_like(graph, build(graph, value, self.ctx.shapes))), {})
            append_dot = ast.Call(ast.Attribute(name(self.dots[items]), "append", ast.Load()), [tangent_value], [])
            return out + [self.ctx.respell(stmt), ast.Expr(append_dot)]  # type: ignore[list-item]
        return [self.ctx.respell(stmt)]  # type: ignore[list-item]

    def pop(self, stmt: ast.Assign) -> list[ast.stmt]:
        """``v = items.pop()``, then ``v_dot = items_dot.pop()``: the tangent
        list drops its last element whenever the list does, so that the two
        stay aligned even where ``v`` itself needs no tangent."""
        items = get_anno(stmt, "pop")
        popped = stmt.targets[0].id  # type: ignore[attr-defined]
        out = [self.ctx.respell(stmt)]
        self.ctx.shapes.assign(popped, None)
        self.state.defined.add(popped)
        self.state.owned.discard(popped)  # the element the tangent list held
        if items not in self.state.shapes:
            self.state.shapes.pop(popped, None)
            return out  # type: ignore[return-value]
        pop_dot = ast.Call(ast.Attribute(name(self.dots[items]), "pop", ast.Load()), [], [])
        if not self.act.is_active(stmt):
            self.state.shapes.pop(popped, None)
            return out + [ast.Expr(pop_dot)]  # type: ignore[return-value]
        self.state.shapes[popped] = None
        return out + [ast.Assign([store(self.dot(popped))], pop_dot)]  # type: ignore[return-value]

    def update(self, stmt: ast.Assign) -> list[ast.stmt]:
        """``y[i] = v``, then ``y_dot[i] = v_dot``: the tangent array is made
        (or copied) first so that it is this function's own."""
        target: ast.Subscript = stmt.targets[0]  # type: ignore[assignment]
        y = target.value.id  # type: ignore[attr-defined]
        graph = self.ctx.graph()
        y_node = graph.var(y, self.ctx.shapes(y))
        out: list[ast.stmt] = []
        if y not in self.state.shapes:
            out.append(self.zeros(y))
        elif y not in self.state.owned or self.state.shapes[y] != y_node.shape:
            owned = graph.call("rt.owned_like", self.tangent_leaf(graph, y), y_node)
            out.append(ast.Assign([store(self.dot(y))], self.ctx.printer.expr(self.finish(graph, owned), {})))
            self.state.shapes[y] = y_node.shape
            self.state.owned.add(y)
        value = stmt.value
        if isinstance(value, ast.Name) and self.has_tangent(value.id, stmt):
            tangent_value: ast.expr = name(self.dots[value.id])
        else:
            tangent_value = ast.Constant(0.0)
        index = self.ctx.respell(target.slice)
        out.append(self.ctx.respell(stmt))  # type: ignore[arg-type]
        out.append(ast.Assign([ast.Subscript(name(self.dots[y]), index, ast.Store())], tangent_value))  # type: ignore[arg-type]
        return out

    def call(self, stmt: ast.Assign) -> list[ast.stmt]:
        call = self.act.calls[id(stmt)]
        self.ctx.module.request(call, "jvp")
        fname = self.ctx.callee_name(call, "jvp")
        graph = self.ctx.graph()
        value: ast.Call = stmt.value  # type: ignore[assignment]
        callee_params = params_of(self.ctx.module.program.normal_form(call.callee))
        args = [self.ctx.respell(a) for a in value.args]
        tangent_args = []
        for param, arg in zip(callee_params, value.args, strict=True):
            if param in call.active_params:
                var = graph.var(arg.id, self.ctx.shapes(arg.id))  # type: ignore[attr-defined]
                t = exact(graph, self.tangent_leaf(graph, arg.id), var)  # type: ignore[attr-defined]
                tangent_args.append(self.ctx.printer.expr(self.finish(graph, t), {}))  # type: ignore[arg-type]
        if self.vector:
            tangent_args.append(name(self.directions))
        target = stmt.targets[0]
        targets = [target.id] if isinstance(target, ast.Name) else [e.id for e in target.elts]  # type: ignore[attr-defined]
        with_tangent = [targets[i] for i in sorted(call.active_outputs)] if len(targets) > 1 else targets
        for t in targets:
            self.ctx.shapes.assign(t, None)
            self.state.shapes.pop(t, None)
            self.state.owned.discard(t)  # a callee may return an array it was given
            self.state.defined.add(t)
        for t in with_tangent:
            self.state.shapes[t] = self.ctx.shapes(t)
        lhs = tuple_target(targets + [self.dot(t) for t in with_tangent])
        return [ast.Assign([lhs], ast.Call(name(fname), args + tangent_args, []))]  # type: ignore[list-item]

    def unpack(self, stmt: ast.Assign) -> list[ast.stmt]:
        source = stmt.value.id  # type: ignore[attr-defined]
        targets = [e.id for e in stmt.targets[0].elts]  # type: ignore[attr-defined]
        graph = self.ctx.graph()
        var = graph.var(source, self.ctx.shapes(source))
        t = exact(graph, self.tangent_leaf(graph, source), var)
        for target in targets:
            self.ctx.shapes.assign(target, None)
            self.state.shapes[target] = self.ctx.shapes(target)
            self.state.owned.discard(target)  # rows of the source's tangent
            self.state.defined.add(target)
        tangents = ast.Assign([tuple_target([self.dot(x) for x in targets])], self.ctx.printer.expr(self.finish(graph, t), {}))  # type: ignore[arg-type]
        return [self.ctx.respell(stmt), tangents]  # type: ignore[list-item]

    def return_(self, stmt: ast.Return) -> ast.Return:
        outputs = returned(self.ctx.tree)
        wanted = range(len(outputs)) if self.entry else sorted(self.act.active_outputs)
        graph = self.ctx.graph()
        tangents = []
        for i in wanted:
            out = outputs[i]
            out_node = build(graph, out, self.ctx.shapes)
            if isinstance(out, ast.Name) and self.has_tangent(out.id, stmt):
                t = exact(graph, self.tangent_leaf(graph, out.id), out_node)
            else:
                t = graph.call("rt.zeros_like", out_node)
            tangents.append(self.ctx.printer.expr(self.finish(graph, t), {}))  # type: ignore[arg-type]
        values = [self.ctx.respell(o) for o in outputs] + tangents
        return ast.Return(ast.Tuple(values, ast.Load()))  # type: ignore[arg-type]


def zero_like(graph: Graph, node: Node) -> Node:
    """A zero derivative for ``node``'s value: ``0.0`` for a number."""
    return graph.const(0.0) if node.shape == frozenset() else graph.call("rt.zeros_like", node)


def _fresh(tangent: Node) -> bool:
    """Does this tangent expression make a new array (not another tangent,
    a view of one, or a helper's result that may be its input)?"""
    if tangent.is_leaf or tangent.op in VIEWS:
        return False
    return not tangent.op.startswith("rt.") or tangent.op in ("rt.zeros_like", "rt.owned_like")


def _rebound(stmts: list[ast.stmt]) -> set[str]:
    """Names assigned anew anywhere in these statements (not in-place updates)."""
    names: set[str] = set()
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign):
                for n in ast.walk(node.targets[0]):
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                        names.add(n.id)
            elif isinstance(node, ast.For):
                names.add(node.target.id)  # type: ignore[attr-defined]
    return names


def _is_loop_exit(stmt: ast.stmt) -> bool:
    """``if stop: break``, the last statement of a loop that may be left early."""
    return isinstance(stmt, ast.If) and len(stmt.body) == 1 and isinstance(stmt.body[0], ast.Break)


def emit_forward(ctx: FunctionContext, fname: str, tangent_params: list[str], entry: bool) -> ast.FunctionDef:
    """The tangent function of ``ctx.fn`` for its activity."""
    return ForwardEmitter(ctx, fname, tangent_params, entry).run()
