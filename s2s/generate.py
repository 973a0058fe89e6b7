"""The driver: from a user function to a generated derivative module.

Entry point: ``generate(fn, wrt, mode) -> Generated``. It runs the stages in
order — front end (already done: ``fn`` is a ``FunctionSource``), normal
form, activity, forward or reverse emission, the derivative-only entries
(``prune``) with their callees inlined (``inline``), module emission — and
writes one function per (user function, activity) pair the derivative
needs.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from . import __version__
from .activity import analyze, returned
from .anno import get_anno
from .codegen import FunctionContext, ModuleContext, params_of
from .emit import emit_module
from .forward import emit_forward
from .frontend import FunctionSource, display_path
from .loader import ModuleInfo
from .names import names_in
from .program import Program
from .inline import Callee, inline_callees
from .prune import tangent_only
from .reverse import emit_reverse

MODES = ("forward", "reverse", "forward-vector", "reverse-vector")  # -vector: many directions in one pass


@dataclass
class Generated:
    """A generated derivative module and what the caller needs to use it."""

    source: str
    info: ModuleInfo
    owners: dict[str, FunctionSource]  # function name -> the user function it belongs to
    functions: list[FunctionSource] = field(default_factory=list)


def check_wrt(fn: FunctionSource, wrt: tuple[str, ...]) -> None:
    """Every ``wrt`` name must be a parameter of ``fn``."""
    params = params_of(fn.tree)
    if not wrt:
        raise fn.error(fn.tree, f"wrt names no parameter of {fn.name}", "name at least one parameter, e.g. --wrt x")
    for name in wrt:
        if name not in params:
            raise fn.error(fn.tree, f"wrt={name!r} is not a parameter of {fn.name}({', '.join(params)})", "name one of its parameters")


def static_mode(fn: FunctionSource, wrt: tuple[str, ...]) -> str:
    """The mode ``auto`` picks without argument shapes: reverse for a
    function whose output is a scalar by construction, forward otherwise."""
    return "reverse" if generate(fn, wrt, "forward").info.scalar_output else "forward"


def generate(fn: FunctionSource, wrt: tuple[str, ...], mode: str) -> Generated:
    """The ``mode`` derivative of ``fn`` with respect to the parameters ``wrt``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    check_wrt(fn, wrt)
    program = Program(fn)
    tree = program.normal_form(fn)
    outputs = returned(tree)
    activity = analyze(program, fn, frozenset(wrt), frozenset(range(len(outputs))))
    reserved = set().union(*(names_in(program.normal_form(f)) for f in program.sources()))
    module = ModuleContext(reserved, program, _module_names(program), vector=mode.endswith("-vector"))
    paths = _call_paths(program)
    functions: list[ast.FunctionDef] = []
    owners: dict[str, FunctionSource] = {}
    ordered_wrt = [p for p in params_of(tree) if p in wrt]

    entry_ctx: list[FunctionContext] = []
    derivative_only: list[ast.FunctionDef] = []  # the entries inlining applies to

    def emit(source: FunctionSource, act, role_names: dict[str, str], entry: bool) -> None:
        ctx = FunctionContext(module, source, act, program.normal_form(source))
        if entry:
            entry_ctx.append(ctx)
        if mode.startswith("forward"):
            tangent_params = ordered_wrt if entry else [p for p in params_of(ctx.tree) if p in act.active_params]
            jvp = emit_forward(ctx, role_names["jvp"], tangent_params, entry)
            functions.append(jvp)
            if entry and mode == "forward":  # for derivative(), which does not return the output
                name = module.function_name(("entry", "tangent"), f"{fn.name}_tangent")
                tangent = tangent_only(jvp, name, len(returned(ctx.tree)), module.printer())
                if tangent is not None:
                    functions.append(tangent)
                    derivative_only.append(tangent)
                    entry_names["tangent"] = role_names["tangent"] = name
        else:
            adjoint_params = ordered_wrt if entry else [p for p in params_of(ctx.tree) if p in act.active_params]
            gradient = module.function_name(("entry", "gradient"), f"{fn.name}_gradient") if entry and mode == "reverse" else None
            emitted = emit_reverse(ctx, role_names["forward"], role_names["backward"], adjoint_params, entry, gradient)
            if len(emitted) > 2:
                role_names = {**role_names, "gradient": emitted[2].name}
                entry_names["gradient"] = emitted[2].name
                derivative_only.append(emitted[2])
            functions.extend(emitted)
        for name in role_names.values():
            owners[name] = source

    roles = ("jvp",) if mode.startswith("forward") else ("forward", "backward")
    suffix = {"jvp": "jvp", "forward": "forward", "backward": "backward"}
    entry_names = {r: module.function_name(("entry", r), f"{fn.name}_{suffix[r]}") for r in roles}
    emit(fn, activity, entry_names, entry=True)
    done: set[tuple] = set()
    while module.pending:
        call, _role = module.pending.pop(0)
        if call.key in done:
            continue
        done.add(call.key)
        callee_act = analyze(program, call.callee, call.active_params, call.active_outputs)
        emit(call.callee, callee_act, {r: module.function_name((call.key, r), f"{call.callee.name}_{r}") for r in roles}, entry=False)
    for name in [f.name for f in derivative_only]:
        owners[name] = fn  # the derivative-only entries were emitted with the entry
    borrowed = _inline_into(derivative_only, functions, owners, module)
    info = ModuleInfo(
        mode=mode,
        wrt=tuple(ordered_wrt),
        entry=entry_names,
        outputs=len(outputs),
        tuple_output=isinstance(tree.body[-1].value, ast.Tuple),  # type: ignore[attr-defined]
        scalar_output=all(entry_ctx[0].shapes(o.id) == frozenset() if isinstance(o, ast.Name) else isinstance(o, ast.Constant) for o in outputs),
        bindings={name: paths.get(src.identity, ()) for name, src in owners.items()},
        borrowed=borrowed,
    )
    source = emit_module(functions, module, _header(fn, program, tuple(ordered_wrt), mode), info)
    return Generated(source=source, info=info, owners=owners, functions=program.sources())


def _inline_into(entries: list[ast.FunctionDef], functions: list[ast.FunctionDef], owners: dict[str, FunctionSource], module: ModuleContext) -> dict[str, dict[str, tuple[str, str]]]:
    """Inline the generated callees into each of ``entries`` (in place in
    ``functions``); the user names each entry now borrows from a callee."""
    module_names = {f.name for f in functions} | {module.np_name, module.math_name} | set(module.helper_names.values())
    cell_names = {v for src in owners.values() if src.function is not None for v in src.function.__code__.co_freevars}
    borrowed: dict[str, dict[str, tuple[str, str]]] = {}
    for entry in entries:
        callees = {f.name: Callee(f, owners[f.name]) for f in functions if f is not entry and f not in entries}
        inlined = inline_callees(entry, callees, owners[entry.name], module_names, cell_names)
        functions[functions.index(entry)] = inlined.tree
        if inlined.borrowed:
            borrowed[entry.name] = inlined.borrowed
    return borrowed


def _module_names(program: Program) -> tuple[str, str]:
    """``np`` and ``math`` for the generated module, when the user's code
    uses these names for numpy and math (or not at all); else fresh names."""
    from .frontend import MathRef, NumpyRef

    chosen = []
    for name, ref in (("np", NumpyRef("")), ("math", MathRef(""))):
        readers = [f for f in program.sources() if name in names_in(program.normal_form(f))]
        ok = all(f.scope.resolve(name) == ref for f in readers)
        chosen.append(name if ok else f"{name}_")
    return chosen[0], chosen[1]


def _call_paths(program: Program) -> dict[object, tuple[str, ...]]:
    """How each function is reached from the entry: the chain of callee
    expressions (``("f",)``, ``("helpers.g", "h")``)."""
    paths: dict[object, tuple[str, ...]] = {program.entry.identity: ()}
    queue = [program.entry]
    while queue:
        fn = queue.pop(0)
        for node in ast.walk(program.normal_form(fn)):
            callee = get_anno(node, "callee") if isinstance(node, ast.Call) else None
            if callee is not None and callee.identity not in paths and program.is_normalized(callee):
                paths[callee.identity] = paths[fn.identity] + (ast.unparse(node.func),)  # type: ignore[attr-defined]
                queue.append(callee)
    return paths


_DESCRIPTION = {
    "forward": "Forward-mode derivative",
    "reverse": "Reverse-mode derivative",
    "forward-vector": "Vector forward-mode derivative (tangents carry a trailing axis of directions)",
    "reverse-vector": "Vector reverse-mode derivative (adjoints carry a trailing axis of directions)",
}


def _header(fn: FunctionSource, program: Program, wrt: tuple[str, ...], mode: str) -> list[str]:
    callees = [f for f in program.sources() if f is not fn]
    lines = [
        f"Generated by s2s {__version__}; do not edit.",
        f"{_DESCRIPTION[mode]} of {fn.qualname} ({display_path(fn.filename)}:{fn.lineno})",
        f"with respect to {', '.join(wrt)}.",
    ]
    if callees:
        lines.append("Calls: " + ", ".join(f"{c.qualname} ({display_path(c.filename)}:{c.lineno})" for c in callees))
    return lines
