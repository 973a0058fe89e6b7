"""Reverse mode through loops: what the tape holds, and what it costs.

For the in-place recurrence ``y[i] = alpha * y[i - 1] + u[i]`` and for the
explicit 1-D heat equation (1,000 steps over 1,000 points), prints the bytes
the s2s forward sweep records, next to what a hand-written adjoint keeps and
to what storing every live array at every step would take, and the time of
the s2s gradient and of the hand-written one (medians over paired rounds in
one process).

Run: python benchmarks/tape_memory.py
"""

from __future__ import annotations

import sys

import numpy as np

from problems import recurrence
from s2s import differentiate
from timing import median_ratio


def recurrence_by_hand(alpha, u):
    """The adjoint an expert writes: keep y, walk back once."""
    n = len(u)
    y = np.zeros(n)
    y[0] = u[0]
    for i in range(1, n):
        y[i] = alpha * y[i - 1] + u[i]
    out = np.sum(y * y)
    y_bar = 2.0 * y
    alpha_bar = 0.0
    u_bar = np.zeros(n)
    for i in range(n - 1, 0, -1):
        u_bar[i] = y_bar[i]
        alpha_bar += y_bar[i] * y[i - 1]
        y_bar[i - 1] += alpha * y_bar[i]
    u_bar[0] = y_bar[0]
    return out, (alpha_bar, u_bar)


def heat(u0, nu, steps):
    u = u0
    for step in range(steps):
        u = u + nu * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))
    return np.sum(u * u)


def heat_by_hand(u0, nu, steps):
    """The step is linear and symmetric in u: its adjoint is the same
    stencil, and nothing needs keeping but the final u."""
    u = u0
    for step in range(steps):
        u = u + nu * (np.roll(u, 1) - 2.0 * u + np.roll(u, -1))
    out = np.sum(u * u)
    u_bar = 2.0 * u
    for step in range(steps):
        u_bar = u_bar + nu * (np.roll(u_bar, -1) - 2.0 * u_bar + np.roll(u_bar, 1))
    return out, u_bar


def deep_bytes(obj, seen: set[int] | None = None) -> int:
    """Bytes held by obj and everything it holds, each object counted once."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)  # an array's data included, when it owns it
    if isinstance(obj, np.ndarray) and obj.base is not None:  # a view keeps its base alive
        size += deep_bytes(obj.base, seen)
    if isinstance(obj, (list, tuple)):
        size += sum(deep_bytes(item, seen) for item in obj)
    return size


def recorded_tape(g, *args) -> list:
    """The tape the generated forward sweep of g records for args."""
    namespace: dict = {}
    exec(compile(g.source("reverse"), "<s2s>", "exec"), namespace)
    forward = next(f for name, f in namespace.items() if name.endswith("_forward"))
    _, saved = forward(*args)
    return saved[-1]


def report(label, g, by_hand, args, hand_kept_bytes, every_step_bytes, rounds) -> None:
    value, grads = g.value_and_derivative(*args)
    hand_value, hand_grads = by_hand(*args)
    grads = grads if isinstance(grads, tuple) else (grads,)
    hand_grads = hand_grads if isinstance(hand_grads, tuple) else (hand_grads,)
    agree = max(float(np.max(np.abs(np.subtract(a, b)))) for a, b in zip(grads, hand_grads, strict=True))
    tape = recorded_tape(g, *args)
    tape_bytes = deep_bytes(tape)
    s2s_us, hand_us, ratio, spread = median_ratio(lambda: g.value_and_derivative(*args), lambda: by_hand(*args), number=1, rounds=rounds)
    print(f"\n{label}")
    print(f"  gradients differ from the hand-written adjoint's by at most {agree:.1e}; values {'identical' if value == hand_value else 'differ'}")
    print(f"  tape: {len(tape)} entries, {tape_bytes / 1e3:,.1f} kB recorded by s2s")
    print(f"        {hand_kept_bytes / 1e3:,.1f} kB kept by the hand-written adjoint")
    print(f"        {every_step_bytes / 1e6:,.1f} MB if every live array were stored at every step")
    print(f"  time: s2s {s2s_us / 1e3:,.2f} ms, hand-written {hand_us / 1e3:,.2f} ms, ratio {ratio:.2f} (spread {spread:.2f} over {rounds} rounds)")


def main() -> None:
    n = 1000
    u = np.sin(np.linspace(0.0, 3.0, n))
    g = differentiate(recurrence, wrt=("alpha", "u"), mode="reverse")
    report(f"recurrence y[i] = alpha * y[i-1] + u[i], n = {n}, w.r.t. alpha and u",
           g, recurrence_by_hand, (0.9, u), hand_kept_bytes=u.nbytes, every_step_bytes=(n - 1) * u.nbytes, rounds=21)

    steps = 1000
    u0 = np.exp(-((np.linspace(-1.0, 1.0, n) / 0.2) ** 2))
    g = differentiate(heat, wrt="u0", mode="reverse")
    # every step's live arrays: u, two rolled copies and the new u
    report(f"heat equation, {steps} steps over {n} points, w.r.t. u0",
           g, heat_by_hand, (u0, 0.2, steps), hand_kept_bytes=0, every_step_bytes=steps * 4 * u0.nbytes, rounds=9)


if __name__ == "__main__":
    main()
