"""Checking derivatives: s2s against central finite differences.

``check(f, *args, wrt=...)`` computes the derivative in each mode, compares
it with a central finite-difference Jacobian and with the other mode, runs
the dot-product test (``<J v, w> = <v, J^T w>`` for random ``v`` and ``w``,
forward mode on one side and reverse on the other), and reports the worst
error per argument. It raises ``DerivativeMismatch`` (an
``AssertionError``) when an error exceeds the tolerance, so it can be used
directly in tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .api import Differentiated, differentiate


class DerivativeMismatch(AssertionError):
    """A derivative that disagrees with finite differences or the other mode."""


@dataclass
class ArgumentReport:
    name: str
    shape: tuple[int, ...]
    errors: dict[str, float] = field(default_factory=dict)  # "forward", "reverse", "forward~reverse"

    @property
    def worst(self) -> float:
        return max(self.errors.values(), default=0.0)


@dataclass
class CheckReport:
    """Worst relative errors of s2s derivatives, per differentiated argument."""

    function: str
    arguments: list[ArgumentReport]
    tolerance: float
    # per mode: how far the value the derivative code returns is from the primal's
    value_errors: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        values_ok = all(e <= self.tolerance for e in self.value_errors.values())
        return values_ok and all(a.worst <= self.tolerance for a in self.arguments)

    def __str__(self) -> str:
        lines = [f"s2s.check({self.function}): {'ok' if self.ok else 'MISMATCH'} (tolerance {self.tolerance:.1e})"]
        if self.value_errors:
            lines.append("  value: " + ", ".join(f"{k} {v:.1e}" for k, v in self.value_errors.items()))
        for a in self.arguments:
            errs = ", ".join(f"{k} {v:.1e}" for k, v in a.errors.items())
            lines.append(f"  {a.name} {a.shape}: {errs}")
        return "\n".join(lines)


def finite_difference(f: Callable, args: Sequence[Any], index: int, eps: float | None = None) -> np.ndarray:
    """The central-difference Jacobian of ``f`` w.r.t. ``args[index]``,
    shaped ``output shape + argument shape``."""
    x = np.asarray(args[index], dtype=float)
    original = args[index]
    # keep the argument's kind (a float, a numpy scalar, an array): it can decide the primal's precision
    kind = type(original) if isinstance(original, (float, np.floating)) else None
    eps = eps if eps is not None else np.finfo(float).eps ** (1 / 3)
    columns = []
    for j in range(x.size):
        step = eps * max(1.0, abs(float(x.flat[j])))
        plus, minus = x.copy(), x.copy()
        plus.flat[j] += step
        minus.flat[j] -= step
        a_plus, a_minus = list(args), list(args)
        a_plus[index] = kind(plus) if kind else plus
        a_minus[index] = kind(minus) if kind else minus
        diff = (np.asarray(f(*a_plus), dtype=float) - np.asarray(f(*a_minus), dtype=float)) / (plus.flat[j] - minus.flat[j])
        columns.append(diff)
    out_shape = columns[0].shape
    return np.stack(columns, axis=-1).reshape(out_shape + x.shape)


def dot_product_error(forward: Any, reverse: Any, arg_shape: tuple[int, ...], seed: int = 0) -> float:
    """The dot-product test: for random ``v`` and ``w``, ``<J v, w>`` with
    ``J`` from forward mode must equal ``<v, J^T w>`` with ``J`` from
    reverse mode. Returns their relative difference."""
    jf, jr = np.asarray(forward, dtype=float), np.asarray(reverse, dtype=float)
    if jf.shape != jr.shape:
        return math.inf
    rng = np.random.default_rng(seed)
    out_ndim = jf.ndim - len(arg_shape)
    v = rng.standard_normal(arg_shape)
    w = rng.standard_normal(jf.shape[:out_ndim])
    jv_w = float(np.sum(w * np.tensordot(jf, v, axes=len(arg_shape))))
    v_jtw = float(np.sum(v * np.tensordot(w, jr, axes=out_ndim)))
    if not (math.isfinite(jv_w) and math.isfinite(v_jtw)):
        return 0.0 if jv_w == v_jtw or (math.isnan(jv_w) and math.isnan(v_jtw)) else math.inf
    return abs(jv_w - v_jtw) / max(1.0, abs(jv_w), abs(v_jtw))


def relative_error(a: Any, b: Any) -> float:
    """Worst elementwise error, relative to the larger of the two Jacobians'
    magnitude (at least 1)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return math.inf
    if a.size == 0:
        return 0.0
    both_nan = np.isnan(a) & np.isnan(b)
    same_inf = np.isinf(a) & (a == b)
    scale = max(1.0, float(np.nanmax(np.abs(np.where(np.isfinite(b), b, 0.0)), initial=0.0)))
    diff = np.where(both_nan | same_inf, 0.0, np.abs(a - b))
    return float(np.nanmax(np.where(np.isnan(diff), np.inf, diff))) / scale


def _value_error(found: Any, expected: Any) -> float:
    """How far a derivative's returned value is from the primal's (per
    output when there are several), relative as in ``relative_error``."""
    if isinstance(expected, tuple):
        if not isinstance(found, tuple) or len(found) != len(expected):
            return math.inf
        return max((relative_error(f, e) for f, e in zip(found, expected)), default=0.0)
    return relative_error(found, expected)


def _single_direction_products(primal: Callable, args: Sequence[Any], names: tuple[str, ...], params: list[str], seed: int = 1) -> list[tuple[np.ndarray, Any]]:
    """For each argument in ``names``, a random direction ``v`` and the
    output's tangent along it from ``jvp`` (the single-direction code, which
    the Jacobian of a many-element argument does not use)."""
    rng = np.random.default_rng(seed)
    d = differentiate(primal, wrt=names, mode="forward")
    shapes = [np.shape(args[params.index(n)]) for n in names]
    found = []
    for k in range(len(names)):
        v = rng.standard_normal(shapes[k])
        tangents = [v if i == k else np.zeros(shapes[i]) for i in range(len(names))]
        tangents = [t if np.ndim(args[params.index(n)]) or type(args[params.index(n)]) is np.ndarray else float(t) for t, n in zip(tangents, names)]
        found.append((np.asarray(v), d.jvp(args, tangents)[1]))
    return found


def _single_cotangent_products(primal: Callable, args: Sequence[Any], names: tuple[str, ...], value: Any, seed: int = 2) -> tuple[Any, list[Any]]:
    """A random cotangent ``w`` (a tuple for several outputs) and, per
    argument in ``names``, ``w @ J`` from ``vjp`` (the one-cotangent code,
    which the Jacobian of a many-element output does not use)."""
    rng = np.random.default_rng(seed)
    outputs = value if isinstance(value, tuple) else (value,)
    w = tuple(rng.standard_normal(np.shape(o)) if np.ndim(o) else float(rng.standard_normal()) for o in outputs)
    w = w if isinstance(value, tuple) else w[0]
    bars = differentiate(primal, wrt=names, mode="reverse").vjp(args, w)[1]
    return w, list(bars) if len(names) > 1 else [bars]


def _part(derivative: Any, output: int | None, k: int, n_wrt: int) -> Any:
    """The derivative of one output (``None``: the only one) w.r.t. the
    ``k``-th of ``n_wrt`` arguments."""
    of_output = derivative if output is None else derivative[output]
    return of_output if n_wrt == 1 else of_output[k]


def check(
    f: Callable,
    *args: Any,
    wrt: str | Sequence[str],
    modes: Sequence[str] = ("forward", "reverse"),
    tolerance: float = 1e-6,
    eps: float | None = None,
    raises: bool = True,
) -> CheckReport:
    """Compare s2s's derivatives of ``f`` at ``args`` with finite differences.

    Each mode in ``modes`` is checked against a central finite difference,
    the modes against each other, and forward against reverse by the
    dot-product test; the value each mode returns beside its derivative
    must be the primal's, and the single-direction codes (``jvp``, ``vjp``)
    must agree with the Jacobians along a random direction. Returns a ``CheckReport``; raises
    ``DerivativeMismatch`` when ``raises`` and an error exceeds ``tolerance``.

    >>> import numpy as np
    >>> def f(x):
    ...     return np.sin(x) * x
    >>> check(f, np.linspace(0.0, 1.0, 5), wrt="x").ok
    True
    """
    primal = f.__wrapped__ if isinstance(f, Differentiated) else f
    names = (wrt,) if isinstance(wrt, str) else tuple(wrt)
    both = {m: differentiate(primal, wrt=names, mode=m).value_and_derivative(*args) for m in modes}
    alone = {m: differentiate(primal, wrt=names, mode=m).derivative(*args) for m in modes}  # a gradient's own code
    value = primal(*args)
    value_errors = {m: _value_error(v, value) for m, (v, _) in both.items()}
    params = list(differentiate(primal, wrt=names).params)
    outputs: list[int | None] = list(range(len(value))) if isinstance(value, tuple) else [None]
    products = _single_direction_products(primal, args, names, params) if "forward" in modes else None
    pulled = _single_cotangent_products(primal, args, names, value) if "reverse" in modes else None
    reports = []
    for j in outputs:
        primal_j = primal if j is None else (lambda *a, j=j: primal(*a)[j])
        for k, name in enumerate(names):
            index = params.index(name)
            fd = finite_difference(primal_j, args, index, eps)
            report = ArgumentReport(name if j is None else f"{name} (output {j})", np.shape(args[index]))
            values = {m: _part(d, j, k, len(names)) for m, (_, d) in both.items()}
            for m, found in values.items():
                report.errors[m] = relative_error(found, fd)
                report.errors[f"{m} alone"] = relative_error(_part(alone[m], j, k, len(names)), found) * 1e3  # the same code, to rounding
            if len(values) > 1:
                first, *rest = values.values()
                for m, found in zip(list(values)[1:], rest):
                    report.errors[f"{list(values)[0]}~{m}"] = relative_error(found, first) * 1e3  # modes must agree to rounding
            if "forward" in values and "reverse" in values:
                report.errors["dot product"] = dot_product_error(values["forward"], values["reverse"], report.shape) * 1e3
            if products is not None:  # one direction at a time, as jvp computes it, against the whole Jacobian
                v, tangent = products[k]
                expected = np.tensordot(np.asarray(values["forward"], dtype=float), v, axes=v.ndim)
                report.errors["forward~jvp"] = relative_error(tangent if j is None else tangent[j], expected) * 1e3
            if pulled is not None and j == outputs[-1]:  # one cotangent for every output, as vjp computes it
                w, bars = pulled
                expected = sum(
                    np.tensordot(w_i, np.asarray(_part(both["reverse"][1], i, k, len(names)), dtype=float), axes=np.ndim(w_i))
                    for i, w_i in (enumerate(w) if isinstance(value, tuple) else [(None, w)])
                )
                report.errors["reverse~vjp"] = relative_error(bars[k], expected) * 1e3
            reports.append(report)
    result = CheckReport(getattr(primal, "__qualname__", str(primal)), reports, tolerance, value_errors)
    if raises and not result.ok:
        raise DerivativeMismatch(str(result))
    return result
