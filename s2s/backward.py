"""The backward sweep of reverse mode: the forward sweep's steps, in reverse.

Entry point: ``BackwardEmitter(reverse_emitter).steps(steps)``.

Each step pops what it pushed, then adds its contributions to the adjoints
of the values it read. An adjoint's first contribution is assigned, the
next ones added; which adjoints hold a value at each point is known when
the code is written, and where two paths meet (after a branch, around a
loop) the path that lacks one gets an explicit zero. A branch becomes the
same branch on the recorded condition; a loop becomes one loop over the
same iterations, reversed::

    for i in iterations1:                  for i in reversed(iterations1):
        item2 = y[i - 1]                        t1_bar = y_bar[i]
        t1 = alpha * item2 + item3              y_bar[i] = 0.0
        tape.append(item2)          ->          item2 = tape.pop()
        y[i] = t1                               alpha_bar = alpha_bar + item2 * t1_bar
                                                y_bar[i - 1] += alpha * t1_bar

Reads of array elements send their adjoints back in place
(``y_bar[i - 1] += ...``), so a loop over n elements does O(n) work, not
O(n^2).
"""

from __future__ import annotations

import ast
import copy
from typing import TYPE_CHECKING

from .codegen import name, params_of, store, tuple_target
from .directions import keeping_directions, vectorize
from .expr import Graph, Node, is_list_shape, schedule
from .plans import Append, Assignment, Branch, Call, Copy, Loop, Step, Unpack, Update
from .rules.structural import VIEWS

if TYPE_CHECKING:  # pragma: no cover
    from .reverse import ReverseEmitter


class BackwardEmitter:
    def __init__(self, reverse: "ReverseEmitter") -> None:
        self.rev = reverse
        self.ctx = reverse.ctx
        self.initialized: set[str] = set()  # adjoints holding a value here
        self.maybe: set[str] = set()  # ... or None on some paths (their variable existed only on others)
        self.owned: set[str] = set()  # adjoints this function made: safe to update in place
        self.loop_indices: set[str] = set()  # variables of the enclosing reversed loops: integers from a range
        # vector mode: adjoints carry a trailing axis of directions (one backward sweep for many cotangents)
        self.vector = self.ctx.module.vector
        self.directions = self.ctx.names.fresh("directions") if self.vector else ""
        self.adjoint_temps: set[str] = set()  # names other than x_bar that hold adjoints

    # adjoints -------------------------------------------------------------------------

    def bar(self, var: str) -> str:
        return self.rev.bar(var)

    def finish(self, graph: Graph, node: Node, primal: frozenset[Node] = frozenset()) -> Node:
        """An adjoint expression as this mode writes it: for one cotangent,
        or in vector mode for each of ``directions`` at once (``primal``:
        nodes that are values of the primal code)."""
        if not self.vector:
            return node
        adjoints = set(self.rev.bars.values()) | self.adjoint_temps
        return vectorize(graph, node, graph.var(self.directions, frozenset()), adjoints.__contains__, self.ctx.printer.function_ref, primal)

    def scheduled(self, graph: Graph, roots: list[tuple[str, Node]], names: dict[Node, str] | None = None) -> list[ast.stmt]:
        """Assignments computing ``roots`` (adjoint expressions)."""
        primal = frozenset(names) if names else frozenset()
        finished = [(target, self.finish(graph, node, primal)) for target, node in roots]
        return schedule(finished, self.ctx.printer, self.ctx.temp, names=names).statements

    def index(self, index: ast.expr) -> ast.expr:
        """An index of a primal array, for its adjoint."""
        return keeping_directions(_copy(index)) if self.vector else _copy(index)

    def var_of(self, bar: str) -> str:
        return next(v for v, b in self.rev.bars.items() if b == bar)

    def zero(self, var: str, exists: bool = False) -> ast.stmt:
        """``var_bar = zeros_like(var)`` (``0.0`` for a number); ``None`` for a
        value that may not exist at this point of the backward sweep (unless
        the caller knows it ``exists``: it is being read)."""
        if var in self.rev.conditional and not exists:
            bar = self.bar(var)
            self.initialized.add(bar)
            self.maybe.add(bar)
            self.owned.discard(bar)
            return ast.Assign([store(bar)], ast.Constant(None))
        graph = self.ctx.graph()
        leaf = graph.var(var, self.ctx.shapes(var))
        if self.ctx.shapes.is_list(var):
            value = graph.call("rt.zeros_like_list", leaf)
        else:
            value = graph.const(0.0) if leaf.shape == frozenset() else graph.call("rt.zeros_like", leaf)
        bar = self.bar(var)
        self.initialized.add(bar)
        self.maybe.discard(bar)
        if value.op != "const":
            self.owned.add(bar)
        return ast.Assign([store(bar)], self.ctx.printer.expr(self.finish(graph, value), {}))

    def accumulate(self, graph: Graph, var: str, contribution: Node) -> tuple[str, Node]:
        """``var_bar = var_bar + c`` (or ``var_bar = c`` for the first)."""
        bar = self.bar(var)
        if self.ctx.shapes.is_list(var):  # lists of adjoints add element by element
            contribution = list_fit(graph, contribution, graph.var(var, self.ctx.shapes(var)))
            summed = graph.call("rt.add_lists", graph.var(bar, self.ctx.shapes(var)), contribution)
        else:
            summed = graph.add(graph.var(bar, self.ctx.shapes(var)), contribution)
        if bar in self.maybe:  # None on some paths: the first contribution there
            current = graph.var(bar, self.ctx.shapes(var))
            value = graph.op("ifexp", (graph.op("is_", (current, graph.const(None))), contribution, summed))  # type: ignore[arg-type]
            self.maybe.discard(bar)
        elif bar in self.initialized:
            value = summed
        else:
            self.initialized.add(bar)
            value = contribution
        (self.owned.add if _fresh(value) else self.owned.discard)(bar)  # type: ignore[arg-type]
        return bar, value  # type: ignore[return-value]

    def own(self, var: str) -> list[ast.stmt]:
        """Make ``var_bar`` an array (or list) this function may update in
        place; ``var`` exists here (its element is being read or written)."""
        bar = self.bar(var)
        if bar not in self.initialized:
            return [self.zero(var, exists=True)]
        if bar in self.owned and bar not in self.maybe:
            return []
        graph = self.ctx.graph()
        current, leaf = graph.var(bar, None), graph.var(var, self.ctx.shapes(var))
        if self.ctx.shapes.is_list(var):
            value = graph.call("builtins.list", current)
            zero = graph.call("rt.zeros_like_list", leaf)
        else:
            value = graph.call("rt.owned_like", current, leaf)
            zero = graph.call("rt.zeros_like", leaf)
        if bar in self.maybe:  # None where no cotangent reached it yet
            value = graph.op("ifexp", (graph.op("is_", (current, graph.const(None))), zero, value))  # type: ignore[arg-type]
            self.maybe.discard(bar)
        self.owned.add(bar)
        return [ast.Assign([store(bar)], self.ctx.printer.expr(self.finish(graph, value), {}))]

    def guarded(self, seed: str, produce) -> list[ast.stmt]:
        """``produce()``'s adjoint code, under ``if seed is not None:`` when
        the seed may be None; adjoints first given a value inside are None
        on the other path."""
        if seed not in self.maybe:
            return produce()
        before, owned_before = set(self.initialized), set(self.owned)
        maybe_before = self.maybe - {seed}
        self.maybe.discard(seed)
        body = produce()
        newly = self.initialized - before
        orelse: list[ast.stmt] = [ast.Assign([store(b)], ast.Constant(None)) for b in sorted(newly)]
        # on the other path the seed is still None, and what was first given a value inside is too
        self.maybe = maybe_before | newly | ({seed} & self.initialized)
        self.owned &= owned_before  # made an array of its own inside: not on the other path
        test = ast.Compare(name(seed), [ast.IsNot()], [ast.Constant(None)])
        return [ast.If(test, body or [ast.Pass()], orelse)]

    def pops(self, step: Step) -> list[ast.stmt]:
        """``names = tape.pop()``: what ``step`` pushed, from its tape."""
        names = step.pushed
        if not names:
            return []
        pop = ast.Call(ast.Attribute(name(step.tape), "pop", ast.Load()), [], [])
        return [ast.Assign([tuple_target(names)], pop)]

    # steps ------------------------------------------------------------------------------

    def steps(self, steps: list[Step]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for step in reversed(steps):
            out += self.ctx.comment(self.step(step), step.origin)
        return out

    def step(self, step: Step) -> list[ast.stmt]:
        return getattr(self, f"step_{type(step).__name__}")(step)

    def step_Assignment(self, step: Assignment) -> list[ast.stmt]:
        out = self.pops(step)
        seed = self.bar(step.target)
        if seed not in self.initialized:
            return out  # no cotangent reached this value
        return out + self.guarded(seed, lambda: self.assignment_adjoint(step, seed))

    def assignment_adjoint(self, step: Assignment, seed: str) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        graph = step.graph
        names = dict(step.names)
        names[step.root] = step.target
        roots: list[tuple[str, Node]] = []
        in_place: list[tuple[str, Node, ast.expr]] = []
        for var, contribution in step.contributions.items():
            if contribution.op == "rt.getitem_adjoint":  # x[i] was read: add into x_bar[i]
                g, _, index = contribution.args
                if not g.is_leaf:
                    temp = self.ctx.temp()
                    self.adjoint_temps.add(temp)
                    roots.append((temp, g))
                    g = graph.var(temp, g.shape)
                in_place.append((var, g, index.args[0].attr.expr))  # type: ignore[union-attr]
            else:
                roots.append(self.accumulate(graph, var, contribution))
        self.initialized.discard(seed)
        out += self.scheduled(graph, roots, names)
        for var, g, index in in_place:
            out += self.add_into(graph, var, g, index)
        return out

    def add_into(self, graph: Graph, var: str, g: Node, index: ast.expr) -> list[ast.stmt]:
        """``x_bar[index] += g`` (``add_at`` when the index may repeat)."""
        out = self.own(var)
        bar = self.bar(var)
        value = self.ctx.printer.expr(self.finish(graph, g), {})
        index = self.index(index)
        if self.ctx.shapes.is_list(var):  # an element of a list of adjoints: rebound, never changed in place
            element = ast.Subscript(name(bar), index, ast.Load())
            out.append(ast.Assign([ast.Subscript(name(bar), _copy(index), ast.Store())], ast.BinOp(element, ast.Add(), value)))
        elif _basic(index, self.loop_indices):
            target = ast.Subscript(name(bar), index, ast.Store())
            out.append(ast.AugAssign(target, ast.Add(), value))
        else:
            graph = self.ctx.graph()
            where = graph.op("index", (graph.leaf(index),))
            call = ast.Call(self.ctx.printer.function_ref("rt.add_at"), [name(bar), self.ctx.printer.expr(where, {}), value], [])
            out.append(ast.Expr(call))
        return out

    def step_Append(self, step: Append) -> list[ast.stmt]:
        """``v_bar = items_bar.pop()``: appends are undone in reverse order."""
        bar = self.bar(step.items)
        if bar not in self.initialized:
            return []
        return self.guarded(bar, lambda: self.append_adjoint(step, bar))

    def append_adjoint(self, step: Append, bar: str) -> list[ast.stmt]:
        out = self.own(step.items)
        self.initialized.add(bar)
        self.maybe.discard(bar)
        pop = ast.Call(ast.Attribute(name(bar), "pop", ast.Load()), [], [])
        if step.value is None:
            return out + [ast.Expr(pop)]
        graph = self.ctx.graph()
        temp = self.ctx.names.fresh(f"{step.value}_bar_part")
        self.adjoint_temps.add(temp)
        out.append(ast.Assign([store(temp)], pop))
        root = self.accumulate(graph, step.value, graph.var(temp, self.ctx.shapes(step.value)))
        return out + self.scheduled(graph, [root])

    def step_Copy(self, step: Copy) -> list[ast.stmt]:
        seed = self.bar(step.target)
        if seed not in self.initialized:
            return []
        if seed in self.maybe and self.bar(step.source) not in self.initialized:
            self.initialized.discard(seed)  # hand the maybe-None adjoint on as it is
            self.maybe.discard(seed)
            self.initialized.add(self.bar(step.source))
            self.maybe.add(self.bar(step.source))
            return [ast.Assign([store(self.bar(step.source))], name(seed))]
        return self.guarded(seed, lambda: self.copy_adjoint(step, seed))

    def copy_adjoint(self, step: Copy, seed: str) -> list[ast.stmt]:
        graph = self.ctx.graph()
        contribution = graph.var(seed, self.ctx.shapes(step.source))  # a copy keeps the shape: nothing to fit
        self.initialized.discard(seed)
        root = self.accumulate(graph, step.source, contribution)
        return self.scheduled(graph, [root])

    def step_Update(self, step: Update) -> list[ast.stmt]:
        out = self.pops(step)
        bar = self.bar(step.array)
        index = step.index
        if bar in self.initialized:
            out += self.guarded(bar, lambda: self.update_adjoint(step, bar, index))
        if step.restore:
            restored = ast.Call(ast.Attribute(name(step.restore), "pop", ast.Load()), [], []) if step.in_loop else name(step.restore)
            out.append(ast.Assign([ast.Subscript(name(step.array), _copy(index), ast.Store())], restored))
        return out

    def update_adjoint(self, step: Update, bar: str, index: ast.expr) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        if step.value is not None:
            graph = self.ctx.graph()
            region = graph.op("getitem", (graph.var(bar, None), graph.leaf(index)))
            value_leaf = graph.var(step.value, self.ctx.shapes(step.value))
            contribution = fit(graph, region, value_leaf)
            if step.value_shape and contribution.op == "rt.unbroadcast":  # the value's shape was recorded, not the value
                contribution = graph.call("rt.sum_to_shape", region, graph.var(step.value_shape, None))
            if step.value == step.array:  # `y[1:] = y`: the region's adjoint goes to all of y as it was
                return self.self_update_adjoint(graph, step, bar, index, graph.call("rt.frozen", contribution))
            if self.bar(step.value) not in self.initialized:
                contribution = graph.call("rt.frozen", contribution)  # not a view of what is zeroed next
            out += self.scheduled(graph, [self.accumulate(graph, step.value, contribution)])
        out += self.own(step.array)
        out.append(ast.Assign([ast.Subscript(name(bar), self.index(index), ast.Store())], ast.Constant(0.0)))
        self.initialized.add(bar)  # the array lives on, its other elements' adjoints too
        return out

    def self_update_adjoint(self, graph: Graph, step: Update, bar: str, index: ast.expr, contribution: Node) -> list[ast.stmt]:
        """The adjoint of ``y[index] = y``: the region's adjoint is taken
        (a copy) before the region is zeroed, then added to all of ``y``."""
        taken = self.ctx.temp()
        self.adjoint_temps.add(taken)
        out: list[ast.stmt] = self.scheduled(graph, [(taken, contribution)])
        out += self.own(step.array)
        out.append(ast.Assign([ast.Subscript(name(bar), self.index(index), ast.Store())], ast.Constant(0.0)))
        graph = self.ctx.graph()
        out += self.scheduled(graph, [self.accumulate(graph, step.value, graph.var(taken, self.ctx.shapes(step.value)))])
        return out

    def step_Call(self, step: Call) -> list[ast.stmt]:
        """``a_bar, b_bar = f_backward(y_saved, y_bar)``: the callee's backward
        sweep, its results added to the adjoints of the arguments it was given."""
        out = self.pops(step)
        call = step.call
        indices = sorted(call.active_outputs) if len(step.targets) > 1 else [0]
        if not any(self.bar(step.targets[i]) in self.initialized for i in indices):
            return out
        seeds = [self.bar(step.targets[i]) for i in indices]
        if len(seeds) == 1:
            return out + self.guarded(seeds[0], lambda: self.call_adjoint(step, indices))
        if any(s in self.maybe for s in seeds):
            from .dag import NotDifferentiable

            raise NotDifferentiable(
                f"reverse mode cannot yet pull back through {call.callee.name}, which returns several values, where some of them exist on only one path",
                "use mode='forward', or return one value",
            )
        return out + self.call_adjoint(step, indices)

    def call_adjoint(self, step: Call, indices: list[int]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        call = step.call
        self.ctx.module.request(call, "backward")
        graph = self.ctx.graph()
        out_bars = [self.bar_or_zeros(graph, step.targets[i]) for i in indices]
        for i in indices:
            self.initialized.discard(self.bar(step.targets[i]))
        params = params_of(self.ctx.module.program.normal_form(call.callee))
        receivers = [a for p, a in zip(params, step.args, strict=True) if p in call.active_params]
        # the first adjoint of a variable passed once is bound directly; others are added
        direct = [self.bar(a) not in self.initialized and receivers.count(a) == 1 for a in receivers]
        results = [self.bar(a) if d else self.ctx.names.fresh(f"{a}_bar_part") for a, d in zip(receivers, direct)]
        self.adjoint_temps.update(results)
        extra = [name(self.directions)] if self.vector else []
        backward = ast.Call(name(self.ctx.callee_name(call, "backward")), [name(step.saved), *out_bars, *extra], [])
        out.append(ast.Assign([tuple_target(results)], backward))
        for is_direct, result, a in zip(direct, results, receivers):
            if is_direct:
                self.initialized.add(result)
                self.owned.discard(result)  # a callee may return what it was given
            else:
                bar, node = self.accumulate(graph, a, graph.var(result, self.ctx.shapes(a)))
                out += self.scheduled(graph, [(bar, node)])
        return out

    def bar_or_zeros(self, graph: Graph, var: str) -> ast.expr:
        """The adjoint of ``var``, or zeros when no cotangent reached it."""
        bar = self.bar(var)
        if bar in self.initialized:
            return name(bar)
        return self.ctx.printer.expr(self.finish(graph, graph.call("rt.zeros_like", graph.var(var, None))), {})  # type: ignore[return-value]

    def step_Unpack(self, step: Unpack) -> list[ast.stmt]:
        out = self.pops(step)
        if not any(self.bar(t) in self.initialized for t in step.targets):
            return out
        graph = self.ctx.graph()
        bars = [graph.var(self.bar(t), None) if self.bar(t) in self.initialized else graph.const(None) for t in step.targets]  # None: zeros
        for t in step.targets:
            self.initialized.discard(self.bar(t))
        source = graph.var(step.source, self.ctx.shapes(step.source))
        value = graph.call("rt.unpack_adjoint", source, graph.op("tuple", bars))
        return out + self.scheduled(graph, [self.accumulate(graph, step.source, value)])

    def step_Branch(self, step: Branch) -> list[ast.stmt]:
        out = self.pops(step)
        before = (set(self.initialized), set(self.owned), set(self.maybe))
        then = self.steps(step.then)
        after_then = (set(self.initialized), set(self.owned), set(self.maybe))
        self.initialized, self.owned, self.maybe = set(before[0]), set(before[1]), set(before[2])
        orelse = self.steps(step.orelse)
        local = {self.bar(n) for n in step.local}
        for missing, code, state in ((after_then[0] - self.initialized - local, orelse, None), (self.initialized - after_then[0] - local, then, after_then)):
            saved = (set(self.initialized), set(self.owned), set(self.maybe))
            for bar in sorted(missing):
                code.append(self.zero(self.var_of(bar)))
            made_maybe = self.maybe - saved[2]
            self.initialized, self.owned, self.maybe = saved
            if state is None:
                self.maybe |= made_maybe
            else:
                after_then = (after_then[0], after_then[1], after_then[2] | made_maybe)
        self.initialized = (self.initialized | after_then[0]) - local
        self.maybe = (self.maybe | after_then[2]) - local
        self.owned = self.owned & after_then[1]
        out.append(ast.If(self.ctx.respell(step.condition), then or [ast.Pass()], orelse))  # type: ignore[arg-type]
        return out

    def step_Loop(self, step: Loop) -> list[ast.stmt]:
        out = self.pops(step)
        local = {self.bar(n) for n in step.local}
        outer = {self.bar(v) for v in _receivers(step.body)} - local
        # adjoints that live from one reversed iteration to the next: of values
        # an iteration hands to the next, and of values made in the loop and
        # read after it (the last iteration's value; earlier ones start at zero)
        persistent = {self.bar(n) for n in step.carried} | ({self.bar(n) for n in step.canonical} & self.initialized)
        for bar in sorted((outer | persistent) - self.initialized):  # accumulated across iterations: start at zero
            out.append(self.zero(self.var_of(bar)))
        self.initialized -= local - persistent
        # an iteration that overwrites a carried value without reading it hands
        # on no cotangent: None, not zeros, whose shape would be the value's
        # after the loop rather than before the iteration
        canonical = {self.bar(n) for n in step.canonical}
        state = self.state()
        body = self.loop_body(step)
        entry_maybe, entry_owned = set(state[2]), set(state[1])
        while True:  # later iterations start where earlier ones end (None, or not owned): write the body for it
            handed_none = (persistent & canonical) - self.initialized
            maybe = (handed_none | ((outer | persistent) & self.maybe)) - entry_maybe
            shared = (entry_owned - self.owned) & (outer | persistent)
            if not maybe and not shared:
                break
            entry_maybe |= maybe
            entry_owned -= shared
            self.restore(state)
            self.maybe |= entry_maybe
            self.owned &= entry_owned
            body = self.loop_body(step)
        for bar in sorted((outer | persistent) - self.initialized):  # each iteration hands them on
            if bar in handed_none:
                body.append(ast.Assign([store(bar)], ast.Constant(None)))
                self.maybe.add(bar)
            else:
                body.append(self.zero(self.var_of(bar)))
        self.initialized = (self.initialized - local) | persistent | outer
        self.owned -= local - persistent
        # the loop may run no iteration: what held on entry may hold after it
        self.maybe |= entry_maybe & self.initialized
        self.owned &= entry_owned
        if step.index is not None:
            iterations: ast.expr = name(step.iterations)  # type: ignore[arg-type]
            if step.count is not None:
                iterations = ast.Subscript(iterations, ast.Slice(None, name(step.count), None), ast.Load())
            header = ast.For(store(step.index), ast.Call(name("reversed"), [iterations], []), body or [ast.Pass()], [])
        else:
            counter = self.ctx.names.fresh("_")
            header = ast.For(store(counter), ast.Call(name("range"), [name(step.count)], []), body or [ast.Pass()], [])  # type: ignore[arg-type]
        out.append(header)
        return out

    def loop_body(self, step: Loop) -> list[ast.stmt]:
        if step.index is not None:
            self.loop_indices.add(step.index)
        body = self.steps(step.body)
        self.loop_indices.discard(step.index)  # type: ignore[arg-type]
        return body

    def state(self) -> tuple:
        """What writing code changes, to write a block a second time."""
        ctx = self.ctx
        return (set(self.initialized), set(self.owned), set(self.maybe), set(ctx.names.taken), set(ctx.commented), dict(self.rev.bars))

    def restore(self, state: tuple) -> None:
        initialized, owned, maybe, taken, commented, bars = state
        self.initialized, self.owned, self.maybe = set(initialized), set(owned), set(maybe)
        self.ctx.names.taken, self.ctx.commented, self.rev.bars = set(taken), set(commented), dict(bars)

    # the ends of the sweep -------------------------------------------------------------------

    def output_parameters(self, outputs: list[ast.expr]) -> tuple[list[str], list[ast.stmt]]:
        """The backward sweep's cotangent parameters, one per output."""
        rev = self.rev
        wanted = range(len(outputs)) if rev.entry else sorted(rev.act.active_outputs)
        params: list[str] = []
        merges: list[ast.stmt] = []
        for i in wanted:
            out = outputs[i]
            if isinstance(out, ast.Name) and out.id in rev.forward_locals:
                bar = self.bar(out.id)
                if bar in self.initialized:  # the same value returned twice
                    extra = self.ctx.names.fresh(bar)
                    params.append(extra)
                    merges.append(ast.Assign([store(bar)], ast.BinOp(name(bar), ast.Add(), name(extra))))
                else:
                    self.initialized.add(bar)  # the caller's array: not ours to update in place
                    params.append(bar)
            else:
                params.append(self.ctx.names.fresh(f"out{i}_bar"))
        return params, merges

    def results(self, adjoint_params: list[str]) -> ast.Return:
        graph = self.ctx.graph()
        results: list[ast.expr] = []
        for p in adjoint_params:
            bar = self.bar(p)
            if bar in self.maybe:
                zeros = self.ctx.printer.expr(self.finish(graph, graph.call("rt.zeros_like", graph.var(p, None))), {})
                test = ast.Compare(name(bar), [ast.Is()], [ast.Constant(None)])
                results.append(ast.IfExp(test, zeros, name(bar)))  # type: ignore[arg-type]
            elif bar in self.initialized:
                results.append(name(bar))
            else:
                results.append(self.ctx.printer.expr(self.finish(graph, graph.call("rt.zeros_like", graph.var(p, None))), {}))  # type: ignore[arg-type]
        return ast.Return(results[0] if len(results) == 1 else ast.Tuple(results, ast.Load()))


def fit(graph: Graph, contribution: Node, leaf: Node) -> Node:
    """A contribution brought to the shape of the variable it belongs to."""
    if contribution.shape is not None and contribution.shape == leaf.shape:
        return contribution
    if is_list_shape(leaf.shape):
        return list_fit(graph, contribution, leaf)
    if contribution.op == "rt.getitem_adjoint":  # already the indexed array's shape
        return contribution
    if leaf.shape == frozenset():
        return graph.total(contribution)
    return graph.call("rt.unbroadcast", contribution, leaf)


def list_fit(graph: Graph, contribution: Node, leaf: Node) -> Node:
    """A contribution to a list variable's adjoint, as a list: an
    array-valued one (numpy read the list as an array) is split."""
    if contribution.shape == leaf.shape:
        return contribution
    return graph.call("rt.as_list_adjoint", contribution, leaf)


def _fresh(value: Node) -> bool:
    """Is this adjoint a new array (not another's, nor a view of one)?"""
    if value.is_leaf or value.op in VIEWS:
        return False
    return not value.op.startswith("rt.") or value.op in ("rt.zeros_like", "rt.owned_like")


def _receivers(steps: list[Step]) -> set[str]:
    """Variables whose adjoints these steps add to."""
    found: set[str] = set()
    for step in steps:
        if isinstance(step, Assignment):
            found |= set(step.contributions)
        elif isinstance(step, Copy):
            found.add(step.source)
        elif isinstance(step, Update):
            found |= {step.array} | ({step.value} if step.value else set())
        elif isinstance(step, Call):
            found |= {a for a in step.args if a}
        elif isinstance(step, Unpack):
            found.add(step.source)
        elif isinstance(step, Append):
            found |= {step.value} if step.value else set()
        elif isinstance(step, Branch):
            found |= _receivers(step.then) | _receivers(step.orelse)
        elif isinstance(step, Loop):
            found |= _receivers(step.body)
    return found


def _basic(index: ast.expr, loop_indices: set[str]) -> bool:
    """Is ``index`` a basic index (no arrays: it cannot repeat an element)?"""
    if isinstance(index, ast.Tuple):
        return all(_basic(e, loop_indices) for e in index.elts)
    if isinstance(index, ast.Slice):
        return True
    if isinstance(index, ast.Constant):
        return index.value is None or index.value is Ellipsis or isinstance(index.value, int)
    if isinstance(index, ast.Name):
        return index.id in loop_indices
    if isinstance(index, ast.BinOp):
        return _basic(index.left, loop_indices) and _basic(index.right, loop_indices)
    if isinstance(index, ast.UnaryOp):
        return _basic(index.operand, loop_indices)
    return False


def _copy(node: ast.expr) -> ast.expr:
    return copy.deepcopy(node)
