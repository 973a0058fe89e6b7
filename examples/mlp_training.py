"""Train a two-layer perceptron with s2s gradients.

The loss runs the network over the data in mini-batches (a loop over
slices), adds an L2 penalty, and is differentiated w.r.t. all four weight
arrays at once: many numbers in, one out, so s2s picks reverse mode. A plain
gradient-descent loop with momentum then fits y = sin(3x).

Run: python examples/mlp_training.py
"""

import timeit

import numpy as np

from s2s import differentiate


def layer(W, b, x):
    return np.tanh(x @ W + b)


def predict(W1, b1, W2, b2, X):
    h = layer(W1, b1, X)
    return h @ W2 + b2


@differentiate(wrt=("W1", "b1", "W2", "b2"))
def loss(W1, b1, W2, b2, X, y, batch):
    total = 0.0
    for start in range(0, len(X), batch):
        r = predict(W1, b1, W2, b2, X[start : start + batch]) - y[start : start + batch]
        total = total + np.sum(r * r)
    return total / len(X) + 1e-4 * (np.sum(W1 * W1) + np.sum(W2 * W2))


def main() -> None:
    rng = np.random.default_rng(0)
    X = np.linspace(-1.0, 1.0, 256).reshape(-1, 1)
    y = np.sin(3.0 * X)
    hidden = 16
    params = [rng.normal(0.0, 1.0, (1, hidden)), np.zeros(hidden), rng.normal(0.0, 0.3, (hidden, 1)), np.zeros(1)]
    batch = 64

    # the gradient, checked along a random direction against a central finite difference
    grads = loss.derivative(*params, X, y, batch)
    print(f"gradient w.r.t. W1, b1, W2, b2 (mode {loss.mode_for(*params, X, y, batch)}): shapes {[g.shape for g in grads]}")
    direction = [rng.standard_normal(p.shape) for p in params]
    h = 1e-6
    plus = loss(*[p + h * d for p, d in zip(params, direction)], X, y, batch)
    minus = loss(*[p - h * d for p, d in zip(params, direction)], X, y, batch)
    along = sum(float(np.sum(g * d)) for g, d in zip(grads, direction))
    print(f"directional derivative: s2s {along:.10f}, finite difference {(plus - minus) / (2 * h):.10f}")

    # gradient descent with momentum
    velocity = [np.zeros_like(p) for p in params]
    for step in range(1, 401):
        value, grads = loss.value_and_derivative(*params, X, y, batch)
        for p, v, g in zip(params, velocity, grads):
            v *= 0.9
            v -= 0.05 * g
            p += v
        if step in (1, 10, 100, 400):
            print(f"step {step:3d}: loss {value:.6f}")

    primal = float(np.median(timeit.repeat(lambda: loss(*params, X, y, batch), number=200, repeat=7))) / 200 * 1e6
    gradient = float(np.median(timeit.repeat(lambda: loss.value_and_derivative(*params, X, y, batch), number=200, repeat=7))) / 200 * 1e6
    print(f"time per call: loss {primal:.0f} us, loss and its gradient w.r.t. {sum(p.size for p in params)} weights {gradient:.0f} us "
          f"({gradient / primal:.1f}x)")


if __name__ == "__main__":
    main()
