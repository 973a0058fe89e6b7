"""Differentiate through time stepping: the explicit 1-D heat equation.

``simulate`` runs 400 explicit steps of u_t = nu * u_xx on a periodic grid.
Two questions about it, answered with s2s derivatives of the same loop:

1. Which diffusivity ``nu`` explains an observed final state? One scalar
   in, a vector out: s2s picks forward mode, whose derivative is the same
   loop carrying a tangent. Gauss-Newton then fits ``nu``.
2. How does the misfit depend on the initial state ``u0``? Many numbers in,
   one out: reverse mode, one forward sweep and one backward sweep. The heat
   step is linear in ``u``, so the forward sweep records no array per step.

Run: python examples/heat_equation.py
"""

import timeit

import numpy as np

from s2s import differentiate

n = 200
grid = np.linspace(0.0, 1.0, n, endpoint=False)


def step(u, nu):
    return u + nu * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))


@differentiate(wrt="nu")
def simulate(u0, nu, steps):
    u = u0
    for k in range(steps):
        u = step(u, nu)
    return u


@differentiate(wrt="u0")
def misfit(u0, nu, steps, observed):
    r = simulate(u0, nu, steps) - observed
    return 0.5 * np.sum(r * r)


def main() -> None:
    steps = 400
    u0 = np.exp(-(((grid - 0.5) / 0.05) ** 2))
    rng = np.random.default_rng(1)
    observed = simulate(u0, 0.21, steps) + 1e-4 * rng.standard_normal(n)

    # 1. fit nu by Gauss-Newton, with d simulate / d nu in forward mode
    nu = 0.1
    print(f"d simulate / d nu: mode {simulate.mode_for(u0, nu, steps)}")
    for iteration in range(5):
        u, du_dnu = simulate.value_and_derivative(u0, nu, steps)
        nu -= du_dnu @ (u - observed) / (du_dnu @ du_dnu)
        print(f"Gauss-Newton step {iteration + 1}: nu = {nu:.8f}   |r| = {np.linalg.norm(u - observed):.2e}")

    # 2. gradient of the misfit w.r.t. the initial state, in reverse mode,
    #    checked along a random direction against a central finite difference
    print(f"\nd misfit / d u0: mode {misfit.mode_for(u0, nu, steps, observed)}")
    gradient = misfit.derivative(u0, 0.2, steps, observed)
    direction = rng.standard_normal(n)
    h = 1e-6
    fd = (misfit(u0 + h * direction, 0.2, steps, observed) - misfit(u0 - h * direction, 0.2, steps, observed)) / (2 * h)
    print(f"directional derivative: s2s {gradient @ direction:.10f}, finite difference {fd:.10f}")

    def per_call(fn) -> float:
        return float(np.median(timeit.repeat(fn, number=5, repeat=7))) / 5 * 1e3

    primal = per_call(lambda: misfit(u0, 0.2, steps, observed))
    reverse = per_call(lambda: misfit.derivative(u0, 0.2, steps, observed))
    print(f"time per call: misfit {primal:.2f} ms, its gradient w.r.t. all {n} values of u0 {reverse:.2f} ms "
          f"({reverse / primal:.1f}x; a finite-difference gradient would take {2 * n}x)")


if __name__ == "__main__":
    main()
