"""The numba backend against the numpy backend and JAX ``jit``.

Tasks, on the seed (examples/gaussian_fit.py on a grid of n points):
  A  d rs / d xs          (forward mode, one tangent pass)
  B  d rs_scalar / d xs   (forward mode, scalar output)
  C  d rs_scalar / d d    (reverse mode, the fused gradient function)
A', B', C' are the same tasks on the seed with f written inline by hand:
one function, whose statements the numba backend fuses into runs of one
loop each (the code s2s gives once it inlines generated callees).

Prints microseconds per derivative call through the s2s API (medians of
repeats), the ratios, and the numba compile time (first call: compiling, or
loading from numba's cache in a warm process). JAX (float64) is timed when
it is installed.

Run: python benchmarks/numba_backend.py [n ...]
"""

from __future__ import annotations

import sys
import time
import timeit

import numpy as np

from s2s import differentiate

import jacobian as user  # the seed, its grid a module global that each size rebinds

x = user.x  # the grid of the inlined seed below, rebound with user.x for each size


def rs_inline(d, xs):
    d0 = np.exp(-1.5 * (x - xs) ** 2)
    return d - np.sum(d * d0) / np.sum(d0 * d0) * d0


def rs_scalar_inline(d, xs):
    d0 = np.exp(-1.5 * (x - xs) ** 2)
    r = d - np.sum(d * d0) / np.sum(d0 * d0) * d0
    return np.sum(r ** 2)


TASKS = {
    "A": (user.rs, "xs", "forward"), "B": (user.rs_scalar, "xs", "forward"), "C": (user.rs_scalar, "d", "reverse"),
    "A'": (rs_inline, "xs", "forward"), "B'": (rs_scalar_inline, "xs", "forward"), "C'": (rs_scalar_inline, "d", "reverse"),
}


def median_us(fn, n: int) -> float:
    fn()
    number = max(1, min(20000, 2_000_000 // max(n, 1)))
    return float(np.median(timeit.repeat(fn, number=number, repeat=7))) / number * 1e6


def jax_tasks():
    """JAX jit versions of the tasks (x passed as an argument), or None."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def rs(d, xs, x):
        d0 = jnp.exp(-1.5 * (x - xs) ** 2)
        return d - jnp.sum(d * d0) / jnp.sum(d0 * d0) * d0

    def rs_scalar(d, xs, x):
        return jnp.sum(rs(d, xs, x) ** 2)

    return {
        "A": jax.jit(jax.jacfwd(rs, argnums=1)),
        "B": jax.jit(jax.grad(rs_scalar, argnums=1)),
        "C": jax.jit(jax.grad(rs_scalar, argnums=0)),
    }, jnp


def main(sizes: list[int]) -> None:
    global x
    jaxed = jax_tasks()
    print(f"{'n':>9} {'task':>4} {'numpy us':>11} {'numba us':>11} {'jax us':>11} {'numpy/numba':>11} {'numba/jax':>9} {'compile s':>9}")
    for n in sizes:
        x = user.x = np.linspace(-10.0, 10.0, n)
        d = 2.5 * user.f(0.7) + 0.01 * np.random.default_rng(0).standard_normal(n)
        for task, (fn, wrt, mode) in TASKS.items():
            numpy_g = differentiate(fn, wrt=wrt, mode=mode)
            numba_g = differentiate(fn, wrt=wrt, mode=mode, backend="numba")
            start = time.perf_counter()
            numba_g.derivative(d, 0.3)
            first = time.perf_counter() - start
            error = np.max(np.abs(np.asarray(numba_g.derivative(d, 0.3)) - numpy_g.derivative(d, 0.3)))
            t_numpy = median_us(lambda: numpy_g.derivative(d, 0.3), n)
            t_numba = median_us(lambda: numba_g.derivative(d, 0.3), n)
            jax_text, ratio_text = "-", "-"
            if jaxed is not None:
                tasks, jnp = jaxed
                jd, jx = jnp.asarray(d), jnp.asarray(user.x)
                t_jax = median_us(lambda: tasks[task.rstrip("'")](jd, 0.3, jx).block_until_ready(), n)
                jax_text, ratio_text = f"{t_jax:11.1f}", f"{t_numba / t_jax:9.2f}"
            print(
                f"{n:>9} {task:>4} {t_numpy:11.1f} {t_numba:11.1f} {jax_text:>11} {t_numpy / t_numba:11.1f} {ratio_text:>9} {numba_g.compile_time:9.2f}"
                f"  (first call {first:.2f} s, numba cache hits {sum(s['cache_hits'] for s in numba_g.compile_stats().values())}, max |numba - numpy| {error:.1e})"
            )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [21, 10_000, 1_000_000])
