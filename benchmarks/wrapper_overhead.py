"""Per-call overhead of ``Differentiated.derivative`` over calling the
generated function directly.

Measured in one process as the median, over many alternating rounds, of the
per-round difference, so that the machine's drift cancels: for the seed
(``rs`` w.r.t. ``xs``) and for a trivial function, where the generated call
itself is cheap and the overhead stands out.

Run: python benchmarks/wrapper_overhead.py
"""

import sys
from pathlib import Path

import numpy as np


sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import gaussian_fit as example  # noqa: E402

from s2s import differentiate  # noqa: E402
from timing import paired_median_us  # noqa: E402


def cube(x):
    return x * x * x


def main() -> None:
    d = example.f(0.4)
    rs = example.rs
    rs.derivative(d, 0.3)
    rs_tangent = rs._load("forward").entry("tangent")  # what derivative() calls
    g = differentiate(cube, wrt="x")
    g.derivative(0.3)
    cube_jvp = g._load("forward").entry("jvp")
    grad = differentiate(example.rs_scalar, wrt="d", mode="reverse")
    grad.derivative(d, 0.3)
    seed = np.float64(1.0)
    fused = grad._load("reverse").entry("gradient")
    for label, wrapped, direct in [
        ("rs w.r.t. xs (n = 21)", lambda: rs.derivative(d, 0.3), lambda: rs_tangent(d, 0.3, np.float64(1.0))),
        ("rs_scalar w.r.t. d", lambda: grad.derivative(d, 0.3), lambda: fused(d, 0.3, seed)),
        ("x * x * x w.r.t. x", lambda: g.derivative(0.3), lambda: cube_jvp(0.3, 1.0)),
    ]:
        a, b, overhead = paired_median_us(wrapped, direct, number=2000, rounds=41)
        print(f"{label:24s} derivative() {a:7.2f} us   generated function {b:7.2f} us   overhead {overhead:5.2f} us")


if __name__ == "__main__":
    main()
