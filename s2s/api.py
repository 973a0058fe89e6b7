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
import threading
import types
from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

import numpy as np

from .errors import S2SError
from .frontend import load_function
from .generate import Generated, generate
from .loader import load_module
from .normalize import fence

Mode = Literal["auto", "forward", "reverse"]
MODES = ("auto", "forward", "reverse")


@dataclass
class Loaded:
    """A generated module, compiled and bound to the user's code."""

    generated: Generated
    functions: dict[str, Callable]

    def entry(self, role: str) -> Callable:
        return self.functions[self.generated.entry[role]]


class Differentiated:
    """A function together with its derivative w.r.t. some of its parameters.

    Calling it calls the original function. ``derivative(*args)`` returns
    the derivative of the output w.r.t. the ``wrt`` parameters (a tuple when
    there are several), ``value_and_derivative(*args)`` both at once, and
    ``source()`` the generated code.
    """

    def __init__(self, fn: Callable, wrt: str | Sequence[str], mode: Mode = "auto") -> None:
        if isinstance(fn, Differentiated):
            fn = fn.__wrapped__
        if not isinstance(fn, types.FunctionType):
            raise S2SError(
                f"s2s differentiates Python functions written with `def`; got {type(fn).__name__}",
                hint="decorate the function itself",
            )
        functools.update_wrapper(self, fn)
        self.__s2s_primal__ = fn
        self.params = _parameter_names(fn)
        self.wrt: tuple[str, ...] = _check_wrt(fn, wrt, self.params)
        if mode not in MODES:
            raise S2SError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        self.mode: Mode = mode
        fence(load_function(fn))  # unsupported syntax is reported where the function is defined
        self._bind = _binder(fn)
        self._wrt_index = tuple(self.params.index(w) for w in self.wrt)
        self._loaded: dict[str, Loaded] = {}
        self._lock = threading.RLock()
        self._plans: dict[tuple, _Plan] = {}
        self._output_sizes: dict[tuple, int] = {}
        self._last_mode: str | None = None

    # calling -----------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__wrapped__(*args, **kwargs)

    def derivative(self, *args: Any, **kwargs: Any) -> Any:
        """The derivative w.r.t. ``wrt`` at these arguments (shape ``S + A``)."""
        values = self._bind(*args, **kwargs)
        return self._plan(values).run(values, want_value=False)[1]

    def value_and_derivative(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        """``(f(*args), derivative(*args))``, computed together."""
        values = self._bind(*args, **kwargs)
        return self._plan(values).run(values, want_value=True)

    def mode_for(self, *args: Any, **kwargs: Any) -> str:
        """The mode used for arguments of these shapes ("forward" or
        "reverse"). With ``mode="auto"`` and shapes not seen before, this runs
        the function once to learn the size of its output."""
        values = self._bind(*args, **kwargs)
        plan = self._plan(values)
        if plan.mode == "auto":
            self.__wrapped__(*args, **kwargs)
            plan = self._plan(values)
            if plan.mode == "auto":
                plan.run(values, want_value=True)
                plan = self._plan(values)
        return plan.mode

    def source(self, mode: str | None = None) -> str:
        """The generated derivative module as Python source.

        ``mode`` defaults to the decorator's mode; with ``"auto"``, to the mode
        most recently used, or else reverse for a function whose output is
        a scalar by construction and forward otherwise.
        """
        chosen = mode or (self.mode if self.mode != "auto" else self._last_mode)
        if chosen is None:
            chosen = "reverse" if self._load("forward").generated.scalar_output else "forward"
        if chosen not in ("forward", "reverse"):
            raise S2SError(f"source(mode=...) takes 'forward' or 'reverse'; got {chosen!r}")
        return self._load(chosen).generated.source

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
                source = load_function(self.__wrapped__)
                generated = generate(source, self.wrt, mode)
                owners = {name: fs.function for name, fs in generated.owners.items()}
                filename = f"<s2s {mode} derivative of {self.__qualname__}>"
                loaded = Loaded(generated, load_module(generated.source, filename, owners))  # type: ignore[arg-type]
                self._loaded[mode] = loaded
        return loaded

    # plans ------------------------------------------------------------------------

    def _plan(self, values: tuple) -> "_Plan":
        key = tuple(map(_shape_key, values))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._new_plan(values, key)
            if plan.mode != "auto":
                self._plans[key] = plan
        return plan

    def _new_plan(self, values: tuple, key: tuple) -> "_Plan":
        shapes = [_check_wrt_value(self, name, values[i]) for name, i in zip(self.wrt, self._wrt_index)]
        k = sum(math.prod(s) for s in shapes)
        mode = self.mode
        if mode == "auto":
            m = self._output_sizes.get(key)
            mode = "forward" if k <= 1 or (m is not None and k <= m) else "reverse" if m is not None else "auto"
        return _Plan(self, mode, shapes, key)


class _Plan:
    """How to compute the derivative for one combination of argument shapes."""

    def __init__(self, owner: Differentiated, mode: str, wrt_shapes: list[tuple[int, ...]], key: tuple) -> None:
        self.owner = owner
        self.mode = mode
        self.wrt_shapes = wrt_shapes
        self.key = key
        self.index = owner._wrt_index

    def run(self, values: tuple, want_value: bool) -> tuple[Any, Any]:
        owner = self.owner
        if self.mode == "forward":
            owner._last_mode = "forward"
            return self.forward(values)
        fwd = owner._load("reverse")
        out, saved = _split_output(fwd.entry("forward")(*values), fwd.generated)
        m = _size(out)
        if self.mode == "auto":
            owner._output_sizes[self.key] = m
            if sum(math.prod(s) for s in self.wrt_shapes) <= m:
                owner._last_mode = "forward"
                return self.forward(values)
        owner._last_mode = "reverse"
        return out, self.reverse(out, saved, fwd)

    def forward(self, values: tuple) -> tuple[Any, Any]:
        jvp = self.owner._load("forward").entry("jvp")
        zeros = [_zero_tangent(values[i]) for i in self.index]
        results = []
        out = None
        for n, (i, shape) in enumerate(zip(self.index, self.wrt_shapes)):
            columns = []
            for seed in _basis(values[i], shape):
                tangents = list(zeros)
                tangents[n] = seed
                out, out_dot = jvp(*values, *tangents)
                columns.append(np.asarray(out_dot))
            results.append(_assemble_columns(columns, np.shape(out), shape))
        return out, _one_or_tuple(results)

    def reverse(self, out: Any, saved: Any, fwd: Loaded) -> Any:
        backward = fwd.entry("backward")
        out_shape = np.shape(out)
        rows: list[list[np.ndarray]] = [[] for _ in self.index]
        for cotangent in _basis(out, out_shape):
            bars = backward(saved, cotangent)
            bars = bars if len(self.index) > 1 else (bars,)
            for row, bar in zip(rows, bars):
                row.append(np.asarray(bar))
        results = [_assemble_rows(row, out_shape, shape) for row, shape in zip(rows, self.wrt_shapes)]
        return _one_or_tuple(results)


# --------------------------------------------------------------------------
# Helpers


def _split_output(result: tuple, generated: Generated) -> tuple[Any, Any]:
    *outs, saved = result
    if generated.tuple_output:
        raise S2SError("derivatives of functions returning several outputs are not supported yet", hint="return one array")
    return outs[0], saved


def _size(x: Any) -> int:
    return int(np.size(x))


def _basis(x: Any, shape: tuple[int, ...]):
    """Unit vectors of the space ``x`` lives in, in C order."""
    if not shape:
        yield 1.0
        return
    dtype = _float_dtype(x)
    for j in range(math.prod(shape)):
        e = np.zeros(shape, dtype=dtype)
        e.flat[j] = 1
        yield e


def _zero_tangent(x: Any) -> Any:
    shape = np.shape(x)
    return 0.0 if not shape else np.zeros(shape, dtype=_float_dtype(x))


def _float_dtype(x: Any) -> np.dtype:
    dtype = np.result_type(x)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _assemble_columns(columns: list[np.ndarray], out_shape: tuple[int, ...], wrt_shape: tuple[int, ...]) -> Any:
    """Tangents for each input direction -> Jacobian of shape out + wrt."""
    if not wrt_shape:
        return _scalar_if_0d(np.broadcast_to(columns[0], out_shape).copy() if columns[0].shape != out_shape else columns[0])
    stacked = np.stack([np.broadcast_to(c, out_shape) for c in columns], axis=-1)
    return _scalar_if_0d(stacked.reshape(out_shape + wrt_shape))


def _assemble_rows(rows: list[np.ndarray], out_shape: tuple[int, ...], wrt_shape: tuple[int, ...]) -> Any:
    """Adjoints for each output direction -> Jacobian of shape out + wrt."""
    if not out_shape:
        return _scalar_if_0d(np.broadcast_to(rows[0], wrt_shape) if rows[0].shape != wrt_shape else rows[0])
    stacked = np.stack([np.broadcast_to(r, wrt_shape) for r in rows], axis=0)
    return _scalar_if_0d(stacked.reshape(out_shape + wrt_shape))


def _scalar_if_0d(x: np.ndarray) -> Any:
    return x[()] if isinstance(x, np.ndarray) and x.ndim == 0 else x


def _one_or_tuple(results: list[Any]) -> Any:
    return results[0] if len(results) == 1 else tuple(results)


def _shape_key(value: Any) -> tuple:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return (shape, value.dtype.char)
    return (type(value),)


def _check_wrt_value(owner: Differentiated, name: str, value: Any) -> tuple[int, ...]:
    """The shape of a differentiated argument, after checking its type."""
    fn = owner.__wrapped__
    where = f"argument {name!r} of {fn.__qualname__}"
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer))):
        raise S2SError(f"{where} is an integer ({value!r}); s2s differentiates floating-point values", hint=f"pass {float(value)!r} instead")
    if isinstance(value, (float, np.floating)):
        return ()
    if isinstance(value, np.ndarray):
        kind = value.dtype.kind
        if kind == "f":
            return value.shape
        if kind == "c":
            raise S2SError(f"{where} is complex ({value.dtype}); s2s differentiates real floating-point values")
        raise S2SError(
            f"{where} is an array of {value.dtype}; s2s differentiates floating-point values",
            hint=f"convert it with {name}.astype(float)",
        )
    if isinstance(value, complex):
        raise S2SError(f"{where} is complex; s2s differentiates real floating-point values")
    raise S2SError(
        f"{where} is a {type(value).__name__}; s2s differentiates floats and numpy arrays of floats",
        hint=f"pass np.asarray({name}, dtype=float)",
    )


def _parameter_names(fn: Callable) -> list[str]:
    return list(inspect.signature(fn).parameters)


def _check_wrt(fn: Callable, wrt: str | Sequence[str], params: list[str]) -> tuple[str, ...]:
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
    source = f"def bind({', '.join(parts)}):\n    return ({', '.join(names)}{',' if names else ''})\n"
    namespace: dict = {}
    exec(source, namespace)  # noqa: S102 - built from parameter names only
    bind = namespace["bind"]
    bind.__defaults__ = fn.__defaults__  # type: ignore[attr-defined]
    bind.__kwdefaults__ = fn.__kwdefaults__  # type: ignore[attr-defined]
    return bind


def differentiate(fn: Callable | None = None, *, wrt: str | Sequence[str], mode: Mode = "auto") -> Any:
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
    """
    if fn is None:
        return lambda f: Differentiated(f, wrt, mode)
    return Differentiated(fn, wrt, mode)
