"""Expression lowering: a user's expression as normal-form pieces.

``ExpressionLowering`` turns an expression into a normal-form right-hand
side, emitting statements for the parts that must become atoms: an
elementwise tree stays whole, a reduction keeps an elementwise argument,
every other operation gets atoms as arguments (see ``normalize``).
"""

from __future__ import annotations

import ast
import copy
import types
from dataclasses import dataclass

import numpy as np

from .anno import set_anno
from .frontend import (
    BuiltinRef,
    DataRef,
    FunctionRef,
    FunctionSource,
    LocalRef,
    MathRef,
    ModuleRef,
    NumpyRef,
    OpaqueRef,
    Ref,
    RuleRef,
    RuntimeRef,
    UnboundRef,
    numpy_object,
)
from .rules.user import custom_op
from .names import NameAllocator, names_in
from .rules import lookup
from .rules.core import elementwise_shape

# --------------------------------------------------------------------------
# How expressions are classified

# Array methods with a numpy function twin: a.sum(axis) -> np.sum(a, axis).
METHOD_TWINS = {
    name: f"np.{name}"
    for name in (
        "sum mean prod max min std var cumsum cumprod dot ravel squeeze copy clip round "
        "argmax argmin argsort all any nonzero trace diagonal swapaxes repeat take conj conjugate"
    ).split()
}
VARARG_METHODS = {"reshape": "np.reshape", "transpose": "np.transpose"}
ATTRIBUTE_OPS = {"T": "np.transpose"}


@dataclass(frozen=True)
class Resolved:
    kind: str  # "op" | "callee" | "method" | "opaque"
    op: str = ""
    ref: Ref | None = None


class ExpressionLowering:
    """Lowers expressions; statements needed on the way go through ``emit``."""

    def __init__(self, fn: FunctionSource) -> None:
        self.fn = fn
        self.scope = fn.scope
        self.names = NameAllocator(names_in(fn.tree))
        self.temps: set[str] = set()

    def emit(self, stmt: ast.stmt) -> None:  # pragma: no cover - provided by the statement normalizer
        raise NotImplementedError

    # expressions ------------------------------------------------------------

    def classify(self, e: ast.expr) -> str:
        """atom | elementwise | reduction | op | callee | opaque | container"""
        if isinstance(e, (ast.Name, ast.Constant)):
            return "atom"
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, (ast.USub, ast.UAdd)) and _is_number(e.operand):
            return "atom"
        if isinstance(e, ast.Attribute):
            module = self.module_ref(e.value)
            if module is not None:
                ref = self.scope.resolve_attr(module, e.attr)
                if isinstance(ref, NumpyRef) and not isinstance(numpy_object(ref.path), types.ModuleType):
                    return "atom"  # np.pi, or np.float32 passed as a value
                if isinstance(ref, MathRef) and ref.path in ("pi", "e", "tau", "inf", "nan"):
                    return "atom"
                return "opaque"
            return "op"
        if isinstance(e, ast.BinOp):
            return "op" if isinstance(e.op, ast.MatMult) else "elementwise"
        if isinstance(e, ast.UnaryOp):
            return "elementwise"
        if isinstance(e, ast.Compare):
            return "elementwise" if len(e.ops) == 1 else "opaque"
        if isinstance(e, ast.Call):
            resolved = self.resolve_call(e)
            if resolved.kind == "op":
                rule = lookup(resolved.op)
                if rule is not None and (rule.kind == "elementwise" or (rule.kind == "zero" and rule.shape is elementwise_shape)):
                    return "elementwise"
                if rule is not None and rule.fusable:
                    return "reduction"
                return "op"
            if resolved.kind == "method":
                twin = METHOD_TWINS.get(e.func.attr)  # type: ignore[attr-defined]
                rule = lookup(twin) if twin else None
                return "reduction" if rule is not None and rule.fusable else "op"
            return resolved.kind
        if isinstance(e, ast.Subscript):
            return "op"
        if isinstance(e, (ast.Tuple, ast.List)):
            return "container"
        if isinstance(e, ast.IfExp):
            return "ifexp"
        if isinstance(e, (ast.ListComp, ast.GeneratorExp)):
            return "comprehension"
        return "opaque"

    def rhs(self, e: ast.expr) -> ast.expr:
        """A statement's right-hand side in normal form (may emit statements)."""
        kind = self.classify(e)
        if kind == "atom":
            return self.atom(e)
        if kind == "elementwise":
            return self.elementwise(e)
        if kind in ("reduction", "op"):
            return self.operation(e, fuse=kind == "reduction")
        if kind == "callee":
            return self.callee_call(e)  # type: ignore[arg-type]
        if kind == "container":
            return self.container(e)  # type: ignore[arg-type]
        if kind == "ifexp":
            return self.rhs_IfExp(e)  # type: ignore[arg-type]
        if kind == "comprehension":
            return self.rhs_comprehension(e)  # type: ignore[arg-type]
        self.check_names(e)
        return self.keep(e)

    def rhs_IfExp(self, e: ast.IfExp) -> ast.expr:  # pragma: no cover - provided by the statement normalizer
        raise NotImplementedError

    def rhs_comprehension(self, e: ast.expr) -> ast.expr:  # pragma: no cover - provided by the statement normalizer
        raise NotImplementedError

    def elementwise(self, e: ast.expr) -> ast.expr:
        """An elementwise tree, whole; non-elementwise operands become atoms."""
        if isinstance(e, ast.BinOp):
            return ast.BinOp(self.operand(e.left), e.op, self.operand(e.right))
        if isinstance(e, ast.UnaryOp):
            return ast.UnaryOp(e.op, self.operand(e.operand))
        if isinstance(e, ast.Compare):
            return ast.Compare(self.operand(e.left), e.ops, [self.operand(c) for c in e.comparators])
        if isinstance(e, ast.Call):
            return self.operation(e, fuse=False, operand=self.operand)
        return self.atom(e)

    def operand(self, e: ast.expr) -> ast.expr:
        kind = self.classify(e)
        if kind == "elementwise":
            return self.elementwise(e)
        if kind == "container":  # np.maximum(x, [y, 1.0]): numpy reads the list as an array
            return self.hoist_value(self.as_array(e), "t")  # type: ignore[arg-type]
        return self.atom(e)

    def as_array(self, e: ast.Tuple | ast.List) -> ast.Call:
        call = ast.Call(self.spelled("np.array"), [self.container(e)], [])
        set_anno(call, "op", "np.array")
        return call

    def atom(self, e: ast.expr, base: str | None = None) -> ast.expr:
        kind = self.classify(e)
        if kind == "ifexp":
            return self.rhs_IfExp(e)  # type: ignore[arg-type]
        if kind == "comprehension":
            return self.rhs_comprehension(e)  # type: ignore[arg-type]
        if kind == "atom":
            if isinstance(e, ast.Name):
                self.check_name(e)
                return ast.Name(e.id, ast.Load())
            if isinstance(e, ast.UnaryOp):
                return ast.Constant(-e.operand.value if isinstance(e.op, ast.USub) else e.operand.value)  # type: ignore[attr-defined]
            if isinstance(e, ast.Attribute):
                module = self.module_ref(e.value)
                ref = self.scope.resolve_attr(module, e.attr)  # type: ignore[arg-type]
                return self.spelled(_op_key(ref))  # type: ignore[arg-type]
            return copy.deepcopy(e)
        return self.hoist(e, base)

    def hoist(self, e: ast.expr, base: str | None = None) -> ast.Name:
        return self.hoist_value(self.rhs(e), base or self.temp_base(e))

    def hoist_value(self, value: ast.expr, base: str) -> ast.Name:
        name = self.names.numbered(base)
        self.temps.add(name)
        self.emit(ast.Assign([ast.Name(name, ast.Store())], value))
        return ast.Name(name, ast.Load())

    def temp_base(self, e: ast.expr) -> str:
        if isinstance(e, ast.Call):
            resolved = self.resolve_call(e)
            if resolved.kind == "callee":
                return resolved.ref.name.rsplit(".", 1)[-1]  # type: ignore[union-attr]
            if resolved.kind == "method":
                return e.func.attr  # type: ignore[attr-defined]
            if resolved.kind == "op":
                return resolved.op.rsplit(".", 1)[-1]
        if isinstance(e, ast.BinOp) and isinstance(e.op, ast.MatMult):
            return "matmul"
        if isinstance(e, ast.Subscript):
            return "item"
        if isinstance(e, ast.Attribute):
            return {"T": "transpose"}.get(e.attr, e.attr)
        return "t"

    def container(self, e: ast.Tuple | ast.List) -> ast.expr:
        return type(e)([self.argument(x) for x in e.elts], ast.Load())

    def argument(self, e: ast.expr) -> ast.expr:
        """A call argument: an atom, or a tuple/list of arguments."""
        if isinstance(e, (ast.Tuple, ast.List)):
            return self.container(e)
        return self.atom(e)

    def operation(self, e: ast.expr, fuse: bool, operand=None) -> ast.expr:
        """One operation with atom arguments; a fusable reduction keeps an
        elementwise first argument whole."""
        if isinstance(e, ast.BinOp):  # a @ b
            return ast.BinOp(self.atom(e.left), e.op, self.atom(e.right))
        if isinstance(e, ast.Subscript):
            return ast.Subscript(self.atom(e.value), self.index(e.slice), ast.Load())
        if isinstance(e, ast.Attribute):
            return self.attribute(e)
        assert isinstance(e, ast.Call)
        resolved = self.resolve_call(e)
        args, keywords = list(e.args), list(e.keywords)
        if resolved.kind == "method":
            op, args = self.method(e)
        else:
            op = resolved.op
        lower = operand or self.argument
        first = self.operand if fuse else lower
        new_args = [first(a) if i == 0 else lower(a) for i, a in enumerate(args)]
        new_keywords = [ast.keyword(k.arg, lower(k.value)) for k in keywords]
        if op.startswith("method."):
            receiver, *rest = new_args
            call = ast.Call(ast.Attribute(receiver, op[len("method.") :], ast.Load()), rest, new_keywords)
        else:
            call = ast.Call(self.spelled(op), new_args, new_keywords)
        set_anno(call, "op", op)
        return call

    def attribute(self, e: ast.Attribute) -> ast.expr:
        receiver = self.atom(e.value)
        if e.attr in ATTRIBUTE_OPS:
            call = ast.Call(self.spelled(ATTRIBUTE_OPS[e.attr]), [receiver], [])
            set_anno(call, "op", ATTRIBUTE_OPS[e.attr])
            return call
        node = ast.Attribute(receiver, e.attr, ast.Load())
        set_anno(node, "op", f"attr.{e.attr}")
        return node

    def method(self, e: ast.Call) -> tuple[str, list[ast.expr]]:
        """``a.reshape(2, 3)`` -> (``np.reshape``, [a, (2, 3)])."""
        func = e.func
        assert isinstance(func, ast.Attribute)
        receiver, name, args = func.value, func.attr, list(e.args)
        if name in VARARG_METHODS:
            if len(args) > 1:
                args = [ast.Tuple(args, ast.Load())]
            return VARARG_METHODS[name], [receiver, *args]
        if name in METHOD_TWINS:
            return METHOD_TWINS[name], [receiver, *args]
        return f"method.{name}", [receiver, *args]

    def index(self, s: ast.expr) -> ast.expr:
        """An index keeps its slices and integer arithmetic inline; calls and
        lookups inside it become atoms."""
        if isinstance(s, ast.Slice):
            parts = [None if p is None else self.index(p) for p in (s.lower, s.upper, s.step)]
            return ast.Slice(*parts)
        if isinstance(s, (ast.Tuple, ast.List)):
            return type(s)([self.index(x) for x in s.elts], ast.Load())
        if isinstance(s, ast.BinOp) and not isinstance(s.op, ast.MatMult):
            return ast.BinOp(self.index(s.left), s.op, self.index(s.right))
        if isinstance(s, ast.UnaryOp):
            return ast.UnaryOp(s.op, self.index(s.operand))
        return self.atom(s)

    def callee_call(self, e: ast.Call) -> ast.Call:
        resolved = self.resolve_call(e)
        ref = resolved.ref
        assert isinstance(ref, FunctionRef)
        callee = ref.load()
        args = self.bind_callee(e, callee)
        call = ast.Call(copy.deepcopy(e.func), [self.atom(a) for a in args], [])
        set_anno(call, "callee", callee)
        return call

    def bind_callee(self, e: ast.Call, callee: FunctionSource) -> list[ast.expr]:
        """The call's arguments in the callee's parameter order, defaults filled in."""
        params = callee.tree.args
        if params.vararg or params.kwarg:
            raise self.fn.error(e, f"cannot differentiate a call to {callee.name}, which takes *args or **kwargs", "give each parameter a name")
        positional = params.posonlyargs + params.args
        names = [p.arg for p in positional + params.kwonlyargs]
        defaults = dict(zip([p.arg for p in positional][len(positional) - len(params.defaults) :], params.defaults))
        defaults.update({p.arg: d for p, d in zip(params.kwonlyargs, params.kw_defaults) if d is not None})
        given: dict[str, ast.expr] = {}
        if len(e.args) > len(positional):
            raise self.fn.error(e, f"{callee.name}() takes {len(positional)} positional arguments but {len(e.args)} were given")
        for param, arg in zip(positional, e.args):
            given[param.arg] = arg
        for kw in e.keywords:
            if kw.arg not in names or kw.arg in given:
                raise self.fn.error(e, f"{callee.name}() got an unexpected or repeated argument {kw.arg!r}")
            given[kw.arg] = kw.value
        args = []
        for name in names:
            if name in given:
                args.append(given[name])
            elif name in defaults and _is_literal(defaults[name]):
                args.append(copy.deepcopy(defaults[name]))
            elif name in defaults:
                raise self.fn.error(e, f"the default value of {callee.name}'s parameter {name!r} is not a literal", f"pass {name}= explicitly")
            else:
                raise self.fn.error(e, f"{callee.name}() missing argument {name!r}")
        return args

    def keep(self, e: ast.expr) -> ast.expr:
        """An expression kept as written (an opaque call, an `and`): it runs
        as in the primal and is never differentiated."""
        kept = copy.deepcopy(e)
        set_anno(kept, "opaque", True)
        return kept

    # names -------------------------------------------------------------------

    def spelled(self, op: str) -> ast.expr:
        """``np.exp`` as an expression, for dumps; emission re-spells it."""
        prefix, _, path = op.partition(".")
        if prefix == "builtins":
            expr: ast.expr = ast.Name(path, ast.Load())
        else:
            expr = ast.Name(prefix, ast.Load())
            for part in path.split("."):
                expr = ast.Attribute(expr, part, ast.Load())
        set_anno(expr, "op", op)
        return expr

    def module_ref(self, e: ast.expr) -> Ref | None:
        """The module an expression names (``np``, ``np.linalg``), if any;
        a numpy ufunc counts as one, for its methods (``np.add.reduce``)."""
        if isinstance(e, ast.Name):
            ref = self.scope.resolve(e.id)
        elif isinstance(e, ast.Attribute):
            base = self.module_ref(e.value)
            ref = self.scope.resolve_attr(base, e.attr) if base is not None else None
        else:
            return None
        if isinstance(ref, NumpyRef):
            return ref if isinstance(numpy_object(ref.path), (types.ModuleType, np.ufunc)) else None
        if isinstance(ref, MathRef) and not ref.path:
            return ref
        if isinstance(ref, ModuleRef):
            return ref
        return None

    def resolve_call(self, e: ast.Call) -> Resolved:
        func = e.func
        if isinstance(func, ast.Name):
            ref = self.scope.resolve(func.id)
            if isinstance(ref, UnboundRef):
                raise self.fn.error(func, f"name {func.id!r} is not defined", "define it before the derivative is first computed")
            return _resolved(ref, func)
        if isinstance(func, ast.Attribute):
            module = self.module_ref(func.value)
            if module is None:
                return Resolved("method")
            ref = self.scope.resolve_attr(module, func.attr)
            if isinstance(ref, UnboundRef):
                raise self.fn.error(func, f"{ref.name} does not exist")
            return _resolved(ref, func) if ref is not None else Resolved("opaque")
        return Resolved("opaque")

    def check_name(self, e: ast.Name) -> None:
        if e.id not in self.temps and isinstance(self.scope.resolve(e.id), UnboundRef):
            raise self.fn.error(e, f"name {e.id!r} is not defined", "define it before the derivative is first computed")

    def check_names(self, e: ast.AST) -> None:
        for node in ast.walk(e):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                self.check_name(node)


def _resolved(ref: Ref, func: ast.expr | None = None) -> Resolved:
    if isinstance(ref, FunctionRef):
        return Resolved("callee", ref=ref)
    if isinstance(ref, RuleRef) and func is not None:  # called as the user spells it, differentiated by its rule
        return Resolved("op", op=custom_op(ast.unparse(func), ref.rule))
    if isinstance(ref, (NumpyRef, MathRef, BuiltinRef, RuntimeRef)):
        return Resolved("op", op=_op_key(ref))
    if isinstance(ref, (LocalRef, DataRef, OpaqueRef, ModuleRef)):
        return Resolved("opaque", ref=ref)
    return Resolved("opaque")


def _op_key(ref: Ref) -> str:
    if isinstance(ref, NumpyRef):
        return f"np.{ref.path}"
    if isinstance(ref, MathRef):
        return f"math.{ref.path}"
    if isinstance(ref, BuiltinRef):
        return f"builtins.{ref.name}"
    if isinstance(ref, RuntimeRef):
        return f"rt.{ref.name}"
    raise AssertionError(ref)


def _is_number(e: ast.expr) -> bool:
    return isinstance(e, ast.Constant) and isinstance(e.value, (int, float, complex)) and not isinstance(e.value, bool)


def _is_literal(e: ast.expr) -> bool:
    try:
        ast.literal_eval(e)
        return True
    except ValueError:
        return False
