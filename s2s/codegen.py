"""What the forward and reverse emitters share: module-level names, the
shapes of variables, comments quoting the user's lines, and statements kept
as the user wrote them.

Naming scheme, fixed once: the tangent of ``x`` is ``x_dot``, its adjoint
``x_bar``; temporaries are ``t1, t2, ...``; values a callee's forward sweep
saves for its backward sweep are ``<target>_saved``. A name already used by
the user's code gets a number (``x_dot2``).
"""

from __future__ import annotations

import ast
import copy
import itertools
from dataclasses import dataclass, field
from typing import Callable

from .activity import Activity, CallActivity
from .anno import get_anno, set_anno
from .expr import SCALAR, Graph, Node, Printer, ShapeSet, list_shape
from .frontend import FunctionSource
from .names import NameAllocator
from .rules import shape_of
from . import runtime

HELPERS = tuple(runtime.__all__)


@dataclass
class ModuleContext:
    """Names bound at module level in one generated module, and the callee
    functions still to be written."""

    reserved: set[str]
    program: object  # s2s.program.Program
    numpy_names: tuple[str, str] = ("np", "math")  # preferred spellings, when free
    allocator: NameAllocator = field(init=False)
    np_name: str = field(init=False)
    math_name: str = field(init=False)
    helper_names: dict[str, str] = field(init=False)
    function_names: dict[tuple, str] = field(default_factory=dict)
    pending: list[tuple[CallActivity, str]] = field(default_factory=list)
    requested: set[tuple] = field(default_factory=set)
    used_helpers: set[str] = field(default_factory=set)
    uses_math: bool = False
    vector: bool = False  # forward mode with a trailing axis of directions on every tangent

    def __post_init__(self) -> None:
        np_name, math_name = self.numpy_names
        self.allocator = NameAllocator(self.reserved - {np_name, math_name})
        self.np_name = self.allocator.fresh(np_name)
        self.math_name = self.allocator.fresh(math_name)
        self.helper_names = {h: self.allocator.fresh(h) for h in HELPERS}

    def function_name(self, key: tuple, base: str) -> str:
        if key not in self.function_names:
            self.function_names[key] = self.allocator.fresh(base)
        return self.function_names[key]

    def request(self, call: CallActivity, role: str) -> None:
        """Queue the ``role`` function ("jvp", "forward", "backward") of a callee."""
        if (call.key, role) not in self.requested:
            self.requested.add((call.key, role))
            self.pending.append((call, role))

    def printer(self) -> "TrackingPrinter":
        return TrackingPrinter(self)


class TrackingPrinter(Printer):
    """A printer that records which modules and helpers the code uses."""

    def __init__(self, module: ModuleContext) -> None:
        super().__init__({"np": module.np_name, "math": module.math_name}, module.helper_names)
        self.module = module

    def function_ref(self, op: str) -> ast.expr:
        prefix, _, path = op.partition(".")
        if prefix == "rt":
            self.module.used_helpers.add(path)
        elif prefix == "math":
            self.module.uses_math = True
        return super().function_ref(op)


class ShapeEnv:
    """Shape sets of a function's variables, updated statement by statement.

    A parameter ``p`` has shape set ``{p}``, a global ``x`` ``{x}``; a value
    computed elementwise has the union of its operands'; anything else gets
    a fresh symbol of its own. Copies share the counter of fresh symbols, so
    that symbols stay unique across the paths of a branch.
    """

    def __init__(self, params: list[str], counter: itertools.count | None = None, lists: frozenset[str] = frozenset()) -> None:
        self.shapes: dict[str, ShapeSet] = {p: frozenset({p}) for p in params}
        self.counter = counter or itertools.count(1)
        self.lists = lists  # variables holding lists: their derivatives are lists too

    def __call__(self, name: str) -> ShapeSet:
        if self.is_list(name):
            return list_shape(name)
        shape = self.shapes.get(name)
        return frozenset({name}) if shape is None and name not in self.shapes else shape

    def is_list(self, name: str) -> bool:
        return name in self.lists

    def add_list(self, name: str) -> None:
        """A new name (a version) for a list."""
        self.lists = self.lists | {name}

    def assign(self, name: str, shape: ShapeSet) -> None:
        if shape is None:
            shape = frozenset({f"{name}#{next(self.counter)}"})
        self.shapes[name] = shape

    def forget(self, name: str) -> None:
        """No fact about ``name``'s shape holds any more (it is reassigned in a loop)."""
        self.assign(name, None)

    def copy(self) -> "ShapeEnv":
        env = ShapeEnv([], self.counter, self.lists)
        env.shapes = dict(self.shapes)
        return env

    def join(self, other: "ShapeEnv") -> "ShapeEnv":
        """Where two paths meet: a variable keeps its shape set if both agree."""
        env = self.copy()
        for name in set(self.shapes) | set(other.shapes):
            if self(name) != other(name):
                env.forget(name)
        return env


class FunctionContext:
    """One generated function being written."""

    def __init__(self, module: ModuleContext, fn: FunctionSource, activity: Activity, tree: ast.FunctionDef) -> None:
        self.module = module
        self.fn = fn
        self.activity = activity
        self.tree = tree
        self.printer = module.printer()
        reserved = set(module.allocator.taken)
        self.names = NameAllocator(reserved)
        self.shapes = ShapeEnv(params_of(tree), lists=get_anno(tree, "lists", frozenset()))
        self.origin: ast.stmt | None = None
        self.commented: set[int] = set()

    def graph(self) -> Graph:
        return Graph(shape_of)

    def derived_name(self, var: str, suffix: str, table: dict[str, str]) -> str:
        if var not in table:
            table[var] = self.names.fresh(f"{var}_{suffix}")
        return table[var]

    def temp(self) -> str:
        return self.names.numbered("t")

    def numbers_carried(self, body: list[ast.stmt], carried: set[str], entry_shape: Callable[[str], ShapeSet]) -> set[str]:
        """The variables a loop body assigns that stay numbers (``total =
        total + np.sum(r * r)``): numbers on entry (or without a value
        before the loop), and numbers in every assignment of the body when
        they are numbers at the top of the iteration, so, by induction,
        numbers throughout. ``entry_shape`` gives a variable's shape before
        the loop, ``None`` when it has no value there."""
        from .dag import build  # the DAG builder reads rules that import this module

        loop_targets = {n.id for stmt in body for f in ast.walk(stmt) if isinstance(f, ast.For) for n in ast.walk(f.target) if isinstance(n, ast.Name)}
        numbers = {v for v in carried - loop_targets if entry_shape(v) in (SCALAR, None)}
        assignments = [n for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.Assign)]
        while numbers:
            # the others may hold anything from one iteration to the next
            assumed = {v: SCALAR if v in numbers else frozenset({f"{v}#carried"}) for v in carried}
            lost: set[str] = set()
            for stmt in assignments:
                target = stmt.targets[0]
                if not isinstance(target, ast.Name):  # unpacking, an update: not known to be numbers
                    stored = {n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
                    if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
                        stored.add(target.value.id)
                    lost |= stored & numbers
                    continue
                try:
                    shape = build(self.graph(), stmt.value, lambda name: assumed[name] if name in assumed else entry_shape(name)).shape
                except Exception:  # noqa: BLE001 - what build cannot read has no known shape
                    shape = None
                if target.id in numbers and shape != SCALAR:
                    lost.add(target.id)
            if not lost:
                return numbers
            numbers -= lost
        return set()

    def comment(self, stmts: list[ast.stmt], origin: ast.stmt | None) -> list[ast.stmt]:
        """Attach ``# line N: <user's code>`` to the first statement of each
        user statement's block."""
        if stmts and origin is not None and id(origin) not in self.commented:
            self.commented.add(id(origin))
            set_anno(stmts[0], "comment", quote(self.fn, origin))
        return stmts

    def respell(self, node: ast.AST) -> ast.AST:
        """A normal-form statement or expression as generated code: numpy,
        math and builtin references spelled with this module's names."""
        return _Respell(self.printer).visit(copy.deepcopy(node))

    def callee_name(self, call: CallActivity, role: str) -> str:
        return self.module.function_name((call.key, role), f"{call.callee.name}_{role}")


class _Respell(ast.NodeTransformer):
    def __init__(self, printer: Printer) -> None:
        self.printer = printer

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        op = get_anno(node, "op")
        if op is not None and not op.startswith(("method.", "attr.")):
            node.func = self.printer.function_ref(op)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        op = get_anno(node, "op")
        if op is not None and not op.startswith("attr.") and isinstance(node.ctx, ast.Load):
            return self.printer.function_ref(op)  # np.pi
        self.generic_visit(node)
        return node


def params_of(tree: ast.FunctionDef) -> list[str]:
    a = tree.args
    return [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]


def quote(fn: FunctionSource, origin: ast.stmt) -> str:
    """``line 12: d0 = f(xs)``: the user's statement, on one line."""
    start, end = origin.lineno, getattr(origin, "end_lineno", origin.lineno) or origin.lineno
    lines = [fn.lines[i - 1] for i in range(start, end + 1) if 0 < i <= len(fn.lines)]
    text = " ".join(line.strip() for line in lines)
    if len(text) > 100:
        text = text[:97] + "..."
    return f"line {start}: {text}"


def function_def(name: str, params: list[str], body: list[ast.stmt], doc: str | None = None) -> ast.FunctionDef:
    args = ast.arguments(posonlyargs=[], args=[ast.arg(p) for p in params], kwonlyargs=[], kw_defaults=[], defaults=[])
    if doc:
        body = [ast.Expr(ast.Constant(doc)), *body]
    fdef = ast.FunctionDef(name=name, args=args, body=body, decorator_list=[], returns=None, type_params=[])
    return ast.fix_missing_locations(fdef)


def name(id_: str) -> ast.Name:
    return ast.Name(id_, ast.Load())


def store(id_: str) -> ast.Name:
    return ast.Name(id_, ast.Store())


def tuple_target(names: list[str]) -> ast.expr:
    return store(names[0]) if len(names) == 1 else ast.Tuple([store(n) for n in names], ast.Store())


def tuple_value(names: list[str]) -> ast.expr:
    return name(names[0]) if len(names) == 1 else ast.Tuple([name(n) for n in names], ast.Load())


def leaf_nodes(node: Node) -> list[Node]:
    return [n for n in node.walk() if n.op == "var"]
