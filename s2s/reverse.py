"""Reverse (adjoint) mode: a forward sweep, then a backward sweep.

Entry point: ``emit_reverse(ctx, forward_name, backward_name, adjoint_params,
entry) -> [forward, backward]``.

The forward sweep is the primal, with the subexpressions the backward sweep
reads bound to names; it returns the outputs and a tuple of the values the
backward sweep reads. The backward sweep takes that tuple and the outputs'
cotangents and pulls them back statement by statement, in reverse::

    def f_forward(m):                       def f_backward(saved, out_bar):
        t1 = x - m                              m, t1, out = saved
        out = np.exp(-1.5 * t1 ** 2)            m_bar = unbroadcast(3.0 * out_bar * t1 * out, m)
        return out, (m, t1, out)                return m_bar

What the backward sweep reads must be what the forward sweep saw:

- A variable assigned again gets a new name (``y``, ``y2``), so no value is
  overwritten; where paths join, or an iteration ends, a copy gives the
  value its common name (``y4 = y2``).
- Inside a loop each statement pushes, onto a list used as a stack (the
  tape), the values its adjoint reads that change from one iteration to the
  next, and its adjoint pops them; a branch pushes its condition, an inner
  loop its trip count. Nothing else is recorded: a loop that only reads
  loop-invariant values stores nothing per iteration.
- An in-place update ``y[i] = v`` saves the elements it overwrites, and the
  backward sweep puts them back, when some adjoint reads ``y``.

Branches and loops keep their shape: a loop becomes one loop in the forward
sweep and one reversed loop in the backward sweep.
"""

from __future__ import annotations

import ast
import copy
import functools
import itertools
from typing import Callable

from .activity import returned
from .anno import copy_annos, get_anno, set_anno
from .backward import BackwardEmitter, _basic, fit
from .codegen import FunctionContext, function_def, name, params_of, store, tuple_target
from .dag import NotDifferentiable, active_nodes, adjoints, build
from .expr import SCALAR, Node, schedule
from .rules.structural import VIEWS
from .prune import without_dead_values
from .plans import Append, Assignment, Branch, Call, Copy, Loop, Step, Unpack, Update


class _Rename(ast.NodeTransformer):
    def __init__(self, current: dict[str, str]) -> None:
        self.current = current

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if isinstance(node.ctx, ast.Load) and node.id in self.current:
            return copy_annos(node, ast.Name(self.current[node.id], ast.Load()))  # type: ignore[return-value]
        return node


class ReverseEmitter:
    def __init__(self, ctx: FunctionContext, forward_name: str, backward_name: str, adjoint_params: list[str], entry: bool, gradient_name: str | None = None) -> None:
        self.ctx = ctx
        self.act = ctx.activity
        self.forward_name = forward_name
        self.backward_name = backward_name
        self.gradient_name = gradient_name
        self.adjoint_params = adjoint_params
        self.entry = entry
        self.params = params_of(ctx.tree)
        self.current: dict[str, str] = {p: p for p in self.params}  # variable -> name of its current value
        self.variables: dict[str, str] = {p: p for p in self.params}  # name of a value -> its variable
        self.forward_locals: list[str] = list(self.params)
        self.steps: list[Step] = []
        self.bars: dict[str, str] = {}
        self.scopes: list[set[str]] = []  # names that vary in each enclosing loop or branch, innermost last
        self.conditional: set[str] = set()  # names defined only on some paths (in a loop or a branch)
        self.indices: set[str] = set()  # variables of the enclosing loops over ranges: the backward sweep recomputes them
        self.positions = itertools.count()
        self.updated = _updated_arrays(ctx.tree)  # arrays changed in place somewhere
        self.checked_views = _checked_views(ctx.tree)  # ... and values read after, checked not to be views
        # one tape per place that pushes: each holds values of one kind (compiled
        # code needs lists of one type), and pops pair with pushes place by place
        self.tapes: list[str] = []
        self.saves: list[tuple[list[ast.stmt], ast.stmt, Update]] = []  # in-place saves to fill in at the end
        self.loop_stack: list[int] = []  # ids of the enclosing loops
        self.readers: list[Assignment] = []  # steps whose adjoints read primal values
        self.unpacks: list[Unpack] = []  # ... and those that read a value's shape
        # shapes recorded outside loops and branches: (placeholder, value, shape name),
        # and how to read the value itself instead, should the sweep save it anyway
        self.shape_saves: list[tuple[ast.stmt, str, str]] = []
        self.shape_readers: dict[str, list[Callable[[], None]]] = {}
        self.shape_names: dict[str, str] = {}  # value -> its shape recorded outside loops, while it holds

    # names -----------------------------------------------------------------------

    def version(self, var: str) -> str:
        """The name for a new value of ``var``: itself the first time."""
        new = var if var not in self.current else self.ctx.names.fresh(var)
        self.define(var, new)
        return new

    def record(self, step: Step) -> None:
        step.position = next(self.positions)
        step.loops = tuple(self.loop_stack)
        self.steps.append(step)
        if isinstance(step, Assignment):
            self.readers.append(step)

    def define(self, var: str, new: str) -> None:
        if self.ctx.shapes.is_list(var) and new != var:
            self.ctx.shapes.add_list(new)
        self.current[var] = new
        self.variables[new] = var
        self.forward_locals.append(new)
        for scope in self.scopes:  # a value made in a branch of a loop is local to the loop too
            scope.add(new)
        if self.scopes:
            self.conditional.add(new)

    def bar(self, var: str) -> str:
        return self.ctx.derived_name(var, "bar", self.bars)

    def renamed(self, expr: ast.AST) -> ast.AST:
        return _Rename(self.current).visit(copy.deepcopy(expr))

    def var_of(self, name_: str) -> str:
        return self.variables.get(name_, name_)

    def varies(self, name_: str) -> bool:
        """Must an adjoint get this value from the tape? When it changes from
        one iteration of an enclosing loop to the next, or exists only on
        some paths (then it cannot be saved at the end of the sweep)."""
        if name_ in self.indices:
            return False
        return name_ in self.conditional or any(name_ in defined for defined in self.scopes)

    def new_tape(self) -> str:
        tape = self.ctx.names.fresh("tape")
        self.tapes.append(tape)
        return tape

    def push(self, step: Step, names: list[str], shapes: dict[str, str] | None = None, references: set[str] = frozenset()) -> list[ast.stmt]:  # type: ignore[assignment]
        """``tape.append(x)`` (or a tuple) of the values in ``names`` that
        vary, then of the shapes in ``shapes`` (value -> name of its shape)
        inside loops and branches; outside them the shapes are kept as
        ``v_shape = shape_of(v)``, saved once at the end of the sweep. An
        array updated in place somewhere is recorded as a copy (``frozen``):
        the update must not change what the tape holds, unless only a
        reference is asked for (``references``)."""
        values = [n for n in dict.fromkeys(names) if self.varies(n)]
        out: list[ast.stmt] = []
        exprs: list[ast.expr] = [
            name(n) if n in references or self.var_of(n) not in self.updated else ast.Call(self.ctx.printer.function_ref("rt.frozen"), [name(n)], [])
            for n in values
        ]
        for value, shape in (shapes or {}).items():
            if self.scopes:
                exprs.append(ast.Call(self.ctx.printer.function_ref("rt.shape_of"), [name(value)], []))
            else:  # written at the end, unless the value itself is saved anyway
                self.define(shape, shape)
                self.shape_names[value] = shape
                placeholder = ast.Pass()
                self.shape_saves.append((placeholder, value, shape))
                out.append(placeholder)
        if exprs:
            step.tape = self.new_tape()
            pushed = exprs[0] if len(exprs) == 1 else ast.Tuple(exprs, ast.Load())
            out.append(ast.Expr(ast.Call(ast.Attribute(name(step.tape), "append", ast.Load()), [pushed], [])))
        return out

    # the forward sweep -------------------------------------------------------------

    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in stmts:
            origin = get_anno(stmt, "origin")
            try:
                emitted = self.statement(stmt, origin)
            except NotDifferentiable as exc:
                raise self.ctx.fn.error(origin, exc.message, exc.hint) from None
            out += self.ctx.comment(emitted, origin)
        return out

    def statement(self, stmt: ast.stmt, origin: ast.stmt | None) -> list[ast.stmt]:
        if isinstance(stmt, ast.If):
            return self.branch(stmt, origin)
        if isinstance(stmt, (ast.For, ast.While)):
            return self.loop(stmt, origin)
        if get_anno(stmt, "append") is not None:
            return self.append(stmt, origin)  # type: ignore[arg-type]
        if not isinstance(stmt, ast.Assign):
            return [self.ctx.respell(self.renamed(stmt))]  # type: ignore[list-item]
        target = stmt.targets[0]
        if isinstance(target, ast.Subscript):
            return self.update(stmt, origin)
        items = get_anno(stmt, "pop")
        if items is not None and items in self.act.varied_before(stmt):
            raise self.ctx.fn.error(
                origin,
                f"`{items}.pop()` on a list whose elements carry derivatives, in reverse mode",
                f"index the element instead (`{items}[-1]`), or use forward mode, which differentiates list.pop()",
            )
        if get_anno(stmt, "flag"):  # control flags: no versions (only branches read them, as recorded conditions)
            self.define(target.id, target.id)  # type: ignore[attr-defined]
            return [self.ctx.respell(self.renamed(stmt))]  # type: ignore[list-item]
        value = self.renamed(stmt.value)
        targets = [target.id] if isinstance(target, ast.Name) else [e.id for e in target.elts]  # type: ignore[attr-defined]
        callee = get_anno(stmt.value, "callee")
        if not self.act.is_active(stmt):
            return self.inactive(value, targets, callee is None and isinstance(target, ast.Name))
        if callee is not None:
            return self.call(stmt, value, targets, origin)  # type: ignore[arg-type]
        if isinstance(target, ast.Tuple):
            return self.unpack(value, targets, origin)
        return self.assignment(stmt, value, targets[0], origin)

    def inactive(self, value: ast.expr, targets: list[str], single: bool) -> list[ast.stmt]:
        root = build(self.ctx.graph(), value, self.ctx.shapes) if single else None
        versions = [self.version(t) for t in targets]
        for v in versions:
            self.ctx.shapes.assign(v, root.shape if root is not None else None)
        statement = self.ctx.respell(ast.Assign([tuple_target(versions)], value))
        if root is not None and _shares_memory_with(root) & self.updated and targets[0] not in self.checked_views:
            # an adjoint may read it (``y[1:] *= a`` reads y[1:] for a's adjoint): keep its values now
            statement.value = ast.Call(self.ctx.printer.function_ref("rt.frozen"), [statement.value], [])  # type: ignore[attr-defined]
        return [statement]  # type: ignore[list-item]

    def assignment(self, stmt: ast.Assign, value: ast.expr, target: str, origin) -> list[ast.stmt]:
        graph = self.ctx.graph()
        root = build(graph, value, self.ctx.shapes)
        varied = self.act.varied_before(stmt)
        active_names = {self.current.get(v, v) for v in varied if v in self.act.active_vars}
        active = active_nodes(graph, root, active_names.__contains__)
        version = self.version(target)
        self.ctx.shapes.assign(version, root.shape)
        seed = graph.var(self.bar(version), self.ctx.shapes(version))
        raw = adjoints(graph, root, seed, active, list_seed=self.ctx.shapes.is_list(target)).contributions
        contributions = {leaf.name: fit(graph, c, leaf) for leaf, c in raw.items()}
        primal = {n for n in root.walk() if not n.is_leaf}
        needed = {n for c in contributions.values() for n in c.reached(primal)} - {root}
        value = root
        if _shares_memory_with(root) & self.updated and target not in self.checked_views:
            value = graph.call("rt.frozen", root)  # a view of an array updated later: keep its values now
        emitted = schedule([(version, value)], self.ctx.printer, self.ctx.temp, force=needed)
        for node, bound in emitted.names.items():
            if bound != version:
                self.define(bound, bound)
        step = Assignment(origin, version, graph, root, contributions, emitted.names)
        shapes = self.read_shapes_only(step)
        values = [r for r in self.reads(step) if self.varies(r) and r not in shapes.values()]
        step.pushed = values + (list(shapes.values()) if self.scopes else [])
        self.record(step)
        return emitted.statements + self.push(step, values, shapes)

    def read_shapes_only(self, step: Assignment) -> dict[str, str]:
        """Values the adjoint reads only for their shape (to sum a
        contribution back to it): it reads a recorded shape instead, so that
        no array is kept alive for that (once per iteration in a loop, once
        per call in a callee that a loop calls). Parameters are alive anyway.
        Returns value -> shape name, for the shapes to record here."""
        shaped: dict[str, str] = {}
        graph = step.graph
        for var, contribution in list(step.contributions.items()):
            if contribution.op != "rt.unbroadcast":
                continue
            g, like = contribution.args
            if like.op != "var" or self.alive_anyway(like.name) or self.reads_value(step, like.name, skip=contribution):
                continue
            shape = shaped.get(like.name) or (None if self.scopes else self.shape_names.get(like.name))
            if shape is None:
                shape = shaped[like.name] = self.ctx.names.fresh(f"{like.name}_shape")
            step.contributions[var] = graph.call("rt.sum_to_shape", g, graph.var(shape, None))
            self.shape_readers.setdefault(shape, []).append(functools.partial(step.contributions.__setitem__, var, contribution))
        return shaped

    def alive_anyway(self, var: str) -> bool:
        """Is ``var`` kept alive by the caller whatever the sweep saves? The
        arguments of the differentiated function are; a callee's are not
        (a loop calling it would keep every iteration's argument)."""
        return self.entry and var in self.params

    def reads_value(self, step: Assignment, var: str, skip: Node) -> bool:
        """Does the adjoint read ``var``'s value (not only its shape in ``skip``)?"""
        names = dict(step.names)
        names[step.root] = step.target
        for contribution in step.contributions.values():
            nodes = contribution.args[:1] if contribution is skip else (contribution,)
            for node in nodes:
                for sub in node.walk(lambda n: n in names):
                    if (sub in names and names[sub] == var) or (sub.op == "var" and sub.name == var):
                        return True
        return False

    def reads(self, step: Assignment) -> list[str]:
        """The primal values an assignment's adjoint reads."""
        names = dict(step.names)
        names[step.root] = step.target
        bars = set(self.bars.values())
        found: list[str] = []
        for contribution in step.contributions.values():
            for node in contribution.walk(lambda n: n in names):
                if node in names:
                    found.append(names[node])
                elif node.op == "var" and node.name not in bars:
                    found.append(node.name)
                elif node.op == "ast":
                    found += sorted(node.attr.names)  # type: ignore[union-attr]
        return list(dict.fromkeys(found))

    def call(self, stmt: ast.Assign, value: ast.Call, targets: list[str], origin) -> list[ast.stmt]:
        call = self.act.calls[id(stmt)]
        self.ctx.module.request(call, "forward")
        args = [a.id if isinstance(a, ast.Name) else "" for a in value.args]
        versions = [self.version(t) for t in targets]
        for v in versions:
            self.ctx.shapes.assign(v, None)
        saved = self.ctx.names.fresh(f"{versions[0]}_saved")
        self.define(saved, saved)
        step = Call(origin, versions, call, args, saved)
        step.pushed = [saved] if self.varies(saved) else []
        self.record(step)
        lhs = tuple_target(versions + [saved])
        call_expr = ast.Call(name(self.ctx.callee_name(call, "forward")), [self.ctx.respell(a) for a in value.args], [])  # type: ignore[misc]
        return [ast.Assign([lhs], call_expr)] + self.push(step, step.pushed)

    def unpack(self, value: ast.expr, targets: list[str], origin) -> list[ast.stmt]:
        versions = [self.version(t) for t in targets]
        for v in versions:
            self.ctx.shapes.assign(v, None)
        source = value.id  # type: ignore[attr-defined]
        step = Unpack(origin, versions, source)
        self.unpacks.append(step)
        step.pushed = [source] if self.varies(source) else []
        self.record(step)
        return [ast.Assign([tuple_target(versions)], value)] + self.push(step, step.pushed)

    def append(self, stmt: ast.Expr, origin) -> list[ast.stmt]:
        """``items.append(v)``; its adjoint takes the element's adjoint back."""
        renamed: ast.Expr = self.renamed(stmt)  # type: ignore[assignment]
        items = renamed.value.func.value.id  # type: ignore[attr-defined]
        value = renamed.value.args[0]  # type: ignore[attr-defined]
        original = stmt.value.args[0]  # type: ignore[attr-defined]
        carries = self.act.is_active(stmt) and isinstance(original, ast.Name) and original.id in self.act.varied_before(stmt)
        self.record(Append(origin, items, value.id if carries else None))  # type: ignore[attr-defined]
        return [self.ctx.respell(renamed)]  # type: ignore[list-item]

    def update(self, stmt: ast.Assign, origin) -> list[ast.stmt]:
        """``y[i] = v``; before it, a place for saving the elements it
        overwrites (filled in at the end if an adjoint reads ``y``)."""
        target: ast.Subscript = stmt.targets[0]  # type: ignore[assignment]
        array = target.value.id  # type: ignore[attr-defined]
        index = self.renamed(target.slice)
        value = self.renamed(stmt.value)
        carries = self.act.is_active(stmt) and isinstance(value, ast.Name) and stmt.value.id in self.act.varied_before(stmt)  # type: ignore[attr-defined]
        step = Update(origin, array, index, value.id if carries else None, in_loop=bool(self.scopes))  # type: ignore[attr-defined]
        index_names = sorted({n.id for n in ast.walk(index) if isinstance(n, ast.Name)})
        values = [n for n in index_names if self.varies(n)]
        # an array made in the loop: its adjoint's shape comes from the tape, and
        # readers before the update recorded copies, so nothing is put back
        step.array_varies = self.varies(array)
        references = [array] if step.array_varies else []
        shapes: dict[str, str] = {}
        if carries and not self.alive_anyway(value.id):  # type: ignore[attr-defined]
            step.value_shape = shapes[value.id] = self.ctx.names.fresh(f"{value.id}_shape")  # type: ignore[attr-defined]
            self.shape_readers[step.value_shape] = [functools.partial(setattr, step, "value_shape", "")]
        step.pushed = list(dict.fromkeys(values + references)) + (list(shapes.values()) if self.scopes else [])
        self.record(step)
        placeholder: ast.stmt = ast.Pass()
        out = [placeholder, self.ctx.respell(ast.Assign([ast.Subscript(name(array), index, ast.Store())], value))]  # type: ignore[list-item]
        self.saves.append((out, placeholder, step))
        if not _basic(index, self.indices):  # numpy keeps one write per repeated element: the adjoint cannot tell which
            out.insert(0, ast.Expr(ast.Call(self.ctx.printer.function_ref("rt.check_distinct_index"), [copy.deepcopy(index)], [])))
        return out + self.push(step, values + references, shapes, references=set(references))

    def branch(self, stmt: ast.If, origin) -> list[ast.stmt]:
        if _is_loop_exit(stmt):  # `if stop: break` changes no value: no adjoint
            return [ast.If(self.renamed(stmt.test), [ast.Break()], [])]  # type: ignore[arg-type]
        condition = self.renamed(stmt.test)
        before = dict(self.current)
        then_stmts, then_steps, then_current = self.arm(stmt.body, before)
        else_stmts, else_steps, else_current = self.arm(stmt.orelse, before)
        self.current = dict(before)
        local = {n for n in (set(then_current.values()) | set(else_current.values())) if n not in before.values()}
        for var in sorted(set(then_current) | set(else_current)):
            a, b = then_current.get(var), else_current.get(var)
            if a == b or a is None or b is None:  # the same value, or defined on one path only
                self.current[var] = a or b  # type: ignore[assignment]
                continue
            joined = self.ctx.names.fresh(var)
            self.define(var, joined)
            local.add(joined)
            for value, stmts, steps in ((a, then_stmts, then_steps), (b, else_stmts, else_steps)):
                stmts.append(ast.Assign([store(joined)], name(value)))
                steps.append(Copy(origin, joined, value))
        step = Branch(origin, condition, then_steps, else_steps, local=local)  # type: ignore[arg-type]
        cond_names = [n.id for n in ast.walk(condition) if isinstance(n, ast.Name)]
        step.pushed = [n for n in cond_names if self.varies(n)]
        self.record(step)
        new = ast.If(self.ctx.respell(condition), then_stmts or [ast.Pass()], else_stmts)  # type: ignore[arg-type]
        return [new] + self.push(step, step.pushed)  # pushed after: the backward sweep pops it before the branch

    def arm(self, stmts: list[ast.stmt], before: dict[str, str]) -> tuple[list[ast.stmt], list[Step], dict[str, str]]:
        """One block of a branch, from the state ``before``."""
        self.current = dict(before)
        outer_steps, self.steps = self.steps, []
        self.scopes.append(set())
        out = self.block(stmts)
        self.scopes.pop()
        steps, self.steps = self.steps, outer_steps
        return out, steps, dict(self.current)

    def loop(self, stmt: ast.For | ast.While, origin) -> list[ast.stmt]:
        """The loop as it is, its loop-carried values copied back to their
        common names at the end of each iteration; its trip count recorded
        when it can end early, or is a while loop."""
        assigned = _assigned(stmt.body)
        before = self.fresh_entries(assigned, origin)
        entry = dict(self.current)
        carried = {v: entry.get(v, v) for v in assigned}
        index = iterations = count = None
        if isinstance(stmt, ast.For):
            index = stmt.target.id  # type: ignore[attr-defined]
            iterations = self.ctx.names.numbered("iterations")
            self.define(iterations, iterations)
            before.append(ast.Assign([store(iterations)], self.ctx.respell(self.renamed(stmt.iter))))  # type: ignore[arg-type]
            self.define(index, index)
            self.indices.add(index)
        if isinstance(stmt, ast.While) or _leaves_early(stmt):
            count = self.ctx.names.numbered("count")
            self.define(count, count)
            before.append(ast.Assign([store(count)], ast.Constant(0)))
        self.current = dict(entry)
        numbers = self.ctx.numbers_carried(stmt.body, set(carried), lambda v: self.ctx.shapes(entry[v]) if v in entry else None)
        for var, canonical in carried.items():  # values change from one iteration to the next
            if var in numbers:
                self.ctx.shapes.assign(canonical, SCALAR)
                continue
            self.ctx.shapes.forget(canonical)
            self.shape_names.pop(canonical, None)
            for scope in self.scopes:
                scope.add(canonical)
        self.scopes.append(set(carried.values()))
        self.loop_stack.append(next(self.positions))
        outer_steps, self.steps = self.steps, []
        body = self.block(stmt.body)
        self.loop_stack.pop()
        end = len(body) - 1 if stmt.body and _is_loop_exit(stmt.body[-1]) else len(body)
        copies: list[ast.stmt] = []
        copied: set[str] = set()
        for var in sorted(carried):
            last = self.current.get(var)
            if last is not None and last != carried[var]:
                copies.append(ast.Assign([store(carried[var])], name(last)))
                self.steps.append(Copy(origin, carried[var], last))
                copied.add(carried[var])
        body[end:end] = copies
        if count is not None:
            body.insert(0, ast.Assign([store(count)], ast.BinOp(name(count), ast.Add(), ast.Constant(1))))
        body_steps, self.steps = self.steps, outer_steps
        local = self.scopes.pop()
        self.current = dict(entry)
        for var, canonical in carried.items():
            self.define(var, canonical)
        if index is not None:  # after its loop, the last value of a loop variable exists only if the loop ran
            self.indices.discard(index)
            self.conditional.add(index)
        step = Loop(origin, body_steps, index, iterations, count, local=local, carried=copied, canonical=set(carried.values()))
        step.pushed = [n for n in (iterations, count) if n is not None and self.varies(n)]
        self.record(step)
        new = copy.copy(stmt)
        new.body = body or [ast.Pass()]
        if isinstance(stmt, ast.For):
            new.iter = name(iterations)  # type: ignore[arg-type]
        else:
            new.test = self.ctx.respell(self.renamed(stmt.test))  # type: ignore[assignment]
        return before + [new] + self.push(step, step.pushed)  # pushed after: popped before the reversed loop

    def fresh_entries(self, assigned: set[str], origin) -> list[ast.stmt]:
        """``u2 = u`` before a loop that carries ``u``, when an adjoint
        recorded earlier reads ``u``: the loop then changes ``u2``, and the
        value read stays the one saved at the end of the sweep."""
        read = _read_names_of_steps(self.readers) | {s.source for s in self.unpacks}
        out: list[ast.stmt] = []
        for var in sorted(assigned):
            entry = self.current.get(var)
            if entry is None or entry not in read:
                continue
            fresh = self.version(var)
            self.record(Copy(origin, fresh, entry))
            out.append(ast.Assign([store(fresh)], name(entry)))
        return out

    # the whole function -----------------------------------------------------------------

    def fill_saves(self, body: list[ast.stmt], read: set[str]) -> list[ast.stmt]:
        """Save the elements each in-place update overwrites, for the arrays
        an adjoint reads (in the place held for it before the update)."""
        replacements: dict[int, list[ast.stmt]] = {}
        for _, placeholder, step in self.saves:
            if step.array_varies or not self.read_before(step):
                replacements[id(placeholder)] = []
                continue
            region = ast.Subscript(name(step.array), copy.deepcopy(step.index), ast.Load())
            saved = ast.Call(self.ctx.printer.function_ref("rt.frozen"), [region], [])
            if step.in_loop:
                step.restore = self.new_tape()
                replacements[id(placeholder)] = [ast.Expr(ast.Call(ast.Attribute(name(step.restore), "append", ast.Load()), [saved], []))]
            else:
                step.restore = self.ctx.names.fresh(f"{step.array}_overwritten")
                self.forward_locals.append(step.restore)
                replacements[id(placeholder)] = [ast.Assign([store(step.restore)], saved)]
        return _replaced(body, replacements)

    def drop_kept_shapes(self, body: list[ast.stmt]) -> list[ast.stmt]:
        """Shapes recorded outside loops of values the sweep saves anyway
        (an adjoint reads their values): read the value's shape instead."""
        kept = set().union(*(_value_reads(r) for r in self.readers)) - self.conditional
        replacements: dict[int, list[ast.stmt]] = {}
        for placeholder, value, shape in self.shape_saves:
            if value in kept:
                replacements[id(placeholder)] = []
                for read_the_value in self.shape_readers[shape]:
                    read_the_value()
            else:
                shape_of = ast.Call(self.ctx.printer.function_ref("rt.shape_of"), [name(value)], [])
                replacements[id(placeholder)] = [ast.Assign([store(shape)], shape_of)]
        return _replaced(body, replacements)

    def read_before(self, update: Update) -> bool:
        """Does an adjoint read ``update.array``'s values at a point the
        forward sweep can reach before the update (earlier, or in a loop
        around both)? Only then must the overwritten elements be put back.

        An array made anew in the same loop body before the update
        (``lap = np.zeros(n)`` then ``lap[1:] = ...``) is another array in
        each iteration: only readers from that one (``y = np.exp(x)``
        reads its result ``y``) up to the update read what the update
        overwrites."""
        made = [s.position for s in self.readers if s.target == update.array and s.loops == update.loops and s.position < update.position]
        latest = max(made, default=None)
        for reader in self.readers:
            if update.array not in _value_reads(reader):
                continue
            if latest is not None:
                if latest <= reader.position < update.position:
                    return True
            elif reader.position < update.position or set(reader.loops) & set(update.loops):
                return True
        return False

    def run(self) -> list[ast.FunctionDef]:
        forward_body = self.block(self.ctx.tree.body[:-1])
        outputs = [self.renamed(o) for o in returned(self.ctx.tree)]
        forward_body = self.fill_saves(self.drop_kept_shapes(forward_body), set())
        self.ctx.commented.clear()  # the backward sweep quotes the user's lines again
        backward = BackwardEmitter(self)
        out_params, backward_body = backward.output_parameters(outputs)
        backward_body += backward.steps(self.steps)
        backward_body.append(backward.results(self.adjoint_params))
        forward_body[0:0] = [ast.Assign([store(tape)], ast.List([], ast.Load())) for tape in self.tapes]
        self.forward_locals += self.tapes
        fused = self.fused_gradient(forward_body, backward_body, outputs, out_params) if not backward.vector else []
        available = [n for n in dict.fromkeys(self.forward_locals) if n not in self.conditional]
        saved = [n for n in available if n in _read_names(backward_body)]
        saved_param = self.ctx.names.fresh("saved")
        # the backward sweep may run more than once on what one forward sweep saved:
        # it pops its own copy of the tape and restores elements into its own copies
        restored = sorted({s.array for _, _, s in self.saves if s.restore} & set(saved))
        private = [ast.Assign([store(tape)], ast.Call(name("list"), [name(tape)], [])) for tape in self.tapes if tape in saved]
        private += [ast.Assign([store(a)], ast.Call(self.ctx.printer.function_ref("np.copy"), [name(a)], [])) for a in restored]
        backward_body[0:0] = private
        if saved:
            backward_body.insert(0, ast.Assign([ast.Tuple([store(s) for s in saved], ast.Store())], name(saved_param)))
        forward_body.append(ast.Return(ast.Tuple([self.ctx.respell(o) for o in outputs] + [ast.Tuple([name(n) for n in saved], ast.Load())], ast.Load())))  # type: ignore[misc]
        forward = function_def(self.forward_name, self.params, forward_body)
        backward_fn = function_def(self.backward_name, [saved_param] + out_params + ([backward.directions] if backward.vector else []), backward_body)
        return [forward, backward_fn, *fused]

    def fused_gradient(self, forward_body: list[ast.stmt], backward_body: list[ast.stmt], outputs: list[ast.expr], out_params: list[str]) -> list[ast.FunctionDef]:
        """``f_gradient(*params, out_bar)``, for an entry with one scalar
        output: both sweeps in one function, as a person writes a gradient.
        Values pass as locals rather than a saved tuple, and what only the
        output needs (``out = np.sum(r ** 2)``) is not computed."""
        if self.gradient_name is None or len(outputs) != 1 or not _is_scalar(outputs[0], self.ctx):
            return []
        sweep = without_dead_values(copy.deepcopy(forward_body), _read_names(backward_body))
        pullback = copy.deepcopy(backward_body)
        quoted = [get_anno(s, "comment") for s in sweep if get_anno(s, "comment")]
        if quoted and get_anno(pullback[0], "comment") == quoted[-1]:  # the line just quoted
            set_anno(pullback[0], "comment", None)
        return [function_def(self.gradient_name, self.params + out_params, sweep + pullback)]


def _replaced(stmts: list[ast.stmt], replacements: dict[int, list[ast.stmt]]) -> list[ast.stmt]:
    """The block with the statements whose ids are keys replaced, at any depth."""
    out: list[ast.stmt] = []
    for stmt in stmts:
        if id(stmt) in replacements:
            out += replacements[id(stmt)]
            continue
        for field_name in ("body", "orelse"):
            if isinstance(getattr(stmt, field_name, None), list):
                setattr(stmt, field_name, _replaced(getattr(stmt, field_name), replacements) or ([] if field_name == "orelse" else [ast.Pass()]))
        out.append(stmt)
    return out


def _assigned(stmts: list[ast.stmt]) -> set[str]:
    """Variables given new values in these statements (not loop variables,
    not in-place updates, not control flags)."""
    found: set[str] = set()
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign) and not get_anno(node, "flag"):
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    found.add(target.id)
                elif isinstance(target, ast.Tuple):
                    found.update(e.id for e in target.elts)  # type: ignore[attr-defined]
    return found


def _updated_arrays(tree: ast.FunctionDef) -> set[str]:
    """Arrays the function updates in place (``y[i] = v``)."""
    return {
        n.targets[0].value.id  # type: ignore[attr-defined]
        for n in ast.walk(tree)
        if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Subscript) and isinstance(n.targets[0].value, ast.Name)
    }


def _checked_views(tree: ast.FunctionDef) -> set[str]:
    """Values read after an update of the array they come from, which the
    primal checks are not views of it when it runs: they are copies (or
    the check refuses), so freezing them would only cost a copy, and would
    hide a view from the check."""
    return {
        call.args[0].id  # type: ignore[attr-defined]
        for call in ast.walk(tree)
        if isinstance(call, ast.Call) and get_anno(call, "op") == "rt.check_not_stale"
    }


def _shares_memory_with(node: Node) -> set[str]:
    """Variables whose memory this value may share: a name itself, or the
    array a view (``x[1:]``, ``x.T``) is made of."""
    if node.op == "var":
        return {node.name}
    if node.op in VIEWS and node.args and node.args[0].op == "var":
        return {node.args[0].name}
    return set()


def _is_loop_exit(stmt: ast.stmt) -> bool:
    """``if stop: break``, the last statement of a loop that may be left early."""
    return isinstance(stmt, ast.If) and len(stmt.body) == 1 and isinstance(stmt.body[0], ast.Break)


def _leaves_early(stmt: ast.For | ast.While) -> bool:
    return bool(stmt.body) and _is_loop_exit(stmt.body[-1])


# arguments of operations that use only the shape of what they are given
SHAPE_ONLY = {"rt.getitem_adjoint": (1,), "rt.unbroadcast": (1,), "rt.broadcast_like": (1,), "rt.owned_like": (1,), "rt.zeros_like": (0,), "np.shape": (0,), "rt.shape_of": (0,), "rt.reduced_size": (0,)}


def _value_reads(step: Assignment) -> set[str]:
    """Variables whose values (not only shapes) an assignment's adjoint
    reads: a value the forward sweep bound to a name is read by that name."""
    named = dict(step.names)
    named[step.root] = step.target
    found: set[str] = set()
    stack = list(step.contributions.values())
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if node.uid in seen:
            continue
        seen.add(node.uid)
        if node in named:
            found.add(named[node])
            continue
        if node.op == "var":
            found.add(node.name)
        skip = SHAPE_ONLY.get(node.op, ())
        stack.extend(a for i, a in enumerate(node.args) if i not in skip)
    return found


def _is_scalar(output: ast.expr, ctx: FunctionContext) -> bool:
    return isinstance(output, ast.Constant) or (isinstance(output, ast.Name) and ctx.shapes(output.id) == frozenset())


def _read_names(stmts: list[ast.stmt]) -> set[str]:
    return {n.id for s in stmts for n in ast.walk(s) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _read_names_of_steps(steps: list[Step]) -> set[str]:
    """Names the adjoints of these steps read (whether or not a cotangent
    reached them in this emission): arrays restored in place are among them."""
    found: set[str] = set()
    for step in steps:
        if isinstance(step, Assignment):
            bound = dict(step.names)
            bound[step.root] = step.target  # y = np.exp(x) reads y, the value it made, for x's adjoint
            for c in step.contributions.values():
                for n in c.walk(bound.__contains__):
                    if n in bound:
                        found.add(bound[n])
                    elif n.op == "var":
                        found.add(n.name)
        elif isinstance(step, Branch):
            found |= _read_names_of_steps(step.then) | _read_names_of_steps(step.orelse)
        elif isinstance(step, Loop):
            found |= _read_names_of_steps(step.body)
    return found


def emit_reverse(
    ctx: FunctionContext, forward_name: str, backward_name: str, adjoint_params: list[str], entry: bool, gradient_name: str | None = None
) -> list[ast.FunctionDef]:
    """The forward and backward sweeps of ``ctx.fn`` for its activity, and
    with ``gradient_name`` (for an entry with a scalar output) both fused."""
    return ReverseEmitter(ctx, forward_name, backward_name, adjoint_params, entry, gradient_name).run()
