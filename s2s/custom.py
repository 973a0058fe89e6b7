"""Derivative rules written by users, for functions s2s cannot read.

Entry point: ``derivative_rule(function, tangent=..., adjoint=...)``, also a
decorator. A registered function is no longer read as source (if it is
Python at all): each call becomes an operation whose derivative calls the
rule when the derivative runs. Generated code names the rule by a string
(``rule.name``), so a module cached on disk finds it in a later process,
once the code that registers it has run.

Rules for ``scipy.special.erf``, ``expit``, ``gammaln`` and ``logsumexp``
come with s2s; they are registered when scipy is in use (never imported by
s2s itself).

The conventions, for a function ``f(p1, p2, ...)`` (parameters in order,
as bound at the call, defaults filled in):

- ``tangent(args, tangents) -> out_dot``: ``args`` and ``tangents`` are tuples
  in parameter order; the tangent of a parameter that is not differentiated
  is ``0.0``;
- ``adjoint(args, out, g) -> tuple``: for the cotangent ``g`` of the output
  ``out``, one contribution per parameter, shaped like it (``None`` for
  none).
"""

from __future__ import annotations

import inspect
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .errors import S2SError


@dataclass(frozen=True, eq=False)
class CustomRule:
    name: str
    function: Callable  # kept alive, so that its id stays its own
    tangent: Callable
    adjoint: Callable
    parameters: tuple[str, ...]
    defaults: tuple[Any, ...]  # per parameter; inspect.Parameter.empty where required
    differentiable: frozenset[str]


_by_id: dict[int, CustomRule] = {}
_by_name: dict[str, CustomRule] = {}


def derivative_rule(
    function: Callable | None = None,
    *,
    tangent: Callable,
    adjoint: Callable,
    wrt: Sequence[str] | None = None,
    name: str | None = None,
) -> Any:
    """Register how to differentiate ``function``, a function s2s cannot read
    (compiled code, another library) or should not (a numerically careful
    hand-written derivative).

    ``tangent(args, tangents)`` returns the output's tangent and
    ``adjoint(args, out, g)`` a tuple of contributions to the adjoints, one
    per parameter; ``wrt`` names the differentiable parameters (default:
    those without a default value). As a decorator::

        @s2s.derivative_rule(tangent=lambda a, t: np.cos(a[0]) * t[0],
                             adjoint=lambda a, out, g: (np.cos(a[0]) * g,))
        def my_sin(x):
            return compiled_sin(x)
    """

    def register(fn: Callable) -> Callable:
        parameters, defaults = _parameters(fn)
        chosen = frozenset(wrt) if wrt is not None else frozenset(p for p, d in zip(parameters, defaults) if d is inspect.Parameter.empty)
        unknown = chosen - set(parameters)
        if unknown:
            raise S2SError(f"derivative_rule: {sorted(unknown)} are not parameters of {_describe(fn)}({', '.join(parameters)})")
        rule = CustomRule(name or _default_name(fn), fn, tangent, adjoint, parameters, defaults, chosen)
        _by_id[id(fn)] = rule
        _by_name[rule.name] = rule
        return fn

    return register(function) if function is not None else register


def find(value: Any) -> CustomRule | None:
    """The rule registered for this object, if any."""
    rule = _by_id.get(id(value))
    if rule is None and "scipy.special" in sys.modules and _register_scipy():
        rule = _by_id.get(id(value))
    return rule if rule is not None and rule.function is value else None


def named(name: str) -> CustomRule:
    """The rule generated code refers to by ``name``."""
    rule = _by_name.get(name)
    if rule is None and name.startswith("scipy.special.") and _register_scipy():
        rule = _by_name.get(name)
    if rule is None:
        raise S2SError(
            f"no derivative rule named {name!r} is registered in this process",
            hint="run the code that calls s2s.derivative_rule for it (import its module) before computing the derivative",
        )
    return rule


def _parameters(fn: Callable) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    n = getattr(fn, "nin", None)  # a ufunc: its inputs (not out=, where=, ...)
    if isinstance(n, int):
        return tuple(f"x{i}" for i in range(n)), (inspect.Parameter.empty,) * n
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        raise S2SError(f"derivative_rule: cannot read the parameters of {_describe(fn)}", hint="wrap it in a Python function with named parameters") from None
    params = [p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    if len(params) != len(sig.parameters):
        raise S2SError(f"derivative_rule: {_describe(fn)} takes *args or **kwargs", hint="wrap it in a function with named parameters")
    return tuple(p.name for p in params), tuple(p.default for p in params)


def _describe(fn: Callable) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)


def _default_name(fn: Callable) -> str:
    module = getattr(fn, "__module__", None) or ""
    return f"{module}.{_describe(fn)}" if module else _describe(fn)


# --------------------------------------------------------------------------
# Rules that ship with s2s, for scipy.special (when the user's code uses scipy)

_scipy_done = False


def _register_scipy() -> bool:
    """Register the scipy.special rules once scipy.special is imported;
    whether anything was registered now."""
    global _scipy_done
    if _scipy_done:
        return False
    _scipy_done = True
    try:
        import numpy as np
        from scipy import special
    except ImportError:  # pragma: no cover - scipy is optional
        return False

    two_over_root_pi = 2.0 / np.sqrt(np.pi)

    def erf_slope(x: Any) -> Any:
        return two_over_root_pi * np.exp(-np.square(x))

    derivative_rule(special.erf, name="scipy.special.erf", tangent=lambda a, t: erf_slope(a[0]) * t[0], adjoint=lambda a, out, g: (erf_slope(a[0]) * g,))
    derivative_rule(special.erfc, name="scipy.special.erfc", tangent=lambda a, t: -erf_slope(a[0]) * t[0], adjoint=lambda a, out, g: (-erf_slope(a[0]) * g,))
    derivative_rule(special.expit, name="scipy.special.expit", tangent=lambda a, t: special.expit(a[0]) * (1 - special.expit(a[0])) * t[0], adjoint=lambda a, out, g: (out * (1 - out) * g,))
    derivative_rule(special.gammaln, name="scipy.special.gammaln", tangent=lambda a, t: special.digamma(a[0]) * t[0], adjoint=lambda a, out, g: (special.digamma(a[0]) * g,))

    def softmax_weights(args: tuple) -> tuple[Any, Any, bool]:
        a, axis, b, keepdims, return_sign = args
        if return_sign:
            raise S2SError("s2s differentiates scipy.special.logsumexp without return_sign=True")
        top = special.logsumexp(a, axis=axis, b=b, keepdims=True)
        weights = np.exp(a - top) * (1.0 if b is None else b)
        return weights, axis, bool(keepdims)

    def logsumexp_tangent(args: tuple, tangents: tuple) -> Any:
        weights, axis, keepdims = softmax_weights(args)
        return np.sum(weights * tangents[0], axis=axis, keepdims=keepdims)

    def logsumexp_adjoint(args: tuple, out: Any, g: Any) -> tuple:
        weights, axis, keepdims = softmax_weights(args)
        if not keepdims and axis is not None:
            g = np.expand_dims(g, axis)
        return (weights * g, None, None, None, None)

    derivative_rule(special.logsumexp, name="scipy.special.logsumexp", wrt=("a",), tangent=logsumexp_tangent, adjoint=logsumexp_adjoint)
    return True
