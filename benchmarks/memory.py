"""Peak memory of a reverse-mode gradient against the primal's, for arrays
of 10**7 elements, measured with tracemalloc (numpy reports its data
allocations to it).

For each function: the primal's peak, the peak of ``derivative`` in reverse
mode, both in multiples of one input array (80 MB), and their ratio. A
careful hand-written gradient of these functions needs a few arrays beyond
the primal's: the forward values its partials read.

Run: python benchmarks/memory.py [--n N]
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc

import numpy as np

from s2s import differentiate


def gaussian_energy(x):
    return np.sum(np.exp(-0.5 * x * x) * np.sin(x))


def softplus_norm(x, w):
    h = np.log1p(np.exp(w * x))
    return np.sqrt(np.sum(h * h))


def smoothing_steps(u, nu):
    for step in range(3):
        u = u + nu * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))
    return np.sum(u * u)


CASES = [
    ("sum(exp(-x*x/2) * sin(x))", gaussian_energy, lambda x: (x,), "x"),
    ("norm(log1p(exp(w*x)))", softplus_norm, lambda x: (x, 0.7), "x"),
    ("3 smoothing steps, then sum(u*u)", smoothing_steps, lambda x: (x, 0.2), "u"),
]


def peak_bytes(call) -> int:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    call()
    peak = tracemalloc.get_traced_memory()[1] - before
    tracemalloc.stop()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10**7)
    n = parser.parse_args().n
    x = np.linspace(-3.0, 3.0, n)
    unit = x.nbytes
    print(f"n = {n:,}: one array is {unit / 1e6:.0f} MB; peaks in arrays of that size\n")
    print(f"{'function':36s} {'primal':>8s} {'reverse gradient':>17s} {'ratio':>7s}")
    for label, fn, args_of, wrt in CASES:
        args = args_of(x)
        g = differentiate(fn, wrt=wrt, mode="reverse")
        g.derivative(*(np.linspace(-3.0, 3.0, 8) if a is x else a for a in args))  # generate and load first
        primal = peak_bytes(lambda: fn(*args))
        gradient = peak_bytes(lambda: g.derivative(*args))
        print(f"{label:36s} {primal / unit:8.2f} {gradient / unit:17.2f} {gradient / primal:7.2f}")


if __name__ == "__main__":
    main()
