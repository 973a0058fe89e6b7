"""Forward (tangent) mode: each primal statement followed by its tangent.

Entry point: ``emit_forward(ctx, name, tangent_params) -> ast.FunctionDef``.

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
function's own tangent function.
"""

from __future__ import annotations

import ast

from .activity import returned
from .anno import get_anno
from .codegen import FunctionContext, function_def, name, params_of, store, tuple_target
from .dag import NotDifferentiable, active_nodes, build, exact, site_of, tangent
from .expr import Node, schedule


class ForwardEmitter:
    def __init__(self, ctx: FunctionContext, fname: str, tangent_params: list[str], entry: bool) -> None:
        self.ctx = ctx
        self.act = ctx.activity
        self.fname = fname
        self.tangent_params = tangent_params
        self.entry = entry
        self.dots: dict[str, str] = {}
        self.tangent_shapes: dict[str, frozenset | None] = {}

    def dot(self, var: str) -> str:
        return self.ctx.derived_name(var, "dot", self.dots)

    def run(self) -> ast.FunctionDef:
        params = params_of(self.ctx.tree)
        for p in self.tangent_params:
            self.dot(p)
            self.tangent_shapes[p] = self.ctx.shapes(p)
        body: list[ast.stmt] = []
        for stmt in self.ctx.tree.body:
            self.ctx.origin = get_anno(stmt, "origin")
            try:
                emitted = self.statement(stmt)
            except NotDifferentiable as exc:
                raise self.ctx.fn.error(self.ctx.origin, exc.message, exc.hint) from None
            body += self.ctx.comment(emitted, self.ctx.origin)
        return function_def(self.fname, params + [self.dots[p] for p in self.tangent_params], body)

    # statements ---------------------------------------------------------------

    def statement(self, stmt: ast.stmt) -> list[ast.stmt]:
        if isinstance(stmt, ast.Return):
            return [self.return_(stmt)]
        if not isinstance(stmt, ast.Assign):
            return [self.ctx.respell(stmt)]  # type: ignore[list-item]
        if not self.act.is_active(stmt):
            self.track_inactive(stmt)
            return [self.ctx.respell(stmt)]  # type: ignore[list-item]
        if get_anno(stmt.value, "callee") is not None:
            return self.call(stmt)
        if isinstance(stmt.targets[0], ast.Tuple):
            return self.unpack(stmt)
        return self.assignment(stmt)

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
                self.tangent_shapes.pop(n.id, None)

    def has_tangent(self, var: str, stmt: ast.stmt) -> bool:
        return var in self.act.varied_before(stmt) and var in self.tangent_shapes

    def assignment(self, stmt: ast.Assign) -> list[ast.stmt]:
        target = stmt.targets[0].id  # type: ignore[attr-defined]
        graph = self.ctx.graph()
        root = build(graph, stmt.value, self.ctx.shapes)
        active = active_nodes(graph, root, lambda name: self.has_tangent(name, stmt))
        tan = tangent(graph, root, lambda v: graph.var(self.dots[v.name], self.tangent_shapes[v.name]), active)
        self.ctx.shapes.assign(target, root.shape)
        if tan is None:  # varied, yet structurally constant here
            out = self.ordered(graph, target, root, graph.call("rt.zeros_like", root))
            self.tangent_shapes[target] = self.ctx.shapes(target)
            return out
        site = site_of(graph, root) if not root.is_leaf else None
        exact_tangent = (site is not None and site.rule.kind != "elementwise") or (tan.shape is not None and tan.shape == root.shape)
        out = self.ordered(graph, target, root, tan)
        self.tangent_shapes[target] = self.ctx.shapes(target) if exact_tangent else tan.shape
        return out

    def ordered(self, graph, target: str, root: Node, tan: Node) -> list[ast.stmt]:
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
                t = exact(graph, graph.var(self.dots[arg.id], self.tangent_shapes[arg.id]), var)  # type: ignore[attr-defined]
                tangent_args.append(self.ctx.printer.expr(t, {}))  # type: ignore[arg-type]
        target = stmt.targets[0]
        targets = [target.id] if isinstance(target, ast.Name) else [e.id for e in target.elts]  # type: ignore[attr-defined]
        with_tangent = [targets[i] for i in sorted(call.active_outputs)] if len(targets) > 1 else targets
        for t in targets:
            self.ctx.shapes.assign(t, None)
            self.tangent_shapes.pop(t, None)
        for t in with_tangent:
            self.tangent_shapes[t] = self.ctx.shapes(t)
        lhs = tuple_target(targets + [self.dot(t) for t in with_tangent])
        return [ast.Assign([lhs], ast.Call(name(fname), args + tangent_args, []))]  # type: ignore[list-item]

    def unpack(self, stmt: ast.Assign) -> list[ast.stmt]:
        source = stmt.value.id  # type: ignore[attr-defined]
        targets = [e.id for e in stmt.targets[0].elts]  # type: ignore[attr-defined]
        graph = self.ctx.graph()
        var = graph.var(source, self.ctx.shapes(source))
        t = exact(graph, graph.var(self.dots[source], self.tangent_shapes[source]), var)
        for target in targets:
            self.ctx.shapes.assign(target, None)
            self.tangent_shapes[target] = self.ctx.shapes(target)
        tangents = ast.Assign([tuple_target([self.dot(x) for x in targets])], self.ctx.printer.expr(t, {}))  # type: ignore[arg-type]
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
                t = exact(graph, graph.var(self.dots[out.id], self.tangent_shapes[out.id]), out_node)
            else:
                t = graph.call("rt.zeros_like", out_node)
            tangents.append(self.ctx.printer.expr(t, {}))  # type: ignore[arg-type]
        values = [self.ctx.respell(o) for o in outputs] + tangents
        return ast.Return(ast.Tuple(values, ast.Load()))  # type: ignore[arg-type]


def emit_forward(ctx: FunctionContext, fname: str, tangent_params: list[str], entry: bool) -> ast.FunctionDef:
    """The tangent function of ``ctx.fn`` for its activity."""
    return ForwardEmitter(ctx, fname, tangent_params, entry).run()
