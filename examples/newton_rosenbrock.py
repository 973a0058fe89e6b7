"""Newton's method on the Rosenbrock function, with s2s's gradient and Hessian.

The gradient is reverse-mode code; the Hessian is forward mode over that
code (one vectorized pass), checked here against central differences of the
gradient. Newton steps with a backtracking line search then find the
minimum at (1, 1, ..., 1).

Run: python examples/newton_rosenbrock.py
"""

import numpy as np

import s2s
from s2s.check import finite_difference


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


gradient = s2s.grad(rosenbrock)
hessian = s2s.hessian(rosenbrock)


def main() -> None:
    x = np.array([-1.2, 1.0, -0.5, 0.8, 1.1])

    h = hessian(x)
    error = np.max(np.abs(h - finite_difference(gradient, (x,), 0)))
    print(f"Hessian {h.shape}: max |s2s - finite difference of the gradient| = {error:.1e}")
    u = np.ones_like(x)
    _, product = s2s.hvp(rosenbrock, (x,), (u,))
    print(f"Hessian-vector product without the Hessian: max |hvp - H u| = {np.max(np.abs(product - h @ u)):.1e}")

    for step in range(100):
        g = gradient(x)
        if np.linalg.norm(g) < 1e-10:
            break
        direction = -np.linalg.solve(hessian(x), g)
        if g @ direction >= 0:  # not a descent direction where the Hessian is indefinite
            direction = -g
        t = 1.0
        while rosenbrock(x + t * direction) > rosenbrock(x) + 1e-4 * t * (g @ direction):
            t /= 2
        x = x + t * direction
    print(f"after {step} Newton steps: f = {rosenbrock(x):.3e}, x = {np.array2string(x, precision=6)}")


if __name__ == "__main__":
    main()
