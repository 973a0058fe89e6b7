"""Reverse (adjoint) mode: a forward sweep, then a backward sweep.

Entry point: ``emit_reverse(ctx, forward_name, backward_name, adjoint_params,
entry) -> [forward, backward]``.

The forward sweep is the primal, with the subexpressions the backward sweep
reads bound to names; it returns the outputs and a tuple of those saved
values. The backward sweep takes the saved tuple and the outputs'
cotangents, and pulls them back statement by statement, in reverse::

    def f_forward(m):                       def f_backward(saved, out_bar):
        t1 = x - m                              m, t1, out = saved
        out = np.exp(-1.5 * t1 ** 2)            m_bar = unbroadcast(3.0 * out_bar * t1 * out, m)
        return out, (m, t1, out)                return m_bar

A variable assigned twice gets a new name for its second value (``y``,
``y2``), so that the backward sweep reads each value as it was when it was
used; nothing is copied. A call to a user function runs that function's own
forward sweep and, in the backward sweep, its own backward sweep.
"""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field

from .activity import returned
from .anno import copy_annos, get_anno
from .codegen import FunctionContext, function_def, name, params_of, store, tuple_target
from .dag import NotDifferentiable, active_nodes, adjoints, build
from .expr import Graph, Node, schedule


@dataclass
class Plan:
    """What the backward sweep does for one active statement."""

    origin: ast.stmt | None
    kind: str  # "expr" | "call" | "unpack"
    target: list[str]  # versioned target names
    graph: Graph | None = None
    root: Node | None = None
    contributions: dict[Node, Node] = field(default_factory=dict)
    names: dict[Node, str] = field(default_factory=dict)  # primal nodes bound in the forward sweep
    call: object = None
    args: list[str] = field(default_factory=list)
    saved: str = ""
    source: str = ""


class _Rename(ast.NodeTransformer):
    def __init__(self, current: dict[str, str]) -> None:
        self.current = current

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if isinstance(node.ctx, ast.Load) and node.id in self.current:
            return copy_annos(node, ast.Name(self.current[node.id], ast.Load()))  # type: ignore[return-value]
        return node


class ReverseEmitter:
    def __init__(self, ctx: FunctionContext, forward_name: str, backward_name: str, adjoint_params: list[str], entry: bool) -> None:
        self.ctx = ctx
        self.act = ctx.activity
        self.forward_name = forward_name
        self.backward_name = backward_name
        self.adjoint_params = adjoint_params
        self.entry = entry
        self.params = params_of(ctx.tree)
        self.current: dict[str, str] = {p: p for p in self.params}  # variable -> name of its current value
        self.forward_locals: list[str] = list(self.params)
        self.plans: list[Plan] = []
        self.bars: dict[str, str] = {}
        self.initialized: set[str] = set()

    # names ---------------------------------------------------------------------

    def version(self, var: str) -> str:
        """The name for a new value of ``var``: itself the first time."""
        new = var if var not in self.current else self.ctx.names.fresh(var)
        self.current[var] = new
        self.forward_locals.append(new)
        return new

    def bar(self, var: str) -> str:
        return self.ctx.derived_name(var, "bar", self.bars)

    def renamed(self, expr: ast.expr) -> ast.expr:
        return _Rename(self.current).visit(copy.deepcopy(expr))

    # forward sweep ---------------------------------------------------------------

    def forward_sweep(self) -> tuple[list[ast.stmt], list[ast.expr]]:
        body: list[ast.stmt] = []
        outputs: list[ast.expr] = []
        for stmt in self.ctx.tree.body:
            origin = get_anno(stmt, "origin")
            try:
                if isinstance(stmt, ast.Return):
                    outputs = [self.renamed(o) for o in returned(self.ctx.tree)]
                    continue
                emitted = self.forward_statement(stmt, origin)
            except NotDifferentiable as exc:
                raise self.ctx.fn.error(origin, exc.message, exc.hint) from None
            body += self.ctx.comment(emitted, origin)
        return body, outputs

    def forward_statement(self, stmt: ast.stmt, origin) -> list[ast.stmt]:
        if isinstance(stmt, (ast.If, ast.For, ast.While)) or (isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Subscript)):
            construct = {ast.If: "branches", ast.For: "loops", ast.While: "loops"}.get(type(stmt), "in-place updates")
            raise NotDifferentiable(f"reverse mode does not support {construct} yet", "use mode='forward' for this function")
        if not isinstance(stmt, ast.Assign):
            return [self.ctx.respell(self.renamed(stmt))]  # type: ignore[arg-type,list-item]
        value = self.renamed(stmt.value)
        target = stmt.targets[0]
        targets = [target.id] if isinstance(target, ast.Name) else [e.id for e in target.elts]  # type: ignore[attr-defined]
        graph = self.ctx.graph()
        root = None
        if isinstance(target, ast.Name) and get_anno(stmt.value, "callee") is None:
            root = build(graph, value, self.ctx.shapes)
        if not self.act.is_active(stmt):
            versions = [self.version(t) for t in targets]
            for v in versions:
                self.ctx.shapes.assign(v, root.shape if root is not None else None)
            assign = ast.Assign([tuple_target(versions)], value)
            return [self.ctx.respell(assign)]  # type: ignore[list-item]
        if get_anno(stmt.value, "callee") is not None:
            return self.forward_call(stmt, value, targets, origin)
        if root is None:
            return self.forward_unpack(stmt, value, targets, origin)
        varied = self.act.varied_before(stmt)
        active_vars = {self.current.get(v, v) for v in varied if v in self.act.active_vars}
        active = active_nodes(graph, root, active_vars.__contains__)
        version = self.version(targets[0])
        self.ctx.shapes.assign(version, root.shape)
        seed = graph.var(self.bar(version), self.ctx.shapes(version))
        contributions = adjoints(graph, root, seed, active).contributions
        primal = {n for n in root.walk() if not n.is_leaf}
        needed = {n for c in contributions.values() for n in c.reached(primal)} - {root}
        emitted = schedule([(version, root)], self.ctx.printer, self.ctx.temp, force=needed)
        self.forward_locals += [n for node, n in emitted.names.items() if n != version]
        self.plans.append(Plan(origin, "expr", [version], graph, root, contributions, emitted.names))
        return emitted.statements

    def forward_call(self, stmt: ast.Assign, value: ast.Call, targets: list[str], origin) -> list[ast.stmt]:
        call = self.act.calls[id(stmt)]
        self.ctx.module.request(call, "forward")
        args = [a.id if isinstance(a, ast.Name) else "" for a in value.args]
        versions = [self.version(t) for t in targets]
        for v in versions:
            self.ctx.shapes.assign(v, None)
        saved = self.ctx.names.fresh(f"{versions[0]}_saved")
        self.forward_locals.append(saved)
        self.plans.append(Plan(origin, "call", versions, call=call, args=args, saved=saved))
        lhs = tuple_target(versions + [saved])
        call_expr = ast.Call(name(self.ctx.callee_name(call, "forward")), [self.ctx.respell(a) for a in value.args], [])  # type: ignore[misc]
        return [ast.Assign([lhs], call_expr)]

    def forward_unpack(self, stmt: ast.Assign, value: ast.expr, targets: list[str], origin) -> list[ast.stmt]:
        versions = [self.version(t) for t in targets]
        for v in versions:
            self.ctx.shapes.assign(v, None)
        self.plans.append(Plan(origin, "unpack", versions, source=value.id))  # type: ignore[attr-defined]
        return [ast.Assign([tuple_target(versions)], value)]

    # backward sweep ---------------------------------------------------------------

    def accumulate(self, graph: Graph, var: str, contribution: Node) -> tuple[str, Node]:
        """``var_bar = var_bar + c`` (or ``var_bar = c`` for the first)."""
        bar = self.bar(var)
        leaf = graph.var(var, self.ctx.shapes(var))
        fitted = fit(graph, contribution, leaf)
        if bar in self.initialized:
            return bar, graph.add(graph.var(bar, leaf.shape), fitted)  # type: ignore[return-value]
        self.initialized.add(bar)
        return bar, fitted

    def backward_statement(self, plan: Plan) -> list[ast.stmt]:
        if not any(self.bar(t) in self.initialized for t in plan.target):
            return []  # no cotangent reached these values: nothing to pull back
        if plan.kind == "call":
            return self.backward_call(plan)
        if plan.kind == "unpack":
            return self.backward_unpack(plan)
        graph = plan.graph
        roots = []
        for leaf, contribution in plan.contributions.items():
            roots.append(self.accumulate(graph, leaf.name, contribution))  # type: ignore[arg-type]
        names = dict(plan.names)
        names[plan.root] = plan.target[0]  # type: ignore[index]
        return schedule(roots, self.ctx.printer, self.ctx.temp, names=names).statements

    def backward_call(self, plan: Plan) -> list[ast.stmt]:
        """``a_bar, b_bar = f_backward(y_saved, y_bar)``: the callee's backward
        sweep, its results added to the adjoints of the arguments it was given."""
        call = plan.call
        self.ctx.module.request(call, "backward")  # type: ignore[arg-type]
        graph = self.ctx.graph()
        indices = sorted(call.active_outputs) if len(plan.target) > 1 else [0]  # type: ignore[attr-defined]
        out_bars = [self.bar_or_zeros(graph, plan.target[i]) for i in indices]
        params = params_of(self.ctx.module.program.normal_form(call.callee))  # type: ignore[attr-defined]
        receivers = [a for p, a in zip(params, plan.args, strict=True) if p in call.active_params]  # type: ignore[attr-defined]
        # the first adjoint of a variable passed once is bound directly; others are added
        direct = [self.bar(a) not in self.initialized and receivers.count(a) == 1 for a in receivers]
        results = [self.bar(a) if d else self.ctx.names.fresh(f"{a}_bar_part") for a, d in zip(receivers, direct)]
        backward = ast.Call(name(self.ctx.callee_name(call, "backward")), [name(plan.saved), *out_bars], [])  # type: ignore[arg-type]
        stmts: list[ast.stmt] = [ast.Assign([tuple_target(results)], backward)]
        for is_direct, result, a in zip(direct, results, receivers):
            if is_direct:
                self.initialized.add(result)
            else:
                bar, node = self.accumulate(graph, a, graph.var(result, self.ctx.shapes(a)))
                stmts += schedule([(bar, node)], self.ctx.printer, self.ctx.temp).statements
        return stmts

    def bar_or_zeros(self, graph: Graph, var: str) -> ast.expr:
        """The adjoint of ``var``, or zeros when no cotangent reached it."""
        bar = self.bar(var)
        if bar in self.initialized:
            return name(bar)
        return self.ctx.printer.expr(graph.call("rt.zeros_like", graph.var(var, None)), {})  # type: ignore[return-value]

    def backward_unpack(self, plan: Plan) -> list[ast.stmt]:
        graph = self.ctx.graph()
        bars = [graph.var(self.bar(t), None) if self.bar(t) in self.initialized else graph.const(None) for t in plan.target]
        source = graph.var(plan.source, self.ctx.shapes(plan.source))
        value = graph.call("rt.unpack_adjoint", source, graph.op("tuple", bars))
        bar, node = self.accumulate(graph, plan.source, value)
        return schedule([(bar, node)], self.ctx.printer, self.ctx.temp).statements

    def output_parameters(self, outputs: list[ast.expr]) -> tuple[list[str], list[ast.stmt]]:
        """The backward sweep's cotangent parameters, one per output."""
        wanted = range(len(outputs)) if self.entry else sorted(self.act.active_outputs)
        params: list[str] = []
        merges: list[ast.stmt] = []
        for i in wanted:
            out = outputs[i]
            if isinstance(out, ast.Name) and out.id in self.forward_locals:
                bar = self.bar(out.id)
                if bar in self.initialized:  # the same value returned twice
                    extra = self.ctx.names.fresh(bar)
                    params.append(extra)
                    merges.append(ast.Assign([store(bar)], ast.BinOp(name(bar), ast.Add(), name(extra))))
                else:
                    self.initialized.add(bar)
                    params.append(bar)
            else:
                params.append(self.ctx.names.fresh(f"out{i}_bar"))
        return params, merges

    def run(self) -> list[ast.FunctionDef]:
        forward_body, outputs = self.forward_sweep()
        self.ctx.commented.clear()  # the backward sweep quotes the user's lines again
        out_params, backward_body = self.output_parameters(outputs)
        for plan in reversed(self.plans):
            body = self.backward_statement(plan)
            backward_body += self.ctx.comment(body, plan.origin) if plan.origin is not None else body
        graph = self.ctx.graph()
        results = []
        for p in self.adjoint_params:
            bar = self.bar(p)
            if bar in self.initialized:
                results.append(name(bar))
            else:
                results.append(self.ctx.printer.expr(graph.call("rt.zeros_like", graph.var(p, None)), {}))
        backward_body.append(ast.Return(results[0] if len(results) == 1 else ast.Tuple(results, ast.Load())))
        saved = self.saved_names(backward_body)
        saved_param = self.ctx.names.fresh("saved")
        if saved:
            backward_body.insert(0, ast.Assign([ast.Tuple([store(s) for s in saved], ast.Store())], name(saved_param)))
        forward_body.append(ast.Return(ast.Tuple([self.ctx.respell(o) for o in outputs] + [tuple_value_always(saved)], ast.Load())))  # type: ignore[misc]
        forward = function_def(self.forward_name, self.params, forward_body)
        backward = function_def(self.backward_name, [saved_param] + out_params, backward_body)
        return [forward, backward]

    def saved_names(self, body: list[ast.stmt]) -> list[str]:
        """Forward-sweep values the backward sweep reads, in order of definition."""
        local = set(self.forward_locals)
        assigned = {n.id for s in body for n in ast.walk(s) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        read = {n.id for s in body for n in ast.walk(s) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
        needed = (read & local) - assigned
        return [n for n in dict.fromkeys(self.forward_locals) if n in needed]


def tuple_value_always(names: list[str]) -> ast.expr:
    return ast.Tuple([name(n) for n in names], ast.Load())


def fit(graph: Graph, contribution: Node, leaf: Node) -> Node:
    """A contribution brought to the shape of the variable it belongs to."""
    if contribution.shape is not None and contribution.shape == leaf.shape:
        return contribution
    if leaf.shape == frozenset():
        return graph.total(contribution)
    return graph.call("rt.unbroadcast", contribution, leaf)


def emit_reverse(ctx: FunctionContext, forward_name: str, backward_name: str, adjoint_params: list[str], entry: bool) -> list[ast.FunctionDef]:
    """The forward and backward sweeps of ``ctx.fn`` for its activity."""
    return ReverseEmitter(ctx, forward_name, backward_name, adjoint_params, entry).run()
