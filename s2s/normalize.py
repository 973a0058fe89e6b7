"""Normal form: one operation per statement, elementwise expressions kept whole.

Entry point: ``normalize(fn: FunctionSource) -> ast.FunctionDef``.

Output contract (``verify_normal_form`` checks it). The body is a block;
a block is a list of statements, each one of

    name = <rhs>
    a, b = <call of a user function> | <name>         (unpacking)
    name[<index>] = <atom>                            (an in-place update)
    if <atom>: <block> else: <block>
    for name in range(<atoms>): <block>
    while <test>: <block>
    break                      only as the last statement of a loop's body
    <call> / assert ... / pass kept for their effects, never differentiated

and the function ends with its only ``return <atom>`` or ``return <atom>, ...``.

- An *atom* is a name, a constant or a numpy/math constant (``np.pi``).
- A ``<rhs>`` is an elementwise expression tree over atoms (the fusion
  unit); a reduction of such a tree (``np.sum(d * d0)``); one other operation
  whose array arguments are atoms (``a @ b``, ``x[i]``, ``np.dot(a, b)``); a
  call to a user function over atoms.
- A ``while`` test is an elementwise expression over atoms, or ``True``.
- Loops over arrays, ``enumerate`` and ``zip`` become loops over indices;
  ``continue``, early ``break`` and early ``return`` become flags and guards
  (see ``structure``); a conditional expression becomes an ``if``.
- Every call carries an ``op`` annotation (its rule key: ``"np.exp"``,
  ``"method.astype"``, ``"builtins.len"``) or a ``callee`` annotation (a
  ``FunctionSource``), or is an ``opaque`` call kept as written. Array methods
  with a numpy twin are rewritten to it (``a.sum(0)`` -> ``np.sum(a, 0)``).
- Every statement carries an ``origin`` annotation: the user's statement.

Example::

    def rs(d, xs):                      def rs(d, xs):
        d0 = f(xs)                          d0 = f(xs)
        return d - np.sum(d * d0) \\   ->    sum1 = np.sum(d * d0)
            / np.sum(d0 * d0) * d0          sum2 = np.sum(d0 * d0)
                                            out = d - sum1 / sum2 * d0
                                            return out
"""

from __future__ import annotations

import ast
import copy
from typing import Callable

from .aliasing import check_updates
from .anno import get_anno, set_anno
from .fence import fence
from .frontend import BuiltinRef, FunctionSource
from .lower import ExpressionLowering
from .structure import structure


class Normalizer(ExpressionLowering):
    def __init__(self, fn: FunctionSource) -> None:
        super().__init__(fn)
        self.body: list[ast.stmt] = []
        self.origin: ast.stmt | None = None
        self.lists: set[str] = set()  # variables holding lists built with append

    def run(self) -> ast.FunctionDef:
        body = self.block(self.fn.tree.body)
        tree = copy.copy(self.fn.tree)
        tree.body = structure(body, self.names, self.fn)
        tree.decorator_list = []
        set_anno(tree, "lists", frozenset(self.lists))
        return tree

    # blocks ---------------------------------------------------------------

    def emit(self, stmt: ast.stmt) -> None:
        set_anno(stmt, "origin", self.origin)
        ast.copy_location(stmt, self.origin)  # type: ignore[arg-type]
        self.body.append(stmt)

    def block(self, stmts: list[ast.stmt], origin: ast.stmt | None = None) -> list[ast.stmt]:
        """Normalize a block; ``origin`` stands for statements s2s wrote
        (the element reads of a lowered ``for``)."""
        return self.collect(lambda: [self.statement(s, origin) for s in stmts])

    def collect(self, produce: Callable[[], object]) -> list[ast.stmt]:
        """The statements ``produce`` emits, in a block of their own."""
        saved_body, saved_origin = self.body, self.origin
        self.body = []
        try:
            produce()
            return self.body
        finally:
            self.body, self.origin = saved_body, saved_origin

    # statements -------------------------------------------------------------

    def statement(self, stmt: ast.stmt, origin: ast.stmt | None = None) -> None:
        self.origin = origin or stmt
        handler = getattr(self, f"stmt_{type(stmt).__name__}", None)
        if handler is None:  # pragma: no cover - the fence rejects everything else
            raise self.fn.error(stmt, f"unsupported statement {type(stmt).__name__}")
        handler(stmt)

    def stmt_Expr(self, stmt: ast.Expr) -> None:
        call = stmt.value
        if isinstance(call, ast.Call) and self.is_append(call):
            self.append(call.func.value.id, call.args[0])  # type: ignore[attr-defined]
        elif isinstance(call, ast.Call) and self.is_pop(call):  # an element dropped
            dropped = self.names.numbered("item")
            self.temps.add(dropped)
            self.pop([ast.Name(dropped, ast.Store())], call.func.value.id)  # type: ignore[attr-defined]
        elif isinstance(call, ast.Call):
            self.check_names(call)
            self.emit(ast.Expr(self.keep(call)))
        # a docstring or another bare expression has no effect

    def is_append(self, call: ast.Call) -> bool:
        """``items.append(value)`` on a local list."""
        return self.is_list_method(call, "append") and len(call.args) == 1

    def is_pop(self, e: ast.expr) -> bool:
        """``items.pop()`` (the last element) on a local list."""
        return isinstance(e, ast.Call) and self.is_list_method(e, "pop") and not e.args

    def is_list_method(self, call: ast.Call, method: str) -> bool:
        func = call.func
        return (
            isinstance(func, ast.Attribute)
            and func.attr == method
            and isinstance(func.value, ast.Name)
            and func.value.id in self.scope.locals | self.temps  # type: ignore[attr-defined]
            and not call.keywords
        )

    def append(self, items: str, value: ast.expr) -> None:
        call = ast.Call(ast.Attribute(ast.Name(items, ast.Load()), "append", ast.Load()), [self.atom(value)], [])
        set_anno(call, "op", "method.append")
        stmt = ast.Expr(call)
        set_anno(stmt, "append", items)
        self.lists.add(items)
        self.emit(stmt)

    def pop(self, targets: list[ast.expr], items: str) -> None:
        """``v = items.pop()``: a statement of its own, so that a tangent list
        can be popped alongside; several targets unpack a temporary."""
        call = ast.Call(ast.Attribute(ast.Name(items, ast.Load()), "pop", ast.Load()), [], [])
        set_anno(call, "op", "method.pop")
        single = targets[0] if len(targets) == 1 and isinstance(targets[0], ast.Name) else None
        popped = single.id if single is not None else self.names.numbered("item")
        stmt = ast.Assign([ast.Name(popped, ast.Store())], call)
        set_anno(stmt, "pop", items)
        self.emit(stmt)
        if single is None:
            self.temps.add(popped)
            for target in targets:
                self.unpack_into(target, ast.Name(popped, ast.Load()))

    def rhs_comprehension(self, e: ast.ListComp | ast.GeneratorExp, into: str | None = None) -> ast.expr:
        """``[f(v) for v in xs if c(v)]`` as a loop that appends to a new list
        (named ``into`` when given); the comprehension's variables get names
        of their own, as Python scopes them to the comprehension."""
        if any(g.is_async for g in e.generators):
            raise self.fn.error(e, "an asynchronous comprehension", "use a plain loop")
        items = into or self.names.numbered("items")
        self.temps.add(items)
        self.emit(ast.Assign([ast.Name(items, ast.Store())], ast.List([], ast.Load())))
        self.lists.add(items)
        renames: dict[str, str] = {}
        for generator in e.generators:
            for node in ast.walk(generator.target):
                if isinstance(node, ast.Name):
                    renames[node.id] = self.names.numbered(node.id)
                    self.temps.add(renames[node.id])
        rename = _Renamer(renames)
        append = ast.Expr(ast.Call(ast.Attribute(ast.Name(items, ast.Load()), "append", ast.Load()), [rename.visit(copy.deepcopy(e.elt))], []))
        inner: list[ast.stmt] = [append]
        for generator in reversed(e.generators):
            for condition in reversed(generator.ifs):
                inner = [ast.If(rename.visit(copy.deepcopy(condition)), inner, [])]
            target = rename.visit(copy.deepcopy(generator.target))
            outer_renames = {k: v for k, v in renames.items() if k not in _names(generator.target)}
            iterable = _Renamer(outer_renames).visit(copy.deepcopy(generator.iter)) if generator is not e.generators[0] else generator.iter
            inner = [ast.For(target, iterable, inner, [])]
        origin = self.origin
        for stmt in inner:
            ast.copy_location(stmt, origin)  # type: ignore[arg-type]
            for node in ast.walk(stmt):
                if isinstance(node, ast.stmt):
                    ast.copy_location(node, origin)  # type: ignore[arg-type]
            self.statement(stmt, origin)
        self.origin = origin
        return ast.Name(items, ast.Load())

    def stmt_Pass(self, stmt: ast.Pass) -> None:
        pass

    def placeholder(self) -> ast.Pass:
        """``pass`` for a block left empty (the user's was only ``pass``)."""
        stmt = ast.Pass()
        set_anno(stmt, "origin", self.origin)
        return ast.copy_location(stmt, self.origin)  # type: ignore[arg-type]

    def stmt_Break(self, stmt: ast.Break) -> None:
        self.emit(ast.Break())

    def stmt_Continue(self, stmt: ast.Continue) -> None:
        self.emit(ast.Continue())

    def stmt_Assert(self, stmt: ast.Assert) -> None:
        self.check_names(stmt)
        self.emit(copy.deepcopy(stmt))

    def stmt_AnnAssign(self, stmt: ast.AnnAssign) -> None:
        self.stmt_Assign(ast.copy_location(ast.Assign([stmt.target], stmt.value), stmt))  # type: ignore[arg-type]

    def stmt_Assign(self, stmt: ast.Assign) -> None:
        targets = stmt.targets
        if len(targets) == 1 and isinstance(targets[0], ast.Subscript):
            self.update(targets[0], stmt.value)
            return
        if self.is_pop(stmt.value) and not any(isinstance(t, ast.Subscript) for t in targets):
            self.pop(targets, stmt.value.func.value.id)  # type: ignore[attr-defined]
            return
        assigned = {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        if len(targets) == 1 and isinstance(targets[0], ast.Name):
            target = targets[0].id
            value = stmt.value
            if isinstance(value, ast.ListComp) and target not in _names(value):
                self.rhs_comprehension(value, into=target)  # build the list under its own name
                return
            self.emit(ast.Assign([ast.Name(target, ast.Store())], self.rhs(value)))
            return
        if isinstance(stmt.value, (ast.Tuple, ast.List)):
            # evaluate every element before assigning any: a, b = b, a + b
            values = [self.copy_if_assigned(self.atom(e), assigned) for e in stmt.value.elts]
        else:
            value = self.rhs(stmt.value)
            if len(targets) > 1 or not (get_anno(value, "callee") or isinstance(value, ast.Name)):
                value = self.hoist_value(value, self.temp_base(stmt.value))
            values = None
        for target in targets:
            if isinstance(target, ast.Subscript):
                self.update(target, value if values is None else ast.Tuple(copy.deepcopy(values), ast.Load()))
            elif values is None:
                self.unpack_into(target, value)
            elif isinstance(target, ast.Name):
                self.emit(ast.Assign([ast.Name(target.id, ast.Store())], ast.Tuple(copy.deepcopy(values), ast.Load())))
            elif len(target.elts) != len(values):  # type: ignore[attr-defined]
                raise self.fn.error(target, f"cannot unpack {len(values)} values into {len(target.elts)} names")  # type: ignore[attr-defined]
            else:
                for name, v in zip(target.elts, values, strict=True):  # type: ignore[attr-defined]
                    self.emit(ast.Assign([ast.Name(name.id, ast.Store())], copy.deepcopy(v)))

    def unpack_into(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.emit(ast.Assign([ast.Name(target.id, ast.Store())], copy.deepcopy(value)))
            return
        names = [ast.Name(e.id, ast.Store()) for e in target.elts]  # type: ignore[attr-defined]
        self.emit(ast.Assign([ast.Tuple(names, ast.Store())], copy.deepcopy(value)))

    def copy_if_assigned(self, value: ast.expr, assigned: set[str]) -> ast.expr:
        if isinstance(value, ast.Name) and value.id in assigned:
            return self.hoist_value(value, value.id)
        return value

    def update(self, target: ast.Subscript, value: ast.expr) -> None:
        """``y[index] = value``: an in-place update of ``y``'s elements."""
        if not isinstance(target.value, ast.Name):
            raise self.fn.error(
                target, "an assignment into an element of an element", "index the array once, as in y[i, j] = value"
            )
        self.check_name(target.value)
        index = self.index(target.slice)
        stmt = ast.Assign([ast.Subscript(ast.Name(target.value.id, ast.Load()), index, ast.Store())], self.atom(value))
        self.emit(stmt)

    def stmt_AugAssign(self, stmt: ast.AugAssign) -> None:
        """``y op= e`` as ``y = y op e`` (an owned array or a number: the same
        thing; ``aliasing`` refuses the rest), ``y[i] op= e`` as an update."""
        target = stmt.target
        if isinstance(target, ast.Name):
            value = ast.BinOp(ast.Name(target.id, ast.Load()), stmt.op, stmt.value)
            self.emit(ast.Assign([ast.Name(target.id, ast.Store())], self.rhs(ast.copy_location(value, stmt))))
            set_anno(self.body[-1], "augmented", True)
            return
        if isinstance(target, ast.Subscript):
            read = ast.Subscript(copy.deepcopy(target.value), copy.deepcopy(target.slice), ast.Load())
            self.update(target, ast.copy_location(ast.BinOp(read, stmt.op, stmt.value), stmt))
            return
        raise self.fn.error(target, "an augmented assignment to an attribute", "s2s differentiates functions without side effects")

    def stmt_Return(self, stmt: ast.Return) -> None:
        value = stmt.value
        if value is None:
            raise self.fn.error(stmt, f"a `return` without a value in {self.fn.name}", "return the value to differentiate")
        if isinstance(value, ast.Tuple):
            self.emit(ast.Return(ast.Tuple([self.atom(e, base="out") for e in value.elts], ast.Load())))
        elif self.classify(value) == "atom":
            self.emit(ast.Return(self.atom(value)))
        else:
            name = self.names.fresh("out")
            self.emit(ast.Assign([ast.Name(name, ast.Store())], self.rhs(value)))
            self.emit(ast.Return(ast.Name(name, ast.Load())))

    # control flow --------------------------------------------------------------

    def stmt_If(self, stmt: ast.If) -> None:
        test = self.condition(stmt.test)
        body, orelse = self.block(stmt.body), self.block(stmt.orelse)
        self.emit(ast.If(test, body or [self.placeholder()], orelse))

    def condition(self, e: ast.expr) -> ast.expr:
        """A branch condition as an atom (its value may have to be recorded)."""
        if isinstance(e, ast.Constant):
            return copy.deepcopy(e)
        if isinstance(e, ast.Name):
            self.check_name(e)
            return ast.Name(e.id, ast.Load())
        return self.hoist_value(self.rhs(e), "cond")

    def rhs_IfExp(self, e: ast.IfExp) -> ast.expr:
        """``a if c else b`` as an ``if`` statement that assigns a temporary."""
        test = self.condition(e.test)
        name = self.names.numbered("t")
        self.temps.add(name)
        body = self.collect(lambda: self.emit(ast.Assign([ast.Name(name, ast.Store())], self.rhs(e.body))))
        orelse = self.collect(lambda: self.emit(ast.Assign([ast.Name(name, ast.Store())], self.rhs(e.orelse))))
        self.emit(ast.If(test, body, orelse))
        return ast.Name(name, ast.Load())

    def stmt_While(self, stmt: ast.While) -> None:
        if stmt.orelse:
            raise self.fn.error(stmt, "a `while ... else`", "set a flag before `break` and test it after the loop")
        test_statements: list[ast.stmt] = []
        test = None

        def lower_test() -> None:
            nonlocal test
            test = self.rhs(stmt.test)

        test_statements = self.collect(lower_test)
        if not test_statements and self.classify(stmt.test) in ("atom", "elementwise"):
            self.emit(ast.While(test, self.block(stmt.body) or [self.placeholder()], []))  # type: ignore[arg-type]
            return
        # the test needs statements of its own: compute it at the top of each iteration
        cond = self.names.numbered("cond")
        self.temps.add(cond)
        body = test_statements + self.collect(lambda: self.emit(ast.Assign([ast.Name(cond, ast.Store())], test)))  # type: ignore[arg-type]
        leave = ast.copy_location(ast.Break(), stmt)
        set_anno(leave, "origin", stmt)
        body.append(ast.copy_location(ast.If(ast.Name(cond, ast.Load()), self.block(stmt.body) or [self.placeholder()], [leave]), stmt))
        set_anno(body[-1], "origin", stmt)
        self.emit(ast.While(ast.Constant(True), body, []))

    def stmt_For(self, stmt: ast.For) -> None:
        if stmt.orelse:
            raise self.fn.error(stmt, "a `for ... else`", "set a flag before `break` and test it after the loop")
        builtin = self.builtin_call(stmt.iter)
        if builtin == "range":
            if not isinstance(stmt.target, ast.Name):
                raise self.fn.error(stmt.target, "a `for` over range() with several loop variables", "loop over one index")
            self.loop(stmt.target.id, stmt.iter.args, [], stmt)  # type: ignore[attr-defined]
            return
        if builtin == "enumerate" and _pair(stmt.target) and self.builtin_call(stmt.iter.args[0]) == "zip":  # type: ignore[attr-defined]
            self.enumerate_zip(stmt)
            return
        if builtin == "enumerate" and _pair(stmt.target):
            index, element = stmt.target.elts  # type: ignore[attr-defined]
            args = stmt.iter.args  # type: ignore[attr-defined]
            sequence = self.atom(args[0])
            if len(args) > 1:  # enumerate(xs, start)
                k = self.loop_index()
                reads = [_assign(index, ast.BinOp(_load(k), ast.Add(), args[1])), _assign(element, _item(sequence, k))]
                self.loop(k, [_call("len", sequence)], reads, stmt)
            else:
                self.loop(index.id, [_call("len", sequence)], [_assign(element, _item(sequence, index.id))], stmt)
            return
        if builtin == "zip":
            sequences = [self.atom(a) for a in stmt.iter.args]  # type: ignore[attr-defined]
            targets = stmt.target.elts if isinstance(stmt.target, (ast.Tuple, ast.List)) else None
            if targets is None or len(targets) != len(sequences):
                raise self.fn.error(stmt.target, "a `for` over zip() whose variables do not match its sequences", "unpack one variable per sequence")
            k = self.loop_index()
            self.loop(k, [_shortest(sequences)], [_assign(t, _item(s, k)) for t, s in zip(targets, sequences)], stmt)
            return
        if builtin == "reversed":
            sequence = self.atom(stmt.iter.args[0])  # type: ignore[attr-defined]
            k = self.loop_index()
            last_first = ast.Subscript(copy.deepcopy(sequence), ast.BinOp(ast.Constant(-1), ast.Sub(), _load(k)), ast.Load())
            self.loop(k, [_call("len", sequence)], [_assign(stmt.target, last_first)], stmt)
            return
        sequence = self.atom(stmt.iter)
        k = self.loop_index()
        self.loop(k, [_call("len", sequence)], [_assign(stmt.target, _item(sequence, k))], stmt)

    def enumerate_zip(self, stmt: ast.For) -> None:
        """``for i, (a, b) in enumerate(zip(xs, ys[, start]))``: one index over the shortest sequence."""
        index, element = stmt.target.elts  # type: ignore[attr-defined]
        zipped, *start = stmt.iter.args  # type: ignore[attr-defined]
        sequences = [self.atom(a) for a in zipped.args]
        targets = element.elts if isinstance(element, (ast.Tuple, ast.List)) else None
        if targets is None or len(targets) != len(sequences):
            raise self.fn.error(element, "a `for` over enumerate(zip()) whose variables do not match its sequences", "unpack one variable per sequence")
        k = self.loop_index()
        position: ast.expr = ast.BinOp(_load(k), ast.Add(), start[0]) if start else _load(k)
        reads = [_assign(index, position)] + [_assign(t, _item(s, k)) for t, s in zip(targets, sequences)]
        self.loop(k, [_shortest(sequences)], reads, stmt)

    def loop(self, index: str, range_args: list[ast.expr], reads: list[ast.stmt], stmt: ast.For) -> None:
        """``for index in range(*range_args): reads; body``. The index stays
        the range's integer throughout the body (the reverse sweep recomputes
        it from the range): a body that assigns to it gets a copy to change."""
        if index in _stored_names(stmt.body):
            k = self.loop_index()
            reads = [ast.copy_location(_assign(ast.Name(index, ast.Store()), _load(k)), stmt), *reads]
            index = k
        args = [self.atom(a) for a in range_args]
        iterable = ast.Call(self.spelled("builtins.range"), args, [])
        set_anno(iterable, "op", "builtins.range")
        for read in reads:
            ast.copy_location(read, stmt)
        body = self.block(reads, origin=stmt) + self.block(stmt.body)
        self.emit(ast.For(ast.Name(index, ast.Store()), iterable, body or [self.placeholder()], []))

    def loop_index(self) -> str:
        name = self.names.numbered("k")
        self.temps.add(name)
        return name

    def builtin_call(self, e: ast.expr) -> str | None:
        """``"range"`` for a call of the builtin ``range`` (and likewise
        ``enumerate``, ``zip``, ``reversed``), else ``None``."""
        if not (isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and not e.keywords):
            return None
        ref = self.scope.resolve(e.func.id)
        return ref.name if isinstance(ref, BuiltinRef) and ref.name in ("range", "enumerate", "zip", "reversed") and len(e.args) >= 1 else None


class _Renamer(ast.NodeTransformer):
    def __init__(self, renames: dict[str, str]) -> None:
        self.renames = renames

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.renames:
            return ast.copy_location(ast.Name(self.renames[node.id], node.ctx), node)
        return node


def _names(target: ast.expr) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def _shortest(sequences: list[ast.expr]) -> ast.expr:
    """``len(a)``, or ``min(len(a), len(b), ...)``: how many items zip() gives."""
    lengths = [_call("len", s) for s in sequences]
    return _call("min", *lengths) if len(lengths) > 1 else lengths[0]


def _stored_names(stmts: list[ast.stmt]) -> set[str]:
    return {n.id for stmt in stmts for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def _pair(target: ast.expr) -> bool:
    return isinstance(target, (ast.Tuple, ast.List)) and len(target.elts) == 2 and isinstance(target.elts[0], ast.Name)


def _load(name: str) -> ast.Name:
    return ast.Name(name, ast.Load())


def _call(builtin: str, *args: ast.expr) -> ast.Call:
    return ast.Call(ast.Name(builtin, ast.Load()), list(args), [])


def _item(sequence: ast.expr, index: str) -> ast.Subscript:
    return ast.Subscript(copy.deepcopy(sequence), _load(index), ast.Load())


def _assign(target: ast.expr, value: ast.expr) -> ast.Assign:
    store = copy.deepcopy(target)
    for node in ast.walk(store):
        if isinstance(node, (ast.Name, ast.Tuple, ast.List)):
            node.ctx = ast.Store()
    return ast.Assign([store], value)


# --------------------------------------------------------------------------
# Entry point and contract


def normalize(fn: FunctionSource) -> ast.FunctionDef:
    """The function in normal form (see the module docstring)."""
    fence(fn)
    tree = Normalizer(fn).run()
    ast.fix_missing_locations(tree)
    verify_normal_form(tree)
    check_updates(tree, fn)
    return tree


def is_atom(e: ast.expr) -> bool:
    return isinstance(e, (ast.Name, ast.Constant)) or (isinstance(e, ast.Attribute) and get_anno(e, "op") is not None)


def verify_normal_form(tree: ast.FunctionDef) -> None:
    """Assert the output contract of ``normalize``."""
    body = tree.body
    assert body and isinstance(body[-1], ast.Return), "ends with return"
    returns = [n for n in ast.walk(tree) if isinstance(n, ast.Return)]
    assert returns == [body[-1]], "one return, last"
    value = body[-1].value
    elts = value.elts if isinstance(value, ast.Tuple) else [value]
    assert all(is_atom(e) for e in elts), f"return of non-atoms: {ast.unparse(body[-1])}"
    _verify_block(body[:-1], in_loop=False)


def _verify_block(stmts: list[ast.stmt], in_loop: bool) -> None:
    for i, stmt in enumerate(stmts):
        assert get_anno(stmt, "origin") is not None, f"statement without origin: {ast.unparse(stmt)}"
        if isinstance(stmt, ast.Assign):
            assert len(stmt.targets) == 1
            for node in ast.walk(stmt.value):
                if isinstance(node, ast.Call) and not get_anno(_outermost_opaque(stmt.value, node), "opaque"):
                    assert get_anno(node, "op") or get_anno(node, "callee"), f"unresolved call: {ast.unparse(node)}"
        elif isinstance(stmt, ast.If):
            assert is_atom(stmt.test), f"if on a non-atom: {ast.unparse(stmt.test)}"
            _verify_block(stmt.body, in_loop)
            _verify_block(stmt.orelse, in_loop)
        elif isinstance(stmt, (ast.For, ast.While)):
            _verify_block(stmt.body, in_loop=True)
        elif isinstance(stmt, ast.Break):
            assert in_loop, "break outside a loop"
        else:
            assert isinstance(stmt, (ast.Expr, ast.Assert, ast.Pass)), f"unexpected statement {ast.unparse(stmt)}"


def _outermost_opaque(root: ast.expr, node: ast.AST) -> ast.AST:
    """The outermost opaque expression enclosing ``node`` (or ``node``)."""
    for candidate in ast.walk(root):
        if get_anno(candidate, "opaque") and any(n is node for n in ast.walk(candidate)):
            return candidate
    return node


def dump(tree: ast.FunctionDef) -> str:
    """The normal form as source, for tests and debugging."""
    from .emit import unparse

    return unparse(tree)
