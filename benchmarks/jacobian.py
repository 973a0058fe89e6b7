"""Whole Jacobians of the seed's residual ``rs`` w.r.t. the data ``d``
(an n x n Jacobian): vector forward mode (one pass carrying all n
directions) against n single-direction passes (``jvp``), vector reverse
mode (one forward sweep, one backward sweep carrying all n cotangents)
against n ``vjp`` calls, and a central finite-difference Jacobian (2n
primal calls). Then the Hessian of ``rs_scalar = sum(rs ** 2)`` w.r.t. ``d``
(forward mode over the reverse-mode gradient code, one vectorized pass)
against n Hessian-vector products and central differences of the gradient.

Each time is the median over rounds in one process; the ratios are ratios
of those medians.

Run: python benchmarks/jacobian.py [n ...]     (default: 21 100 1000)
"""

from __future__ import annotations

import sys
import timeit

import numpy as np

from s2s import differentiate
from s2s.check import finite_difference

x = np.linspace(-10.0, 10.0, 21)  # the grid; set per size below (read when the code runs)


def f(m):
    return np.exp(-1.5 * (x - m) ** 2)


def rs(d, xs):
    d0 = f(xs)
    return d - np.sum(d * d0) / np.sum(d0 * d0) * d0


def rs_scalar(d, xs):
    return np.sum(rs(d, xs) ** 2)


def median_seconds(fn, rounds: int) -> float:
    number = max(1, int(0.05 / max(timeit.timeit(fn, number=1), 1e-7)))
    return float(np.median([timeit.timeit(fn, number=number) / number for _ in range(rounds)]))


def main(sizes: list[int]) -> None:
    global x
    vector = differentiate(rs, wrt="d", mode="forward")
    reverse = differentiate(rs, wrt="d", mode="reverse")
    print(f"{'n':>6} {'fwd vector':>11} {'n x jvp':>11} {'rev vector':>11} {'n x vjp':>11} {'fin. diff':>11}"
          "   n x jvp / fwd, n x vjp / rev, fin. diff / fwd")
    for n in sizes:
        x = np.linspace(-10.0, 10.0, n)
        d = 2.5 * f(0.7) + 0.01 * np.random.default_rng(0).standard_normal(n)
        basis = np.eye(n)

        def jvps():
            return np.stack([vector.jvp((d, 0.3), (basis[j],))[1] for j in range(n)], axis=-1)

        def vjps():
            return np.stack([reverse.vjp((d, 0.3), basis[i])[1] for i in range(n)], axis=0)

        candidates = {
            "fwd vector": lambda: vector.derivative(d, 0.3),
            "n x jvp": jvps,
            "rev vector": lambda: reverse.derivative(d, 0.3),
            "n x vjp": vjps,
            "fin. diff": lambda: finite_difference(rs, (d, 0.3), 0),
        }
        reference = candidates["fwd vector"]()
        for label, fn in candidates.items():  # all compute the same Jacobian
            assert np.allclose(fn(), reference, atol=1e-6), label
        rounds = 7 if n <= 100 else 3
        t = {label: median_seconds(fn, rounds) for label, fn in candidates.items()}
        cells = " ".join(f"{t[k] * 1e3:9.3f}ms" for k in candidates)
        print(f"{n:>6} {cells}   {t['n x jvp'] / t['fwd vector']:6.1f}x {t['n x vjp'] / t['rev vector']:6.1f}x {t['fin. diff'] / t['fwd vector']:6.1f}x")

    hessians(sizes)


def hessians(sizes: list[int]) -> None:
    global x
    g = differentiate(rs_scalar, wrt="d")
    print(f"\nHessian of rs_scalar w.r.t. d\n{'n':>6} {'hessian':>11} {'n x hvp':>11} {'fd of grad':>11}   n x hvp / hessian, fd of grad / hessian")
    for n in sizes:
        x = np.linspace(-10.0, 10.0, n)
        d = 2.5 * f(0.7) + 0.01 * np.random.default_rng(0).standard_normal(n)
        basis = np.eye(n)
        candidates = {
            "hessian": lambda: g.hessian(d, 0.3),
            "n x hvp": lambda: np.stack([g.hvp((d, 0.3), (basis[j],))[1] for j in range(n)], axis=-1),
            "fd of grad": lambda: finite_difference(lambda d_: g.grad(d_, 0.3), (d,), 0),
        }
        reference = candidates["hessian"]()
        for label, fn in candidates.items():
            assert np.allclose(fn(), reference, atol=1e-5 * max(1.0, np.abs(reference).max())), label
        rounds = 7 if n <= 100 else 3
        t = {label: median_seconds(fn, rounds) for label, fn in candidates.items()}
        cells = " ".join(f"{t[k] * 1e3:9.3f}ms" for k in candidates)
        print(f"{n:>6} {cells}   {t['n x hvp'] / t['hessian']:6.1f}x {t['fd of grad'] / t['hessian']:6.1f}x")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [21, 100, 1000])
