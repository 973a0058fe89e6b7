"""Fit the position of a Gaussian peak with s2s derivatives.

The residual ``rs`` of a least-squares fit of a peak's height, as a function
of its position ``xs``, is differentiated w.r.t. ``xs`` only: s2s picks
forward mode (one scalar in, a vector out), generates no derivative code for
the data ``d``, and keeps each elementwise expression fused. A few
Gauss-Newton steps then find the peak.

Run: python examples/gaussian_fit.py
"""

import timeit

import numpy as np

from s2s import differentiate

x = np.arange(-10.0, 11.0)


def f(m):
    return np.exp(-1.5 * (x - m) ** 2)


@differentiate(wrt="xs")
def rs(d, xs):
    d0 = f(xs)
    return d - np.sum(d * d0) / np.sum(d0 * d0) * d0


def rs_scalar(d, xs):
    return np.sum(rs(d, xs) ** 2)


def main() -> None:
    rng = np.random.default_rng(0)
    d = 2.5 * f(0.7) + 0.01 * rng.standard_normal(x.size)

    # the derivative, checked against a central finite difference
    h = 1e-6
    drs = rs.derivative(d, 0.3)
    fd = (rs(d, 0.3 + h) - rs(d, 0.3 - h)) / (2 * h)
    print(f"d rs / d xs at xs = 0.3 (mode {rs.mode_for(d, 0.3)}), shape {drs.shape}:")
    print(np.array2string(drs[8:14], precision=6), "...")
    print(f"max |s2s - finite difference| = {np.max(np.abs(drs - fd)):.2e}\n")

    # Gauss-Newton on ||rs(d, xs)||^2
    xs = 0.0
    for step in range(6):
        r, jac = rs.value_and_derivative(d, xs)
        xs -= (jac @ r) / (jac @ jac)
        print(f"Gauss-Newton step {step + 1}: xs = {xs:.8f}   |r| = {np.linalg.norm(r):.6f}")
    print()

    # the gradient of the scalar misfit w.r.t. the data, in reverse mode
    grad_d = differentiate(rs_scalar, wrt="d", mode="reverse").derivative(d, 0.3)
    print(f"gradient of sum(rs**2) w.r.t. d: shape {grad_d.shape}, norm {np.linalg.norm(grad_d):.6f}\n")

    # time per call, medians of repeats in this process
    def per_call(stmt) -> float:
        number = 2000
        times = timeit.repeat(stmt, number=number, repeat=7)
        return float(np.median(times)) / number * 1e6

    primal = per_call(lambda: rs(d, 0.3))
    finite = per_call(lambda: (rs(d, 0.3 + h) - rs(d, 0.3)) / h)
    derivative = per_call(lambda: rs.derivative(d, 0.3))
    print(f"time per call (n = {x.size}): primal {primal:.1f} us, "
          f"forward finite difference {finite:.1f} us, s2s derivative {derivative:.1f} us "
          f"({derivative / finite:.2f}x the finite difference)")


if __name__ == "__main__":
    main()
