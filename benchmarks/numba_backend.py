"""The numba backend against the numpy backend and JAX ``jit``.

Tasks, on the seed (examples/gaussian_fit.py on a grid of n points):
  A  d rs / d xs          (forward mode, one tangent pass)
  B  d rs_scalar / d xs   (forward mode, scalar output)
  C  d rs_scalar / d d    (reverse mode, the fused gradient function)
Prints microseconds per derivative call through the s2s API (medians of
repeats), the ratios, and the numba compile time (first call: compiling, or
loading from numba's cache in a warm process). JAX (float64) is timed when
it is installed; numba and JAX take turns, repeat by repeat, and numba/jax
is the median of the ratios of the pairs.

At 10^6 points each fresh 8 MB array costs page faults once glibc's
allocator has handed freed memory back to the system; JAX's allocator keeps
its memory. To compare the two with the allocator settled, keep freed
memory in the process:

    MALLOC_TOP_PAD_=268435456 python benchmarks/numba_backend.py 1000000

Run: python benchmarks/numba_backend.py [n ...]
"""

from __future__ import annotations

import sys
import time
import timeit

import numpy as np

from s2s import differentiate

import jacobian as user  # the seed, its grid a module global that each size rebinds

TASKS = {"A": (user.rs, "xs", "forward"), "B": (user.rs_scalar, "xs", "forward"), "C": (user.rs_scalar, "d", "reverse")}
REPEATS = 7


def calls_per_repeat(n: int) -> int:
    return max(1, min(20000, 2_000_000 // max(n, 1)))


def median_us(fn, n: int) -> float:
    fn()
    number = calls_per_repeat(n)
    return float(np.median(timeit.repeat(fn, number=number, repeat=REPEATS))) / number * 1e6


def paired_us(first, second, n: int) -> tuple[float, float, float]:
    """Median µs per call of each, and the median ratio first/second over
    repeats that run one after the other."""
    first(), second()
    number = calls_per_repeat(n)
    pairs = [(timeit.timeit(first, number=number), timeit.timeit(second, number=number)) for _ in range(REPEATS)]
    a, b = (np.array(side) / number * 1e6 for side in zip(*pairs))
    return float(np.median(a)), float(np.median(b)), float(np.median(a / b))


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
    jaxed = jax_tasks()
    print(f"{'n':>9} {'task':>4} {'numpy us':>11} {'numba us':>11} {'jax us':>11} {'numpy/numba':>11} {'numba/jax':>9} {'compile s':>9}")
    for n in sizes:
        user.x = np.linspace(-10.0, 10.0, n)
        d = 2.5 * user.f(0.7) + 0.01 * np.random.default_rng(0).standard_normal(n)
        for task, (fn, wrt, mode) in TASKS.items():
            numpy_g = differentiate(fn, wrt=wrt, mode=mode)
            numba_g = differentiate(fn, wrt=wrt, mode=mode, backend="numba")
            start = time.perf_counter()
            numba_g.derivative(d, 0.3)
            first = time.perf_counter() - start
            error = np.max(np.abs(np.asarray(numba_g.derivative(d, 0.3)) - numpy_g.derivative(d, 0.3)))
            t_numpy = median_us(lambda: numpy_g.derivative(d, 0.3), n)
            jax_text, ratio_text = "-", "-"
            if jaxed is None:
                t_numba = median_us(lambda: numba_g.derivative(d, 0.3), n)
            else:
                tasks, jnp = jaxed
                jd, jx = jnp.asarray(d), jnp.asarray(user.x)
                t_numba, t_jax, ratio = paired_us(lambda: numba_g.derivative(d, 0.3), lambda: tasks[task](jd, 0.3, jx).block_until_ready(), n)
                jax_text, ratio_text = f"{t_jax:11.1f}", f"{ratio:9.2f}"
            print(
                f"{n:>9} {task:>4} {t_numpy:11.1f} {t_numba:11.1f} {jax_text:>11} {t_numpy / t_numba:11.1f} {ratio_text:>9} {numba_g.compile_time:9.2f}"
                f"  (first call {first:.2f} s, numba cache hits {sum(s['cache_hits'] for s in numba_g.compile_stats().values())}, max |numba - numpy| {error:.1e})"
            )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [21, 10_000, 1_000_000])
