"""The public API: ``differentiate`` and the object it returns.

``differentiate(f, wrt=...)`` returns a ``Differentiated`` that calls ``f``
unchanged and adds ``derivative``, ``value_and_derivative``, ``grad``,
``jvp``, ``vjp`` and ``source``.
Derivative code is generated once per mode, on first use, and reused; each
call only binds arguments, looks up a plan for the argument shapes and runs
generated code.

Shape convention (JAX's ``jacobian``): the derivative of an output of shape
``S`` w.r.t. an argument of shape ``A`` has shape ``S + A``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import os
import threading
import types
from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

import numpy as np

from .backends import backend_for
from .cache import ModuleCache, cache_key, module_cache
from .errors import S2SError
from .frontend import differentiable_function
from .loader import ModuleInfo, Origin, load_module, origin_of, owners_by_chain

Mode = Literal["auto", "forward", "reverse"]
MODES = ("auto", "forward", "reverse")


@dataclass
class Loaded:
    """A generated module, compiled and bound to the user's code."""

    source: str  # the module as generated
    info: ModuleInfo
    functions: dict[str, Callable]
    code: str  # the text compiled: the module, or its cache file's code
    filename: str  # ... and the name it was compiled under, which tracebacks show
    owners: dict[str, types.FunctionType]  # generated function -> the user function it belongs to

    def entry(self, role: str) -> Callable:
        return self.functions[self.info.entry[role]]

    def origin_of(self, exc: BaseException) -> Origin | None:
        """Where an exception raised in this module's code comes from in
        the user's code."""
        return origin_of(exc, self.code, self.filename, self.owners)


def _loaded(source: str, info: ModuleInfo, code: str, filename: str, owners: dict[str, types.FunctionType]) -> Loaded:
    return Loaded(source, info, load_module(code, filename, info, owners), code, filename, owners)


class Differentiated:
    """A function together with its derivative w.r.t. some of its parameters.

    Calling it calls the original function. ``derivative(*args)`` (also
    ``jacobian``) returns the derivative of the output w.r.t. the ``wrt``
    parameters (a tuple when there are several; one result per output when
    the function returns a tuple), ``value_and_derivative(*args)`` both at
    once, ``grad(*args)`` the gradient of a scalar output, ``jvp`` and
    ``vjp`` the products of the Jacobian with a tangent or a cotangent, and
    ``source()`` the generated code.
    """

    def __init__(
        self,
        fn: Callable,
        wrt: str | Sequence[str],
        mode: Mode = "auto",
        *,
        cache: bool = True,
        cache_dir: str | os.PathLike | None = None,
        backend: str = "numpy",
        parallel: bool = False,
        fastmath: bool = False,
    ) -> None:
        fn = differentiable_function(fn)
        functools.update_wrapper(self, fn)
        self.__s2s_primal__ = fn
        self.params = _parameter_names(fn)
        self.wrt: tuple[str, ...] = _check_wrt(fn, wrt, self.params)
        if mode not in MODES:
            raise S2SError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        self.mode: Mode = mode
        self._cache_wanted = cache
        self._cache_dir = cache_dir
        self._backend = backend_for(backend, parallel=parallel, fastmath=fastmath)
        self._bind = _binder(fn)
        self._nparams = len(self.params)
        # Generated code takes and returns derivatives in parameter order;
        # results are handed back in the order the user named them.
        self._wrt_index = tuple(sorted(self.params.index(w) for w in self.wrt))
        self._wrt_in_order = tuple(self.params[i] for i in self._wrt_index)
        self._user_order = tuple(self._wrt_in_order.index(w) for w in self.wrt)
        self._key = _key_function(self._wrt_index)
        self._loaded: dict[str, Loaded] = {}
        self._lock = threading.RLock()
        self._plans: dict[object, _Plan] = {}
        self._output_sizes: dict[tuple, int] = {}
        self._last_mode: str | None = None
        self._second_order: Differentiated | None = None

    # calling -----------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__wrapped__(*args, **kwargs)

    def derivative(self, *args: Any, **kwargs: Any) -> Any:
        """The derivative w.r.t. ``wrt`` at these arguments (shape ``S + A``)."""
        values = args if not kwargs and len(args) == self._nparams else self._bind(*args, **kwargs)
        plan = self._plans.get(self._key(values))
        if plan is None:
            plan = self._plan(values)
        try:
            return plan.derivative(values)
        except Exception as exc:
            self._annotate(exc)
            raise

    def value_and_derivative(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        """``(f(*args), derivative(*args))``, computed together."""
        values = args if not kwargs and len(args) == self._nparams else self._bind(*args, **kwargs)
        plan = self._plans.get(self._key(values))
        if plan is None:
            plan = self._plan(values)
        try:
            return plan.value_and_derivative(values)
        except Exception as exc:
            self._annotate(exc)
            raise

    def jacobian(self, *args: Any, **kwargs: Any) -> Any:
        """The Jacobian w.r.t. ``wrt`` (shape ``S + A``): ``derivative``."""
        return self.derivative(*args, **kwargs)

    def grad(self, *args: Any, **kwargs: Any) -> Any:
        """The gradient of a scalar output w.r.t. ``wrt``, each of the shape
        of its argument; an ``S2SError`` for any other output."""
        values = args if not kwargs and len(args) == self._nparams else self._bind(*args, **kwargs)
        plan = self._plans.get(self._key(values)) or self._plan(values)
        if isinstance(plan, _AutoPlan):
            plan = plan.choose(values) or plan
        if isinstance(plan, _ReversePlan) and plan.scalar_output and not plan.several_outputs:  # the two sweeps, no more
            try:
                return plan.derivative(values)
            except Exception as exc:
                self._annotate(exc)
                raise
        return self.value_and_grad(*args, **kwargs)[1]

    def value_and_grad(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        """``(f(*args), grad(*args))``, computed together."""
        values = args if not kwargs and len(args) == self._nparams else self._bind(*args, **kwargs)
        plan = self._plans.get(self._key(values)) or self._plan(values)
        try:
            if isinstance(plan, (_ForwardPlan, _VectorPlan)):  # forced, or one input element: cheap either way
                out, gradient = plan.value_and_derivative(values)
                self._require_scalar(out, plan)
                return out, gradient
            reverse = plan if isinstance(plan, _ReversePlan) else self._reverse_plan(values)
            out, saved = reverse.sweep(*values)
            self._require_scalar(out, reverse)  # before any backward sweep
            return out, reverse.finish(out, saved)
        except Exception as exc:
            self._annotate(exc)
            raise

    def jvp(self, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
        """``(f(*primals), J @ tangents)``: the output and its tangent, for a
        tangent of each ``wrt`` argument (in ``wrt`` order, shaped like it).
        One forward pass, whatever the sizes."""
        values = self._bind(*primals)
        given = self._directions("tangents", tangents, [values[self.params.index(w)] for w in self.wrt])
        plan = self._fixed_plan(values, "forward")
        ordered = [given[self.wrt.index(name)] for name in self._wrt_in_order]
        try:
            outs, dots = plan.push(values, ordered)  # type: ignore[attr-defined]
        except Exception as exc:
            self._annotate(exc)
            raise
        plan.check_output(outs if plan.several_outputs else outs[0])
        if plan.several_outputs:
            return outs, tuple(map(_scalar_if_0d, dots))
        return outs[0], _scalar_if_0d(dots[0])

    def vjp(self, primals: Sequence[Any], cotangent: Any) -> tuple[Any, Any]:
        """``(f(*primals), cotangent @ J)``: the output and, for a cotangent
        shaped like it (a tuple for several outputs), the product with the
        Jacobian for each ``wrt`` argument (a tuple for several, in ``wrt``
        order). One forward and one backward sweep, whatever the sizes."""
        values = self._bind(*primals)
        plan = self._fixed_plan(values, "reverse")
        try:
            out, saved = plan.sweep(*values)  # type: ignore[attr-defined]
            plan.check_output(out)
            outs = plan.outputs(out)
            given = cotangent if plan.several_outputs else (cotangent,)
            cotangents = self._directions("cotangent", given, list(outs))
            bars = plan.pull(saved, cotangents)  # type: ignore[attr-defined]
        except Exception as exc:
            self._annotate(exc)
            raise
        return out, plan.arrange([_scalar_if_0d(b) for b in bars])

    def hessian(self, *args: Any, **kwargs: Any) -> Any:
        """The Hessian of a scalar output w.r.t. ``wrt``: shape ``A + A`` (for
        several ``wrt``, a tuple of rows of blocks ``H[i][j]`` of shape
        ``A_i + A_j``). Forward mode over the reverse-mode gradient code: one
        vectorized pass over the gradient's code."""
        return self._in_wrt_order(self.second_order().derivative(*args, **kwargs))

    def hvp(self, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
        """``(gradient, H @ tangents)`` at ``primals``: the Hessian-vector
        product in one forward pass over the reverse-mode gradient code,
        without forming the Hessian (a tuple per ``wrt`` argument for several)."""
        gradient, product = self.second_order().jvp(primals, tangents)
        return self._in_wrt_order(gradient), self._in_wrt_order(product)

    def _in_wrt_order(self, per_gradient: Any) -> Any:
        """The gradient code returns one result per ``wrt`` in parameter
        order: put them in the user's order."""
        return tuple(per_gradient[i] for i in self._user_order) if len(self.wrt) > 1 else per_gradient

    def second_order(self) -> "Differentiated":
        """The gradient of this function, as code s2s generated (reverse
        mode), itself differentiated w.r.t. ``wrt``: its ``derivative`` is
        the Hessian, its ``jvp`` the Hessian-vector product."""
        with self._lock:
            if self._second_order is None:
                self._second_order = Differentiated(self._gradient_function(), self.wrt, "forward", cache=self._cache_wanted, cache_dir=self._cache_dir)
        return self._second_order

    def _gradient_function(self) -> Callable:
        """``gradient(*params)``: the reverse-mode module's forward sweep and
        one backward sweep with the cotangent 1, compiled from source (with
        the module) so that s2s can read and differentiate it."""
        loaded = self._load("reverse")
        info = loaded.info
        fn = self.__wrapped__
        if info.tuple_output:
            raise S2SError(f"a Hessian needs a function with one scalar output; {fn.__qualname__} returns a tuple", **_where(fn))
        name = f"{fn.__name__}_gradient"
        while name in info.bindings or f"def {name}(" in loaded.code:
            name += "_"
        params = ", ".join(self.params)
        suffix = "_" * sum(p.startswith("gradient") for p in self.params)  # no parameter's name
        results = ", ".join(f"gradient{i}{suffix}" for i in range(len(self.wrt)))  # one per wrt, in parameter order
        if "gradient" in info.entry:  # both sweeps fused, without what only the output needs
            seed = _fresh_name("unit_seed", loaded.code)
            wrt = ", ".join(p for p in self.params if p in self.wrt)
            text = loaded.code + (
                f"\n\nfrom s2s.runtime import unit_seed as {seed}\n\n\n"
                f"def {name}({params}):\n"
                f"    {results} = {info.entry['gradient']}({params}, {seed}({wrt}))\n"
                f"    return {results}\n"
            )
        else:
            seed = _fresh_name("unit_cotangent", loaded.code)
            text = loaded.code + (
                f"\n\nfrom s2s.runtime import unit_cotangent as {seed}\n\n\n"
                f"def {name}({params}):\n"
                f"    out, saved = {info.entry['forward']}({params})\n"
                f"    {results} = {info.entry['backward']}(saved, {seed}(out))\n"
                f"    return {results}\n"
            )
        info = dataclasses.replace(info, bindings={**info.bindings, name: ()})
        owners = {**loaded.owners, name: fn}
        return load_module(text, f"<s2s gradient of {fn.__qualname__}>", info, owners)[name]

    def _fixed_plan(self, values: tuple, mode: str) -> "_Plan":
        """The plan of a given mode for these argument shapes (for ``jvp``,
        ``vjp`` and ``grad``, whatever the decorator's mode)."""
        key = (mode, self._key(values))
        plan = self._plans.get(key)
        if plan is None:
            shapes = [_check_wrt_value(self, name, values[i]) for name, i in zip(self._wrt_in_order, self._wrt_index)]
            plan = self._plans[key] = _ForwardPlan(self, shapes) if mode == "forward" else _ReversePlan(self, shapes)
        return plan

    def _reverse_plan(self, values: tuple) -> "_ReversePlan":
        return self._fixed_plan(values, "reverse")  # type: ignore[return-value]

    def _directions(self, what: str, given: Sequence[Any], like: list[Any]) -> list[Any]:
        """Tangents or cotangents as the generated code takes them: one per
        value they go with, each of its shape, as floats."""
        fn = self.__wrapped__
        if isinstance(given, (str, bytes)) or not isinstance(given, Sequence) or len(given) != len(like):
            count = f"{len(like)} value{'s' if len(like) != 1 else ''}"
            raise S2SError(f"{fn.__qualname__}: {what} must be a sequence of {count}, one per {'wrt argument' if what == 'tangents' else 'output'}; got {given!r:.60}", **_where(fn))
        out = []
        for direction, value in zip(given, like):
            if np.shape(direction) != np.shape(value):
                raise S2SError(f"{fn.__qualname__}: a {what[:-1] if what.endswith('s') else what} of shape {np.shape(direction)} for a value of shape {np.shape(value)}", **_where(fn), hint="give each direction the shape of its value")
            dtype = _float_dtype(value)
            out.append(np.asarray(direction, dtype=dtype) if type(value) is np.ndarray else dtype.type(direction))
        return out

    def _require_scalar(self, out: Any, plan: "_Plan") -> None:
        if not plan.several_outputs and np.ndim(out) == 0:
            return
        fn = self.__wrapped__
        what = f"a tuple of {len(out)} outputs" if plan.several_outputs else f"an array of shape {np.shape(out)}"
        raise S2SError(
            f"grad needs a function with one scalar output; {fn.__qualname__} returns {what}",
            **_where(fn),
            hint="use jacobian() (or derivative()) for the whole Jacobian, vjp() for its product with a cotangent, or reduce the output to a number (e.g. np.sum)",
        )

    def _annotate(self, exc: BaseException) -> None:
        """Point an exception raised in generated code back at the user's
        line: a note, and the location of an s2s error raised there."""
        for loaded in list(self._loaded.values()):
            origin = loaded.origin_of(exc)
            if origin is None:
                continue
            if isinstance(exc, S2SError) and exc.filename is None and origin.lineno is not None:
                exc.filename, exc.lineno, exc.source_line = origin.filename, origin.lineno, origin.source
            elif origin.note not in getattr(exc, "__notes__", ()):
                exc.add_note(origin.note)

    def mode_for(self, *args: Any, **kwargs: Any) -> str:
        """The mode used for arguments of these shapes ("forward" or
        "reverse"). With ``mode="auto"``, several differentiated elements and
        shapes not seen before, this computes the derivative once to learn
        the size of the output."""
        values = self._bind(*args, **kwargs)
        plan = self._plans.get(self._key(values)) or self._plan(values)
        if isinstance(plan, _AutoPlan):
            plan.value_and_derivative(values)
            return plan.choose(values).mode  # type: ignore[union-attr]
        return plan.mode

    def source(self, mode: str | None = None) -> str:
        """The generated derivative module as Python source.

        ``mode`` defaults to the decorator's mode; with ``"auto"``, to the mode
        most recently used, or else reverse for a function whose output is
        a scalar by construction and forward otherwise. ``"forward-vector"``
        and ``"reverse-vector"`` give the code that computes many directions
        in one pass (used for whole Jacobians).
        """
        chosen = mode or (self.mode if self.mode != "auto" else self._last_mode)
        if chosen is None:
            chosen = "reverse" if self._load("forward").info.scalar_output else "forward"
        if chosen not in ("forward", "reverse", "forward-vector", "reverse-vector"):
            raise S2SError(f"source(mode=...) takes 'forward', 'reverse', 'forward-vector' or 'reverse-vector'; got {chosen!r}")
        return self._load(chosen).source

    def __repr__(self) -> str:
        wrt = ", ".join(self.wrt)
        last = f", last used: {self._last_mode}" if self.mode == "auto" and self._last_mode else ""
        backend = f" backend={self._backend.name} (compiled in {self._backend.seconds:.2f} s)" if self._backend is not None else ""
        return f"<s2s.differentiate {self.__qualname__} wrt=({wrt}) mode={self.mode}{last}{backend}>"

    @property
    def compile_time(self) -> float:
        """Seconds spent so far compiling derivative code (or loading it from
        numba's cache) with ``backend="numba"``; 0.0 with numpy."""
        return self._backend.seconds if self._backend is not None else 0.0

    def compile_stats(self) -> dict[str, dict[str, Any]]:
        """Per mode compiled with ``backend="numba"``: ``seconds``,
        ``cache_hits`` and ``cache_misses`` of numba's on-disk cache,
        ``fallback`` (why it runs the numpy code, or ``None``) and ``path``
        (the module numba compiled)."""
        return self._backend.stats() if self._backend is not None else {}

    # generation ----------------------------------------------------------------

    def _load(self, mode: str) -> Loaded:
        loaded = self._loaded.get(mode)
        if loaded is not None:
            return loaded
        with self._lock:
            loaded = self._loaded.get(mode)
            if loaded is None:
                loaded = self._read_or_generate(mode)
                if self._backend is not None:
                    loaded = self._backend.apply(loaded, self.__qualname__, self._module_cache())
                self._loaded[mode] = loaded
        return loaded

    def _read_or_generate(self, mode: str) -> Loaded:
        """The module from the disk cache when it holds one for this code,
        else generated (and stored). A stored module runs under its file's
        name, so that tracebacks show its lines."""
        fn = self.__wrapped__
        cache = self._module_cache()
        key = cache_key(fn, self._wrt_in_order, mode) if cache is not None else ""
        cached = cache.get(key) if cache is not None else None
        if cached is not None:
            try:
                info = ModuleInfo.read(cached.module)
                return _loaded(cached.module, info, cached.stored, str(cached.path), owners_by_chain(fn, info.bindings))
            except (ValueError, LookupError, SyntaxError) as exc:
                problem = f"it is not valid Python ({exc.msg}, line {exc.lineno})" if isinstance(exc, SyntaxError) else str(exc)
                cache.report(f"s2s is ignoring the cache file {cached.path}: {problem}; generating the derivative again")  # type: ignore[union-attr]
        from .frontend import load_function
        from .generate import generate  # the compiler is imported only when it is needed

        generated = generate(load_function(fn), self._wrt_in_order, mode)
        stored = cache.put(key, generated.source) if cache is not None else None
        owners = {name: source.function for name, source in generated.owners.items()}
        if stored is not None:
            return _loaded(generated.source, generated.info, stored.stored, str(stored.path), owners)  # type: ignore[arg-type]
        return _loaded(generated.source, generated.info, generated.source, f"<s2s {mode} derivative of {self.__qualname__}>", owners)  # type: ignore[arg-type]

    def _module_cache(self) -> ModuleCache | None:
        return module_cache(self._cache_dir) if self._cache_wanted else None

    # plans ------------------------------------------------------------------------

    def _plan(self, values: tuple) -> "_Plan":
        """Check the differentiated arguments and choose how to compute the
        derivative for arguments of these shapes; remembered per shape key."""
        shapes = [_check_wrt_value(self, name, values[i]) for name, i in zip(self._wrt_in_order, self._wrt_index)]
        k = sum(math.prod(s) for s in shapes)
        mode = self.mode
        if mode == "auto" and k <= 1:
            mode = "forward"  # one input direction: forward is never worse
        plan: _Plan
        if mode == "forward":
            scalar = values[self._wrt_index[0]]
            if k > 1:
                plan = _VectorPlan(self, shapes)
            else:
                plan = _ForwardPlan(self, shapes, plain_seed=scalar if len(self._wrt_index) == 1 and type(scalar) is not np.ndarray else None)
        elif mode == "reverse":
            plan = _ReversePlan(self, shapes)
        else:
            plan = _AutoPlan(self, shapes, k)
        self._plans[self._key(values)] = plan
        self._last_mode = plan.mode if plan.mode != "auto" else self._last_mode
        return plan


class _Plan:
    """How to compute the derivative for one combination of argument shapes."""

    mode = "auto"
    several_outputs: int | None = None  # the number of outputs of a function returning a tuple

    def __init__(self, owner: Differentiated, wrt_shapes: list[tuple[int, ...]]) -> None:
        self.owner = owner
        self.wrt_shapes = wrt_shapes
        self.index = owner._wrt_index
        self.output_checked = False

    def value_and_derivative(self, values: tuple) -> tuple[Any, Any]:
        raise NotImplementedError

    def check_output(self, out: Any) -> None:
        """On the first call: is the output something with a derivative?"""
        if not self.output_checked:
            for one in self.outputs(out):
                _check_output(self.owner, one)
            self.output_checked = True

    def outputs(self, out: Any) -> tuple:
        return out if self.several_outputs else (out,)

    def derivative(self, values: tuple) -> Any:
        return self.value_and_derivative(values)[1]

    def arrange(self, results: list[Any]) -> Any:
        """Derivatives in parameter order -> one, or a tuple in ``wrt`` order."""
        if len(results) == 1:
            return results[0]
        return tuple(results[i] for i in self.owner._user_order)

    def arrange_outputs(self, per_output: list[list[Any]]) -> Any:
        """``per_output[j][n]``, the derivative of output ``j`` w.r.t. the
        ``n``-th differentiated parameter -> one result per output (a tuple
        when the function returns several), each arranged by ``wrt``."""
        arranged = [self.arrange(results) for results in per_output]
        return tuple(arranged) if self.several_outputs else arranged[0]


class _ForwardPlan(_Plan):
    """The one-direction tangent code: ``jvp``, and the derivative w.r.t. a
    single input element (more elements take ``_VectorPlan``'s one pass)."""

    mode = "forward"

    def __init__(self, owner: Differentiated, wrt_shapes: list[tuple[int, ...]], plain_seed: Any = None) -> None:
        super().__init__(owner, wrt_shapes)
        loaded = owner._load("forward")
        self.jvp = loaded.entry("jvp")
        self.several_outputs = loaded.info.outputs if loaded.info.tuple_output else None
        if wrt_shapes == [()] and plain_seed is not None and not self.several_outputs:  # one float in: one tangent pass seeded with 1
            self.seed = _unit(plain_seed)
            self.derivative = self.first_derivative  # type: ignore[method-assign]

    def first_derivative(self, values: tuple) -> Any:
        """The first call checks the output; later calls run the
        derivative-only function where the module has one (it does not
        compute the output)."""
        jvp, seed = self.jvp, self.seed
        out = jvp(*values, seed)[0]
        self.check_output(out)
        loaded = self.owner._load("forward")
        if "tangent" in loaded.info.entry:
            tangent = loaded.entry("tangent")

            def derivative(values: tuple) -> Any:
                dot = tangent(*values, seed)
                return dot[()] if type(dot) is np.ndarray and dot.ndim == 0 else dot

            self.derivative = derivative  # type: ignore[method-assign]
        else:
            self.derivative = lambda values: _scalar_if_0d(jvp(*values, seed)[1])  # type: ignore[method-assign]
        return self.derivative(values)  # what every later call computes

    def push(self, values: tuple, tangents: list[Any]) -> tuple[tuple, tuple]:
        """The outputs and their tangents, as tuples, for these tangents of
        the differentiated arguments (in parameter order)."""
        result = self.jvp(*values, *tangents)
        m = self.several_outputs
        return (tuple(result[:m]), tuple(result[m:])) if m else ((result[0],), (result[1],))

    def value_and_derivative(self, values: tuple) -> tuple[Any, Any]:
        zeros = [_zero_tangent(values[i]) for i in self.index]
        outs: tuple = ()
        per_wrt = []
        for n, (i, shape) in enumerate(zip(self.index, self.wrt_shapes)):
            columns = []
            for seed in _basis(values[i], shape):
                tangents = list(zeros)
                tangents[n] = seed
                outs, dots = self.push(values, tangents)
                columns.append(dots)
            if not columns:  # an empty argument: no direction, the outputs still count
                outs = self.push(values, zeros)[0]
            per_wrt.append([_assemble_columns([c[j] for c in columns], np.shape(o), shape) for j, o in enumerate(outs)])
        out = outs if self.several_outputs else outs[0]
        self.check_output(out)
        return out, self.arrange_outputs([[r[j] for r in per_wrt] for j in range(len(outs))])


class _VectorPlan(_Plan):
    """One tangent pass for every input direction at once: the seeds are
    identity blocks with a trailing axis of directions, and the output's
    tangent holds the whole Jacobian."""

    mode = "forward"

    def __init__(self, owner: Differentiated, wrt_shapes: list[tuple[int, ...]]) -> None:
        super().__init__(owner, wrt_shapes)
        loaded = owner._load("forward-vector")
        self.jvp = loaded.entry("jvp")
        self.several_outputs = loaded.info.outputs if loaded.info.tuple_output else None
        self.sizes = [math.prod(shape) for shape in wrt_shapes]
        self.directions = sum(self.sizes)
        self.seeds: dict[tuple, list[np.ndarray]] = {}

    def seeds_for(self, values: tuple) -> list[np.ndarray]:
        """Per differentiated argument, its block of the identity: shape
        ``argument shape + (k,)``, of the argument's floating dtype."""
        dtypes = tuple(_float_dtype(values[i]).char for i in self.index)
        seeds = self.seeds.get(dtypes)
        if seeds is None:
            seeds, start = [], 0
            for shape, size, dtype in zip(self.wrt_shapes, self.sizes, dtypes):
                seed = np.zeros((size, self.directions), dtype=dtype)
                seed[:, start : start + size] = np.eye(size, dtype=dtype)
                seeds.append(seed.reshape(shape + (self.directions,)))
                start += size
            self.seeds[dtypes] = seeds
        return seeds

    def value_and_derivative(self, values: tuple) -> tuple[Any, Any]:
        result = self.jvp(*values, *self.seeds_for(values), self.directions)
        m = self.several_outputs
        outs, dots = (tuple(result[:m]), tuple(result[m:])) if m else ((result[0],), (result[1],))
        out = outs if m else outs[0]
        self.check_output(out)
        per_output = []
        for o, dot in zip(outs, dots):
            dot = np.broadcast_to(dot, np.shape(o) + (self.directions,))  # a zero tangent may be a bare 0.0
            blocks, start = [], 0
            for shape, size in zip(self.wrt_shapes, self.sizes):
                blocks.append(_scalar_if_0d(np.array(dot[..., start : start + size]).reshape(np.shape(o) + shape)))
                start += size
            per_output.append(blocks)
        return out, self.arrange_outputs(per_output)


class _ReversePlan(_Plan):
    """One forward sweep, then one backward sweep: for a scalar output, with
    the cotangent 1; for several output elements, one vectorized sweep
    carrying every output direction (the rows of the identity)."""

    mode = "reverse"

    def __init__(self, owner: Differentiated, wrt_shapes: list[tuple[int, ...]]) -> None:
        super().__init__(owner, wrt_shapes)
        loaded = owner._load("reverse")
        self.several_outputs = loaded.info.outputs if loaded.info.tuple_output else None
        self.scalar_output = loaded.info.scalar_output
        self.sweep_entry = loaded.entry("forward")
        self.backward = loaded.entry("backward")
        self.several = len(self.index) > 1
        self.vector: tuple[Callable, Callable] | None = None  # the vector module's sweeps, loaded when first needed
        self.seeds: dict[tuple, tuple[int, list[np.ndarray]]] = {}
        if self.scalar_output and not self.several_outputs:
            self.derivative = self.first_gradient  # type: ignore[method-assign]

    def first_gradient(self, values: tuple) -> Any:
        """The gradient; the first call checks the output and learns the
        seed's type from it (fixed by the arguments' shapes and dtypes, which
        the plan is for), later calls run the two sweeps and nothing else."""
        out = self.value_and_derivative(values)[0]
        loaded = self.owner._load("reverse")
        seed = _unit(out)
        if "gradient" in loaded.info.entry:  # both sweeps in one generated function
            fused = loaded.entry("gradient")
        else:
            sweep, backward = self.sweep_entry, self.backward

            def fused(*values: Any) -> Any:
                return backward(sweep(*values[:-1])[1], values[-1])

        if self.several:
            order = self.owner._user_order

            def derivative(values: tuple) -> Any:
                bars = fused(*values, seed)
                return tuple(_scalar_if_0d(bars[i]) for i in order)
        else:

            def derivative(values: tuple) -> Any:
                bar = fused(*values, seed)
                return bar[()] if type(bar) is np.ndarray and bar.ndim == 0 else bar

        self.derivative = derivative  # type: ignore[method-assign]
        return derivative(values)  # what every later call computes

    def sweep(self, *values: Any) -> tuple[Any, Any]:
        """The forward sweep: the output (a tuple for several) and what the
        backward sweep needs."""
        return self.split(self.sweep_entry(*values))

    def split(self, result: tuple) -> tuple[Any, Any]:
        m = self.several_outputs
        return (tuple(result[:m]), result[m]) if m else result

    def pull(self, saved: Any, cotangents: list[Any]) -> list[Any]:
        """The adjoints of the differentiated arguments (in parameter order)
        for a cotangent of each output."""
        bars = self.backward(saved, *cotangents)
        return list(bars) if self.several else [bars]

    def value_and_derivative(self, values: tuple) -> tuple[Any, Any]:
        if self.scalar_output:
            out, saved = self.sweep(*values)
            return out, self.finish(out, saved)
        if self.vector is None:
            loaded = self.owner._load("reverse-vector")
            self.vector = (loaded.entry("forward"), loaded.entry("backward"))
        out, saved = self.split(self.vector[0](*values))
        return out, self.finish_vector(out, saved)

    def finish(self, out: Any, saved: Any) -> Any:
        """The Jacobian from the forward sweep of the one-cotangent code: one
        backward sweep per output element (one for a scalar output)."""
        self.check_output(out)
        outs = self.outputs(out)
        zeros = [_zero_tangent(o) for o in outs]
        per_output = []
        for j, o in enumerate(outs):
            cotangents = list(zeros)
            if type(o) is not np.ndarray or o.ndim == 0:
                cotangents[j] = _unit(o)
                per_output.append(list(map(_scalar_if_0d, self.pull(saved, cotangents))))
                continue
            rows: list[list[Any]] = [[] for _ in self.index]
            for cotangent in _basis(o, o.shape):
                cotangents[j] = cotangent
                for row, bar in zip(rows, self.pull(saved, cotangents)):
                    row.append(bar)
            per_output.append([_assemble_rows(row, o.shape, shape) for row, shape in zip(rows, self.wrt_shapes)])
        return self.arrange_outputs(per_output)

    def finish_vector(self, out: Any, saved: Any) -> Any:
        """The Jacobian from one backward sweep of the vector code, seeded
        with the identity: the adjoint of each argument has a trailing axis
        with one entry per output element."""
        self.check_output(out)
        outs = self.outputs(out)
        m, seeds = self.seeds_for(outs)
        bars = self.vector[1](saved, *seeds, m)  # type: ignore[index]
        per_wrt = []
        for bar, shape in zip(bars if self.several else (bars,), self.wrt_shapes):
            rows = np.moveaxis(np.broadcast_to(bar, shape + (m,)), -1, 0)  # a zero adjoint may be a bare 0.0
            blocks, start = [], 0
            for o in outs:
                size = int(np.size(o))
                blocks.append(_scalar_if_0d(np.array(rows[start : start + size]).reshape(np.shape(o) + shape)))
                start += size
            per_wrt.append(blocks)
        return self.arrange_outputs([[blocks[j] for blocks in per_wrt] for j in range(len(outs))])

    def seeds_for(self, outs: tuple) -> tuple[int, list[np.ndarray]]:
        """Per output, its block of the identity: shape ``output shape + (m,)``."""
        key = tuple((np.shape(o), _float_dtype(o).char) for o in outs)
        found = self.seeds.get(key)
        if found is None:
            m = sum(int(np.size(o)) for o in outs)
            seeds, start = [], 0
            for shape, dtype in key:
                size = math.prod(shape)
                seed = np.zeros((size, m), dtype=dtype)
                seed[:, start : start + size] = np.eye(size, dtype=dtype)
                seeds.append(seed.reshape(shape + (m,)))
                start += size
            found = self.seeds[key] = (m, seeds)
        return found


class _AutoPlan(_Plan):
    """``mode="auto"`` with several input elements: the better mode depends on
    the size of the output, learned from the first forward sweep for each
    combination of argument shapes."""

    def __init__(self, owner: Differentiated, wrt_shapes: list[tuple[int, ...]], k: int) -> None:
        super().__init__(owner, wrt_shapes)
        self.k = k
        self.plans: dict[tuple, _Plan] = {}

    def choose(self, values: tuple) -> _Plan | None:
        full = tuple(map(_shape_key, values))
        plan = self.plans.get(full)
        if plan is None and full in self.owner._output_sizes:
            m = self.owner._output_sizes[full]
            plan = _VectorPlan(self.owner, self.wrt_shapes) if self.k <= m else _ReversePlan(self.owner, self.wrt_shapes)
            self.plans[full] = plan
        if plan is not None:
            self.owner._last_mode = plan.mode
        return plan

    def derivative(self, values: tuple) -> Any:
        plan = self.choose(values)
        return plan.derivative(values) if plan is not None else self.value_and_derivative(values)[1]

    def value_and_derivative(self, values: tuple) -> tuple[Any, Any]:
        plan = self.choose(values)
        if plan is not None:
            return plan.value_and_derivative(values)
        reverse = _ReversePlan(self.owner, self.wrt_shapes)
        out, saved = reverse.sweep(*values)
        self.owner._output_sizes[tuple(map(_shape_key, values))] = sum(int(np.size(o)) for o in reverse.outputs(out))
        plan = self.choose(values)
        if plan is not reverse and isinstance(plan, (_ForwardPlan, _VectorPlan)):
            return plan.value_and_derivative(values)
        if sum(int(np.size(o)) for o in reverse.outputs(out)) > 1:
            return plan.value_and_derivative(values)  # type: ignore[union-attr] - the vector backward sweep
        return out, reverse.finish(out, saved)


# --------------------------------------------------------------------------
# Helpers


def _basis(x: Any, shape: tuple[int, ...]):
    """Unit vectors of the space ``x`` lives in, in C order, of ``x``'s
    kind: a float for a float, a 0-d array for a 0-d array."""
    if not shape:
        yield _unit(x)
        return
    dtype = _float_dtype(x)
    for j in range(math.prod(shape)):
        e = np.zeros(shape, dtype=dtype)
        e.flat[j] = 1
        yield e


def _fresh_name(base: str, code: str) -> str:
    """``base``, with underscores added until ``code`` does not use it."""
    while base in code:
        base += "_"
    return base


def _unit(x: Any) -> Any:
    """The seed 1 for a scalar ``x``, of ``x``'s precision: a numpy scalar
    (a 0-d array for a 0-d array), so that derivative arithmetic follows
    numpy's rules (``1 / 0.0`` is ``inf``, as in the primal's numpy calls,
    not Python's ZeroDivisionError)."""
    dtype = _float_dtype(x)
    return np.ones((), dtype=dtype) if type(x) is np.ndarray else dtype.type(1)


def _zero_tangent(x: Any) -> Any:
    dtype = _float_dtype(x)
    return dtype.type(0) if not isinstance(x, np.ndarray) else np.zeros(x.shape, dtype=dtype)


def _float_dtype(x: Any) -> np.dtype:
    dtype = np.result_type(x)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _assemble_columns(columns: list[Any], out_shape: tuple[int, ...], wrt_shape: tuple[int, ...]) -> Any:
    """Tangents for each input direction -> Jacobian of shape out + wrt."""
    if not columns:
        return np.zeros(out_shape + wrt_shape)
    if not wrt_shape:
        return _scalar_if_0d(columns[0])
    stacked = np.stack(columns, axis=-1)
    return _scalar_if_0d(stacked.reshape(out_shape + wrt_shape))


def _assemble_rows(rows: list[Any], out_shape: tuple[int, ...], wrt_shape: tuple[int, ...]) -> Any:
    """Adjoints for each output direction -> Jacobian of shape out + wrt."""
    if not rows:
        return np.zeros(out_shape + wrt_shape)
    if not out_shape:
        return _scalar_if_0d(rows[0])
    stacked = np.stack(rows, axis=0)
    return _scalar_if_0d(stacked.reshape(out_shape + wrt_shape))


def _scalar_if_0d(x: Any) -> Any:
    return x[()] if type(x) is np.ndarray and x.ndim == 0 else x


def _shape_key(value: Any) -> object:
    """What a plan depends on: an array's shape and dtype, else the type."""
    if type(value) is np.ndarray:
        return (value.shape, value.dtype.char)
    return type(value)


def _key_function(index: tuple[int, ...]) -> Callable[[tuple], object]:
    """The plan key of an argument tuple: the shape keys of the differentiated
    arguments (the output's size, when it matters, is keyed separately)."""
    if len(index) == 1:
        (i,) = index

        def key(values: tuple) -> object:  # _shape_key, inline: this runs on every call
            value = values[i]
            return (value.shape, value.dtype.char) if type(value) is np.ndarray else type(value)

        return key
    return lambda values: tuple([_shape_key(values[i]) for i in index])


def _check_output(owner: Differentiated, out: Any) -> None:
    """A function s2s differentiates returns floats: a float, a numpy
    floating scalar or array (or a list numpy reads as one)."""
    fn = owner.__wrapped__
    kind = np.asarray(out).dtype.kind if isinstance(out, (float, int, complex, np.generic, np.ndarray, list)) else None
    if kind == "f":
        return
    what = f"{fn.__qualname__} returns {_describe_value(out)}"
    if kind in ("b", "i", "u"):
        raise S2SError(f"{what}: its derivative is zero wherever it is defined", **_where(fn), hint="return a floating-point value; s2s differentiates functions whose output is a float or an array of floats")
    if kind == "c":
        raise S2SError(f"{what}; s2s differentiates real-valued functions", **_where(fn), hint="return the real and imaginary parts as separate functions")
    raise S2SError(f"{what}; s2s differentiates functions whose output is a float or an array of floats", **_where(fn), hint="return a number or a numpy array")


def _where(fn: Callable) -> dict[str, Any]:
    """The location of ``fn``'s definition, for an error about its use."""
    code = fn.__code__  # type: ignore[attr-defined]
    return {"filename": code.co_filename, "lineno": code.co_firstlineno}


def _describe_value(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of {value.dtype}"
    article = "an" if type(value).__name__[0] in "aeiou" else "a"
    return f"{article} {type(value).__name__} ({value!r:.40})"


def _check_wrt_value(owner: Differentiated, name: str, value: Any) -> tuple[int, ...]:
    """The shape of a differentiated argument, after checking its type."""
    fn = owner.__wrapped__
    where = f"argument {name!r} of {fn.__qualname__}"
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer))):
        raise S2SError(f"{where} is an integer ({value!r}); s2s differentiates floating-point values", **_where(fn), hint=f"pass {float(value)!r} instead")
    if isinstance(value, (float, np.floating)):
        return ()
    if isinstance(value, np.ndarray):
        kind = value.dtype.kind
        if kind == "f":
            return value.shape
        if kind == "c":
            raise S2SError(f"{where} is complex ({value.dtype}); s2s differentiates real floating-point values", **_where(fn))
        raise S2SError(
            f"{where} is an array of {value.dtype}; s2s differentiates floating-point values",
            **_where(fn),
            hint=f"convert it with {name}.astype(float)",
        )
    if isinstance(value, complex):
        raise S2SError(f"{where} is complex; s2s differentiates real floating-point values", **_where(fn))
    raise S2SError(
        f"{where} is a {type(value).__name__}; s2s differentiates floats and numpy arrays of floats",
        **_where(fn),
        hint=f"pass np.asarray({name}, dtype=float)",
    )


def _parameter_names(fn: Callable) -> list[str]:
    return list(inspect.signature(fn).parameters)


def _check_wrt(fn: Callable, wrt: str | Sequence[str], params: list[str]) -> tuple[str, ...]:
    if not isinstance(wrt, (str, list, tuple)):
        raise S2SError(f"wrt must be a parameter name or a tuple of names; got {type(wrt).__name__} {wrt!r}", hint="e.g. wrt='x' or wrt=('x', 'y')")
    names = (wrt,) if isinstance(wrt, str) else tuple(wrt)
    code = fn.__code__  # type: ignore[attr-defined]
    for name in names:
        if not isinstance(name, str) or name not in params:
            raise S2SError(
                f"wrt={name!r} is not a parameter of {fn.__qualname__}({', '.join(params)})",
                filename=code.co_filename,
                lineno=code.co_firstlineno,
                hint="name the parameters to differentiate with respect to, e.g. wrt=" + repr(params[-1] if params else "x"),
            )
    if not names:
        raise S2SError(f"wrt names no parameter of {fn.__qualname__}", hint="pass wrt='x' or wrt=('x', 'y')")
    if len(set(names)) != len(names):
        raise S2SError(f"wrt={names!r} names a parameter twice")
    kinds = inspect.signature(fn).parameters
    for name in names:
        if kinds[name].kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise S2SError(f"wrt={name!r} is a *args/**kwargs parameter of {fn.__qualname__}", filename=code.co_filename, lineno=code.co_firstlineno, hint="differentiate named parameters")
    return names


def _binder(fn: Callable) -> Callable[..., tuple]:
    """A function with ``fn``'s signature that returns its arguments as a
    tuple in parameter order: Python's own argument binding, at full speed."""
    sig = inspect.signature(fn)
    parts: list[str] = []
    seen_kwonly = False
    for i, p in enumerate(sig.parameters.values()):
        if p.kind is p.KEYWORD_ONLY and not seen_kwonly:
            parts.append("*")
            seen_kwonly = True
        if p.kind is p.VAR_POSITIONAL:
            text, seen_kwonly = f"*{p.name}", True  # what follows is keyword-only
        elif p.kind is p.VAR_KEYWORD:
            text = f"**{p.name}"
        else:
            text = p.name + ("=None" if p.default is not p.empty else "")
        parts.append(text)
        if p.kind is p.POSITIONAL_ONLY and (i + 1 == len(sig.parameters) or list(sig.parameters.values())[i + 1].kind is not p.POSITIONAL_ONLY):
            parts.append("/")
    names = list(sig.parameters)
    name = fn.__name__ if fn.__name__.isidentifier() else "bind"  # errors read as calling fn would: "f() missing ..."
    source = f"def {name}({', '.join(parts)}):\n    return ({', '.join(names)}{',' if names else ''})\n"
    namespace: dict = {}
    exec(source, namespace)  # noqa: S102 - built from parameter names only
    bind = namespace[name]
    bind.__defaults__ = fn.__defaults__  # type: ignore[attr-defined]
    bind.__kwdefaults__ = fn.__kwdefaults__  # type: ignore[attr-defined]
    return bind


def differentiate(
    fn: Callable | None = None,
    *,
    wrt: str | Sequence[str],
    mode: Mode = "auto",
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    backend: str = "numpy",
    parallel: bool = False,
    fastmath: bool = False,
) -> Any:
    """Differentiate ``fn`` with respect to the parameters named in ``wrt``.

    Use as a decorator, ``@differentiate(wrt="xs")``, or as a function,
    ``differentiate(f, wrt=("d", "xs"), mode="reverse")``.

    Parameters
    ----------
    fn:
        A Python function written with ``def`` using numpy.
    wrt:
        The parameter name, or a tuple of names, to differentiate with
        respect to. With several names, ``derivative`` returns a tuple.
    mode:
        ``"forward"`` (tangent), ``"reverse"`` (adjoint) or ``"auto"``, which
        picks forward when the differentiated arguments hold no more
        elements than the output, reverse otherwise.
    cache:
        Keep generated modules on disk and reuse them in later processes
        (``False``: generate in memory each process).
    cache_dir:
        Where; default ``S2S_CACHE_DIR``, else ``$XDG_CACHE_HOME/s2s``, else
        ``~/.cache/s2s``.
    backend:
        ``"numpy"`` runs the generated module as it is; ``"numba"`` (needs
        ``pip install s2s[numba]``) compiles it, fusing elementwise
        expressions and their reductions into loops. What numba cannot
        compile runs the numpy code, with a warning naming the construct.
    parallel, fastmath:
        numba's options of the same names (``backend="numba"`` only).
    """
    options = dict(cache=cache, cache_dir=cache_dir, backend=backend, parallel=parallel, fastmath=fastmath)
    if fn is None:
        return lambda f: Differentiated(f, wrt, mode, **options)
    return Differentiated(fn, wrt, mode, **options)
