"""Runs of elementwise statements and reductions, fused into one loop
(numba backend).

Entry point: ``fuse_runs(tree, numpy, make_run) -> ast.FunctionDef``;
``find_runs(tree, numpy)`` is the analysis it applies (each run with a
one-line ``Run.dump()``), ``verify_fused`` checks its output.

Each numpy statement materializes its own array; at a million elements a
fresh 8 MB array costs about as much as the arithmetic that fills it. A
run of consecutive statements that are elementwise (``t = x - m``) or
reduce elementwise expressions (``s = np.sum(d * t) / 2``) becomes one
call of a loop kernel that computes each element of each statement once,
stores only the arrays read after the run, and accumulates the reductions
on the way (``numba_runs.fused_run`` writes it, when numba types the call).

Before::

    t1 = x - m
    out = np.exp(-1.5 * t1 ** 2)
    sum1 = np.sum(d * out)
    sum2 = np.sum(out * out)
    t2 = sum1 / sum2
    return t2 * out

After (``t1`` is read inside the run only; ``t2`` reads ``sum1``, a result
of the run, so it starts the next run, of one statement: not fused)::

    out, sum1, sum2 = _s2s_run1(x, m, d)
    t2 = sum1 / sum2
    return t2 * out

Runs are found block by block (loop bodies and branches too). A statement
that reads a reduction of the current run ends it and starts the next one:
inside the loop the reduction is not complete yet. Any other statement
ends the run, except a side-effect-free one (``d_shape = shape_of(d)``)
independent of the run, which moves ahead of it when the run goes on.

``sum_to_shape(v, s)``, ``unbroadcast(v, like)``, ``broadcast_like(v, like)``
and ``broadcast_to_operands(v, *operands)`` are ``v`` itself when shapes
agree: in a run they are elementwise identities, and the loop runs only
when they hold (``numba_runs``). An array a run would store only for a
later run, cheap to compute from values still unchanged there
(``_recomputed``, ``_cost``), is recomputed by the later run instead.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Callable, Iterator

# numpy functions applied element by element: kept inside a fused loop
ELEMENTWISE = frozenset(
    "exp log log1p expm1 log2 log10 sqrt square abs absolute sin cos tan arcsin arccos arctan sinh cosh tanh arcsinh arccosh arctanh negative sign".split()
)
ELEMENTWISE_OPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)
UNARY_OPS = (ast.USub, ast.UAdd)
SUM_PRODUCT = "sum_product"  # the runtime helper: sum_product(a, b) is np.sum(a * b)
# runtime helpers that give their first argument back when shapes already agree
# (``numba_runs`` checks when the loop runs that they do): in a run, elementwise identities
IDENTITIES = frozenset({"sum_to_shape", "unbroadcast", "broadcast_like", "broadcast_to_operands"})

# calls a statement may make and still move ahead of a run: they read their arguments, nothing else
_PURE_CALLS = frozenset({"shape_of", "reduced_size", "len"})
_PURE_ATTRIBUTES = frozenset({"shape", "size", "ndim", "dtype"})


@dataclass(eq=False)
class Run:
    """Consecutive statements of one block to compute in one loop.

    ``block[start:stop]`` holds ``statements`` and ``moved`` (statements
    independent of the run, placed before its call); ``inputs`` are the
    names it reads that are set before it, ``outputs`` the names it sets
    that are read after it; ``texts`` are the statements with numpy
    spelled ``np``."""

    block: list[ast.stmt]
    start: int
    stop: int
    statements: tuple[ast.Assign, ...]
    moved: tuple[ast.stmt, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    texts: tuple[str, ...]

    def dump(self) -> str:
        """``t1, out, sum1 | in: x, m, d | out: out, sum1 | moved: d_shape``"""
        targets = ", ".join(_target(s) for s in self.statements)
        moved = f" | moved: {', '.join(ast.unparse(s).split(' =')[0] for s in self.moved)}" if self.moved else ""
        return f"{targets} | in: {', '.join(self.inputs)} | out: {', '.join(self.outputs)}{moved}"


def fuse_runs(tree: ast.FunctionDef, numpy: set[str], make_run: Callable[[Run], str]) -> ast.FunctionDef:
    """``tree`` with each run replaced by ``outputs = <kernel>(inputs)``;
    ``make_run(run)`` makes the kernel and returns its name. ``numpy`` is
    the set of names numpy goes by in ``tree``."""
    runs = find_runs(tree, numpy)
    names = [make_run(run) for run in runs]
    for run, name in reversed(list(zip(runs, names, strict=True))):  # later runs first: earlier indices stay valid
        call = ast.Call(ast.Name(name, ast.Load()), [ast.Name(i, ast.Load()) for i in run.inputs], [])
        targets = [ast.Name(o, ast.Store()) for o in run.outputs]
        target = targets[0] if len(targets) == 1 else ast.Tuple(targets, ast.Store())
        assign = ast.copy_location(ast.Assign([target], call), run.statements[0])
        run.block[run.start : run.stop] = [*run.moved, assign]
    return ast.fix_missing_locations(tree)


def verify_fused(tree: ast.FunctionDef, numpy: set[str]) -> None:
    """``fuse_runs``'s contract: no run worth fusing is left (a run's call
    reads no element, so the statements around it cannot join up)."""
    left = find_runs(tree, numpy)
    if left:
        raise AssertionError(f"runs left unfused: {'; '.join(r.dump() for r in left)}")


def find_runs(tree: ast.FunctionDef, numpy: set[str]) -> list[Run]:
    """The runs worth fusing in ``tree``, every block of it; the tree is
    not changed."""
    vocabulary = _Vocabulary(frozenset(numpy), _assigned_anywhere(tree))
    runs: list[Run] = []
    for block, chain in _blocks(tree.body, ()):
        runs += _block_runs(block, chain, vocabulary)
    return runs


# --------------------------------------------------------------------------
# Which statements may join a run


@dataclass(frozen=True)
class _Vocabulary:
    """The names a run's expressions may call: numpy's (unless a local
    variable shadows them) and ``sum_product``."""

    numpy: frozenset[str]
    local: frozenset[str]

    def numpy_call(self, node: ast.expr, names: frozenset[str] | None = None) -> bool:
        """Is ``node`` a call ``np.<f>(one argument)``, ``f`` in ``names``?"""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)):
            return False
        return node.func.value.id in self.numpy and node.func.value.id not in self.local and (names is None or node.func.attr in names) and len(node.args) == 1 and not node.keywords

    def identity(self, node: ast.expr) -> bool:
        """Is ``node`` a call of a runtime helper in ``IDENTITIES``
        (``sum_to_shape(v, s)``, ``unbroadcast(v, like)``,
        ``broadcast_like(v, like)``, ``broadcast_to_operands(t, *operands)``)?"""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in IDENTITIES and node.func.id not in self.local):
            return False
        count = len(node.args) >= 1 if node.func.id == "broadcast_to_operands" else len(node.args) == 2
        return count and not node.keywords and not any(isinstance(a, ast.Starred) for a in node.args)

    def elementwise(self, node: ast.expr) -> bool:
        """Arithmetic on names and numbers, elementwise numpy functions, and
        identities (their shape arguments names or elementwise expressions)."""
        if isinstance(node, ast.Constant):
            return isinstance(node.value, (int, float)) and not isinstance(node.value, bool)
        if isinstance(node, ast.Name):
            return True
        if isinstance(node, ast.BinOp):
            return isinstance(node.op, ELEMENTWISE_OPS) and self.elementwise(node.left) and self.elementwise(node.right)
        if isinstance(node, ast.UnaryOp):
            return isinstance(node.op, UNARY_OPS) and self.elementwise(node.operand)
        if self.identity(node):
            return all(self.elementwise(a) for a in node.args)  # type: ignore[attr-defined]
        return self.numpy_call(node, ELEMENTWISE) and self.elementwise(node.args[0])  # type: ignore[attr-defined]

    def reduction(self, node: ast.expr) -> bool:
        """``np.sum(<elementwise>)`` or ``sum_product(a, b)``."""
        if self.numpy_call(node, frozenset({"sum"})):
            return self.elementwise(node.args[0])  # type: ignore[attr-defined]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == SUM_PRODUCT and SUM_PRODUCT not in self.local:
            return len(node.args) == 2 and not node.keywords and all(self.elementwise(a) for a in node.args)
        return False

    def with_reductions(self, node: ast.expr) -> bool:
        """An elementwise expression in which reductions stand for operands."""
        if self.reduction(node):
            return True
        if isinstance(node, ast.BinOp):
            return isinstance(node.op, ELEMENTWISE_OPS) and self.with_reductions(node.left) and self.with_reductions(node.right)
        if isinstance(node, ast.UnaryOp):
            return isinstance(node.op, UNARY_OPS) and self.with_reductions(node.operand)
        if self.numpy_call(node, ELEMENTWISE):
            return self.with_reductions(node.args[0])  # type: ignore[attr-defined]
        return self.elementwise(node)

    def kind(self, stmt: ast.stmt) -> str | None:
        """``"elementwise"``, ``"reduction"`` or ``None`` (not in a run)."""
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
            return None
        value = stmt.value
        if isinstance(value, (ast.Name, ast.Constant)):
            return None  # an alias or a constant: nothing to compute
        if self.elementwise(value):
            return "elementwise"
        if self.with_reductions(value):
            return "reduction"
        return None

    def reductions(self, node: ast.expr) -> int:
        return sum(1 for n in ast.walk(node) if isinstance(n, ast.expr) and self.reduction(n))

    def movable(self, stmt: ast.stmt) -> bool:
        """An assignment to names whose value has no side effect: names,
        numbers, shapes and sizes, calls that only read their arguments."""
        if not (isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets)):
            return False
        return all(self._pure(node) for node in ast.walk(stmt.value))

    def _pure(self, node: ast.AST) -> bool:
        if isinstance(node, ast.Call):
            return isinstance(node.func, ast.Name) and node.func.id in _PURE_CALLS and node.func.id not in self.local
        if isinstance(node, ast.Attribute):
            return node.attr in _PURE_ATTRIBUTES
        return isinstance(node, (ast.Name, ast.Constant, ast.Tuple, ast.BinOp, ast.UnaryOp, ast.expr_context, ast.operator, ast.unaryop))


# --------------------------------------------------------------------------
# Runs in one block


_Chain = tuple[tuple[ast.stmt, list[ast.stmt], int], ...]  # enclosing statements, innermost first: (statement, its block, its index)


@dataclass
class _Open:
    """The run being built."""

    start: int
    statements: list[ast.Assign] = field(default_factory=list)
    moved: list[ast.stmt] = field(default_factory=list)
    pending: list[ast.stmt] = field(default_factory=list)  # movable statements after the last one of the run
    stop: int = 0
    reduced: set[str] = field(default_factory=set)  # names set by its reductions
    assigned: set[str] = field(default_factory=set)
    read: set[str] = field(default_factory=set)
    indices: list[int] = field(default_factory=list)  # of its statements in the block (none for a recomputed one)
    recomputed: set[str] = field(default_factory=set)  # outputs a later run recomputes instead: not stored

    def add(self, stmt: ast.Assign, index: int, kind: str) -> None:
        self.moved += self.pending
        self.pending = []
        self.statements.append(stmt)
        self.indices.append(index)
        self.stop = index + 1
        self.read |= _names_read([stmt])
        self.assigned.add(_target(stmt))
        if kind == "reduction":
            self.reduced.add(_target(stmt))
        else:
            self.reduced.discard(_target(stmt))

    def independent(self, stmt: ast.stmt) -> bool:
        """Does ``stmt`` neither read what the run sets nor set what it uses?"""
        return not (_names_read([stmt]) & self.assigned) and not (_names_set(stmt) & (self.read | self.assigned))


def _block_runs(block: list[ast.stmt], chain: _Chain, vocabulary: _Vocabulary) -> list[Run]:
    candidates = _candidates(block, vocabulary)
    _rematerialize(candidates, block, chain, vocabulary)
    return [run for current in candidates for run in _closed(current, block, chain, vocabulary)]


def _candidates(block: list[ast.stmt], vocabulary: _Vocabulary) -> list[_Open]:
    """The block's runs, before deciding which are worth a loop."""
    runs: list[_Open] = []
    current: _Open | None = None
    for index, stmt in enumerate(block):
        kind = vocabulary.kind(stmt)
        if kind is not None and current is not None and not (_names_read([stmt]) & current.reduced):
            current.add(stmt, index, kind)  # type: ignore[arg-type]
            continue
        if current is not None and kind is None and vocabulary.movable(stmt) and current.independent(stmt):
            current.pending.append(stmt)
            continue
        runs += [current] if current is not None else []
        current = None
        if kind is not None:
            current = _Open(index)
            current.add(stmt, index, kind)  # type: ignore[arg-type]
    return runs + ([current] if current is not None else [])


def _worth_a_loop(current: _Open, vocabulary: _Vocabulary) -> bool:
    """Two statements or more, or one with two reductions or more (single
    statements are left to numba and to the one-reduction kernels)."""
    return len(current.statements) >= 2 or vocabulary.reductions(current.statements[0].value) >= 2


def _outputs(current: _Open, block: list[ast.stmt], chain: _Chain) -> tuple[str, ...]:
    """The names the run sets that are read after it and not recomputed there."""
    statements = tuple(current.statements)
    live = _live_after(block, current.stop, chain, statements, _inputs(statements)) - current.recomputed
    return tuple(dict.fromkeys(_target(s) for s in statements if _target(s) in live))


def _closed(current: _Open, block: list[ast.stmt], chain: _Chain, vocabulary: _Vocabulary) -> list[Run]:
    """The run ``current`` as a ``Run``, if it is worth a loop of its own."""
    if not _worth_a_loop(current, vocabulary):
        return []
    statements = tuple(current.statements)
    inputs = _inputs(statements)
    outputs = _outputs(current, block, chain)
    if not outputs:
        return []  # nothing read after it: leave dead code as it is
    texts = tuple(ast.unparse(_numpy_as_np(s, vocabulary.numpy)) for s in statements)
    return [Run(block, current.start, current.stop, statements, tuple(current.moved), inputs, outputs, texts)]


# --------------------------------------------------------------------------
# Recomputing instead of storing

RECOMPUTE_BUDGET = 8  # the most a recomputed element may cost (``_cost``)
_CHEAP_CALLS = {"abs": 1, "absolute": 1, "negative": 1, "square": 1, "sign": 1, "sqrt": 4}


def _cost(node: ast.expr, vocabulary: _Vocabulary) -> float:
    """What computing one element of ``node`` again costs, in additions:
    ``+``, ``-``, ``*``, unary minus, ``** 2``, ``abs`` 1; ``/`` and
    ``sqrt`` 4; exp, log, trigonometric functions and other powers are
    never recomputed (infinite cost); names, numbers and identities nothing.

    An array one run stores and a later run reads back costs each element
    8 bytes written and 8 read, and a fresh array its pages faulted in:
    some 2 ns a float64 element at about 10 GB/s, where a vectorized loop
    adds or multiplies in a fraction of a nanosecond and divides in about
    one. So recomputing up to ``RECOMPUTE_BUDGET`` of them beats the trip
    through memory; a transcendental function (tens of operations) does not."""
    if isinstance(node, (ast.Name, ast.Constant)):
        return 0
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow):
            own = 1 if isinstance(node.right, ast.Constant) and node.right.value == 2 else float("inf")
        else:
            own = 4 if isinstance(node.op, ast.Div) else 1
        return own + _cost(node.left, vocabulary) + _cost(node.right, vocabulary)
    if isinstance(node, ast.UnaryOp):
        return (1 if isinstance(node.op, ast.USub) else 0) + _cost(node.operand, vocabulary)
    if vocabulary.identity(node):
        return _cost(node.args[0], vocabulary)  # type: ignore[attr-defined]
    if vocabulary.numpy_call(node, frozenset(_CHEAP_CALLS)):
        return _CHEAP_CALLS[node.func.attr] + _cost(node.args[0], vocabulary)  # type: ignore[attr-defined]
    return float("inf")


def _rematerialize(candidates: list[_Open], block: list[ast.stmt], chain: _Chain, vocabulary: _Vocabulary) -> None:
    """Let each run recompute, at its start, the statements of earlier runs
    that give it an input ``_recomputed`` allows; the earlier run then
    stores no array for that input."""
    for k, later in enumerate(candidates):
        prefix: dict[int, tuple[tuple[int, int], ast.Assign]] = {}
        for name in _inputs(tuple(later.statements)):
            owner = next((j for j in reversed(range(k)) if name in candidates[j].assigned), None)
            if owner is None:
                continue
            earlier = candidates[owner]
            slice_ = _recomputed(name, earlier, later, block, chain, vocabulary)
            if slice_ is not None:
                earlier.recomputed.add(name)
                prefix.update({id(earlier.statements[p]): ((owner, p), earlier.statements[p]) for p in slice_})
        copies = [stmt for _, stmt in sorted(prefix.values(), key=lambda item: item[0])]
        later.statements[:0] = copies
        later.indices[:0] = [later.start - 1] * len(copies)
        later.read |= _names_read(copies)
        later.assigned |= {_target(s) for s in copies}


def _recomputed(name: str, earlier: _Open, later: _Open, block: list[ast.stmt], chain: _Chain, vocabulary: _Vocabulary) -> list[int] | None:
    """The positions in ``earlier`` of the statements that compute ``name``
    from its inputs, if ``later`` may run them again instead of reading
    an array: ``earlier`` still is a loop of its own with another output;
    the statements are elementwise and cheap (``_cost``); the names they
    read and set are not set again before ``later``, nor is ``name`` read;
    and ``later`` is the last to read ``name`` (it sets it, or it is dead)."""
    if not _worth_a_loop(earlier, vocabulary) or name in earlier.reduced or not set(_outputs(earlier, block, chain)) - {name}:
        return None
    position = max(p for p, s in enumerate(earlier.statements) if _target(s) == name)
    slice_, needed = [], {name}
    for p in reversed(range(position + 1)):
        stmt = earlier.statements[p]
        if _target(stmt) in needed:
            if vocabulary.kind(stmt) != "elementwise":
                return None
            needed = (needed - {_target(stmt)}) | set(_operand_names(stmt.value))
            slice_.insert(0, p)
    statements = [earlier.statements[p] for p in slice_]
    if sum(_cost(s.value, vocabulary) for s in statements) > RECOMPUTE_BUDGET:
        return None
    between = block[earlier.indices[position] + 1 : later.start] + list(later.moved)
    touched = needed | {_target(s) for s in statements}
    if any(_names_set(s) & touched for s in between) or name in _names_read(block[earlier.stop : later.start] + list(later.moved)):
        return None
    if name not in {_target(s) for s in later.statements}:
        inputs = _inputs(tuple(later.statements))
        if name in _live_after(block, later.stop, chain, tuple(later.statements), inputs):
            return None
    return slice_


def _inputs(statements: tuple[ast.Assign, ...]) -> tuple[str, ...]:
    """Names read before the run sets them, in order of first reading."""
    inputs: dict[str, None] = {}
    assigned: set[str] = set()
    for stmt in statements:
        for name in _operand_names(stmt.value):
            if name not in assigned:
                inputs.setdefault(name)
        assigned.add(_target(stmt))
    return tuple(inputs)


def _live_after(block: list[ast.stmt], stop: int, chain: _Chain, statements: tuple[ast.Assign, ...], inputs: tuple[str, ...]) -> set[str]:
    """Names that may be read after the run ``statements`` ending at
    ``block[stop]``: later in the block, later in each enclosing block, and
    in an enclosing loop, anywhere but in the run itself (its next
    iteration), where the run reads only its ``inputs`` before setting them."""
    live = _names_read(block[stop:])
    run = {id(s) for s in statements}
    for stmt, outer, index in chain:
        live |= _names_read(outer[index + 1 :])
        if isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            live |= _names_read([stmt], skip=run) | set(inputs)
    return live


# --------------------------------------------------------------------------
# Names and blocks


def _blocks(block: list[ast.stmt], chain: _Chain) -> Iterator[tuple[list[ast.stmt], _Chain]]:
    """Each block (list of statements) inside ``block``, with its chain of
    enclosing statements; not inside nested functions or classes."""
    yield block, chain
    for index, stmt in enumerate(block):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        inner = ((stmt, block, index), *chain)
        for node in ast.iter_child_nodes(stmt):
            if isinstance(node, ast.excepthandler):
                yield from _blocks(node.body, inner)
            elif isinstance(node, ast.match_case):
                yield from _blocks(node.body, inner)
        for name in ("body", "orelse", "finalbody"):
            value = getattr(stmt, name, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                yield from _blocks(value, inner)


def _target(stmt: ast.Assign) -> str:
    return stmt.targets[0].id  # type: ignore[attr-defined]


def _operand_names(node: ast.expr) -> list[str]:
    """Names read as values (not as the ``np`` of ``np.exp``), in order."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Call):
        return [n for a in node.args for n in _operand_names(a)]
    return [n for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr) for n in _operand_names(child)]


def _names_read(stmts: list[ast.stmt], skip: set[int] = frozenset()) -> set[str]:  # type: ignore[assignment]
    """Every name the statements read, ``x`` of ``x += 1`` included; not
    in the statements whose ids are in ``skip``."""
    names = set()
    stack: list[ast.AST] = list(stmts)
    while stack:
        node = stack.pop()
        if id(node) in skip:
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        stack.extend(ast.iter_child_nodes(node))
    return names


def _names_set(stmt: ast.stmt) -> set[str]:
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}


def _assigned_anywhere(tree: ast.FunctionDef) -> frozenset[str]:
    """Parameters and assigned names: a local ``np`` is no module."""
    args = tree.args
    names = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    return frozenset(names | {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)})


def _numpy_as_np(stmt: ast.Assign, numpy: frozenset[str]) -> ast.Assign:
    """A copy of ``stmt`` with numpy spelled ``np`` (the kernel's name for it)."""

    class Spell(ast.NodeTransformer):
        def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
            if isinstance(node.value, ast.Name) and node.value.id in numpy:
                return ast.Attribute(ast.Name("np", ast.Load()), node.attr, ast.Load())
            return self.generic_visit(node)

    return Spell().visit(ast.parse(ast.unparse(stmt)).body[0])
