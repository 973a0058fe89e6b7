"""The public API: ``differentiate`` and the object it returns.

``differentiate(f, wrt=...)`` returns a ``Differentiated`` that calls ``f``
unchanged and adds ``derivative``, ``value_and_derivative`` and ``source``.
Derivative code is generated once per mode, on first use, and reused; each
call only binds arguments, looks up a plan for the argument shapes and runs
generated code.

Shape convention (JAX's ``jacobian``): the derivative of an output of shape
``S`` w.r.t. an argument of shape ``A`` has shape ``S + A``.
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import threading
import types
from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

import numpy as np

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

    Calling it calls the original function. ``derivative(*args)`` returns
    the derivative of the output w.r.t. the ``wrt`` parameters (a tuple when
    there are several), ``value_and_derivative(*args)`` both at once, and
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
        a scalar by construction and forward otherwise.
        """
        chosen = mode or (self.mode if self.mode != "auto" else self._last_mode)
        if chosen is None:
            chosen = "reverse" if self._load("forward").info.scalar_output else "forward"
        if chosen not in ("forward", "reverse"):
            raise S2SError(f"source(mode=...) takes 'forward' or 'reverse'; got {chosen!r}")
        return self._load(chosen).source

    def __repr__(self) -> str:
        wrt = ", ".join(self.wrt)
        last = f", last used: {self._last_mode}" if self.mode == "auto" and self._last_mode else ""
        return f"<s2s.differentiate {self.__qualname__} wrt=({wrt}) mode={self.mode}{last}>"

    # generation ----------------------------------------------------------------

    def _load(self, mode: str) -> Loaded:
        loaded = self._loaded.get(mode)
        if loaded is not None:
            return loaded
        with self._lock:
            loaded = self._loaded.get(mode)
            if loaded is None:
                loaded = self._loaded[mode] = self._read_or_generate(mode)
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
            _check_output(self.owner, out)
            self.output_checked = True

    def derivative(self, values: tuple) -> Any:
        return self.value_and_derivative(values)[1]

    def arrange(self, results: list[Any]) -> Any:
        """Derivatives in parameter order -> one, or a tuple in ``wrt`` order."""
        if len(results) == 1:
            return results[0]
        return tuple(results[i] for i in self.owner._user_order)


class _ForwardPlan(_Plan):
    """One tangent pass per input direction (one pass for a scalar ``wrt``)."""

    mode = "forward"

    def __init__(self, owner: Differentiated, wrt_shapes: list[tuple[int, ...]], plain_seed: Any = None) -> None:
        super().__init__(owner, wrt_shapes)
        self.jvp = owner._load("forward").entry("jvp")
        if wrt_shapes == [()] and plain_seed is not None:  # one float in: one tangent pass seeded with 1
            self.seed = _unit(plain_seed)
            self.derivative = self.first_derivative  # type: ignore[method-assign]

    def first_derivative(self, values: tuple) -> Any:
        jvp, seed = self.jvp, self.seed
        out, out_dot = jvp(*values, seed)
        self.check_output(out)
        self.derivative = lambda values: _scalar_if_0d(jvp(*values, seed)[1])  # type: ignore[method-assign]
        return _scalar_if_0d(out_dot)

    def value_and_derivative(self, values: tuple) -> tuple[Any, Any]:
        jvp = self.jvp
        zeros = [_zero_tangent(values[i]) for i in self.index]
        results = []
        out = None
        for n, (i, shape) in enumerate(zip(self.index, self.wrt_shapes)):
            columns = []
            for seed in _basis(values[i], shape):
                tangents = list(zeros)
                tangents[n] = seed
                out, out_dot = jvp(*values, *tangents)
                columns.append(out_dot)
            results.append(_assemble_columns(columns, np.shape(out), shape))
        self.check_output(out)
        return out, self.arrange(results)


class _ReversePlan(_Plan):
    """One forward sweep, then one backward sweep per output element (one for
    a scalar output)."""

    mode = "reverse"

    def __init__(self, owner: Differentiated, wrt_shapes: list[tuple[int, ...]]) -> None:
        super().__init__(owner, wrt_shapes)
        loaded = owner._load("reverse")
        if loaded.info.tuple_output:
            raise S2SError("derivatives of functions returning several outputs are not supported yet", hint="return one array")
        self.sweep = loaded.entry("forward")
        self.backward = loaded.entry("backward")
        self.several = len(self.index) > 1

    def value_and_derivative(self, values: tuple) -> tuple[Any, Any]:
        out, saved = self.sweep(*values)
        return out, self.finish(out, saved)

    def finish(self, out: Any, saved: Any) -> Any:
        self.check_output(out)
        if type(out) is not np.ndarray or out.ndim == 0:
            bars = self.backward(saved, _unit(out))
            return self.arrange(list(map(_scalar_if_0d, bars))) if self.several else _scalar_if_0d(bars)
        rows: list[list[Any]] = [[] for _ in self.index]
        for cotangent in _basis(out, out.shape):
            bars = self.backward(saved, cotangent)
            for row, bar in zip(rows, bars if self.several else (bars,)):
                row.append(bar)
        return self.arrange([_assemble_rows(row, out.shape, shape) for row, shape in zip(rows, self.wrt_shapes)])


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
            plan = _ForwardPlan(self.owner, self.wrt_shapes) if self.k <= m else _ReversePlan(self.owner, self.wrt_shapes)
            self.plans[full] = plan
        if plan is not None:
            self.owner._last_mode = plan.mode
        return plan

    def value_and_derivative(self, values: tuple) -> tuple[Any, Any]:
        plan = self.choose(values)
        if plan is not None:
            return plan.value_and_derivative(values)
        reverse = _ReversePlan(self.owner, self.wrt_shapes)
        out, saved = reverse.sweep(*values)
        self.owner._output_sizes[tuple(map(_shape_key, values))] = int(np.size(out))
        plan = self.choose(values)
        if plan is not reverse and isinstance(plan, _ForwardPlan):
            return plan.value_and_derivative(values)
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
    if not wrt_shape:
        return _scalar_if_0d(columns[0])
    stacked = np.stack(columns, axis=-1)
    return _scalar_if_0d(stacked.reshape(out_shape + wrt_shape))


def _assemble_rows(rows: list[Any], out_shape: tuple[int, ...], wrt_shape: tuple[int, ...]) -> Any:
    """Adjoints for each output direction -> Jacobian of shape out + wrt."""
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
        return lambda values: _shape_key(values[i])
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
            raise S2SError(f"wrt={name!r} is a *args/**kwargs parameter", hint="differentiate named parameters")
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
    """
    if fn is None:
        return lambda f: Differentiated(f, wrt, mode, cache=cache, cache_dir=cache_dir)
    return Differentiated(fn, wrt, mode, cache=cache, cache_dir=cache_dir)
